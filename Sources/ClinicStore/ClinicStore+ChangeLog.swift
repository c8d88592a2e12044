import ClinicCore
import Foundation
import GRDB

extension ClinicStore {
    /// Appends one change-log entry inside the caller's transaction. Issues the next hybrid
    /// logical clock timestamp for this device and persists it, so timestamps only ever grow.
    func recordChange(_ db: Database, entity: EntityKind, id: UUID, operation: ChangeOperation, fields: Fields) throws {
        let deviceID = try cachedDeviceID(db)
        let hlc = try advanceClock(db) { last, wall in HLCTimestamp.next(after: last, wallMilliseconds: wall) }
        var object: [String: FieldValue] = [:]
        for field in fields { object[field.name] = field.value }
        let json = String(decoding: try Self.jsonEncoder.encode(object), as: UTF8.self)
        // The base: the clocks of the values this change replaces, as they stand before it.
        let current = try Row.fetchAll(db.cachedStatement(sql: "SELECT field, clock FROM field_clocks WHERE entity = ? AND entity_id = ?"),
                                       arguments: [entity.rawValue, id.lowercased])
        var base: [String: String] = [:]
        let changed = Set(fields.map(\.name))
        for row in current where changed.contains(row["field"]) { base[row["field"]] = row["clock"] as String }
        let baseJSON = String(decoding: try Self.jsonEncoder.encode(base), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT INTO change_log(change_id, entity, entity_id, op, fields, hlc, device_id, base)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [dependencies.uuid().lowercased, entity.rawValue, id.lowercased, operation.rawValue, json,
                        hlc.description, deviceID, baseJSON])
        // Each field's clock is now this write's (a local write is later than any it has seen).
        let clock = "\(hlc)@\(deviceID)"
        let statement = try db.cachedStatement(sql: """
            INSERT INTO field_clocks(entity, entity_id, field, clock) VALUES (?, ?, ?, ?)
            ON CONFLICT(entity, entity_id, field) DO UPDATE SET clock = excluded.clock WHERE excluded.clock > field_clocks.clock
            """)
        for field in fields { try statement.execute(arguments: [entity.rawValue, id.lowercased, field.name, clock]) }
    }

    /// Moves this device's hybrid logical clock (kept in `meta`) by `step`, given the last
    /// timestamp issued and the wall clock in milliseconds, and returns the new one. Every local
    /// write (`HLCTimestamp.next`) and every pulled entry (`HLCTimestamp.receive`) goes through here.
    func advanceClock(_ db: Database, _ step: (HLCTimestamp?, Int64) -> HLCTimestamp) throws -> HLCTimestamp {
        let last = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'hlc'").flatMap(HLCTimestamp.init)
        let hlc = step(last, Int64((dependencies.now().timeIntervalSince1970 * 1000).rounded(.down)))
        try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [hlc.description])
        return hlc
    }

    /// The clock (`HLC@device`) of each field of a record: what a push sends as `base`.
    public func fieldClocks(_ entity: EntityKind, id: UUID) throws -> [String: String] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT field, clock FROM field_clocks WHERE entity = ? AND entity_id = ?",
                                        arguments: [entity.rawValue, id.lowercased])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["field"] as String, $0["clock"] as String) })
        }
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Change-log entries after `sequence`, oldest first, at most `limit`.
    public func changes(after sequence: Int64 = 0, limit: Int = 1_000) throws -> [Change] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?",
                             arguments: [sequence, limit]).map(Self.change(from:))
        }
    }

    static func change(from row: Row) throws -> Change {
        let fieldsText: String = row["fields"]
        let fields = try JSONDecoder().decode([String: FieldValue].self, from: Data(fieldsText.utf8))
        guard let changeID = UUID(strict: row["change_id"]), let entityID = UUID(strict: row["entity_id"]),
              let entity = EntityKind(rawValue: row["entity"]), let op = ChangeOperation(rawValue: row["op"]),
              let hlc = HLCTimestamp(row["hlc"]), let device = UUID(strict: row["device_id"])
        else {
            throw ClinicError(.integrity, "Change-log entry \(row["seq"] as Int64) is malformed. Run `clinic doctor`.")
        }
        return Change(sequence: row["seq"], changeID: changeID, entity: entity, entityID: entityID, operation: op,
                      fields: fields, hlc: hlc, deviceID: device)
    }
}
