import ClinicCore
@testable import ClinicServer
import ClinicSync
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// The writer's group commit and the hand-written wire JSON.
@Suite(.serialized) struct GroupCommitTests {
    @Test func eachCallerGetsItsOwnAnswerAndGroupsStayWithinTheirLimits() async throws {
        let queue = GroupCommit<Int, Int>(maxJobs: 8, maxCost: 1_000) { _ in 1 }
        let groups = Mutex<[[Int]]>([])
        let writer = Task {
            await queue.run { jobs in
                groups.withLock { $0.append(jobs) }
                try? await Task.sleep(for: .milliseconds(5))
                return jobs.map { $0 % 3 == 0 ? .failure(ServerError.badRequest("job \($0)")) : .success($0 * 10) }
            }
        }
        let answers = try await withThrowingTaskGroup(of: (Int, Int?).self) { group in
            for job in 1...60 {
                group.addTask { (job, try? await queue.submit(job)) }
            }
            var all: [Int: Int?] = [:]
            for try await (job, answer) in group { all[job] = answer }
            return all
        }
        for job in 1...60 { #expect(answers[job] == (job % 3 == 0 ? nil : job * 10), "job \(job)") }
        let seen = groups.withLock { $0 }
        #expect(seen.allSatisfy { $0.count <= 8 })
        #expect(seen.flatMap { $0 }.sorted() == Array(1...60))
        #expect(seen.count < 60, "jobs waiting together are applied together")
        queue.close()
        await writer.value
        await #expect(throws: ServerError.self) { try await queue.submit(1) }
    }

    /// GRDB's pool sets `synchronous = NORMAL` on its connections; the server's writer must
    /// still run FULL, or an acknowledged push could be lost in a power cut.
    @Test func theSQLiteWriterRunsSynchronousFull() async throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "sync-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let storage = try SQLiteStorage(path: dir.appending(path: "server.sqlite").path)
        try await storage.migrate()
        #expect(try await storage.writerSynchronous() == 2)
        try await storage.shutdown()
    }

    /// Committed pushes reach the database file through the background checkpointer, with the
    /// WAL far below the size at which the writer would checkpoint itself.
    @Test func theBackgroundCheckpointerCopiesCommitsIntoTheDatabaseFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appending(path: "server.sqlite").path
        let storage = try SQLiteStorage(path: path)
        try await storage.migrate()
        let admin = ServerAdmin(storage: storage)
        _ = try await admin.addSite(name: "Site")
        let (device, _) = try await admin.enroll(site: "Site", name: "tablet")
        let runsBefore = storage.checkpointer.stats.withLock { $0.runs }
        for round in 0..<3 {
            let results = try await storage.push((1...50).map { patientChange(device, seq: Int64(round * 50 + $0)) }, device: device, now: "2026-12-02T09:00:00.000Z")
            #expect(results.allSatisfy { $0.outcome == .applied })
        }
        // Wait for a checkpoint after the last commit.
        for _ in 0..<100 where storage.checkpointer.stats.withLock({ $0.runs <= runsBefore || $0.pending }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(300))
        let stats = storage.checkpointer.stats.withLock { $0 }
        #expect(stats.runs > runsBefore && stats.lastCheckpointedFrames > 0)
        let walPages = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0) / 4096
        #expect(walPages > 0 && walPages < WALCheckpointer.writerThresholdPages)
        // A copy of the database file alone, without its WAL, holds all 150 patients.
        let copy = dir.appending(path: "copy.sqlite").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let records = try await DatabaseQueue(path: copy).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM records") }
        #expect(records == 150)
        try await storage.shutdown()
    }

    @Test func aGroupStopsGrowingAtItsCost() async throws {
        let queue = GroupCommit<Int, Int>(maxJobs: 100, maxCost: 100) { $0 }
        let groups = Mutex<[[Int]]>([])
        let gate = Mutex(false)
        // Hold the writer on a first job until all the others are queued.
        let writer = Task {
            await queue.run { jobs in
                groups.withLock { $0.append(jobs) }
                while !gate.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(1)) }
                return jobs.map { .success($0) }
            }
        }
        let first = Task { try await queue.submit(1) }
        while groups.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(1)) }
        let rest = (0..<6).map { _ in Task { try await queue.submit(40) } }
        try await Task.sleep(for: .milliseconds(50))
        gate.withLock { $0 = true }
        _ = try await first.value
        for task in rest { #expect(try await task.value == 40) }
        #expect(groups.withLock { $0 } == [[1], [40, 40, 40], [40, 40, 40]])
        queue.close()
        await writer.value
    }

    /// Many devices pushing at once (so their pushes share transactions), with replays and a
    /// reused sequence number among them: every answer as if each push ran alone.
    @Test(arguments: Backend.available)
    func concurrentPushesShareTransactionsButNotAnswers(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        let shared = UUID()
        try await f.app.test(.router) { client in
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, id: shared)])
            var batches: [[PushEntry]] = []
            for i in 0..<12 {
                let device = i % 2 == 0 ? f.a1 : f.a2
                batches.append((2...9).map { (n: Int) -> PushEntry in patientChange(device, seq: Int64(i * 10 + n)) })
            }
            let answers = try await withThrowingTaskGroup(of: (Int, PushResponse?).self) { group in
                for (i, entries) in batches.enumerated() {
                    group.addTask { (i, try await push(client, i % 2 == 0 ? f.tokenA1 : f.tokenA2, entries).1) }
                }
                // The same record edited by both devices, and an edit from the other site, in the same burst.
                group.addTask {
                    (100, try await push(client, f.tokenA2, [patientChange(f.a2, seq: 500, id: shared, op: .update,
                                                                             fields: ["notes": .text("a2")], ms: 1_795_000_005_000)]).1)
                }
                group.addTask {
                    (101, try await push(client, f.tokenB1, [patientChange(f.b1, seq: 1, id: shared, op: .update,
                                                                             fields: ["notes": .text("b1")], ms: 1_795_000_006_000)]).1)
                }
                var all: [Int: PushResponse?] = [:]
                for try await (i, r) in group { all[i] = r }
                return all
            }
            for i in 0..<12 { #expect(answers[i]??.results.map(\.outcome) == Array(repeating: .applied, count: 8)) }
            #expect(answers[100]??.results.first?.outcome == .applied)
            #expect(answers[101]??.results.first?.outcome == .rejected)
            // Replays (through the same burst machinery) give the same answers; a reused seq is refused.
            let replays = try await withThrowingTaskGroup(of: (Int, PushResponse?).self) { group in
                for (i, entries) in batches.enumerated() {
                    group.addTask { (i, try await push(client, i % 2 == 0 ? f.tokenA1 : f.tokenA2, entries).1) }
                }
                group.addTask { (99, try await push(client, f.tokenA1, [patientChange(f.a1, seq: 2)]).1) }
                var all: [Int: PushResponse?] = [:]
                for try await (i, r) in group { all[i] = r }
                return all
            }
            for i in 0..<12 { #expect(replays[i]! == answers[i]!) }
            #expect(replays[99]??.results.first?.outcome == .rejected)
            var feed: [FeedEntry] = []
            var cursor: Int64 = 0
            while true {
                let page = try await pull(client, f.tokenA1, after: cursor)
                feed += page.changes
                cursor = page.next
                if !page.more { break }
            }
            let expected: Int = 98 // the shared insert, 12 batches of 8, the other device's edit
            #expect(feed.count == expected)
            #expect(feed.map(\.serverSeq) == feed.map(\.serverSeq).sorted())
            #expect(Set(feed.map(\.change.changeID)).count == feed.count)
            let accepted = answers.values.flatMap { $0?.results ?? [] }.compactMap(\.serverSeq)
            #expect(Set(accepted).isSubset(of: Set(feed.map(\.serverSeq))))
            #expect(try await pull(client, f.tokenB1).changes.isEmpty)
        }
    }

    /// Migration 0002 fills the pull form of rows pushed before it; the same code rebuilds it here.
    @Test(arguments: Backend.available)
    func feedEntriesRebuiltFromTheFeedMatchTheOnesWrittenAtPush(_ backend: Backend) async throws {
        let f = try await Fixture.make(backend)
        defer { Task { await f.close() } }
        try await f.app.test(.router) { client in
            let id = UUID()
            var update = patientChange(f.a1, seq: 2, id: id, op: .update, fields: ["notes": .text("line 1\n\t\"quoted\" \\ / ü 🫀")],
                                       ms: 1_795_000_001_000)
            update.base = ["notes": FieldClock(hlc: HLCTimestamp(milliseconds: 1_795_000_000_000, counter: 0), device: f.a1.id)]
            _ = try await push(client, f.tokenA1, [patientChange(f.a1, seq: 1, id: id), update])
            let before = try await pull(client, f.tokenA1)
            #expect(before.changes.count == 2)
            try await rebuildFeedEntries(f.storage)
            #expect(try await pull(client, f.tokenA1) == before)
            let raw = try await f.storage.feed(siteID: f.a1.siteID, after: 0, limit: 10)
            try await rebuildFeedEntries(f.storage)
            #expect(try await f.storage.feed(siteID: f.a1.siteID, after: 0, limit: 10) == raw)
        }
    }

    /// Migration 0003 rebuilds the SQLite receipts without a rowid and keeps every answer:
    /// pushes made at 0002 replay with the same answers after it.
    @Test func receiptsKeepTheirAnswersThroughMigration0003() async throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "m0003-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appending(path: "server.sqlite").path
        // A database at 0002, registered as the server registers it.
        var migrator = DatabaseMigrator()
        for m in embeddedMigrations where m.name.hasPrefix("sqlite/") && m.name < "sqlite/0003" {
            migrator.registerMigration(m.name) { db in
                try db.execute(sql: m.sql)
                if m.name == "sqlite/0002_feed_entries" { try SQLiteStorage.fillFeedEntries(db) }
            }
        }
        try migrator.migrate(DatabasePool(path: path))
        let old = try SQLiteStorage(path: path)
        let admin = ServerAdmin(storage: old)
        _ = try await admin.addSite(name: "Site")
        let (device, _) = try await admin.enroll(site: "Site", name: "tablet")
        var entries = (1...20).map { patientChange(device, seq: Int64($0)) }
        entries.append(PushEntry(change: Change(sequence: 21, changeID: UUID(), entity: .patient, entityID: UUID(), operation: .insert,
                                                fields: ["given_name": .integer(5)], hlc: HLCTimestamp(milliseconds: 1, counter: 0), deviceID: device.id)))
        let answers = try await old.push(entries, device: device, now: "2026-12-02T09:00:00.000Z")
        #expect(answers.filter { $0.outcome == .applied }.count == 20 && answers.last?.outcome == .rejected)
        try await old.shutdown()

        let migrated = try SQLiteStorage(path: path)
        try await migrated.migrate()
        #expect(try await migrated.push(entries, device: device, now: "2026-12-02T10:00:00.000Z") == answers)
        let (count, rowidRefused) = try await DatabaseQueue(path: path).read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM receipts"), (try? Row.fetchAll(db, sql: "SELECT rowid FROM receipts")) == nil)
        }
        #expect(count == 21 && rowidRefused)
        try await migrated.shutdown()
    }

    @Test func wireJSONMatchesJSONEncoder() throws {
        var tricky = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }.joined()
        tricky += "\"\\/ plain ü 🫀 \u{7F} \u{2028}"
        let device = UUID(), id = UUID()
        let change = Change(sequence: 7, changeID: UUID(), entity: .patient, entityID: id, operation: .update,
                            fields: ["notes": .text(tricky), "zeta": .null, "a": .integer(-3), "r1": .real(2.5), "r2": .real(3),
                                     "r3": .real(1e20), "r4": .real(0.1), "r5": .real(1.5e-7), "r6": .real(-0.0)],
                            hlc: HLCTimestamp(milliseconds: 1_795_000_000_123, counter: 4), deviceID: device)
        let clock = FieldClock(hlc: change.hlc, device: device)
        let prefix = WireJSON.changePrefix(change)
        #expect(WireJSON.feedEntry(prefix: prefix, outcome: .conflict, seq: 7, serverSeq: 99)
                == (try JSON.text(FeedEntry(serverSeq: 99, change: change, outcome: .conflict))))
        let entry = PushEntry(change: change, base: ["notes": clock])
        // The stored change reads back as the old encoding did (3.0 comes back as 3 either way).
        for e in [entry, PushEntry(change: change)] {
            let stored = WireJSON.storedChange(prefix: prefix, seq: 7, base: e.base)
            #expect(try JSON.decode(PushEntry.self, stored) == (try JSON.decode(PushEntry.self, try JSON.text(e))))
        }
        let state = RecordState(fields: change.fields, clocks: change.fields.mapValues { _ in clock }, bases: ["notes": clock], origin: clock)
        #expect(WireJSON.recordState(state) == (try JSON.text(state)))
        let bare = RecordState(fields: ["x": .text("y")], clocks: ["x": clock])
        #expect(WireJSON.recordState(bare) == (try JSON.text(bare)))
        let results = [PushResult(seq: 1, changeID: "a", outcome: .applied, serverSeq: 5),
                       PushResult(seq: 2, changeID: "b", outcome: .rejected, reason: "field \"x\" must be \\ text")]
        #expect(String(buffer: WireJSON.pushResponse(results)) == (try JSON.text(PushResponse(results: results))))
        #expect(String(buffer: WireJSON.pushResponse([])) == (try JSON.text(PushResponse(results: []))))
        let entries = [FeedEntry(serverSeq: 3, change: change, outcome: .applied), FeedEntry(serverSeq: 4, change: change, outcome: .superseded)]
        for (page, more) in [(entries, true), ([], false)] {
            let stored = page.map { WireJSON.feedEntry(prefix: prefix, outcome: $0.outcome, seq: 7, serverSeq: $0.serverSeq) }
            #expect(String(buffer: WireJSON.pullResponse(stored, next: 4, more: more))
                    == (try JSON.text(PullResponse(changes: page, next: 4, more: more))))
        }
    }
}

/// Empties feed_entries and fills it again from the feed, as migration 0002 does.
func rebuildFeedEntries(_ storage: any ServerStorage) async throws {
    if let s = storage as? SQLiteStorage { try await s.rebuildFeedEntries() }
    if let s = storage as? PostgresStorage { try await s.rebuildFeedEntries() }
}
