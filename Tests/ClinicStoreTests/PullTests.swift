import ClinicCore
@testable import ClinicStore
import ClinicSync
import Foundation
import GRDB
import Testing

/// Pulled pages: other devices' entries merged with the server's rules, in one transaction
/// with the cursor; this device's own skipped; a bad page changes nothing.
@Suite struct PullTests {
    static let other = UUID(uuidString: "7a000000-0000-4000-8000-000000000001")!
    static let now = "2026-11-22T10:00:00.000Z"

    /// A change by `device` at `ms` (far ahead of the test clock unless given).
    func change(_ op: ChangeOperation, _ id: UUID, _ fields: [String: FieldValue], ms: Int64, device: UUID = other,
                entity: EntityKind = .patient) -> Change {
        Change(sequence: 1, changeID: UUID(), entity: entity, entityID: id, operation: op, fields: fields,
               hlc: HLCTimestamp(milliseconds: ms, counter: 0), deviceID: device)
    }

    func insert(_ id: UUID, given: String, ms: Int64) -> Change {
        let p = Patient(id: id, givenName: given, familyName: "Otieno", createdAt: Self.now, updatedAt: Self.now)
        return change(.insert, id, Dictionary(uniqueKeysWithValues: p.fields.map { ($0.name, $0.value) }), ms: ms)
    }

    func page(_ changes: [Change], from first: Int64 = 1, more: Bool = false) -> PullResponse {
        let entries = changes.enumerated().map { FeedEntry(serverSeq: first + Int64($0), change: $1, outcome: .applied) }
        return PullResponse(changes: entries, next: entries.last?.serverSeq ?? first - 1, more: more)
    }

    @Test func otherDevicesEntriesAreMergedAndOwnOnesSkippedWithTheCursor() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let mine = try store.addPatient(PatientInput(givenName: "Amina", familyName: "Okafor"))
        let own = try #require(store.changes().first)
        let id = UUID()
        let remoteMS: Int64 = 1_900_000_000_000  // later than the test clock: the local clock must move past it
        let result = try store.applyPulled(page([
            insert(id, given: "Baraka", ms: remoteMS),
            own,
            change(.update, id, ["family_name": .text("Kamau"), "updated_at": .text(Self.now)], ms: remoteMS + 5),
        ]), after: 0)
        #expect(result == PulledPage(applied: 2, refused: 0, skipped: 1))
        let pulled = try store.patient(id)
        #expect(pulled.givenName == "Baraka" && pulled.familyName == "Kamau")
        #expect(try store.patients(search: "kama").map(\.id) == [id], "the search index follows pulled rows")
        #expect(try store.fieldClocks(.patient, id: id)["family_name"] == "\(HLCTimestamp(milliseconds: remoteMS + 5, counter: 0))@\(Self.other.lowercased)")
        #expect(try store.syncState().pullCursor == 3)
        #expect(try store.patient(mine.id) == mine)
        #expect(try store.doctor().clean)
        // The next local write is later than everything pulled, and its base names the pulled clock.
        try store.updatePatient(id, PatientInput(familyName: "Kamau-Otieno"))
        let edit = try #require(store.pendingChanges().last)
        #expect(edit.change.hlc > HLCTimestamp(milliseconds: remoteMS + 5, counter: 0))
        #expect(edit.base["family_name"] == "\(HLCTimestamp(milliseconds: remoteMS + 5, counter: 0))@\(Self.other.lowercased)")
        #expect(try store.doctor().clean)
        // The same page again changes nothing.
        let again = try store.applyPulled(page([insert(id, given: "Baraka", ms: remoteMS)], from: 4), after: 3)
        let name = try store.patient(id).familyName
        #expect(again.applied == 1 && name == "Kamau-Otieno", "an older insert changes no field")
        #expect(try store.doctor().clean)
    }

    @Test func anOlderPulledEditLosesToALaterLocalOne() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "Amina", familyName: "Okafor"))
        try store.updatePatient(p.id, PatientInput(familyName: "Bello"))
        // An edit made elsewhere after our insert but before our edit arrives late.
        let inserted = try #require(store.changes().first).hlc
        var edit = change(.update, p.id, ["family_name": .text("Old"), "sex": .text("female")], ms: inserted.milliseconds)
        edit.hlc = HLCTimestamp(milliseconds: inserted.milliseconds, counter: inserted.counter + 1)
        let result = try store.applyPulled(page([edit]), after: 0)
        #expect(result.applied == 1)
        let after = try store.patient(p.id)
        #expect(after.familyName == "Bello" && after.sex == .female, "per field: our later name stays, their new field arrives")
        #expect(try store.doctor().clean)
    }

    @Test func aBadPageChangesNothing() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let id = UUID()
        let a = insert(id, given: "Baraka", ms: 1_000)
        // Out of order, at or before the cursor, or past its own `next`.
        let outOfOrder = PullResponse(changes: [FeedEntry(serverSeq: 5, change: a, outcome: .applied),
                                                FeedEntry(serverSeq: 4, change: insert(UUID(), given: "X", ms: 2), outcome: .applied)], next: 5, more: false)
        let beforeCursor = PullResponse(changes: [FeedEntry(serverSeq: 1, change: a, outcome: .applied)], next: 1, more: false)
        let pastNext = PullResponse(changes: [FeedEntry(serverSeq: 9, change: a, outcome: .applied)], next: 8, more: false)
        #expect(throws: ClinicError.self) { try store.applyPulled(outOfOrder, after: 0) }
        #expect(throws: ClinicError.self) { try store.applyPulled(beforeCursor, after: 1) }
        #expect(throws: ClinicError.self) { try store.applyPulled(pastNext, after: 0) }
        // A cursor other than the stored one (another run moved it).
        #expect(throws: ClinicError.self) { try store.applyPulled(page([a], from: 10), after: 9) }
        #expect(try store.patients().isEmpty && store.syncState().pullCursor == 0)
    }

    @Test func entriesTheRulesRefuseAreKeptAndCountedButChangeNothing() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let unknown = change(.update, UUID(), ["family_name": .text("X"), "updated_at": .text(Self.now)], ms: 5)
        let badField = change(.insert, UUID(), ["nickname": .text("X")], ms: 6)
        let result = try store.applyPulled(page([unknown, badField]), after: 0)
        #expect(result == PulledPage(applied: 0, refused: 2, skipped: 0))
        #expect(try store.patients().isEmpty && store.syncState().pullCursor == 2)
        #expect(try store.doctor().clean)
    }

    @Test func downloadedAudioIsStoredOnlyWithItsHashAndSize() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let bytes: [UInt8] = Array(repeating: 7, count: 100)
        // No recording refers to it: refused.
        #expect(throws: ClinicError.self) { try store.appendDownloadedAudio(sha256Hex(bytes), offset: 0, bytes) }
        // Wrong bytes for the hash: refused.
        #expect(throws: ClinicError.self) { try store.appendDownloadedAudio(String(repeating: "ab", count: 32), offset: 0, bytes) }
        #expect(try store.missingAudio().isEmpty)
    }
}
