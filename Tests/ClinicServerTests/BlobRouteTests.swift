import ClinicCore
@testable import ClinicServer
import ClinicSync
import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite(.serialized) struct BlobRouteTests {
    func ranged(_ token: String, _ range: String) -> HTTPFields {
        var h = auth(token)
        h[.range] = range
        return h
    }

    func hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    @Test(arguments: Backend.available)
    func resumableUploadVerifiedDownloadWithRange(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        let bytes = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let sha = hex(bytes)
        try await f.app.test(.router) { client in
            func status(_ token: String) async throws -> BlobStatus {
                try await client.execute(uri: "/v1/blobs/\(sha)/status", method: .get, headers: auth(token)) { try decode(BlobStatus.self, $0) }
            }
            #expect(try await status(f.tokenA1) == BlobStatus(sha256: sha, received: 0, complete: false, size: nil))
            // First chunk, then the link "drops": the status says where to resume.
            try await client.execute(uri: "/v1/blobs/\(sha)?offset=0&total=\(bytes.count)", method: .put, headers: auth(f.tokenA1),
                                     body: ByteBuffer(bytes: bytes[0..<65_536])) { #expect($0.status == .ok) }
            #expect(try await status(f.tokenA2).received == 65_536)
            // A chunk from the wrong offset is refused with the right one.
            try await client.execute(uri: "/v1/blobs/\(sha)?offset=1000&total=\(bytes.count)", method: .put, headers: auth(f.tokenA1),
                                     body: ByteBuffer(bytes: bytes[1000..<2000])) { r in
                #expect(r.status == .conflict)
                #expect(String(buffer: r.body).contains("65536"))
            }
            // A chunk larger than the advertised chunk size is refused.
            try await client.execute(uri: "/v1/blobs/\(sha)?offset=65536&total=\(bytes.count)", method: .put, headers: auth(f.tokenA1),
                                     body: ByteBuffer(bytes: bytes[65_536...])) { #expect($0.status == .contentTooLarge) }
            var offset = 65_536
            while offset < bytes.count {
                let end = min(offset + 65_536, bytes.count)
                try await client.execute(uri: "/v1/blobs/\(sha)?offset=\(offset)&total=\(bytes.count)", method: .put, headers: auth(f.tokenA2),
                                         body: ByteBuffer(bytes: bytes[offset..<end])) { #expect($0.status == .ok) }
                offset = end
            }
            #expect(try await status(f.tokenA1).complete)
            try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: auth(f.tokenA1)) { r in
                #expect(r.status == .ok && Array(r.body.readableBytesView) == bytes)
            }
            try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: ranged(f.tokenA1, "bytes=100-199")) { r in
                #expect(r.status == .partialContent && Array(r.body.readableBytesView) == Array(bytes[100..<200]))
                #expect(r.headers[.contentRange] == "bytes 100-199/150000")
            }
            try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: ranged(f.tokenA1, "bytes=-10")) { r in
                #expect(Array(r.body.readableBytesView) == Array(bytes.suffix(10)))
            }
            try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: ranged(f.tokenA1, "bytes=200000-")) { r in
                #expect(r.status == .rangeNotSatisfiable)
            }
            // Another site cannot see or read it.
            #expect(try await status(f.tokenB1).complete == false)
            try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: auth(f.tokenB1)) { #expect($0.status == .notFound) }
        }
    }

    @Test(arguments: Backend.available)
    func bytesThatDoNotMatchTheirHashAreRejectedAndDiscarded(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        let bytes = Array("not what the hash says".utf8)
        let sha = hex(Array("something else".utf8))
        try await f.app.test(.router) { client in
            try await client.execute(uri: "/v1/blobs/\(sha)?offset=0&total=\(bytes.count)", method: .put, headers: auth(f.tokenA1),
                                     body: ByteBuffer(bytes: bytes)) { r in
                #expect(r.status == .unprocessableContent)
                #expect(String(buffer: r.body).contains("hash_mismatch"))
            }
            let after = try await client.execute(uri: "/v1/blobs/\(sha)/status", method: .get, headers: auth(f.tokenA1)) { try decode(BlobStatus.self, $0) }
            #expect(after == BlobStatus(sha256: sha, received: 0, complete: false, size: nil))
            try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: auth(f.tokenA1)) { #expect($0.status == .notFound) }
        }
        let leftovers = FileManager.default.enumerator(atPath: f.config.blobs.path)?.allObjects.compactMap { $0 as? String }.filter { $0.contains(sha) }
        #expect(leftovers?.isEmpty == true)
    }

    @Test(arguments: Backend.available)
    func blobIdsThatAreNotSHA256AreRejected(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            for id in ["..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", String(repeating: "A", count: 64), String(repeating: "a", count: 63),
                       String(repeating: "a", count: 65), "%00" + String(repeating: "a", count: 61), String(repeating: "g", count: 64)] {
                for (suffix, method) in [("/status", HTTPRequest.Method.get), ("", .get), ("?offset=0&total=1", .put)] {
                    try await client.execute(uri: "/v1/blobs/\(id)\(suffix)", method: method, headers: auth(f.tokenA1), body: ByteBuffer(string: "x")) { r in
                        #expect(r.status == .badRequest || r.status == .notFound, "\(id)\(suffix): \(r.status)")
                        #expect(r.status != .ok)
                    }
                }
            }
            let sha = String(repeating: "a", count: 64)
            for q in ["", "?offset=0", "?total=5", "?offset=-1&total=5", "?offset=0&total=0", "?offset=0&total=99999999999999"] {
                try await client.execute(uri: "/v1/blobs/\(sha)\(q)", method: .put, headers: auth(f.tokenA1), body: ByteBuffer(string: "x")) { r in
                    #expect(r.status == .badRequest, "\(q)")
                }
            }
        }
        let outside = FileManager.default.enumerator(atPath: f.directory.path)?.allObjects.compactMap { $0 as? String } ?? []
        #expect(!outside.contains { $0.contains("passwd") })
    }
}
