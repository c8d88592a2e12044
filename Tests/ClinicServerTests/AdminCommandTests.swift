import ClinicTestSupport
import ClinicCore
@testable import ClinicServer
import ClinicSync
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The `clinic-server` admin commands, run as the built binary, and the fixes the protocol
/// review asked for.
@Suite(.serialized) struct AdminCommandTests {
    let binary: URL = {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: dir.appending(path: "clinic-server").path) { return dir.appending(path: "clinic-server") }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: ".build/debug/clinic-server")
    }()

    func run(_ args: [String], data: URL) throws -> (Int32, String, String) {
        let r = try runProcess(binary, args + ["--data", data.path])
        return (r.status, r.stdout, r.stderr)
    }

    @Test func siteAndDeviceLifecycle() async throws {
        let data = FileManager.default.temporaryDirectory.appending(path: "clinic-admin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        #expect(try run(["site", "add", "Kibera Health Centre"], data: data).0 == 0)
        let dup = try run(["site", "add", "Kibera Health Centre"], data: data)
        #expect(dup.0 != 0 && dup.2.contains("already exists"))
        #expect(try run(["device", "enroll", "--site", "Nowhere"], data: data).0 != 0)
        let laptop = UUID().uuidString.lowercased()
        let (status, token, _) = try run(["device", "enroll", "--site", "Kibera Health Centre", "--name", "laptop-3", "--device-id", laptop], data: data)
        #expect(status == 0 && token.hasPrefix("clk_"))
        #expect(try run(["device", "enroll", "--site", "Kibera Health Centre", "--device-id", laptop], data: data).0 != 0)
        let list = try run(["device", "list", "--json"], data: data)
        let devices = try JSONDecoder().decode([DeviceRecord].self, from: Data(list.1.utf8))
        #expect(devices.map(\.id.uuidString).map { $0.lowercased() } == [laptop] && devices.first?.revokedAt == nil)
        // Only the hash is stored.
        let db = try String(decoding: Data(contentsOf: data.appending(path: "server.sqlite")), as: UTF8.self)
        #expect(!db.contains(token.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try run(["device", "revoke", laptop], data: data).0 == 0)
        let after = try JSONDecoder().decode([DeviceRecord].self, from: Data(try run(["device", "list", "--json"], data: data).1.utf8))
        #expect(after.first?.revokedAt != nil)
        #expect(try run(["device", "revoke", UUID().uuidString], data: data).0 != 0)
    }

    @Test func errorBodiesAndValidation() async throws {
        let f = try await Fixture.make(.sqlite)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            try await client.execute(uri: "/v1/health", method: .get) { r in
                let json = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]
                #expect(json?["protocol_version"] as? Int == 1)
            }
            let huge = ByteBuffer(string: String(repeating: " ", count: 300 * 1024))
            try await client.execute(uri: "/v1/changes", method: .post, headers: auth(f.tokenA1), body: huge) { r in
                #expect(r.status == .contentTooLarge)
                #expect((try? decode(ErrorBody.self, r))?.error == "too_large")
            }
            try await client.execute(uri: "/v1/changes", method: .post, headers: auth(f.tokenA1),
                                     body: ByteBuffer(string: #"{"changes":[{"seq":1,"change_id":"00000000-0000-4000-8000-000000000001","entity":"robot","entity_id":"00000000-0000-4000-8000-000000000002","op":"insert","fields":{},"hlc":"0001795316220628-00000","device_id":"00000000-0000-4000-8000-000000000003"}]}"#)) { r in
                #expect(r.status == .badRequest)
                #expect(!String(buffer: r.body).contains("robot"))
            }
            var entry = patientChange(f.a1, seq: 1)
            entry.change.fields["given_name"] = .null
            let (_, result) = try await push(client, f.tokenA1, [entry])
            #expect(result?.results.first?.outcome == .rejected && result?.results.first?.reason?.contains("given_name") == true)
        }
    }
}
