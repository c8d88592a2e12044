import ClinicCore
import ClinicStore
import Foundation
import Testing

@Suite struct PatientStoreTests {
    @Test(arguments: StoreKind.allCases)
    func addWritesRowAndInsertChangeInOneGo(_ kind: StoreKind) throws {
        let (store, dir) = try makeStore(kind); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(externalID: "CL-001", givenName: "Amina", familyName: "Okafor", sex: "female", birthDate: "2019-03-04"))
        #expect(try store.patient(p.id) == p)
        let changes = try store.changes()
        #expect(changes.count == 1)
        let c = try #require(changes.first)
        #expect(c.sequence == 1 && c.entity == .patient && c.operation == .insert && c.entityID == p.id)
        #expect(c.fields["given_name"] == .text("Amina") && c.fields["external_id"] == .text("CL-001"))
        #expect(c.fields["sex"] == .text("female") && c.fields["deleted"] == .integer(0))
        #expect(Set(c.fields.keys) == Set(p.fields.map(\.name)))
        #expect(c.deviceID.uuidString.lowercased() == (try store.identity().deviceID))
    }

    @Test(arguments: StoreKind.allCases)
    func updateLogsOnlyTheFieldsThatChanged(_ kind: StoreKind) throws {
        let (store, dir) = try makeStore(kind); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "Amina", familyName: "Okafor", notes: "first"))
        let updated = try store.updatePatient(p.id, PatientInput(givenName: "Amina", familyName: "Okafor-Bello", notes: ""))
        #expect(updated.familyName == "Okafor-Bello" && updated.notes == nil && updated.updatedAt > p.updatedAt)
        let c = try store.changes().last!
        #expect(c.operation == .update && c.sequence == 2)
        #expect(Set(c.fields.keys) == ["family_name", "notes", "updated_at"])
        #expect(c.fields["notes"] == .null)
        // A no-op update writes nothing.
        _ = try store.updatePatient(p.id, PatientInput(givenName: "Amina"))
        #expect(try store.changes().count == 2)
        #expect(try store.changes()[1].hlc > store.changes()[0].hlc)
    }

    @Test(arguments: StoreKind.allCases)
    func deleteIsATombstone(_ kind: StoreKind) throws {
        let (store, dir) = try makeStore(kind); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        try store.deletePatient(p.id)
        #expect(try store.patient(p.id).deleted)
        #expect(try store.patients().isEmpty)
        #expect(try store.patients(includeDeleted: true).count == 1)
        let c = try store.changes().last!
        #expect(c.operation == .delete && c.fields["deleted"] == .integer(1))
        #expect(throws: ClinicError.self) { try store.updatePatient(p.id, PatientInput(givenName: "C")) }
        try store.deletePatient(p.id) // deleting twice changes nothing
        #expect(try store.changes().count == 2)
    }

    @Test(arguments: StoreKind.allCases)
    func searchFindsByNamePrefixAndExternalId(_ kind: StoreKind) throws {
        let (store, dir) = try makeStore(kind); defer { cleanup(dir) }
        try store.addPatients([
            PatientInput(externalID: "KE-1001", givenName: "Amina", familyName: "Okafor"),
            PatientInput(externalID: "KE-1002", givenName: "Amir", familyName: "Haddad"),
            PatientInput(givenName: "José", familyName: "Núñez"),
            PatientInput(givenName: "Robert'); DROP TABLE patients;--", familyName: "Tables"),
        ])
        #expect(try store.patients(search: "ami").map(\.givenName).sorted() == ["Amina", "Amir"])
        #expect(try store.patients(search: "amina oka").map(\.givenName) == ["Amina"])
        #expect(try store.patients(search: "1002").map(\.givenName) == ["Amir"])
        #expect(try store.patients(search: "nunez").map(\.givenName) == ["José"])
        #expect(try store.patients(search: "DROP TABLE").count == 1)
        // FTS syntax typed by a user is treated as text, not as a query.
        for hostile in ["\"", "NEAR(", "a OR b", "*", "' OR 1=1 --", "col:val", "^x"] {
            _ = try store.patients(search: hostile)
        }
        #expect(try store.patients().count == 4)
    }

    @Test(arguments: StoreKind.allCases)
    func idPrefixResolves(_ kind: StoreKind) throws {
        let (store, dir) = try makeStore(kind); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        #expect(try store.resolvePatientID(String(p.id.lowercased.prefix(8))) == p.id)
        #expect(try store.resolvePatientID(p.id.uuidString) == p.id)
        #expect(throws: ClinicError.self) { try store.resolvePatientID("abc") }
        #expect(throws: ClinicError.self) { try store.resolvePatientID("ffffffff") }
        #expect(throws: ClinicError.self) { try store.resolvePatientID("Amina Okafor") }
    }

    @Test func invalidInputWritesNothing() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        #expect(throws: ClinicError.self) {
            try store.addPatients([PatientInput(givenName: "Ok", familyName: "Fine"), PatientInput(givenName: "Bad\u{1B}", familyName: "X")])
        }
        #expect(try store.patients().isEmpty && store.changes().isEmpty)
    }

    @Test func changeLogSurvivesReopenAndClockNeverGoesBack() throws {
        var (store, dir): (ClinicStore?, URL) = try makeStore(.file); defer { cleanup(dir) }
        try store!.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let first = try store!.changes().last!.hlc
        store = nil // closes it and releases the write lock
        // Reopen with a clock set an hour earlier: timestamps must still grow.
        let earlier = Dependencies(now: { Date(timeIntervalSince1970: 1_794_996_400) }, uuid: { UUID() })
        let reopened = try ClinicStore.open(at: dir, dependencies: earlier)
        try reopened.addPatient(PatientInput(givenName: "C", familyName: "D"))
        let second = try reopened.changes().last!
        #expect(second.hlc > first && second.sequence == 2)
    }

    @Test func secondCreateIsRefused() throws {
        let (_, dir) = try makeStore(.file); defer { cleanup(dir) }
        #expect(throws: ClinicError.self) { try ClinicStore.create(at: dir, site: "x", deviceName: "y") }
        #expect(throws: ClinicError.self) { try ClinicStore.open(at: dir.appending(path: "nothing-here")) }
    }
}
