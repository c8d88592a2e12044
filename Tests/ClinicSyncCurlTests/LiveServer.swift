import ClinicServer
import Foundation
import Testing

/// A real clinic-server (SQLite backend) on 127.0.0.1 with one site, for the duration of `body`.
struct LiveServer {
    let url: String
    let port: Int
    let admin: ServerAdmin
    let storage: any ServerStorage
    let siteID: String
    let directory: URL

    /// Enrols a device at the site; returns its token.
    func enroll(_ name: String, deviceID: UUID? = nil) async throws -> String {
        try await admin.enroll(site: "Site", name: name, deviceID: deviceID).token
    }

    static func with(_ adjust: (inout ServerConfiguration) -> Void = { _ in }, _ body: (LiveServer) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "clinic-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = ServerConfiguration.defaults(dataDirectory: dir)
        config.port = 0
        adjust(&config)
        let storage = try await Storage.open(config.database)
        let admin = ServerAdmin(storage: storage)
        let site = try await admin.addSite(name: "Site")
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let app = try buildApplication(config, storage: storage, blobs: try FileBlobStorage(root: config.blobs), onServerRunning: { listening.yield($0) })
        let server = InProcessServer(app)
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        do {
            try await body(LiveServer(url: "http://127.0.0.1:\(port)", port: port, admin: admin, storage: storage, siteID: site.id, directory: dir))
        } catch {
            await server.stop()
            try? await storage.shutdown()
            throw error
        }
        await server.stop()
        try? await storage.shutdown()
    }
}
