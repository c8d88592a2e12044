import ClinicCore
import ClinicSync
import Foundation
import GRDB

/// What applying one pulled page did.
public struct PulledPage: Sendable, Equatable {
    /// Entries of other devices merged into the tables.
    public var applied = 0
    /// Entries the merge rules refused here (kept in `pulled_changes` with applied = 0; changed nothing).
    public var refused = 0
    /// This device's own entries (already in the tables) and entries pulled before.
    public var skipped = 0
}

extension ClinicStore {
    /// Applies one page of the site's feed in one transaction with its pull cursor: each other
    /// device's entry is merged into the tables with `MergeRules` (the server's rules: per-field
    /// last writer wins by clock), its field clocks kept, the local hybrid logical clock moved
    /// past it (`HLCTimestamp.receive`), and the entry kept in `pulled_changes`. This device's
    /// own entries are skipped (the tables hold them already). A page whose entries are not in
    /// order after `cursor`, or past its `next`, is refused whole and changes nothing.
    public func applyPulled(_ page: PullResponse, after cursor: Int64) throws -> PulledPage {
        var previous = cursor
        for entry in page.changes {
            guard entry.serverSeq > previous else {
                throw ClinicError(.sync, "The server sent changes out of order (\(entry.serverSeq) after \(previous)); nothing of that page was applied.")
            }
            previous = entry.serverSeq
        }
        guard page.next >= previous, page.next >= cursor else {
            throw ClinicError(.sync, "The server's page ends before its own changes; nothing of that page was applied.")
        }
        return try writer.write { db in
            let saved = try Self.syncState(db).pullCursor
            guard saved == cursor else {
                throw ClinicError(.sync, "The pull cursor moved during the sync (another clinic sync?); run clinic sync again.")
            }
            var result = PulledPage()
            let device = try cachedDeviceID(db)
            let now = Timestamp.format(dependencies.now())
            for entry in page.changes {
                let change = entry.change
                let pulledBefore = try Bool.fetchOne(db, sql: "SELECT 1 FROM pulled_changes WHERE change_id = ?",
                                                     arguments: [change.changeID.lowercased]) ?? false
                if change.deviceID.lowercased == device || pulledBefore {
                    result.skipped += 1
                    continue
                }
                let applied = try merge(db, change)
                if applied { result.applied += 1 } else { result.refused += 1 }
                let fields = String(decoding: try Self.jsonEncoder.encode(change.fields), as: UTF8.self)
                try db.execute(sql: """
                    INSERT INTO pulled_changes(server_seq, change_id, entity, entity_id, op, fields, hlc, device_id, applied, pulled_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [entry.serverSeq, change.changeID.lowercased, change.entity.rawValue, change.entityID.lowercased,
                                     change.operation.rawValue, fields, change.hlc.description, change.deviceID.lowercased, applied, now])
                // Past the remote timestamp, so this device's next write is later than everything it has seen.
                _ = try advanceClock(db) { last, wall in HLCTimestamp.receive(change.hlc, last: last, wallMilliseconds: wall) }
            }
            try Self.setSyncValue(db, "pull_cursor", String(max(saved, page.next)))
            return result
        }
    }

    /// Merges another device's change into its table. False when the merge rules refuse it.
    private func merge(_ db: Database, _ change: Change) throws -> Bool {
        let schema = EntitySchema.of(change.entity)
        let id = change.entityID.lowercased
        let row = try Row.fetchOne(db, sql: "SELECT * FROM \(schema.table) WHERE id = ?", arguments: [id])
        let clocks = try Self.clocks(db, change.entity, id: id)
        let current = row.map { row in
            RecordState(fields: Dictionary(uniqueKeysWithValues: schema.fields.map { ($0.name, FieldValue(row[$0.name] as DatabaseValue)) }),
                        clocks: clocks, origin: clocks["id"])
        }
        let merged: MergeRules.Merged
        do { merged = try MergeRules.merge(PushEntry(change: change), into: current) } catch { return false }
        let state = merged.state
        if current == nil {
            try db.insert(schema.table, schema.fields.map { ($0.name, state.fields[$0.name] ?? .null) })
        } else {
            let changed = schema.fields.compactMap { field -> (name: String, value: FieldValue)? in
                guard let new = state.fields[field.name], new != current?.fields[field.name] else { return nil }
                return (field.name, new)
            }
            if !changed.isEmpty { try db.update(schema.table, id: change.entityID, changed) }
        }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO field_clocks(entity, entity_id, field, clock) VALUES (?, ?, ?, ?)
            ON CONFLICT(entity, entity_id, field) DO UPDATE SET clock = excluded.clock
            """)
        for (name, clock) in state.clocks where clocks[name] != clock {
            try statement.execute(arguments: [change.entity.rawValue, id, name, clock.description])
        }
        // The recording's audio is the server's to give (`clinic sync --with-audio`), never this laptop's to upload.
        if change.entity == .recording, change.operation == .insert, let sha = state.fields["audio_sha256"]?.text, isSHA256Hex(sha) {
            try markServerHolds(db, audio: sha)
        }
        return true
    }

    static func clocks(_ db: Database, _ entity: EntityKind, id: String) throws -> [String: FieldClock] {
        var clocks: [String: FieldClock] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT field, clock FROM field_clocks WHERE entity = ? AND entity_id = ?"),
                                    arguments: [entity.rawValue, id]) {
            guard let clock = FieldClock(row["clock"]) else {
                throw ClinicError(.integrity, "A field clock of a \(entity.rawValue) is malformed. Run `clinic doctor`.")
            }
            clocks[row["field"]] = clock
        }
        return clocks
    }
}
