import ClinicCore
import ClinicSync
import Foundation
import GRDB

/// The embedded default backend: one SQLite file (WAL, synchronous FULL) through GRDB.
/// SQLite has one writer at a time, which serialises pushes; a pool of readers serves pulls
/// and token checks alongside (WAL).
final class SQLiteStorage: ServerStorage {
    private let db: DatabasePool

    init(path: String) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 8
        db = try DatabasePool(path: path, configuration: config)
        // A pushed change is acknowledged only once it would survive a power cut.
        try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
    }

    func migrate() async throws {
        var migrator = DatabaseMigrator()
        for m in embeddedMigrations where m.name.hasPrefix("sqlite/") {
            migrator.registerMigration(m.name) { db in try db.execute(sql: m.sql) }
        }
        try migrator.migrate(db)
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
        guard let id = UUID(uuidString: row["id"]) else { throw ServerError.internalError("bad device id in database") }
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

    func push(_ entries: [PushEntry], device: DeviceRecord, now: String) async throws -> [PushResult] {
        try await db.write { db in
            var receipts: [Int64: StoredReceipt] = [:]
            let seqs = entries.map(\.change.sequence)
            for chunk in stride(from: 0, to: seqs.count, by: 500).map({ Array(seqs[$0..<min($0 + 500, seqs.count)]) }) {
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM receipts WHERE device_id = ? AND seq IN (\(chunk.map { _ in "?" }.joined(separator: ",")))",
                                            arguments: StatementArguments([device.id.lowercased] + chunk.map { $0 as any DatabaseValueConvertible }))
                for row in rows {
                    receipts[row["seq"]] = StoredReceipt(changeID: row["change_id"], outcome: try PushOutcome(stored: row["outcome"]),
                                                         reason: row["reason"], serverSeq: row["server_seq"])
                }
            }
            var records: [RecordKey: StoredRecord] = [:]
            for key in PushPlanner.recordKeys(entries) {
                if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT site_id, state FROM records WHERE entity = ? AND entity_id = ?"), arguments: [key.entity.rawValue, key.id]) {
                    records[key] = StoredRecord(siteID: row["site_id"], state: try JSON.decode(RecordState.self, row["state"]))
                }
            }
            let steps = PushPlanner.plan(entries, device: device, receipts: receipts, records: records)
            let first = (try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(server_seq), 0) FROM feed") ?? 0) + 1
            let (results, writes) = steps.materialize(firstServerSeq: first)
            for write in writes {
                switch write {
                case .feed(let serverSeq, let entry, let outcome):
                    try db.cachedStatement(sql: "INSERT INTO feed(server_seq, site_id, device_id, seq, change, outcome, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)").execute(arguments: [serverSeq, device.siteID, device.id.lowercased, entry.change.sequence,
                                               try JSON.text(entry), outcome.rawValue, now])
                case .record(let key, let state, _):
                    try db.cachedStatement(sql: """
                        INSERT INTO records(entity, entity_id, site_id, state, updated_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(entity, entity_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                        """).execute(arguments: [key.entity.rawValue, key.id, device.siteID, try JSON.text(state), now])
                case .conflict(let key, let conflict, let changeID):
                    let record = ConflictRecord(id: UUID().lowercased, key: key, conflict: conflict, changeID: changeID, now: now)
                    try db.cachedStatement(sql: "INSERT INTO conflicts(id, site_id, record, created_at) VALUES (?, ?, ?, ?)").execute(arguments: [record.id, device.siteID, try JSON.text(record), now])
                case .receipt(let seq, let r):
                    try db.cachedStatement(sql: "INSERT INTO receipts(device_id, seq, change_id, outcome, reason, server_seq) VALUES (?, ?, ?, ?, ?, ?)").execute(arguments: [device.id.lowercased, seq, r.changeID, r.outcome.rawValue, r.reason, r.serverSeq])
                }
            }
            return results
        }
    }

    func feed(siteID: String, after: Int64, limit: Int) async throws -> [FeedEntry] {
        let rows = try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT server_seq, change, outcome FROM feed WHERE site_id = ? AND server_seq > ? ORDER BY server_seq LIMIT ?",
                             arguments: [siteID, after, limit]).map { ($0["server_seq"] as Int64, $0["change"] as String, $0["outcome"] as String) }
        }
        // Decoded outside the database so readers are held only for the query.
        return try rows.map { FeedEntry(serverSeq: $0.0, change: try JSON.decode(PushEntry.self, $0.1).change, outcome: try PushOutcome(stored: $0.2)) }
    }

    func conflicts(siteID: String, limit: Int) async throws -> [ConflictRecord] {
        try await db.read { db in
            try String.fetchAll(db, sql: "SELECT record FROM conflicts WHERE site_id = ? ORDER BY created_at, id LIMIT ?",
                                arguments: [siteID, limit]).map { try JSON.decode(ConflictRecord.self, $0) }
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

    func shutdown() async throws {}
}
