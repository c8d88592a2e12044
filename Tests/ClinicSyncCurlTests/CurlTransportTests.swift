import ClinicCore
import ClinicServer
import ClinicSync
import ClinicSyncCurl
import Crypto
import Foundation
import Testing

/// The libcurl transport against a real clinic-server on 127.0.0.1 (SQLite backend), and
/// against a fake server's bad answers: each gives a typed failure the machine can act on.
@Suite(.serialized) struct CurlTransportTests {
    struct Live {
        let url: String
        let token: String
        let directory: URL
    }

    func withLiveServer(_ body: (Live) async throws -> Void) async throws {
        try await LiveServer.with({ $0.chunkBytes = 4_096 }) { server in
            try await body(Live(url: server.url, token: try await server.enroll("laptop"), directory: server.directory))
        }
    }

    func transport(_ url: String, _ token: String, _ adjust: (inout CurlTransport.Configuration) -> Void = { _ in }) throws -> CurlTransport {
        var c = CurlTransport.Configuration(server: url, token: token)
        adjust(&c)
        return try CurlTransport(c)
    }

    @Test func talksToARealServerOverOneConnection() async throws {
        try await withLiveServer { live in
            let t = try transport(live.url, live.token)
            let caps = try JSONDecoder().decode(Capabilities.self, from: Data(try t.send("GET", "/v1/capabilities").get().body))
            #expect(caps.protocolVersion == SyncProtocol.version && caps.chunkBytes == 4_096)
            // Upload a blob in chunks, ask its status, read a range back.
            let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let sha = sha256Hex(bytes)
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + caps.chunkBytes)
                let r = try t.send("PUT", "/v1/blobs/\(sha)?offset=\(offset)&total=\(bytes.count)", body: Array(bytes[offset..<end])).get()
                #expect(r.status == 200)
                offset = end
            }
            let status = try JSONDecoder().decode(BlobStatus.self, from: Data(try t.send("GET", "/v1/blobs/\(sha)/status").get().body))
            #expect(status.complete && status.size == 10_000)
            let part = try t.send("GET", "/v1/blobs/\(sha)", headers: ["Range": "bytes=100-199"]).get()
            #expect(part.status == 206 && part.body == Array(bytes[100..<200]) && part.headers["content-range"] == "bytes 100-199/10000")
            // A push and a pull.
            let body = #"{"changes":[]}"#
            let pushed = try t.send("POST", "/v1/changes", body: Array(body.utf8), headers: ["Content-Type": "application/json"]).get()
            #expect(pushed.status == 200)
            let pulled = try JSONDecoder().decode(PullResponse.self, from: Data(try t.send("GET", "/v1/changes?after=0").get().body))
            #expect(pulled.changes.isEmpty && !pulled.more)
            #expect(t.connectionsOpened == 1, "\(t.connectionsOpened) connections for 7 requests")
        }
    }

    @Test func aWrongTokenIsUnauthorizedAndAClosedPortIsANetworkFailure() async throws {
        try await withLiveServer { live in
            let t = try transport(live.url, "clk_" + String(repeating: "A", count: 43))
            let r = try t.send("GET", "/v1/capabilities").get()
            #expect(SyncMachine.Failure(status: r.status, body: r.body) == .unauthorized)
        }
        let closed = try FakeServer(reply: [])
        let port = closed.port
        closed.stop()
        let t = try transport("http://127.0.0.1:\(port)", "x")
        guard case .failure(.network) = t.send("GET", "/v1/health") else { Issue.record("a closed port answered"); return }
    }

    @Test func serverAddressesThatCannotBeUsedAreRefused() {
        for bad in ["ftp://host", "host:8080", "http://", "https://user@host", "http://host/?x=1", "file:///etc/passwd"] {
            #expect(throws: CurlTransport.TransportError.self, "\(bad)") { _ = try CurlTransport(.init(server: bad, token: "t")) }
        }
    }

    @Test func badAnswersBecomeTypedFailures() throws {
        let cases: [([UInt8], (Result<CurlTransport.Response, CurlTransport.TransportError>) -> Bool, String)] = [
            (FakeServer.http("200 OK", ["Content-Type: text/html"], "<html>hello</html>"), { r in
                // A 200 of HTML is an answer; it fails to decode as the protocol, which the engine reports.
                (try? r.get()).map { (try? JSONDecoder().decode(Capabilities.self, from: Data($0.body))) == nil } ?? false
            }, "html"),
            (FakeServer.http("500 Internal Server Error", [], "oops"), { r in
                (try? r.get()).map { SyncMachine.Failure(status: $0.status, body: $0.body) == .server(status: 500, message: "") } ?? false
            }, "500"),
            (FakeServer.http("302 Found", ["Location: http://evil.example/"], ""), { r in
                (try? r.get()).map { $0.status == 302 && { if case .refused = SyncMachine.Failure(status: $0.status, body: $0.body) { true } else { false } }($0) } ?? false
            }, "redirect not followed"),
            (FakeServer.http("200 OK", [], "{\"changes\":", declaredLength: 500), { r in
                if case .failure(.network) = r { true } else { false }
            }, "truncated body"),
            (Array("garbage\r\n\r\n".utf8), { r in
                if case .failure(.network) = r { true } else { false }
            }, "not HTTP"),
            // A link cut inside the head: libcurl alone would call this a 200 with an empty body.
            (Array("HTTP/1.1 200 OK\r\n".utf8), { r in
                if case .failure(.network) = r { true } else { false }
            }, "head cut after the status line"),
            (Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len".utf8), { r in
                if case .failure(.network) = r { true } else { false }
            }, "head cut inside a header"),
        ]
        for (reply, check, label) in cases {
            let fake = try FakeServer(reply: reply)
            defer { fake.stop() }
            let t = try transport(fake.url, "t")
            #expect(check(t.send("GET", "/v1/capabilities")), "\(label)")
        }
    }

    @Test func aHugeBodyIsRefusedAndAStalledOneIsCut() throws {
        let big = try FakeServer(reply: FakeServer.http("200 OK", [], String(repeating: "x", count: 300_000)))
        defer { big.stop() }
        let t = try transport(big.url, "t") { $0.maxResponseBytes = 100_000 }
        #expect({ if case .failure(.responseTooLarge) = t.send("GET", "/") { true } else { false } }())
        // Headers, then nothing: the low-speed limit (2 s) cuts it, not a total timeout.
        let stalled = try FakeServer(reply: FakeServer.http("200 OK", [], "", declaredLength: 1_000), stall: 10)
        defer { stalled.stop() }
        let s = try transport(stalled.url, "t") { $0.lowSpeedLimit = 1; $0.lowSpeedTime = 2 }
        let start = Date()
        guard case .failure(.network) = s.send("GET", "/") else { Issue.record("a stalled body was not cut"); return }
        let took = Date().timeIntervalSince(start)
        #expect(took >= 1.5 && took < 8, "cut after \(took) s")
    }

    @Test func failuresFromAnswersAreClassifiedAndCleaned() {
        func body(_ code: String, _ message: String) -> [UInt8] { Array(try! JSONEncoder().encode(ErrorBody(error: code, message: message))) }
        #expect(SyncMachine.Failure(status: 409, body: body("wrong_offset", "x")) == .uploadOutOfStep)
        #expect(SyncMachine.Failure(status: 422, body: body("hash_mismatch", "x")) == .uploadOutOfStep)
        #expect(SyncMachine.Failure(status: 409, body: body("upload_busy", "x")) == .server(status: 409, message: "x"))
        #expect(SyncMachine.Failure(status: 413, body: []) == .tooLarge)
        #expect(SyncMachine.Failure(status: 503, body: Array("<html>".utf8)) == .server(status: 503, message: ""))
        guard case .refused(let text) = SyncMachine.Failure(status: 400, body: body("bad_request", "a\u{1B}[2Jb\u{202E}c" + String(repeating: "z", count: 500))) else {
            Issue.record("400 not refused"); return
        }
        #expect(!text.contains("\u{1B}") && !text.contains("\u{202E}") && text.count < 260 && text.contains("bad_request"))
    }
}
