import ClinicCore
import ClinicSync
import Foundation
import Logging
import PostgresNIO

/// The backend for more than one machine's worth of load: PostgreSQL through postgres-nio's
/// connection pool. Several server instances may share one database: each instance's writer
/// task applies pushes in groups (group commit: one transaction, a savepoint per push) under a
/// transaction-scoped advisory lock, so feed numbers are handed out in commit order.
final class PostgresStorage: ServerStorage {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    /// Finishes when the runner task is about to enter `client.run()`.
    private let runnerStarted: AsyncStream<Void>
    private let writer: GroupCommit<PreparedPush, [PushResult]>
    private let writerTask: Task<Void, Never>
    private let logger: Logger
    static let pushLock: Int64 = 0x636C_696E_6963 // "clinic"
    static let migrateLock: Int64 = 0x636C_696E_6964

    init(url: String, logger: Logger = Logger(label: "clinic-server")) throws {
        self.logger = logger
        guard let c = URLComponents(string: url), let host = c.host, !host.isEmpty else {
            throw AdminError("The PostgreSQL URL must look like postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let database = c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var config = PostgresClient.Configuration(host: host, port: c.port ?? 5432, username: c.user ?? "postgres",
                                                  password: c.password, database: database.isEmpty ? nil : database, tls: .disable)
        config.options.maximumConnections = 20
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        self.client = client
        let (started, continuation) = AsyncStream<Void>.makeStream()
        runnerStarted = started
        runner = Task {
            continuation.finish()
            await client.run()
        }
        let writer = GroupCommit<PreparedPush, [PushResult]>(maxJobs: PushGrouping.maxPushes, maxCost: PushGrouping.maxChanges) { max(1, $0.entries.count) }
        self.writer = writer
        let logger = self.logger
        writerTask = Task { await writer.run { jobs in await PostgresStorage.apply(jobs, client, logger) } }
    }

    func shutdown() async throws {
        writer.close()
        await writerTask.value
        runner.cancel()
    }

    func migrate() async throws {
        // Storage.open migrates first. Leasing a connection before the runner has entered
        // run() works but logs a warning at every start, so wait until it is on its way
        // (run() marks itself running in its first statement, with no suspension between).
        for await _ in runnerStarted {}
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(Self.migrateLock))", logger: logger)
            try await conn.query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())", logger: logger)
            var applied = Set<String>()
            for try await name in try await conn.query("SELECT name FROM schema_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for m in embeddedMigrations where m.name.hasPrefix("postgres/") && !applied.contains(m.name) {
                for statement in Self.statements(m.sql) {
                    try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                if m.name == "postgres/0002_feed_entries" { try await Self.fillFeedEntries(conn, logger) }
                try await conn.query("INSERT INTO schema_migrations(name) VALUES (\(m.name))", logger: logger)
            }
        }
    }

    /// Empties feed_entries and fills it again from the feed (for tests of migration 0002's fill).
    func rebuildFeedEntries() async throws {
        let logger = self.logger
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(Self.pushLock))", logger: logger)
            try await conn.query("DELETE FROM feed_entries", logger: logger)
            try await Self.fillFeedEntries(conn, logger)
        }
    }

    /// Writes the pull form of every feed row that has none (the rows written before 0002).
    static func fillFeedEntries(_ conn: PostgresConnection, _ logger: Logger) async throws {
        var rows: [(Int64, String, Int64, String, String)] = []
        for try await row in try await conn.query("""
            SELECT f.server_seq, f.site_id, f.seq, f.change, f.outcome FROM feed f
            WHERE NOT EXISTS (SELECT 1 FROM feed_entries e WHERE e.site_id = f.site_id AND e.server_seq = f.server_seq)
            """, logger: logger).decode((Int64, String, Int64, String, String).self) {
            rows.append(row)
        }
        for (serverSeq, siteID, seq, change, outcome) in rows {
            let entry = try JSON.decode(PushEntry.self, change)
            let json = WireJSON.feedEntry(prefix: WireJSON.changePrefix(entry.change), outcome: try PushOutcome(stored: outcome), seq: seq, serverSeq: serverSeq)
            try await conn.query("INSERT INTO feed_entries(site_id, server_seq, entry) VALUES (\(siteID), \(serverSeq), \(json))", logger: logger)
        }
    }

    /// Splits a migration into statements (migrations hold no `;` inside literals).
    static func statements(_ sql: String) -> [String] {
        sql.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
            .joined(separator: "\n").split(separator: ";")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    func createSite(_ site: SiteRecord) async throws {
        let existing = try await client.query("SELECT 1 FROM sites WHERE name = \(site.name)", logger: logger).collect()
        guard existing.isEmpty else { throw AdminError("A site with that name already exists.") }
        try await client.query("INSERT INTO sites(id, name, created_at) VALUES (\(site.id), \(site.name), \(site.createdAt))", logger: logger)
    }

    func sites() async throws -> [SiteRecord] {
        var out: [SiteRecord] = []
        for try await (id, name, created) in try await client.query("SELECT id, name, created_at FROM sites ORDER BY name", logger: logger).decode((String, String, String).self) {
            out.append(SiteRecord(id: id, name: name, createdAt: created))
        }
        return out
    }

    func createDevice(_ device: DeviceRecord, tokenHash: String) async throws {
        try await client.query("""
            INSERT INTO devices(id, site_id, name, token_hash, created_at)
            VALUES (\(device.id.lowercased), \(device.siteID), \(device.name), \(tokenHash), \(device.createdAt))
            """, logger: logger)
    }

    private func devices(_ query: PostgresQuery) async throws -> [(DeviceRecord, String)] {
        var out: [(DeviceRecord, String)] = []
        for try await (id, site, siteName, name, hash, created, revoked) in try await client.query(query, logger: logger)
            .decode((String, String, String, String, String, String, String?).self) {
            guard let uuid = UUID(strict: id) else { throw ServerError.internalError("bad device id in database") }
            out.append((DeviceRecord(id: uuid, siteID: site, siteName: siteName, name: name, createdAt: created, revokedAt: revoked), hash))
        }
        return out
    }

    func devices() async throws -> [DeviceRecord] {
        try await devices("""
            SELECT d.id, d.site_id, s.name, d.name, d.token_hash, d.created_at, d.revoked_at
            FROM devices d JOIN sites s ON s.id = d.site_id ORDER BY s.name, d.name, d.id
            """).map(\.0)
    }

    func revokeDevice(id: UUID, at: String) async throws -> Bool {
        let rows = try await client.query("UPDATE devices SET revoked_at = COALESCE(revoked_at, \(at)) WHERE id = \(id.lowercased) RETURNING id", logger: logger).collect()
        return !rows.isEmpty
    }

    func device(tokenHash: String) async throws -> (DeviceRecord, String)? {
        try await devices("""
            SELECT d.id, d.site_id, s.name, d.name, d.token_hash, d.created_at, d.revoked_at
            FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.token_hash = \(tokenHash) AND d.revoked_at IS NULL
            """).first
    }

    /// Queues the push for this instance's writer task (group commit) and waits for its answers.
    func push(_ push: PreparedPush) async throws -> [PushResult] {
        try await writer.submit(push)
    }

    /// Applies a group of pushes in one transaction under the push lock, each in its own savepoint.
    private static func apply(_ jobs: [PreparedPush], _ client: PostgresClient, _ logger: Logger) async -> [Result<[PushResult], any Error>] {
        do {
            return try await client.withTransaction(logger: logger) { conn in
                try await conn.query("SELECT pg_advisory_xact_lock(\(Self.pushLock))", logger: logger)
                var next: Int64 = 1
                for try await maxSeq in try await conn.query("SELECT COALESCE(MAX(server_seq), 0) FROM feed", logger: logger).decode(Int64.self) {
                    next = maxSeq + 1
                }
                var out: [Result<[PushResult], any Error>] = []
                for job in jobs {
                    try await conn.query("SAVEPOINT push", logger: logger)
                    do {
                        let (results, taken) = try await apply(job, conn, logger, firstServerSeq: next)
                        try await conn.query("RELEASE SAVEPOINT push", logger: logger)
                        next += taken
                        out.append(.success(results))
                    } catch {
                        try await conn.query("ROLLBACK TO SAVEPOINT push", logger: logger)
                        try await conn.query("RELEASE SAVEPOINT push", logger: logger)
                        out.append(.failure(error))
                    }
                }
                return out
            }
        } catch {
            return jobs.map { _ in .failure(error) }
        }
    }

    /// One push inside the group's transaction: a few set-based statements (arrays through
    /// UNNEST), not one round trip per row. Returns its answers and how many feed numbers it took.
    private static func apply(_ push: PreparedPush, _ conn: PostgresConnection, _ logger: Logger, firstServerSeq: Int64) async throws -> ([PushResult], Int64) {
        let deviceID = push.device.id.lowercased
        let siteID = push.device.siteID
        var receipts: [Int64: StoredReceipt] = [:]
        let seqs = push.entries.map(\.entry.change.sequence)
        for try await (seq, changeID, outcome, reason, serverSeq) in try await conn.query("""
            SELECT seq, change_id, outcome, reason, server_seq FROM receipts
            WHERE device_id = \(deviceID) AND seq = ANY(\(seqs))
            """, logger: logger).decode((Int64, String, String, String?, Int64?).self) {
            receipts[seq] = StoredReceipt(changeID: changeID, outcome: try PushOutcome(stored: outcome), reason: reason, serverSeq: serverSeq)
        }
        var records: [RecordKey: StoredRecord] = [:]
        // One query per entity kind, so the primary key (entity, entity_id) serves it.
        for (entity, keys) in Dictionary(grouping: PushPlanner.recordKeys(push.entries.map(\.entry)), by: \.entity) {
            for try await (id, site, state) in try await conn.query("""
                SELECT entity_id, site_id, state FROM records WHERE entity = \(entity.rawValue) AND entity_id = ANY(\(keys.map(\.id)))
                """, logger: logger).decode((String, String, String).self) {
                records[RecordKey(entity: entity, id: id)] = StoredRecord(siteID: site, state: try JSON.decode(RecordState.self, state))
            }
        }
        var held = Set<String>()
        let hashes = PushPlanner.audioHashes(push.entries.map(\.entry))
        if !hashes.isEmpty {
            for try await sha in try await conn.query("""
                SELECT sha256 FROM blob_sites WHERE site_id = \(siteID) AND sha256 = ANY(\(hashes))
                """, logger: logger).decode(String.self) {
                held.insert(sha)
            }
        }
        let steps = PushPlanner.plan(push.entries, device: push.device, receipts: receipts, records: records, heldAudio: held, latestClock: push.latestClock)
        let (results, writes) = steps.materialize(firstServerSeq: firstServerSeq)
        var feed = (serverSeqs: [Int64](), seqs: [Int64](), changes: [String](), outcomes: [String](), entries: [String]())
        var receiptRows = (seqs: [Int64](), changeIDs: [String](), outcomes: [String](), reasons: [String](), serverSeqs: [Int64]())
        var states = OrderedStates()
        for write in writes {
            switch write {
            case .feed(let serverSeq, let entry, let outcome):
                let seq = entry.entry.change.sequence
                feed.serverSeqs.append(serverSeq)
                feed.seqs.append(seq)
                feed.changes.append(WireJSON.storedChange(prefix: entry.prefix, seq: seq, base: entry.entry.base))
                feed.outcomes.append(outcome.rawValue)
                feed.entries.append(WireJSON.feedEntry(prefix: entry.prefix, outcome: outcome, seq: seq, serverSeq: serverSeq))
            case .record(let key, let state, _):
                states.set(key, state)
            case .conflict(let key, let conflict, let changeID):
                let record = ConflictRecord(id: push.newID().lowercased, key: key, conflict: conflict, changeID: changeID, now: push.now)
                try await conn.query("""
                    INSERT INTO conflicts(id, site_id, record, created_at, entity, entity_id, field, winning_clock)
                    VALUES (\(record.id), \(siteID), \(try JSON.text(record)), \(push.now), \(key.entity.rawValue), \(key.id), \(conflict.field),
                            \(conflict.winningClock.description))
                    """, logger: logger)
            case .resolve(let key, let field, let seen, let changeID):
                try await conn.query("""
                    UPDATE conflicts SET resolved_at = \(push.now), resolved_by = \(changeID)
                    WHERE site_id = \(siteID) AND entity = \(key.entity.rawValue) AND entity_id = \(key.id) AND field = \(field)
                      AND resolved_at IS NULL AND winning_clock <= \(seen.description) COLLATE "C"
                    """, logger: logger)
            case .receipt(let seq, let r):
                // Arrays cannot hold NULL here: '' stands for no reason, 0 for no server_seq (never a real one).
                receiptRows.seqs.append(seq)
                receiptRows.changeIDs.append(r.changeID)
                receiptRows.outcomes.append(r.outcome.rawValue)
                receiptRows.reasons.append(r.reason ?? "")
                receiptRows.serverSeqs.append(r.serverSeq ?? 0)
            }
        }
        if !feed.serverSeqs.isEmpty {
            try await conn.query("""
                INSERT INTO feed(server_seq, site_id, device_id, seq, change, outcome, received_at)
                SELECT s, \(siteID), \(deviceID), q, c, o, \(push.now)
                FROM UNNEST(\(feed.serverSeqs)::bigint[], \(feed.seqs)::bigint[], \(feed.changes)::text[], \(feed.outcomes)::text[]) AS t(s, q, c, o)
                """, logger: logger)
            try await conn.query("""
                INSERT INTO feed_entries(site_id, server_seq, entry)
                SELECT \(siteID), s, e FROM UNNEST(\(feed.serverSeqs)::bigint[], \(feed.entries)::text[]) AS t(s, e)
                """, logger: logger)
        }
        if !states.items.isEmpty {
            // Each record once, in its final state (a batch may touch one record several times).
            let entities = states.items.map(\.0.entity.rawValue), ids = states.items.map(\.0.id)
            let texts = states.items.map { WireJSON.recordState($0.1) }
            try await conn.query("""
                INSERT INTO records(entity, entity_id, site_id, state, updated_at)
                SELECT e, i, \(siteID), s, \(push.now) FROM UNNEST(\(entities)::text[], \(ids)::text[], \(texts)::text[]) AS t(e, i, s)
                ON CONFLICT (entity, entity_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """, logger: logger)
        }
        if !receiptRows.seqs.isEmpty {
            try await conn.query("""
                INSERT INTO receipts(device_id, seq, change_id, outcome, reason, server_seq)
                SELECT \(deviceID), q, c, o, NULLIF(r, ''), NULLIF(s, 0)
                FROM UNNEST(\(receiptRows.seqs)::bigint[], \(receiptRows.changeIDs)::text[], \(receiptRows.outcomes)::text[],
                            \(receiptRows.reasons)::text[], \(receiptRows.serverSeqs)::bigint[]) AS t(q, c, o, r, s)
                """, logger: logger)
        }
        return (results, Int64(feed.serverSeqs.count))
    }

    func feed(siteID: String, after: Int64, limit: Int) async throws -> [StoredFeedEntry] {
        var out: [StoredFeedEntry] = []
        for try await (serverSeq, entry, deviceID) in try await client.query("""
            SELECT e.server_seq, e.entry, f.device_id FROM feed_entries e LEFT JOIN feed f ON f.server_seq = e.server_seq
            WHERE e.site_id = \(siteID) AND e.server_seq > \(after) ORDER BY e.server_seq LIMIT \(limit)
            """, logger: logger).decode((Int64, String, String?).self) {
            out.append(StoredFeedEntry(serverSeq: serverSeq, json: entry, deviceID: deviceID))
        }
        return out
    }

    func conflicts(siteID: String, openOnly: Bool, limit: Int) async throws -> [ConflictRecord] {
        var out: [ConflictRecord] = []
        // Two queries rather than a spliced condition: PostgresNIO binds values, not SQL.
        let rows = openOnly
            ? try await client.query("""
                SELECT record, resolved_at, resolved_by FROM conflicts WHERE site_id = \(siteID) AND resolved_at IS NULL
                ORDER BY created_at, id LIMIT \(limit)
                """, logger: logger)
            : try await client.query("""
                SELECT record, resolved_at, resolved_by FROM conflicts WHERE site_id = \(siteID) ORDER BY created_at, id LIMIT \(limit)
                """, logger: logger)
        for try await (text, resolvedAt, resolvedBy) in rows.decode((String, String?, String?).self) {
            var record = try JSON.decode(ConflictRecord.self, text)
            record.resolvedAt = resolvedAt
            record.resolvedBy = resolvedBy
            out.append(record)
        }
        return out
    }

    func blobSize(sha256: String, siteID: String) async throws -> Int64? {
        for try await size in try await client.query("""
            SELECT b.size FROM blobs b JOIN blob_sites s ON s.sha256 = b.sha256 WHERE b.sha256 = \(sha256) AND s.site_id = \(siteID)
            """, logger: logger).decode(Int64.self) {
            return size
        }
        return nil
    }

    func addBlob(sha256: String, size: Int64, siteID: String, now: String) async throws {
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("INSERT INTO blobs(sha256, size, created_at) VALUES (\(sha256), \(size), \(now)) ON CONFLICT DO NOTHING", logger: logger)
            try await conn.query("INSERT INTO blob_sites(sha256, site_id) VALUES (\(sha256), \(siteID)) ON CONFLICT DO NOTHING", logger: logger)
        }
    }
}
