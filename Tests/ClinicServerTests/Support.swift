import ClinicCore
@testable import ClinicServer
import ClinicSync
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }
    static var available: [Backend] { PostgresServer.shared == nil ? [.sqlite] : allCases }
}

/// A server with two sites: A with devices a1 and a2, B with device b1.
struct Fixture: Sendable {
    init(config: ServerConfiguration, storage: any ServerStorage, blobs: FileBlobStorage, directory: URL, a1: DeviceRecord, a2: DeviceRecord, b1: DeviceRecord, tokenA1: String, tokenA2: String, tokenB1: String, revokedToken: String) {
        self.config = config; self.storage = storage; self.blobs = blobs; self.directory = directory
        self.a1 = a1; self.a2 = a2; self.b1 = b1; self.tokenA1 = tokenA1; self.tokenA2 = tokenA2; self.tokenB1 = tokenB1; self.revokedToken = revokedToken
    }
    let config: ServerConfiguration
    let storage: any ServerStorage
    let blobs: FileBlobStorage
    let directory: URL
    let a1: DeviceRecord, a2: DeviceRecord, b1: DeviceRecord
    let tokenA1: String, tokenA2: String, tokenB1: String, revokedToken: String

    static func make(_ backend: Backend, directory: URL? = nil, database: String? = nil) async throws -> Fixture {
        let dir = directory ?? FileManager.default.temporaryDirectory.appending(path: "clinic-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let location: DatabaseLocation = switch backend {
        case .sqlite: .sqlite(path: dir.appending(path: "server.sqlite").path)
        case .postgres: .postgres(url: database ?? PostgresServer.shared!.newDatabase())
        }
        var config = ServerConfiguration(database: location, blobs: dir.appending(path: "blobs"))
        config.maxRequestBytes = 256 * 1024
        config.maxBatch = 100
        config.chunkBytes = 64 * 1024
        config.port = 0
        let storage = try await Storage.open(location)
        let admin = ServerAdmin(storage: storage)
        _ = try await admin.addSite(name: "Site A")
        _ = try await admin.addSite(name: "Site B")
        let (a1, tA1) = try await admin.enroll(site: "Site A", name: "a1")
        let (a2, tA2) = try await admin.enroll(site: "Site A", name: "a2")
        let (b1, tB1) = try await admin.enroll(site: "Site B", name: "b1")
        let (r, tR) = try await admin.enroll(site: "Site A", name: "revoked")
        try await admin.revoke(device: r.id.uuidString)
        return Fixture(config: config, storage: storage, blobs: try FileBlobStorage(root: config.blobs), directory: dir,
                       a1: a1, a2: a2, b1: b1, tokenA1: tA1, tokenA2: tA2, tokenB1: tB1, revokedToken: tR)
    }

    var app: some ApplicationProtocol { get throws { try buildApplication(config, storage: storage, blobs: blobs) } }

    func close() async {
        try? await storage.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}

func auth(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

func body(_ value: some Encodable) throws -> ByteBuffer { ByteBuffer(bytes: try JSON.encoder.encode(value)) }

func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
}

/// A change as a device would push it.
func patientChange(_ device: DeviceRecord, seq: Int64, id: UUID = UUID(), op: ChangeOperation = .insert,
                   fields: [String: FieldValue]? = nil, ms: Int64 = 1_795_000_000_000) -> PushEntry {
    let now = "2026-11-22T10:00:00.000Z"
    let f = fields ?? ["id": .text(id.lowercased), "given_name": .text("Amina"), "family_name": .text("Okafor"),
                       "created_at": .text(now), "updated_at": .text(now), "deleted": .integer(0)]
    return PushEntry(change: Change(sequence: seq, changeID: UUID(), entity: .patient, entityID: id, operation: op, fields: f,
                                    hlc: HLCTimestamp(milliseconds: ms, counter: 0), deviceID: device.id))
}

func push(_ client: some TestClientProtocol, _ token: String, _ entries: [PushEntry]) async throws -> (HTTPResponse.Status, PushResponse?) {
    try await client.execute(uri: "/v1/changes", method: .post, headers: auth(token), body: try body(PushRequest(changes: entries))) { r in
        (r.status, try? decode(PushResponse.self, r))
    }
}

func pull(_ client: some TestClientProtocol, _ token: String, after: Int64 = 0) async throws -> PullResponse {
    try await client.execute(uri: "/v1/changes?after=\(after)", method: .get, headers: auth(token)) { r in
        #expect(r.status == .ok)
        return try decode(PullResponse.self, r)
    }
}
