import ClinicCore
@testable import ClinicServer
import ClinicSync
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The protocol's routes, in-process, on every backend (the same tests for SQLite and PostgreSQL).
@Suite(.serialized) struct SyncRouteTests {
    @Test(arguments: Backend.available)
    func healthNeedsNoTokenEverythingElseDoes(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            try await client.execute(uri: "/v1/health", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"status\":\"ok\""))
            }
            for headers: HTTPFields in [[:], [.authorization: "Bearer nope"], [.authorization: "Basic abc"],
                                        auth("clk_" + String(repeating: "A", count: 43)), auth(f.revokedToken)] {
                for (uri, method) in [("/v1/capabilities", HTTPRequest.Method.get), ("/v1/changes", .get), ("/v1/changes", .post),
                                      ("/v1/conflicts", .get), ("/v1/blobs/\(String(repeating: "a", count: 64))", .get)] {
                    try await client.execute(uri: uri, method: method, headers: headers) { r in
                        #expect(r.status == .unauthorized, "\(method) \(uri)")
                    }
                }
            }
            try await client.execute(uri: "/v1/capabilities", method: .get, headers: auth(f.tokenA1)) { r in
                let caps = try decode(Capabilities.self, r)
                #expect(caps.protocolVersion == 1 && caps.maxBatch == 100 && caps.chunkBytes == 64 * 1024)
                #expect(caps.maxBlobBytes == f.config.maxBlobBytes)
            }
        }
    }

    @Test(arguments: Backend.available)
    func pushThenPullWithinASiteOnly(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let id = UUID()
            let entries = [patientChange(f.a1, seq: 1, id: id),
                           patientChange(f.a1, seq: 2, id: id, op: .update, fields: ["notes": .text("fine")], ms: 1_795_000_000_100)]
            let (status, response) = try await push(client, f.tokenA1, entries)
            #expect(status == .ok)
            #expect(response?.results.map(\.outcome) == [.applied, .applied])
            #expect(response?.results.map(\.seq) == [1, 2])
            let feed = try await pull(client, f.tokenA2)
            #expect(feed.changes.map(\.change.entityID) == [id, id] && !feed.more)
            #expect(feed.changes.map(\.serverSeq) == response?.results.compactMap(\.serverSeq))
            #expect(try await pull(client, f.tokenA2, after: feed.next).changes.isEmpty)
            #expect(try await pull(client, f.tokenB1).changes.isEmpty, "site B must not see site A")
        }
    }

    @Test(arguments: Backend.available)
    func pullIsPaged(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            _ = try await push(client, f.tokenA1, (1...25).map { patientChange(f.a1, seq: $0) })
            var cursor: Int64 = 0, seen = 0, pages = 0
            while true {
                let page = try await client.execute(uri: "/v1/changes?after=\(cursor)&limit=10", method: .get, headers: auth(f.tokenA2)) {
                    try decode(PullResponse.self, $0)
                }
                seen += page.changes.count
                pages += 1
                cursor = page.next
                if !page.more { break }
            }
            #expect(seen == 25 && pages == 3)
        }
    }

    /// `omit_own=true` leaves the pulling device's own changes out (it has them: an initial sync
    /// would download again every byte it pushed), and its `next` passes them, so a page of only
    /// the device's own changes is empty but moves the cursor; every other device's change still
    /// comes, once. Without the parameter the feed is whole (tools and older clients).
    @Test(arguments: Backend.available)
    func omitOwnLeavesOutTheCallersChangesAndItsCursorPassesThem(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let mine = (1...5).map { patientChange(f.a1, seq: $0) }, theirs = (1...2).map { patientChange(f.a2, seq: $0) }
            _ = try await push(client, f.tokenA1, Array(mine.prefix(3)))
            _ = try await push(client, f.tokenA2, [theirs[0]])
            _ = try await push(client, f.tokenA1, Array(mine.suffix(2)))
            _ = try await push(client, f.tokenA2, [theirs[1]])
            #expect(try await pull(client, f.tokenA1).changes.count == 7, "without omit_own the feed is whole")
            var cursor: Int64 = 0, got: [FeedEntry] = [], pages: [Int] = []
            while true {
                let page = try await client.execute(uri: "/v1/changes?after=\(cursor)&limit=2&omit_own=true", method: .get, headers: auth(f.tokenA1)) {
                    try decode(PullResponse.self, $0)
                }
                #expect(page.next > cursor || !page.more)
                got += page.changes
                pages.append(page.changes.count)
                cursor = page.next
                if !page.more { break }
            }
            // Feed order: A1 ×3, A2, A1 ×2, A2; pages of two scanned entries.
            #expect(got.map(\.change.changeID) == theirs.map(\.change.changeID), "\(got)")
            #expect(pages == [0, 1, 0, 1], "\(pages)")
            #expect(cursor == (try await pull(client, f.tokenA2)).next, "the cursor ends at the feed's last entry")
            // The other device gets A1's five and none of its own.
            let forA2 = try await client.execute(uri: "/v1/changes?omit_own=true", method: .get, headers: auth(f.tokenA2)) { try decode(PullResponse.self, $0) }
            #expect(forA2.changes.map(\.change.changeID) == mine.map(\.change.changeID))
            try await client.execute(uri: "/v1/changes?omit_own=yes", method: .get, headers: auth(f.tokenA1)) { r in
                #expect(r.status == .badRequest && String(buffer: r.body).contains("omit_own must be true or false"))
            }
        }
    }

    @Test(arguments: Backend.available)
    func replayedBatchGetsTheSameAnswersAndChangesNothing(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let entries = (1...5).map { patientChange(f.a1, seq: $0) }
            let first = try await push(client, f.tokenA1, entries).1
            let feedBefore = try await pull(client, f.tokenA1)
            let second = try await push(client, f.tokenA1, entries).1
            #expect(first == second)
            #expect(try await pull(client, f.tokenA1) == feedBefore)
            // The same sequence number with a different change is refused, not applied.
            let reused = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 3)]).1
            #expect(reused?.results.first?.outcome == .rejected)
            #expect(try await pull(client, f.tokenA1) == feedBefore)
        }
    }

    @Test(arguments: Backend.available)
    func aDeviceCannotTouchAnotherSitesRecordsOrPushAsAnotherDevice(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let id = UUID()
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, id: id)])
            let before = try await pull(client, f.tokenA1)
            let edit = patientChange(f.b1, seq: 1, id: id, op: .update, fields: ["given_name": .text("Hijacked")], ms: 1_795_000_009_000)
            let (_, r) = try await push(client, f.tokenB1, [edit])
            #expect(r?.results.first?.outcome == .rejected && r?.results.first?.reason?.contains("another site") == true)
            let impostor = patientChange(f.a2, seq: 9)
            let (_, r2) = try await push(client, f.tokenA1, [impostor])
            #expect(r2?.results.first?.outcome == .rejected)
            #expect(try await pull(client, f.tokenA1) == before)
        }
    }

    @Test(arguments: Backend.available)
    func concurrentEditsLeaveAConflictRecord(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let id = UUID()
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, id: id)])
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 2, id: id, op: .update, fields: ["family_name": .text("Bello")], ms: 1_795_000_002_000)])
            let (_, r) = try await push(client, f.tokenA2, [patientChange(f.a2, seq: 1, id: id, op: .update, fields: ["family_name": .text("Okafor-Bello")], ms: 1_795_000_001_000)])
            #expect(r?.results.first?.outcome == .conflict)
            let conflicts = try await client.execute(uri: "/v1/conflicts", method: .get, headers: auth(f.tokenA1)) { try decode([ConflictRecord].self, $0) }
            #expect(conflicts.count == 1)
            #expect(conflicts.first?.losingValue == .text("Okafor-Bello") && conflicts.first?.winningValue == .text("Bello"))
            let other = try await client.execute(uri: "/v1/conflicts", method: .get, headers: auth(f.tokenB1)) { try decode([ConflictRecord].self, $0) }
            #expect(other.isEmpty)
        }
    }

    /// A later write of the field made after seeing the winning value (its base is the winning
    /// clock, or later) resolves the conflict; an edit that had not seen it does not.
    @Test(arguments: Backend.available)
    func aWriteThatSawTheWinningValueResolvesTheConflict(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let id = UUID()
            let winning = FieldClock(hlc: HLCTimestamp(milliseconds: 1_795_000_002_000, counter: 0), device: f.a1.id)
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, id: id)])
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 2, id: id, op: .update, fields: ["family_name": .text("Bello")], ms: 1_795_000_002_000)])
            _ = try await push(client, f.tokenA2, [patientChange(f.a2, seq: 1, id: id, op: .update, fields: ["family_name": .text("Okafor-Bello")], ms: 1_795_000_001_000)])
            func list(_ query: String) async throws -> [ConflictRecord] {
                try await client.execute(uri: "/v1/conflicts\(query)", method: .get, headers: auth(f.tokenA1)) { r in
                    #expect(r.status == .ok)
                    return try decode([ConflictRecord].self, r)
                }
            }
            #expect(try await list("?status=open").count == 1)
            // An edit of another field, and an edit of this field that had not seen the winner: still open.
            var notes = patientChange(f.a2, seq: 2, id: id, op: .update, fields: ["notes": .text("n")], ms: 1_795_000_003_000)
            notes.base = ["family_name": winning]
            var unseen = patientChange(f.a2, seq: 3, id: id, op: .update, fields: ["family_name": .text("X")], ms: 1_795_000_004_000)
            unseen.base = ["family_name": FieldClock(hlc: HLCTimestamp(milliseconds: 1_795_000_001_000, counter: 0), device: f.a2.id)]
            _ = try await push(client, f.tokenA2, [notes, unseen])
            let stillOpen = try await list("?status=open")
            #expect(stillOpen.count == 2, "the unseen edit made a second conflict, and the first is open")
            // The resolution: the losing value again, written after seeing everything.
            var resolution = patientChange(f.a2, seq: 4, id: id, op: .update, fields: ["family_name": .text("Okafor-Bello")], ms: 1_795_000_005_000)
            resolution.base = ["family_name": FieldClock(hlc: HLCTimestamp(milliseconds: 1_795_000_004_000, counter: 0), device: f.a2.id)]
            let (_, r) = try await push(client, f.tokenA2, [resolution])
            #expect(r?.results.first?.outcome == .applied)
            #expect(try await list("?status=open").isEmpty)
            let all = try await list("")
            #expect(all.count == 2 && all.allSatisfy { $0.resolvedAt != nil && $0.resolvedBy == resolution.change.changeID.lowercased })
            #expect(try await list("?status=all").count == 2)
            let bad = try await client.execute(uri: "/v1/conflicts?status=closed", method: .get, headers: auth(f.tokenA1)) { $0.status }
            #expect(bad == .badRequest)
        }
    }

    @Test(arguments: Backend.available)
    func hostileRequestsGetTheRightStatusAndChangeNothing(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1)])
            let before = try await pull(client, f.tokenA1)
            let bodies: [(String, HTTPResponse.Status, String)] = [
                ("{not json", .badRequest, "not valid JSON"),
                (#"{"changes": 5}"#, .badRequest, "changes"),
                (#"{"changes": [{"seq": "one"}]}"#, .badRequest, "seq"),
                (#"{"changes": [{"seq": 2, "change_id": "x"}]}"#, .badRequest, "change_id"),
                (#"[]"#, .badRequest, "the body"),
                ("", .badRequest, "not valid JSON"),
            ]
            for (text, status, mention) in bodies {
                try await client.execute(uri: "/v1/changes", method: .post, headers: auth(f.tokenA1), body: ByteBuffer(string: text)) { r in
                    #expect(r.status == status, "\(text)")
                    let error = try? decode(ErrorBody.self, r)
                    #expect(error?.message.contains(mention) == true, "\(text): \(error?.message ?? "")")
                }
            }
            // Oversized body and oversized batch.
            let huge = ByteBuffer(string: "{\"changes\": [" + String(repeating: " ", count: 300 * 1024) + "]}")
            try await client.execute(uri: "/v1/changes", method: .post, headers: auth(f.tokenA1), body: huge) { #expect($0.status == .contentTooLarge) }
            let (status, _) = try await push(client, f.tokenA1, (10...110).map { patientChange(f.a1, seq: $0) })
            #expect(status == .contentTooLarge)
            // Bad query parameters.
            for uri in ["/v1/changes?after=-1", "/v1/changes?after=abc", "/v1/changes?limit=0", "/v1/changes?limit=99999999"] {
                try await client.execute(uri: uri, method: .get, headers: auth(f.tokenA1)) { #expect($0.status == .badRequest, "\(uri)") }
            }
            // Control characters are refused per entry; SQL metacharacters are stored as sent.
            let evil = "Robert'); DROP TABLE records;--"
            let (_, r) = try await push(client, f.tokenA1, [
                patientChange(f.a1, seq: 200, fields: nil),
                patientChange(f.a1, seq: 201, id: UUID(), fields: nil),
            ].enumerated().map { i, e in
                var e = e
                e.change.fields["given_name"] = .text(i == 0 ? "a\u{1B}[2Jb" : evil)
                return e
            })
            #expect(r?.results.map(\.outcome) == [.rejected, .applied])
            #expect(r?.results.first?.reason?.contains("given_name") == true)
            let after = try await pull(client, f.tokenA1, after: before.next)
            #expect(after.changes.count == 1 && after.changes.first?.change.fields["given_name"] == .text(evil))
            #expect(try await pull(client, f.tokenA1).changes.count == before.changes.count + 1)
        }
    }

    /// A new recording is accepted only once its site holds its audio; before that it is
    /// refused with `audio_missing`, and not for good: the same entry is accepted after the upload.
    @Test(arguments: Backend.available)
    func aRecordingWaitsForItsAudio(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let patient = UUID()
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, id: patient)])
            let audio = [UInt8]((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 13) })
            let sha = sha256Hex(audio)
            let now = "2026-11-22T10:00:00.000Z"
            let id = UUID()
            let fields: [String: FieldValue] = [
                "id": .text(id.lowercased), "patient_id": .text(patient.lowercased), "location": .text("AV"), "recorded_at": .text(now),
                "original_filename": .text("a.wav"), "original_format": .text("wav/pcm16"), "original_sha256": .text(sha), "original_size": .integer(300),
                "stored_format": .text("flac/pcm16"), "sample_rate": .integer(4_000), "channels": .integer(1), "frames": .integer(40_000),
                "duration": .real(10), "audio_sha256": .text(sha), "audio_size": .integer(300), "samples_sha256": .text(sha),
                "created_at": .text(now), "deleted": .integer(0)]
            let recording = PushEntry(change: Change(sequence: 2, changeID: UUID(), entity: .recording, entityID: id, operation: .insert, fields: fields,
                                                     hlc: HLCTimestamp(milliseconds: 1_795_000_001_000, counter: 0), deviceID: f.a1.id))
            let (_, first) = try await push(client, f.tokenA1, [recording])
            let r = try #require(first?.results.first)
            #expect(r.outcome == .rejected && r.code == PushResult.audioMissing && r.serverSeq == nil, "\(r)")
            // Another site holding the same bytes does not count.
            let other = try await client.execute(uri: "/v1/blobs/\(sha)?offset=0&total=300", method: .put, headers: auth(f.tokenB1),
                                                 body: ByteBuffer(bytes: audio)) { $0.status }
            #expect(other == .ok)
            #expect(try await push(client, f.tokenA1, [recording]).1?.results.first?.code == PushResult.audioMissing)
            let up = try await client.execute(uri: "/v1/blobs/\(sha)?offset=0&total=300", method: .put, headers: auth(f.tokenA1),
                                              body: ByteBuffer(bytes: audio)) { $0.status }
            #expect(up == .ok)
            let (_, second) = try await push(client, f.tokenA1, [recording])
            #expect(second?.results.first?.outcome == .applied && second?.results.first?.code == nil)
            #expect(try await pull(client, f.tokenA1).changes.map(\.change.entity) == [.patient, .recording])
        }
    }

    /// An entry whose clock is further ahead of the server's than `maxClockSkew` (24 h) is
    /// refused with `clock_ahead`, and not for good; one within the bound is accepted.
    @Test(arguments: Backend.available)
    func aFarFutureClockIsRefusedUntilTheServerCatchesUp(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let nowMS = Int64(Date().timeIntervalSince1970 * 1000)
            let (_, far) = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, ms: nowMS + 49 * 3_600_000)])
            let r = try #require(far?.results.first)
            #expect(r.outcome == .rejected && r.code == PushResult.clockAhead && (r.reason ?? "").contains("date and time"), "\(r)")
            let (_, near) = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 2, ms: nowMS + 23 * 3_600_000)])
            #expect(near?.results.first?.outcome == .applied)
            // Not stored: the same seq with an acceptable clock later is taken.
            let (_, again) = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, ms: nowMS)])
            #expect(again?.results.first?.outcome == .applied)
        }
    }
}
