import ClinicCore
@testable import ClinicServer
import ClinicSync
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Real servers listening on 127.0.0.1.
@Suite(.serialized) struct LiveServerTests {
    @Test(arguments: Backend.available)
    func liveServerPushAndPull(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.live) { client in
            let (status, r) = try await push(client, f.tokenA1, (1...50).map { patientChange(f.a1, seq: $0) })
            #expect(status == .ok && r?.results.allSatisfy { $0.outcome == .applied } == true)
            #expect(try await pull(client, f.tokenA2).changes.count == 50)
        }
    }

    /// Two stateless instances on one PostgreSQL database serve one site consistently: devices
    /// push concurrently through either, and both give the same feed, in one order, with no gaps.
    @Test(.enabled(if: PostgresServer.shared != nil, "needs PostgreSQL: \(PostgresServer.unavailableReason)"))
    func twoInstancesOnOnePostgresDatabase() async throws {
        let database = PostgresServer.shared!.newDatabase()
        let f = try await Fixture.make(.postgres, database: database)
        defer { Task { await f.close() } }
        let second = try await Storage.open(.postgres(url: database))
        let app2 = try buildApplication(f.config, storage: second, blobs: try FileBlobStorage(root: f.config.blobs))
        try await f.app.test(.live) { one in
            try await app2.test(.live) { two in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for batch in 0..<10 {
                        group.addTask {
                            let entries = (1...20).map { patientChange(f.a1, seq: Int64(batch * 20 + $0)) }
                            let (status, r) = try await push(one, f.tokenA1, entries)
                            #expect(status == .ok && r?.results.count == 20)
                        }
                        group.addTask {
                            let entries = (1...20).map { patientChange(f.a2, seq: Int64(batch * 20 + $0)) }
                            let (status, r) = try await push(two, f.tokenA2, entries)
                            #expect(status == .ok && r?.results.count == 20)
                        }
                    }
                    try await group.waitForAll()
                }
                let viaOne = try await pullAll(one, f.tokenA1)
                let viaTwo = try await pullAll(two, f.tokenA2)
                #expect(viaOne.count == 400)
                #expect(viaOne == viaTwo)
                #expect(viaOne.map(\.serverSeq) == viaOne.map(\.serverSeq).sorted())
                #expect(Set(viaOne.map(\.serverSeq)).count == 400)
                // A replay through the other instance gets the first instance's answers.
                let entries = (1...20).map { patientChange(f.a1, seq: Int64($0)) }
                let (_, replay) = try await push(two, f.tokenA1, entries)
                #expect(replay?.results.allSatisfy { $0.outcome == .rejected || $0.serverSeq != nil } == true)
                #expect(try await pullAll(one, f.tokenA1).count == 400)
            }
        }
        try await second.shutdown()
    }

    func pullAll(_ client: some TestClientProtocol, _ token: String) async throws -> [FeedEntry] {
        var all: [FeedEntry] = []
        var cursor: Int64 = 0
        while true {
            let page = try await pull(client, token, after: cursor)
            all += page.changes
            cursor = page.next
            if !page.more { return all }
        }
    }

    /// Built-in TLS (swift-nio-ssl) with a self-signed certificate made by openssl.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs /usr/bin/openssl to make a test certificate"))
    func servesOverTLS() async throws {
        let base = try await Fixture.make(.sqlite)
        defer { Task { await base.close() } }
        let cert = base.directory.appending(path: "cert.pem").path, key = base.directory.appending(path: "key.pem").path
        #expect(PostgresServer.run(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                    "-days", "1", "-subj", "/CN=127.0.0.1"]) == 0)
        var config = base.config
        config.tls = (cert, key)
        let f = Fixture(config: config, storage: base.storage, blobs: base.blobs, directory: base.directory, a1: base.a1, a2: base.a2,
                        b1: base.b1, tokenA1: base.tokenA1, tokenA2: base.tokenA2, tokenB1: base.tokenB1, revokedToken: base.revokedToken)
        try await f.app.test(.ahc(.https)) { client in
            try await client.execute(uri: "/v1/health", method: .get) { #expect($0.status == .ok) }
            let (status, _) = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1)])
            #expect(status == .ok)
        }
    }
}
