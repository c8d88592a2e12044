import ClinicCore
@testable import ClinicStore
import Foundation
import GRDB
import Testing

/// Per-field clocks (migration 0002): backfilled from the change log of a store made before
/// it, kept in step by every write, and checked by `clinic doctor`.
@Suite struct FieldClockTests {
    /// A store made before 0002: each field gets its latest clock, and each entry its base
    /// (the clocks of the values it replaced) from the log before it.
    @Test func migrationBackfillsClocksAndBasesFromTheLog() throws {
        let db = try DatabaseQueue()
        try ClinicStore.migrate(db, upTo: "0001_initial")
        let device = "6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e01", id = "7c1e0f66-2a53-4c58-9d8e-2a0a6f1c9e02"
        try db.write { db in
            for (hlc, fields) in [("0001795000000000-00000", #"{"given_name":"A","family_name":"B"}"#),
                                  ("0001795000000500-00000", #"{"given_name":"C"}"#),
                                  ("0001795000000500-00001", #"{"notes":"n"}"#),
                                  ("0001795000000400-00000", #"{"given_name":"D"}"#)] {
                try db.execute(sql: "INSERT INTO change_log(change_id, entity, entity_id, op, fields, hlc, device_id) VALUES (?, 'patient', ?, 'update', ?, ?, ?)",
                               arguments: [UUID().lowercased, id, fields, hlc, device])
            }
        }
        try ClinicStore.migrate(db, upTo: "0002_sync")
        let clocks = try db.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT field, clock FROM field_clocks").map { ($0["field"] as String, $0["clock"] as String) })
        }
        // The latest clock wins, not the last entry (seq 4 carries an older clock).
        #expect(clocks == ["given_name": "0001795000000500-00000@\(device)", "family_name": "0001795000000000-00000@\(device)",
                           "notes": "0001795000000500-00001@\(device)"])
        let bases = try db.read { db in try String.fetchAll(db, sql: "SELECT base FROM change_log ORDER BY seq") }
        #expect(bases == ["{}", #"{"given_name":"0001795000000000-00000@\#(device)"}"#, "{}", #"{"given_name":"0001795000000500-00000@\#(device)"}"#])
    }

    @Test func everyWriteSetsTheClocksOfTheFieldsItChanges() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let before = try store.fieldClocks(.patient, id: p.id)
        #expect(Set(before.keys) == Set(EntitySchema.patient.fields.map(\.name)))
        _ = try store.updatePatient(p.id, PatientInput(givenName: "C"))
        let after = try store.fieldClocks(.patient, id: p.id)
        #expect(after["given_name"]! > before["given_name"]! && after["updated_at"]! > before["updated_at"]!)
        #expect(after["family_name"] == before["family_name"])
        let last = try #require(try store.changes().last)
        #expect(after["given_name"] == "\(last.hlc)@\(last.deviceID.lowercased)")
        #expect(try store.doctor().clean)
    }

    @Test func doctorFindsAClockThatDisagreesWithTheLog() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        try store.writer.write { db in
            try db.execute(sql: "UPDATE field_clocks SET clock = '0009999999999999-00000@x' WHERE field = 'given_name'")
            try db.execute(sql: "DELETE FROM field_clocks WHERE field = 'family_name'")
        }
        let text = try store.doctor().problems.joined(separator: "\n")
        #expect(text.contains("field clocks: patient/\(p.id.lowercased)/given_name differs from the change log"))
        #expect(text.contains("field clocks: patient/\(p.id.lowercased)/family_name is missing"))
    }
}
