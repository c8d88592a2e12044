import ClinicCore
import Foundation
import GRDB

extension ClinicStore {
    /// Appends one change-log entry inside the caller's transaction. Issues the next hybrid
    /// logical clock timestamp for this device and persists it, so timestamps only ever grow.
    func recordChange(_ db: Database, entity: EntityKind, id: UUID, operation: ChangeOperation, fields: Fields) throws {
        let deviceID = try cachedDeviceID(db)
        let last = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'hlc'").flatMap(HLCTimestamp.init)
        let wall = Int64((dependencies.now().timeIntervalSince1970 * 1000).rounded(.down))
        let hlc = HLCTimestamp.next(after: last, wallMilliseconds: wall)
        try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [hlc.description])
        var object: [String: FieldValue] = [:]
        for field in fields { object[field.name] = field.value }
        let json = String(decoding: try Self.jsonEncoder.encode(object), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT INTO change_log(change_id, entity, entity_id, op, fields, hlc, device_id)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [dependencies.uuid().lowercased, entity.rawValue, id.lowercased, operation.rawValue, json,
                        hlc.description, deviceID])
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
