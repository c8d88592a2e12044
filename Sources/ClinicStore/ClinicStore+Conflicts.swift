import ClinicCore
import ClinicSync
import Foundation
import GRDB

/// A conflict as this laptop keeps it: the server's record, and whether it was resolved.
public struct StoredConflict: Sendable, Equatable, Encodable {
    public var record: ConflictRecord
    public var resolvedAt: String?
    /// The change-log entry that resolved it here.
    public var resolutionSeq: Int64?

    public func encode(to encoder: Encoder) throws {
        try record.encode(to: encoder)
        enum Keys: String, CodingKey { case resolvedAt = "resolved_at", resolutionSeq = "resolution_seq" }
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(resolvedAt, forKey: .resolvedAt)
        try c.encode(resolutionSeq, forKey: .resolutionSeq)
    }
}

/// How `clinic conflicts resolve` settles a conflict.
public enum ConflictChoice: Sendable, Equatable {
    /// The value that won the merge (the field holds it now).
    case winning
    /// The value that lost.
    case losing
    /// Another value, typed by the user (checked like any edit).
    case value(String)
}

extension ClinicStore {
    /// Keeps the server's conflict records (by their id; a record already kept is left as it
    /// is, resolution included). When `openOnServer` is true the list is every conflict the
    /// server still holds open, and a kept one missing from it was resolved elsewhere.
    /// Returns how many were new.
    @discardableResult
    public func keepServerConflicts(_ records: [ConflictRecord], openOnServer: Bool) throws -> Int {
        let now = Timestamp.format(dependencies.now())
        return try writer.write { db in
            var added = 0
            for r in records {
                guard UUID(strict: r.id) != nil, UUID(strict: r.entityID) != nil, EntitySchema.of(r.entity)[r.field] != nil else {
                    throw ClinicError(.sync, "The server sent a conflict record that is not the protocol's; nothing was kept.")
                }
                try db.execute(sql: """
                    INSERT INTO conflicts(id, entity, entity_id, field, losing_value, losing_clock, winning_value, winning_clock,
                                          created_at, change_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
                    """, arguments: [r.id.lowercased(), r.entity.rawValue, r.entityID.lowercased(), r.field, try Self.json(r.losingValue),
                                     r.losingClock.description, try Self.json(r.winningValue), r.winningClock.description,
                                     r.createdAt, r.changeID.lowercased()])
                added += db.changesCount
            }
            if openOnServer {
                let open = Set(records.map { $0.id.lowercased() })
                for id in try String.fetchAll(db, sql: "SELECT id FROM conflicts WHERE resolved_at IS NULL") where !open.contains(id) {
                    try db.execute(sql: "UPDATE conflicts SET resolved_at = ? WHERE id = ?", arguments: [now, id])
                }
            }
            return added
        }
    }

    /// Kept conflicts, oldest first; open ones only unless `includeResolved`.
    public func conflicts(includeResolved: Bool = false) throws -> [StoredConflict] {
        try writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM conflicts \(includeResolved ? "" : "WHERE resolved_at IS NULL") ORDER BY created_at, id
                """).map(Self.conflict(from:))
        }
    }

    /// Resolves a conflict with `choice`: one transaction writes the chosen value as a new
    /// change to the field (even when it already holds it, so the resolution syncs), whose
    /// `base` is the field's clock now (the winning write, seen), and marks the conflict
    /// resolved. Returns the change's seq.
    @discardableResult
    public func resolveConflict(_ id: UUID, _ choice: ConflictChoice) throws -> Int64 {
        try writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM conflicts WHERE id = ?", arguments: [id.lowercased]) else {
                throw ClinicError(.notFound, "No conflict \(id.lowercased) here. `clinic conflicts list` shows the open ones.")
            }
            let stored = try Self.conflict(from: row)
            guard stored.resolvedAt == nil else {
                throw ClinicError(.invalidInput, "Conflict \(id.lowercased) is already resolved.")
            }
            let r = stored.record
            guard r.entity == .patient, let field = EntitySchema.patient[r.field], field.mutable,
                  !EntityRules.bookkeeping.contains(r.field), let patientID = UUID(strict: r.entityID) else {
                throw ClinicError(.invalidInput, "Conflict \(id.lowercased) is about a field that cannot be edited; nothing to resolve.")
            }
            let patient = try Self.patient(db, id: patientID)
            let value: FieldValue
            switch choice {
            case .winning: value = r.winningValue
            case .losing: value = r.losingValue
            case .value(let text):
                // The user's value goes through the same checks as `clinic patient edit`.
                var edited = patient
                try PatientInput.setting(r.field, to: text).apply(to: &edited)
                value = edited.fields.first { $0.name == r.field }?.value ?? .null
            }
            let fields: Fields = [(r.field, value), ("updated_at", .text(Timestamp.format(dependencies.now())))]
            try db.update("patients", id: patientID, fields)
            try recordChange(db, entity: .patient, id: patientID, operation: .update, fields: fields)
            let seq = db.lastInsertedRowID
            try db.execute(sql: "UPDATE conflicts SET resolved_at = ?, resolution_seq = ? WHERE id = ?",
                           arguments: [Timestamp.format(dependencies.now()), seq, id.lowercased])
            return seq
        }
    }

    private static func json(_ value: FieldValue) throws -> String {
        String(decoding: try jsonEncoder.encode(value), as: UTF8.self)
    }

    static func conflict(from row: Row) throws -> StoredConflict {
        func value(_ column: String) throws -> FieldValue {
            try JSONDecoder().decode(FieldValue.self, from: Data((row[column] as String).utf8))
        }
        guard let entity = EntityKind(rawValue: row["entity"]), let losing = FieldClock(row["losing_clock"]),
              let winning = FieldClock(row["winning_clock"]) else {
            throw ClinicError(.integrity, "A conflict record is malformed. Run `clinic doctor`.")
        }
        let record = ConflictRecord(id: row["id"], entity: entity, entityID: row["entity_id"], field: row["field"],
                                    losingValue: try value("losing_value"), losingClock: losing,
                                    winningValue: try value("winning_value"), winningClock: winning,
                                    changeID: row["change_id"] ?? "", createdAt: row["created_at"])
        return StoredConflict(record: record, resolvedAt: row["resolved_at"], resolutionSeq: row["resolution_seq"])
    }
}
