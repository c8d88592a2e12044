import ClinicCore
@testable import ClinicStore
import Foundation
import Testing

@Suite struct RecordingStoreTests {
    let sample = samplesDirectory.appending(path: "circor2022_13918_AV.flac").path
    let other = samplesDirectory.appending(path: "circor2022_31737_AV.flac").path

    @Test(arguments: StoreKind.allCases)
    func addStoresAudioRowAndChangeTogether(_ kind: StoreKind) throws {
        let (store, dir) = try makeStore(kind); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let r = try store.addRecording(try newRecording(sample, patient: p.id))
        #expect(try store.recording(r.id) == r)
        #expect(try store.recordings(patientID: p.id) == [r])
        let audio = try store.audio(of: r)
        #expect(sha256Hex(audio) == r.audioSHA256 && Int64(audio.count) == r.audioSize)
        let c = try store.changes().last!
        #expect(c.entity == .recording && c.operation == .insert && c.entityID == r.id)
        #expect(c.fields["audio_sha256"] == .text(r.audioSHA256) && c.fields["patient_id"] == .text(p.id.lowercased))
        #expect(c.fields["duration"]?.real == r.duration && c.fields["location"] == .text("AV"))
        #expect(try store.doctor().clean)
    }

    @Test func duplicateIsRefusedNamingTheExistingRecording() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let q = try store.addPatient(PatientInput(givenName: "C", familyName: "D"))
        let r = try store.addRecording(try newRecording(sample, patient: p.id))
        #expect {
            try store.addRecording(try newRecording(sample, patient: p.id))
        } throws: { error in
            let e = error as! ClinicError
            return e.reason == .duplicate && e.message.contains(r.id.lowercased)
        }
        // Another patient, or on purpose: allowed, and the audio file is shared.
        let r2 = try store.addRecording(try newRecording(sample, patient: q.id))
        let r3 = try store.addRecording(try newRecording(sample, patient: p.id), allowDuplicate: true)
        #expect(r2.audioSHA256 == r.audioSHA256 && r3.id != r.id)
        #expect(try store.recordings().count == 3)
        #expect(try store.doctor().clean)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appending(path: "tmp").path).isEmpty)
    }

    @Test func unknownOrDeletedPatientIsRefusedAndNothingIsWritten() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        #expect { try store.addRecording(try newRecording(sample, patient: UUID())) } throws: { ($0 as! ClinicError).reason == .notFound }
        try store.deletePatient(p.id)
        #expect { try store.addRecording(try newRecording(sample, patient: p.id)) } throws: { ($0 as! ClinicError).reason == .notFound }
        #expect(try store.recordings(includeDeleted: true).isEmpty)
        #expect(BlobStore(root: dir).allAudioFiles().isEmpty)
    }

    @Test func recoveryUndoesAnImportInterruptedBeforeCommit() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let kept = try store.addRecording(try newRecording(other, patient: p.id))
        // Simulate a crash after the audio was staged and linked but before the row committed.
        let new = try newRecording(sample, patient: p.id)
        let staged = try store.blobs.stage(new.audio.stored, sha256: new.audio.storedSHA256, token: "crashed")
        try store.blobs.publish(staged: staged, sha256: new.audio.storedSHA256)
        // A staged copy of audio that did commit (crash after commit, before cleanup).
        _ = try store.blobs.stage(try store.audio(of: kept), sha256: kept.audioSHA256, token: "committed")
        let report = try store.doctor()
        #expect(report.recoveredImports == 2)
        #expect(report.clean, "\(report.problems)")
        #expect(!FileManager.default.fileExists(atPath: store.blobs.path(for: new.audio.storedSHA256).path))
        #expect(FileManager.default.fileExists(atPath: store.blobs.path(for: kept.audioSHA256).path))
    }

    @Test func doctorFindsMissingCorruptOrphanAndInconsistentData() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let r = try store.addRecording(try newRecording(sample, patient: p.id))
        let r2 = try store.addRecording(try newRecording(other, patient: p.id))
        #expect(try store.doctor().clean)

        // Corrupt one audio file, remove another, add an orphan, and change a row behind the log's back.
        let path = store.blobs.path(for: r.audioSHA256).path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path)); bytes[100] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: store.blobs.path(for: r2.audioSHA256).path)
        let orphan = store.blobs.path(for: String(repeating: "ab", count: 32))
        try FileManager.default.createDirectory(at: orphan.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: orphan)
        try store.writer.write { db in try db.execute(sql: "UPDATE patients SET given_name = 'Z'") }

        let report = try store.doctor()
        #expect(!report.clean)
        let text = report.problems.joined(separator: "\n")
        #expect(text.contains("recording \(r.id.lowercased): its audio file is corrupt"))
        #expect(text.contains("recording \(r2.id.lowercased): its audio file is missing"))
        #expect(text.contains("belongs to no recording"))
        #expect(text.contains("field given_name differs from its log"))
        #expect(!text.contains("Z"))
    }

    @Test func statusCountsWhatIsThere() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let q = try store.addPatient(PatientInput(givenName: "C", familyName: "D"))
        let r = try store.addRecording(try newRecording(sample, patient: p.id))
        try store.deletePatient(q.id)
        let s = try store.status()
        #expect(s.patients == 1 && s.deletedPatients == 1 && s.recordings == 1 && s.changes == 4)
        #expect(s.audioBytes == r.audioSize && s.databaseBytes > 0 && s.site == "Test site")
    }
}

@Suite struct AssessmentStoreTests {
    @Test(arguments: StoreKind.allCases)
    func addAssessmentAppendsRowAndChange(_ kind: StoreKind) throws {
        let (store, dir) = try makeStore(kind); defer { cleanup(dir) }
        let p = try store.addPatient(PatientInput(givenName: "A", familyName: "B"))
        let r = try store.addRecording(try newRecording(samplesDirectory.appending(path: "physionet2016_b0001.flac").path, patient: p.id))
        let a = try store.addAssessment(recordingID: r.id, kind: "quality", model: "qaqc", modelVersion: "1",
                                        result: ["grade": .text("good"), "confidence": .real(0.91)])
        #expect(try store.assessments(recordingID: r.id) == [a])
        let c = try store.changes().last!
        #expect(c.entity == .assessment && c.operation == .insert && c.entityID == a.id)
        #expect(c.fields["recording_id"] == .text(r.id.lowercased) && c.fields["result"] == .text(a.result))
        #expect(a.result == #"{"confidence":0.91,"grade":"good"}"#)
        #expect(throws: ClinicError.self) {
            try store.addAssessment(recordingID: UUID(), kind: "quality", model: "m", modelVersion: "1", result: [:])
        }
        #expect(try store.changes().count == 3)
        #expect(try store.doctor().clean)
    }
}
