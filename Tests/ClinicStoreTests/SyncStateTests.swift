import ClinicCore
@testable import ClinicStore
import Foundation
import GRDB
import Testing

/// What the store keeps for the sync client (migration 0002): each change's base, the pending
/// entries with their audio, the push cursor saved with the answers, rejections, server blobs.
@Suite struct SyncStateTests {
    @Test func eachChangeCarriesTheClocksOfTheValuesItReplaces() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let afterInsert = try store.fieldClocks(.patient, id: p.id)
        _ = try store.updatePatient(p.id, PatientInput(givenName: "C"))
        _ = try store.updatePatient(p.id, PatientInput(givenName: "D", notes: "new"))
        let pending = try store.pendingChanges()
        #expect(pending.count == 3)
        #expect(pending[0].base.isEmpty, "an insert replaces nothing")
        #expect(pending[1].base == ["given_name": afterInsert["given_name"]!, "updated_at": afterInsert["updated_at"]!])
        // The second update's base is the first update's clock; notes still has the insert's (null) value.
        let first = pending[1].change
        #expect(pending[2].base["given_name"] == "\(first.hlc)@\(first.deviceID.lowercased)")
        #expect(pending[2].base["notes"] == afterInsert["notes"] && afterInsert["notes"] != nil)
        #expect(Set(pending[2].base.keys) == ["given_name", "notes", "updated_at"])
    }

    @Test func answersMoveTheCursorAndKeepRejectionsInOneTransaction() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        _ = try store.addRecording(try newRecording(samplesDirectory.appending(path: "circor2022_13918_AV.flac").path, patient: p.id))
        _ = try store.updatePatient(p.id, PatientInput(givenName: "C"))
        let pending = try store.pendingChanges()
        #expect(pending.map(\.change.sequence) == [1, 2, 3])
        let recording = pending[1]
        #expect(recording.audio?.sha256 == recording.change.fields["audio_sha256"]?.text && recording.audio?.size ?? 0 > 0)
        #expect(pending[0].audio == nil && pending[2].audio == nil)

        try store.recordPushAnswers([(1, nil), (2, "a reason")])
        #expect(try store.syncState().pushCursor == 2)
        #expect(try store.pendingChanges().map(\.change.sequence) == [3])
        #expect(try store.syncRejections().map(\.seq) == [2])
        // An answer again (a replayed push) changes nothing; the cursor never goes back.
        try store.recordPushAnswers([(1, nil), (2, "a reason")])
        #expect(try store.syncRejections().count == 1 && store.syncState().pushCursor == 2)
        // clinic status tells the same.
        var status = try store.status()
        #expect(status.changes == 3 && status.pendingChanges == 1 && status.rejectedChanges == 1)
        #expect(status.pendingAudioBytes == recording.audio!.size && status.lastSyncAt == nil)
        try store.markServerHolds(audio: recording.audio!.sha256)
        try store.recordSyncResult("failed", error: "no network")
        status = try store.status()
        #expect(status.pendingAudioBytes == 0 && status.lastSyncResult == "failed" && status.lastSyncError == "no network")
        #expect(try store.doctor().clean)
    }

    @Test func serverBlobsAndTheLastRunAreKept() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let sha = String(repeating: "ab", count: 32)
        #expect(try !store.serverHolds(audio: sha))
        try store.markServerHolds(audio: sha)
        try store.markServerHolds(audio: sha)
        #expect(try store.serverHolds(audio: sha))
        #expect(throws: ClinicError.self) { try store.markServerHolds(audio: "../x") }
        try store.recordSyncResult("failed", error: "no network")
        #expect(try store.syncState().lastError == "no network" && store.syncState().lastResult == "failed")
        try store.recordSyncResult("ok", error: nil)
        let state = try store.syncState()
        #expect(state.lastError == nil && state.lastResult == "ok" && state.lastSyncAt != nil)
    }
}
