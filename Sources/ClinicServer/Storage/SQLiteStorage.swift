import ClinicCore
import ClinicSync
import Foundation
import GRDB
import Synchronization

/// The embedded default backend: one SQLite file (WAL, synchronous FULL) through GRDB.
/// SQLite has one writer at a time: one writer task applies pushes in groups (group commit,
/// one transaction and one fsync per group, a savepoint per push); a pool of readers serves
/// pulls and token checks alongside (WAL).
final class SQLiteStorage: ServerStorage {
    private let db: DatabasePool
    private let writer: GroupCommit<PreparedPush, [PushResult]>
    private let writerTask: Task<Void, Never>
    let checkpointer: WALCheckpointer
    private let checkpointTask: Task<Void, Never>

    init(path: String) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 8
        // Reads map the file instead of copying pages through pread (WAL frames are still read).
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA mmap_size = 268435456") }
        let db = try DatabasePool(path: path, configuration: config)
        try db.writeWithoutTransaction { db in
            // A pushed change is acknowledged only once it would survive a power cut.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The writer keeps the indexes a push touches in memory (64 MiB; the default is 2 MiB).
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // WAL checkpoints run beside the writer (WALCheckpointer); the writer checkpoints
            // itself only every 4,000 pages (16 MiB), to finish the copy and let the WAL restart.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.writerThresholdPages)")
        }
        self.db = db
        let checkpointer = try WALCheckpointer(path: path)
        self.checkpointer = checkpointer
        checkpointTask = Task { await checkpointer.run() }
        let writer = GroupCommit<PreparedPush, [PushResult]>(maxJobs: PushGrouping.maxPushes, maxCost: PushGrouping.maxChanges) { max(1, $0.entries.count) }
        self.writer = writer
        writerTask = Task {
            await writer.run { jobs in
                defer { checkpointer.noteCommit() }
                return await SQLiteStorage.apply(jobs, db)
            }
        }
    }

    func migrate() async throws {
        var migrator = DatabaseMigrator()
        for m in embeddedMigrations where m.name.hasPrefix("sqlite/") {
            migrator.registerMigration(m.name) { db in
                try db.execute(sql: m.sql)
                if m.name == "sqlite/0002_feed_entries" { try Self.fillFeedEntries(db) }
            }
        }
        try migrator.migrate(db)
    }

    /// Empties feed_entries and fills it again from the feed (for tests of migration 0002's fill).
    func rebuildFeedEntries() async throws {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM feed_entries")
            try Self.fillFeedEntries(db)
        }
    }

    /// Writes the pull form of every feed row that has none (the rows written before 0002).
    static func fillFeedEntries(_ db: Database) throws {
        let rows = try Row.fetchAll(db, sql: """
            SELECT f.server_seq, f.site_id, f.seq, f.change, f.outcome FROM feed f
            WHERE NOT EXISTS (SELECT 1 FROM feed_entries e WHERE e.site_id = f.site_id AND e.server_seq = f.server_seq)
            """)
        for row in rows {
            let entry = try JSON.decode(PushEntry.self, row[3])
            let json = WireJSON.feedEntry(prefix: WireJSON.changePrefix(entry.change), outcome: try PushOutcome(stored: row[4]), seq: row[2], serverSeq: row[0])
            try db.execute(sql: "INSERT INTO feed_entries(site_id, server_seq, entry) VALUES (?, ?, ?)", arguments: [row[1], row[0], json])
        }
    }

    func createSite(_ site: SiteRecord) async throws {
        try await db.write { db in
            guard try !Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM sites WHERE name = ?)", arguments: [site.name])! else {
                throw AdminError("A site with that name already exists.")
            }
            try db.execute(sql: "INSERT INTO sites(id, name, created_at) VALUES (?, ?, ?)", arguments: [site.id, site.name, site.createdAt])
        }
    }

    func sites() async throws -> [SiteRecord] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sites ORDER BY name").map {
                SiteRecord(id: $0["id"], name: $0["name"], createdAt: $0["created_at"])
            }
        }
    }

    func createDevice(_ device: DeviceRecord, tokenHash: String) async throws {
        try await db.write { db in
            try db.execute(sql: "INSERT INTO devices(id, site_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [device.id.lowercased, device.siteID, device.name, tokenHash, device.createdAt])
        }
    }

    static let deviceSelect = "SELECT d.*, s.name AS site_name FROM devices d JOIN sites s ON s.id = d.site_id"

    static func device(_ row: Row) throws -> DeviceRecord {
        guard let id = UUID(strict: row["id"]) else { throw ServerError.internalError("bad device id in database") }
        return DeviceRecord(id: id, siteID: row["site_id"], siteName: row["site_name"], name: row["name"],
                            createdAt: row["created_at"], revokedAt: row["revoked_at"])
    }

    func devices() async throws -> [DeviceRecord] {
        try await db.read { db in try Row.fetchAll(db, sql: Self.deviceSelect + " ORDER BY s.name, d.name, d.id").map(Self.device) }
    }

    func revokeDevice(id: UUID, at: String) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [at, id.lowercased])
            return db.changesCount > 0
        }
    }

    func device(tokenHash: String) async throws -> (DeviceRecord, String)? {
        try await db.read { db in
            guard let row = try Row.fetchOne(db, sql: Self.deviceSelect + " WHERE d.token_hash = ? AND d.revoked_at IS NULL",
                                             arguments: [tokenHash]) else { return nil }
            return (try Self.device(row), row["token_hash"])
        }
    }

    /// Queues the push for the writer task (group commit) and waits for its answers.
    func push(_ push: PreparedPush) async throws -> [PushResult] {
        try await writer.submit(push)
    }

    /// Applies a group of pushes in one transaction (one fsync), each in its own savepoint.
    private static func apply(_ jobs: [PreparedPush], _ pool: DatabasePool) async -> [Result<[PushResult], any Error>] {
        do {
            return try await pool.write { db in
                var next = try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(server_seq), 0) FROM feed"))! + 1
                var out: [Result<[PushResult], any Error>] = []
                out.reserveCapacity(jobs.count)
                for job in jobs {
                    do {
                        var applied: ([PushResult], Int64) = ([], 0)
                        try db.inSavepoint {
                            applied = try apply(job, db, firstServerSeq: next)
                            return .commit
                        }
                        next += applied.1
                        out.append(.success(applied.0))
                    } catch {
                        out.append(.failure(error))
                    }
                }
                return out
            }
        } catch {
            return jobs.map { _ in .failure(error) }
        }
    }

    /// One push inside the group's transaction: returns its answers and how many feed numbers it took.
    private static func apply(_ push: PreparedPush, _ db: Database, firstServerSeq: Int64) throws -> ([PushResult], Int64) {
        let deviceID = push.device.id.lowercased
        let siteID = push.device.siteID
        var receipts: [Int64: StoredReceipt] = [:]
        for chunk in push.entries.map(\.entry.change.sequence).chunked(500) {
            // Cached by text: a push's lookups are nearly always the same size, so prepared once.
            let rows = try Row.fetchCursor(db.cachedStatement(sql: "SELECT seq, change_id, outcome, reason, server_seq FROM receipts WHERE device_id = ? AND seq IN (\(placeholders(chunk.count)))"),
                                           arguments: StatementArguments([deviceID] + chunk.map { $0 as any DatabaseValueConvertible }))
            while let row = try rows.next() {
                receipts[row[0]] = StoredReceipt(changeID: row[1], outcome: try PushOutcome(stored: row[2]), reason: row[3], serverSeq: row[4])
            }
        }
        var records: [RecordKey: StoredRecord] = [:]
        for (entity, keys) in Dictionary(grouping: PushPlanner.recordKeys(push.entries.map(\.entry)), by: \.entity) {
            for chunk in keys.map(\.id).chunked(500) {
                let rows = try Row.fetchCursor(db.cachedStatement(sql: "SELECT entity_id, site_id, state FROM records WHERE entity = ? AND entity_id IN (\(placeholders(chunk.count)))"),
                                               arguments: StatementArguments([entity.rawValue] + chunk.map { $0 as any DatabaseValueConvertible }))
                while let row = try rows.next() {
                    records[RecordKey(entity: entity, id: row[0])] = StoredRecord(siteID: row[1], state: try JSON.decode(RecordState.self, row[2]))
                }
            }
        }
        var held = Set<String>()
        for chunk in PushPlanner.audioHashes(push.entries.map(\.entry)).chunked(500) {
            held.formUnion(try String.fetchAll(db.cachedStatement(sql: "SELECT sha256 FROM blob_sites WHERE site_id = ? AND sha256 IN (\(placeholders(chunk.count)))"),
                                               arguments: StatementArguments([siteID] + chunk.map { $0 as any DatabaseValueConvertible })))
        }
        let steps = PushPlanner.plan(push.entries, device: push.device, receipts: receipts, records: records, heldAudio: held, latestClock: push.latestClock)
        let (results, writes) = steps.materialize(firstServerSeq: firstServerSeq)
        var taken: Int64 = 0
        var states = OrderedStates()
        for write in writes {
            switch write {
            case .feed(let serverSeq, let entry, let outcome):
                taken += 1
                let seq = entry.entry.change.sequence
                try db.cachedStatement(sql: "INSERT INTO feed(server_seq, site_id, device_id, seq, change, outcome, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                    .execute(arguments: [serverSeq, siteID, deviceID, seq, WireJSON.storedChange(prefix: entry.prefix, seq: seq, base: entry.entry.base),
                                         outcome.rawValue, push.now])
                try db.cachedStatement(sql: "INSERT INTO feed_entries(site_id, server_seq, entry) VALUES (?, ?, ?)")
                    .execute(arguments: [siteID, serverSeq, WireJSON.feedEntry(prefix: entry.prefix, outcome: outcome, seq: seq, serverSeq: serverSeq)])
            case .record(let key, let state, _):
                states.set(key, state)
            case .conflict(let key, let conflict, let changeID):
                let record = ConflictRecord(id: push.newID().lowercased, key: key, conflict: conflict, changeID: changeID, now: push.now)
                try db.cachedStatement(sql: """
                    INSERT INTO conflicts(id, site_id, record, created_at, entity, entity_id, field, winning_clock) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [record.id, siteID, try JSON.text(record), push.now, key.entity.rawValue, key.id, conflict.field,
                                             conflict.winningClock.description])
            case .resolve(let key, let field, let seen, let changeID):
                try db.cachedStatement(sql: """
                    UPDATE conflicts SET resolved_at = ?, resolved_by = ?
                    WHERE site_id = ? AND entity = ? AND entity_id = ? AND field = ? AND resolved_at IS NULL AND winning_clock <= ?
                    """).execute(arguments: [push.now, changeID, siteID, key.entity.rawValue, key.id, field, seen.description])
            case .receipt(let seq, let r):
                try db.cachedStatement(sql: "INSERT INTO receipts(device_id, seq, change_id, outcome, reason, server_seq) VALUES (?, ?, ?, ?, ?, ?)").execute(arguments: [deviceID, seq, r.changeID, r.outcome.rawValue, r.reason, r.serverSeq])
            }
        }
        // Each record once, in its final state (a batch may touch one record several times).
        for (key, state) in states.items {
            try db.cachedStatement(sql: """
                INSERT INTO records(entity, entity_id, site_id, state, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(entity, entity_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """).execute(arguments: [key.entity.rawValue, key.id, siteID, WireJSON.recordState(state), push.now])
        }
        return (results, taken)
    }

    private static func placeholders(_ count: Int) -> String {
        String(repeating: "?,", count: count - 1) + "?"
    }

    func feed(siteID: String, after: Int64, limit: Int) async throws -> [StoredFeedEntry] {
        try await db.read { db in
            var out: [StoredFeedEntry] = []
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT e.server_seq, e.entry, f.device_id FROM feed_entries e LEFT JOIN feed f ON f.server_seq = e.server_seq
                WHERE e.site_id = ? AND e.server_seq > ? ORDER BY e.server_seq LIMIT ?
                """), arguments: [siteID, after, limit])
            while let row = try rows.next() { out.append(StoredFeedEntry(serverSeq: row[0], json: row[1], deviceID: row[2])) }
            return out
        }
    }

    func conflicts(siteID: String, openOnly: Bool, limit: Int) async throws -> [ConflictRecord] {
        try await db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT record, resolved_at, resolved_by FROM conflicts WHERE site_id = ? \(openOnly ? "AND resolved_at IS NULL" : "")
                ORDER BY created_at, id LIMIT ?
                """, arguments: [siteID, limit]).map { row in
                var record = try JSON.decode(ConflictRecord.self, row[0] as String)
                record.resolvedAt = row[1]
                record.resolvedBy = row[2]
                return record
            }
        }
    }

    func blobSize(sha256: String, siteID: String) async throws -> Int64? {
        try await db.read { db in
            try Int64.fetchOne(db, sql: "SELECT b.size FROM blobs b JOIN blob_sites s ON s.sha256 = b.sha256 WHERE b.sha256 = ? AND s.site_id = ?",
                               arguments: [sha256, siteID])
        }
    }

    func addBlob(sha256: String, size: Int64, siteID: String, now: String) async throws {
        try await db.write { db in
            try db.execute(sql: "INSERT INTO blobs(sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", arguments: [sha256, size, now])
            try db.execute(sql: "INSERT INTO blob_sites(sha256, site_id) VALUES (?, ?) ON CONFLICT DO NOTHING", arguments: [sha256, siteID])
        }
    }

    /// The writer connection's `PRAGMA synchronous` (2 is FULL), for the durability test.
    func writerSynchronous() async throws -> Int {
        try await db.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    func shutdown() async throws {
        writer.close()
        await writerTask.value
        checkpointTask.cancel()
        await checkpointTask.value
    }
}

/// Copies committed WAL frames into the database file from a connection of its own, about
/// every 100 ms while pushes arrive, so that the writer's commits do not pay for it.
///
/// By default SQLite checkpoints inside the commit that takes the WAL past 1,000 pages: that
/// commit, and every push waiting behind it, waits while 4 MiB are copied and the database file
/// is fsync'd (commit p90 12 ms and p99 21 ms in the paced bench, against 4 and 6 ms without).
/// A PASSIVE checkpoint here runs beside the writer (it takes no write lock). Because the
/// writer keeps appending, this one cannot always finish the WAL, and the WAL only restarts
/// from its beginning after a complete checkpoint: so the writer still checkpoints itself past
/// `writerThresholdPages`, by then with little left to copy. Durability does not change: each
/// commit is fsync'd to the WAL as before, and a checkpoint fsyncs the WAL before copying and
/// the database file after.
final class WALCheckpointer: Sendable {
    static let writerThresholdPages = 4_000

    struct Stats: Sendable {
        var pending = false
        /// Checkpoints run, and frames found already copied by the last one.
        var runs = 0
        var lastCheckpointedFrames = 0
    }

    let stats = Mutex(Stats())
    private let queue: DatabaseQueue

    init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: config)
    }

    /// Called after each group commit.
    func noteCommit() { stats.withLock { $0.pending = true } }

    /// Checkpoints after commits, at most every 100 ms, until cancelled.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            guard stats.withLock({ s in defer { s.pending = false }; return s.pending }) else { continue }
            // Busy (the writer's own checkpoint is running) is fine: the next round catches up.
            if let r = try? await queue.writeWithoutTransaction({ try $0.checkpoint(.passive) }) {
                stats.withLock { $0.runs += 1; $0.lastCheckpointedFrames = r.checkpointedFrameCount }
            }
        }
    }
}
