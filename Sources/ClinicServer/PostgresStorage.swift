import ClinicCore
import ClinicSync
import Foundation
import Logging
import PostgresNIO

/// The backend for more than one machine's worth of load: PostgreSQL through postgres-nio's
/// connection pool. Several server instances may share one database: pushes take a
/// transaction-scoped advisory lock, so feed numbers are handed out in commit order.
final class PostgresStorage: ServerStorage {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger = Logger(label: "clinic-server.postgres")
    static let pushLock: Int64 = 0x636C_696E_6963 // "clinic"
    static let migrateLock: Int64 = 0x636C_696E_6964

    init(url: String) throws {
        guard let c = URLComponents(string: url), let host = c.host, !host.isEmpty else {
            throw AdminError("The PostgreSQL URL must look like postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let database = c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var config = PostgresClient.Configuration(host: host, port: c.port ?? 5432, username: c.user ?? "postgres",
                                                  password: c.password, database: database.isEmpty ? nil : database, tls: .disable)
        config.options.maximumConnections = 20
        let client = PostgresClient(configuration: config, backgroundLogger: Logger(label: "clinic-server.postgres.pool"))
        self.client = client
        runner = Task { await client.run() }
    }

    func shutdown() async throws { runner.cancel() }

    func migrate() async throws {
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
                try await conn.query("INSERT INTO schema_migrations(name) VALUES (\(m.name))", logger: logger)
            }
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
            guard let uuid = UUID(uuidString: id) else { throw ServerError.internalError("bad device id in database") }
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

    func push(_ entries: [PushEntry], device: DeviceRecord, now: String) async throws -> [PushResult] {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(Self.pushLock))", logger: logger)
            var receipts: [Int64: StoredReceipt] = [:]
            let seqs = entries.map(\.change.sequence)
            for try await (seq, changeID, outcome, reason, serverSeq) in try await conn.query("""
                SELECT seq, change_id, outcome, reason, server_seq FROM receipts
                WHERE device_id = \(device.id.lowercased) AND seq = ANY(\(seqs))
                """, logger: logger).decode((Int64, String, String, String?, Int64?).self) {
                receipts[seq] = StoredReceipt(changeID: changeID, outcome: try PushOutcome(stored: outcome), reason: reason, serverSeq: serverSeq)
            }
            let keys = PushPlanner.recordKeys(entries)
            var records: [RecordKey: StoredRecord] = [:]
            for try await (entity, id, site, state) in try await conn.query("""
                SELECT entity, entity_id, site_id, state FROM records WHERE entity_id = ANY(\(keys.map(\.id)))
                """, logger: logger).decode((String, String, String, String).self) {
                guard let kind = EntityKind(rawValue: entity) else { continue }
                let key = RecordKey(entity: kind, id: id)
                if keys.contains(key) { records[key] = StoredRecord(siteID: site, state: try JSON.decode(RecordState.self, state)) }
            }
            let steps = PushPlanner.plan(entries, device: device, receipts: receipts, records: records)
            var first: Int64 = 1
            for try await maxSeq in try await conn.query("SELECT COALESCE(MAX(server_seq), 0) FROM feed", logger: logger).decode(Int64.self) {
                first = maxSeq + 1
            }
            let (results, writes) = steps.materialize(firstServerSeq: first)
            for write in writes {
                switch write {
                case .feed(let serverSeq, let entry, let outcome):
                    try await conn.query("""
                        INSERT INTO feed(server_seq, site_id, device_id, seq, change, outcome, received_at)
                        VALUES (\(serverSeq), \(device.siteID), \(device.id.lowercased), \(entry.change.sequence), \(try JSON.text(entry)), \(outcome.rawValue), \(now))
                        """, logger: logger)
                case .record(let key, let state, _):
                    try await conn.query("""
                        INSERT INTO records(entity, entity_id, site_id, state, updated_at)
                        VALUES (\(key.entity.rawValue), \(key.id), \(device.siteID), \(try JSON.text(state)), \(now))
                        ON CONFLICT (entity, entity_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                        """, logger: logger)
                case .conflict(let key, let conflict, let changeID):
                    let record = ConflictRecord(id: UUID().lowercased, key: key, conflict: conflict, changeID: changeID, now: now)
                    try await conn.query("""
                        INSERT INTO conflicts(id, site_id, record, created_at) VALUES (\(record.id), \(device.siteID), \(try JSON.text(record)), \(now))
                        """, logger: logger)
                case .receipt(let seq, let r):
                    try await conn.query("""
                        INSERT INTO receipts(device_id, seq, change_id, outcome, reason, server_seq)
                        VALUES (\(device.id.lowercased), \(seq), \(r.changeID), \(r.outcome.rawValue), \(r.reason), \(r.serverSeq))
                        """, logger: logger)
                }
            }
            return results
        }
    }

    func feed(siteID: String, after: Int64, limit: Int) async throws -> [FeedEntry] {
        var out: [FeedEntry] = []
        for try await (serverSeq, change, outcome) in try await client.query("""
            SELECT server_seq, change, outcome FROM feed WHERE site_id = \(siteID) AND server_seq > \(after)
            ORDER BY server_seq LIMIT \(limit)
            """, logger: logger).decode((Int64, String, String).self) {
            out.append(FeedEntry(serverSeq: serverSeq, change: try JSON.decode(PushEntry.self, change).change, outcome: try PushOutcome(stored: outcome)))
        }
        return out
    }

    func conflicts(siteID: String, limit: Int) async throws -> [ConflictRecord] {
        var out: [ConflictRecord] = []
        for try await record in try await client.query("""
            SELECT record FROM conflicts WHERE site_id = \(siteID) ORDER BY created_at, id LIMIT \(limit)
            """, logger: logger).decode(String.self) {
            out.append(try JSON.decode(ConflictRecord.self, record))
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
