import ClinicCore
import ClinicSync
import Foundation
import Testing

let deviceA = UUID(uuidString: "aaaaaaaa-0000-4000-8000-000000000001")!
let deviceB = UUID(uuidString: "bbbbbbbb-0000-4000-8000-000000000002")!
let patientID = UUID(uuidString: "11111111-0000-4000-8000-000000000001")!

func clock(_ ms: Int64, _ device: UUID) -> FieldClock { FieldClock(hlc: HLCTimestamp(milliseconds: ms, counter: 0), device: device) }

func change(_ op: ChangeOperation, _ fields: [String: FieldValue], at ms: Int64, by device: UUID,
            entity: EntityKind = .patient, id: UUID = patientID, seq: Int64 = 1) -> Change {
    Change(sequence: seq, changeID: UUID(), entity: entity, entityID: id, operation: op, fields: fields,
           hlc: HLCTimestamp(milliseconds: ms, counter: 0), deviceID: device)
}

func patientInsert(at ms: Int64 = 1_000, by device: UUID = deviceA) -> Change {
    change(.insert, ["id": .text(patientID.lowercased), "given_name": .text("Amina"), "family_name": .text("Okafor"),
                     "created_at": .text("2026-11-22T10:00:00.000Z"), "updated_at": .text("2026-11-22T10:00:00.000Z"),
                     "deleted": .integer(0)], at: ms, by: device)
}

@Suite struct MergeRulesTests {
    @Test func insertCreatesTheRecordWithEveryFieldClocked() throws {
        let merged = try MergeRules.merge(PushEntry(change: patientInsert()), into: nil)
        #expect(merged.outcome == .applied && merged.conflicts.isEmpty)
        #expect(merged.state.fields["given_name"] == .text("Amina"))
        #expect(merged.state.clocks["given_name"] == clock(1_000, deviceA))
    }

    @Test func laterWriteWinsPerFieldAndOlderIsSuperseded() throws {
        var state = try MergeRules.merge(PushEntry(change: patientInsert()), into: nil).state
        let newer = try MergeRules.merge(PushEntry(change: change(.update, ["notes": .text("x")], at: 3_000, by: deviceA)), into: state)
        #expect(newer.outcome == .applied)
        state = newer.state
        let older = try MergeRules.merge(PushEntry(change: change(.update, ["notes": .text("old")], at: 2_000, by: deviceA)), into: state)
        #expect(older.outcome == .superseded && older.state == state)
    }

    @Test func concurrentEditsKeepTheLoserAsAConflict() throws {
        let state = try MergeRules.merge(PushEntry(change: patientInsert()), into: nil).state
        let a = try MergeRules.merge(PushEntry(change: change(.update, ["family_name": .text("Bello")], at: 2_000, by: deviceA)), into: state)
        // B edited the same field without seeing A's edit (its base is the insert's clock).
        let b = try MergeRules.merge(PushEntry(change: change(.update, ["family_name": .text("Okafor-Bello")], at: 1_500, by: deviceB),
                                               base: ["family_name": clock(1_000, deviceA)]), into: a.state)
        #expect(b.outcome == .conflict)
        #expect(b.state.fields["family_name"] == .text("Bello"))
        let conflict = try #require(b.conflicts.first)
        #expect(conflict.losingValue == .text("Okafor-Bello") && conflict.winningValue == .text("Bello"))
        #expect(conflict.losingClock == clock(1_500, deviceB))
    }

    @Test func anEditMadeAfterSeeingTheOtherIsNotAConflict() throws {
        let state = try MergeRules.merge(PushEntry(change: patientInsert()), into: nil).state
        let a = try MergeRules.merge(PushEntry(change: change(.update, ["family_name": .text("Bello")], at: 2_000, by: deviceA)), into: state)
        let b = try MergeRules.merge(PushEntry(change: change(.update, ["family_name": .text("Bello-Okafor")], at: 2_500, by: deviceB),
                                               base: ["family_name": clock(2_000, deviceA)]), into: a.state)
        #expect(b.outcome == .applied && b.conflicts.isEmpty)
    }

    @Test func deviceIdBreaksTiesInHLC() throws {
        let state = try MergeRules.merge(PushEntry(change: patientInsert()), into: nil).state
        let x = try MergeRules.merge(PushEntry(change: change(.update, ["notes": .text("from A")], at: 5_000, by: deviceA)), into: state)
        let y = try MergeRules.merge(PushEntry(change: change(.update, ["notes": .text("from B")], at: 5_000, by: deviceB)), into: x.state)
        #expect(y.state.fields["notes"] == .text("from B")) // "bbbb…" > "aaaa…"
    }

    @Test func deleteIsATombstoneField() throws {
        let state = try MergeRules.merge(PushEntry(change: patientInsert()), into: nil).state
        let d = try MergeRules.merge(PushEntry(change: change(.delete, ["deleted": .integer(1), "updated_at": .text("2026-11-22T11:00:00.000Z")], at: 2_000, by: deviceB)), into: state)
        #expect(d.state.fields["deleted"] == .integer(1) && d.outcome == .applied)
    }

    @Test func recordingsAreImmutableAndAssessmentsAppendOnly() throws {
        let rid = UUID()
        var fields: [String: FieldValue] = [
            "id": .text(rid.lowercased), "patient_id": .text(patientID.lowercased), "location": .text("AV"),
            "recorded_at": .text("2026-11-22T10:00:00.000Z"), "original_filename": .text("a.wav"), "original_format": .text("wav/pcm16"),
            "original_sha256": .text(String(repeating: "a", count: 64)), "original_size": .integer(10), "stored_format": .text("flac/pcm16"),
            "sample_rate": .integer(4000), "channels": .integer(1), "frames": .integer(4000), "duration": .real(1),
            "audio_sha256": .text(String(repeating: "b", count: 64)), "audio_size": .integer(5),
            "samples_sha256": .text(String(repeating: "c", count: 64)), "created_at": .text("2026-11-22T10:00:00.000Z"), "deleted": .integer(0),
        ]
        let insert = change(.insert, fields, at: 1_000, by: deviceA, entity: .recording, id: rid)
        let state = try MergeRules.merge(PushEntry(change: insert), into: nil).state
        #expect(try MergeRules.merge(PushEntry(change: insert), into: state).outcome == .superseded)
        fields["location"] = .text("PV")
        #expect(throws: Rejection.self) { try MergeRules.merge(PushEntry(change: change(.insert, fields, at: 2_000, by: deviceA, entity: .recording, id: rid)), into: state) }
        #expect(throws: Rejection.self) { try MergeRules.merge(PushEntry(change: change(.update, ["location": .text("PV")], at: 2_000, by: deviceA, entity: .recording, id: rid)), into: state) }
        #expect(try MergeRules.merge(PushEntry(change: change(.update, ["deleted": .integer(1)], at: 2_000, by: deviceA, entity: .recording, id: rid)), into: state).outcome == .applied)
        #expect(throws: Rejection.self) { try MergeRules.merge(PushEntry(change: change(.update, ["kind": .text("x")], at: 2_000, by: deviceA, entity: .assessment)), into: RecordState()) }
    }

    @Test(arguments: [
        (["id": FieldValue.text("not-a-uuid")], "id"),
        (["given_name": .integer(3)], "given_name"),
        (["given_name": .text("a\u{1B}b")], "given_name"),
        (["nickname": .text("x")], "nickname"),
        (["sex": .text("robot")], "sex"),
        (["deleted": .integer(7)], "deleted"),
        (["birth_date": .text("2020-02-31")], "birth_date"),
    ])
    func badFieldsAreRejectedNamingTheField(_ fields: [String: FieldValue], _ name: String) {
        #expect {
            try MergeRules.merge(PushEntry(change: change(.update, fields, at: 1, by: deviceA)), into: RecordState())
        } throws: { error in
            (error as! Rejection).reason.contains(name)
        }
    }

    @Test func editingAnotherDevicesInsertIsNotAConflictButRacingEditsAre() throws {
        let state = try MergeRules.merge(PushEntry(change: patientInsert(by: deviceA)), into: nil).state
        let b = try MergeRules.merge(PushEntry(change: change(.update, ["given_name": .text("Amira")], at: 2_000, by: deviceB)), into: state)
        #expect(b.outcome == .applied && b.conflicts.isEmpty)
        // A edits the same field without a base: taken as not having seen B's edit.
        let a = try MergeRules.merge(PushEntry(change: change(.update, ["given_name": .text("Aminata")], at: 1_900, by: deviceA)), into: b.state)
        #expect(a.outcome == .conflict && a.conflicts.first?.losingValue == .text("Aminata"))
    }

    @Test func updateOfUnknownRecordIsRejected() {
        #expect(throws: Rejection.self) { try MergeRules.merge(PushEntry(change: change(.update, ["notes": .text("x")], at: 1, by: deviceA)), into: nil) }
    }

    /// Replicas that receive the same changes in different orders end in the same state.
    @Test func replicasConvergeWhateverTheOrder() throws {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<50 {
            var changes = [patientInsert()]
            for i in 0..<20 {
                let field = ["given_name", "family_name", "notes", "external_id", "deleted"].randomElement(using: &rng)!
                let value: FieldValue = field == "deleted" ? .integer(Int64.random(in: 0...1, using: &rng)) : .text("v\(Int.random(in: 0..<4, using: &rng))")
                // Timestamps may tie across devices (device id breaks the tie) but never within one device.
                var c = change(.update, [field: value], at: 1_001 + Int64.random(in: 0..<50, using: &rng),
                               by: [deviceA, deviceB].randomElement(using: &rng)!, seq: Int64(i + 2))
                c.hlc.counter = Int32(i)
                changes.append(c)
            }
            func replay(_ order: [Change]) throws -> RecordState {
                var state: RecordState? = try MergeRules.merge(PushEntry(change: order[0]), into: nil).state
                for c in order.dropFirst() { state = try MergeRules.merge(PushEntry(change: c), into: state).state }
                return state!
            }
            let reference = try replay(changes)
            for _ in 0..<5 {
                let shuffled = [changes[0]] + changes.dropFirst().shuffled(using: &rng)
                let other = try replay(shuffled)
                #expect(other.fields == reference.fields, "round \(round)")
                #expect(other.clocks == reference.clocks, "round \(round)")
            }
        }
    }
}
