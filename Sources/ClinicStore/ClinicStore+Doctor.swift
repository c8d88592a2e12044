import ClinicCore
import Foundation
import GRDB

/// What `clinic doctor` found.
public struct DoctorReport: Sendable, Codable {
    public var checks: [String]
    public var problems: [String]
    /// Staged files of interrupted imports that were cleaned up before checking.
    public var recoveredImports: Int
    public var clean: Bool { problems.isEmpty }
}

/// Counts and sizes for `clinic status`.
public struct StoreStatus: Sendable, Codable {
    public var site: String
    public var deviceID: String
    public var deviceName: String
    public var patients: Int
    public var deletedPatients: Int
    public var recordings: Int
    public var assessments: Int
    public var changes: Int64
    /// Changes no server has answered for yet (after the push cursor).
    public var pendingChanges: Int64
    /// Bytes of audio the server is not known to hold.
    public var pendingAudioBytes: Int64
    /// Changes the server rejected (kept, with their reasons).
    public var rejectedChanges: Int64
    /// When the last sync ran, how it ended, and its error if it failed.
    public var lastSyncAt: String?
    public var lastSyncResult: String?
    public var lastSyncError: String?
    public var audioBytes: Int64
    public var databaseBytes: Int64
    public var store: String

    enum CodingKeys: String, CodingKey {
        case site, deviceID = "device_id", deviceName = "device_name", patients, deletedPatients = "deleted_patients"
        case recordings, assessments, changes, pendingChanges = "pending_changes", pendingAudioBytes = "pending_audio_bytes"
        case rejectedChanges = "rejected_changes", lastSyncAt = "last_sync_at", lastSyncResult = "last_sync_result"
        case lastSyncError = "last_sync_error", audioBytes = "audio_bytes", databaseBytes = "database_bytes", store
    }
}

extension ClinicStore {
    public func status() throws -> StoreStatus {
        let identity = try identity()
        return try writer.read { db in
            func count(_ sql: String) throws -> Int64 { try Int64.fetchOne(db, sql: sql) ?? 0 }
            let dbBytes = try count("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
            let sync = try Self.syncState(db)
            return StoreStatus(
                site: identity.site, deviceID: identity.deviceID, deviceName: identity.deviceName,
                patients: Int(try count("SELECT COUNT(*) FROM patients WHERE deleted = 0")),
                deletedPatients: Int(try count("SELECT COUNT(*) FROM patients WHERE deleted = 1")),
                recordings: Int(try count("SELECT COUNT(*) FROM recordings WHERE deleted = 0")),
                assessments: Int(try count("SELECT COUNT(*) FROM assessments")),
                changes: try count("SELECT COUNT(*) FROM change_log"),
                pendingChanges: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM change_log WHERE seq > ?", arguments: [sync.pushCursor]) ?? 0,
                pendingAudioBytes: try count("""
                    SELECT COALESCE(SUM(size), 0) FROM (SELECT DISTINCT audio_sha256, audio_size AS size FROM recordings
                    WHERE audio_sha256 NOT IN (SELECT sha256 FROM server_blobs))
                    """),
                rejectedChanges: try count("SELECT COUNT(*) FROM sync_rejections"),
                lastSyncAt: sync.lastSyncAt, lastSyncResult: sync.lastResult, lastSyncError: sync.lastError,
                audioBytes: try count("SELECT COALESCE(SUM(size), 0) FROM (SELECT DISTINCT audio_sha256, audio_size AS size FROM recordings)"),
                databaseBytes: dbBytes, store: directory?.path ?? ":memory:")
        }
    }

    /// Checks the store: SQLite integrity, foreign keys, the full-text index, every audio file
    /// present with the right hash and size, no orphan or stray files, and the change log
    /// replaying to exactly the rows in the tables. Interrupted imports are cleaned up first.
    public func doctor() throws -> DoctorReport {
        let recovered = try recoverInterruptedImports()
        var checks: [String] = []
        var problems: [String] = []

        try writer.read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            checks.append("database integrity")
            if integrity != ["ok"] { problems += integrity.prefix(20).map { "database: \($0)" } }

            checks.append("foreign keys")
            let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            for row in fk.prefix(20) { problems.append("foreign key: a row of \(row[0] as String) points to a missing \(row[2] as String) row") }
        }
        checks.append("full-text index")
        do {
            try writer.write { db in try db.execute(sql: "INSERT INTO patients_fts(patients_fts, rank) VALUES ('integrity-check', 1)") }
        } catch {
            problems.append("the patient search index does not match the patients table")
        }

        checks.append("audio files")
        let recordings = try writer.read { db in try Row.fetchAll(db, sql: "SELECT id, audio_sha256, audio_size FROM recordings") }
        var referenced = Set<String>()
        let pulledRecordings = try writer.read { db in
            Set(try String.fetchAll(db, sql: "SELECT entity_id FROM pulled_changes WHERE entity = 'recording' AND op = 'insert' AND applied = 1"))
        }
        var notDownloaded = 0
        for row in recordings {
            let id: String = row["id"], sha: String = row["audio_sha256"], size: Int64 = row["audio_size"]
            referenced.insert(sha)
            let path = blobs.path(for: sha).path
            guard let data = FileManager.default.contents(atPath: path) else {
                // A recording pulled from the server has its audio there until `clinic sync --with-audio`.
                if pulledRecordings.contains(id) { notDownloaded += 1 } else { problems.append("recording \(id): its audio file is missing") }
                continue
            }
            if Int64(data.count) != size { problems.append("recording \(id): its audio file has \(data.count) bytes, expected \(size)") }
            else if sha256Hex([UInt8](data)) != sha { problems.append("recording \(id): its audio file is corrupt (hash mismatch)") }
        }
        if notDownloaded > 0 { checks.append("audio of \(notDownloaded) pulled recordings not downloaded (clinic sync --with-audio)") }
        checks.append("orphan files")
        for (url, name) in blobs.allAudioFiles() where !referenced.contains(name) {
            problems.append("audio file \(url.lastPathComponent) belongs to no recording")
        }
        for (url, _) in blobs.staged() { problems.append("stray temporary file \(url.lastPathComponent)") }

        checks.append("change log")
        problems += try changeLogProblems()
        return DoctorReport(checks: checks, problems: problems, recoveredImports: recovered)
    }

    /// Replays the change log and the pulled changes (per field, the value with the latest
    /// clock, as the merge rules decide) and compares the result with the tables.
    func changeLogProblems() throws -> [String] {
        var problems: [String] = []
        try writer.read { db in
            var clocks: [String: String] = [:]  // "entity/id/field" -> the latest clock the logs give it
            for entity in EntityKind.allCases {
                let table = EntitySchema.of(entity).table
                var replayed: [String: [String: FieldValue]] = [:]
                var fieldClocks: [String: [String: String]] = [:]  // id -> field -> clock of the value replayed
                func replay(_ change: Change, pulled: Bool) {
                    let id = change.entityID.lowercased
                    let clock = "\(change.hlc)@\(change.deviceID.lowercased)"
                    if change.operation == .insert {
                        if replayed[id] != nil && !pulled { problems.append("change log: \(entity.rawValue) \(id) is inserted twice") }
                    } else if replayed[id] == nil {
                        problems.append("change log: \(entity.rawValue) \(id) is changed before it is inserted")
                        return
                    }
                    for (name, value) in change.fields {
                        let key = "\(entity.rawValue)/\(id)/\(name)"
                        if clocks[key].map({ $0 < clock }) ?? true { clocks[key] = clock }
                        // A local write always took effect (in seq order); a pulled one only with a later clock.
                        let later = fieldClocks[id]?[name].map { $0 < clock } ?? true
                        if !pulled || later { replayed[id, default: [:]][name] = value }
                        if later { fieldClocks[id, default: [:]][name] = clock }
                    }
                }
                // Own entries in seq order and pulled ones in clock order, merged by clock: a
                // write comes after every write its device had seen (hybrid logical clocks), so
                // each record's insert comes before its edits, wherever they were made.
                var own: [Change] = []
                let entries = try Row.fetchCursor(db, sql: "SELECT * FROM change_log WHERE entity = ? ORDER BY seq", arguments: [entity.rawValue])
                while let row = try entries.next() { own.append(try Self.change(from: row)) }
                var pulled: [Change] = []
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT server_seq AS seq, * FROM pulled_changes WHERE entity = ? AND applied = 1 ORDER BY hlc, device_id
                    """, arguments: [entity.rawValue])
                while let row = try rows.next() { pulled.append(try Self.change(from: row)) }
                var i = 0, j = 0
                while i < own.count || j < pulled.count {
                    let takeOwn = j == pulled.count || (i < own.count
                        && (own[i].hlc, own[i].deviceID.lowercased) < (pulled[j].hlc, pulled[j].deviceID.lowercased))
                    if takeOwn { replay(own[i], pulled: false); i += 1 } else { replay(pulled[j], pulled: true); j += 1 }
                }
                let tableRows = try Row.fetchCursor(db, sql: "SELECT * FROM \(table)")
                var seen = Set<String>()
                while let row = try tableRows.next() {
                    let id: String = row["id"]
                    seen.insert(id)
                    guard let fields = replayed[id] else {
                        problems.append("change log: \(entity.rawValue) \(id) has no change-log entry")
                        continue
                    }
                    for column in row.columnNames {
                        let actual = FieldValue(row[column] as DatabaseValue)
                        if !(fields[column] ?? .null).sameValue(as: actual) {
                            problems.append("change log: \(entity.rawValue) \(id) field \(column) differs from its log")
                        }
                    }
                }
                for id in replayed.keys where !seen.contains(id) {
                    problems.append("change log: \(entity.rawValue) \(id) is logged but missing from the table")
                }
            }
            let stored = try Row.fetchCursor(db, sql: "SELECT entity, entity_id, field, clock FROM field_clocks")
            while let row = try stored.next() {
                let key = "\(row["entity"] as String)/\(row["entity_id"] as String)/\(row["field"] as String)"
                if clocks.removeValue(forKey: key) != (row["clock"] as String) {
                    problems.append("field clocks: \(key) differs from the change log")
                }
            }
            for key in clocks.keys.sorted() { problems.append("field clocks: \(key) is missing") }
        }
        return problems
    }
}
