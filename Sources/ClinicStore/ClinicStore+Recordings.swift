import ClinicCore
import Foundation
import GRDB

/// What the caller knows of a recording to store; the store assigns its id and creation time.
public struct NewRecording: Sendable {
    public var patientID: UUID
    public var location: AuscultationLocation
    public var recordedAt: Date
    public var operatorName: String?
    public var device: String?
    public var originalFilename: String
    /// The checked audio and the facts about the input (`AudioImport.prepare`).
    public var audio: RecordingAudio

    public init(patientID: UUID, location: AuscultationLocation, recordedAt: Date, operatorName: String?, device: String?,
                originalFilename: String, audio: RecordingAudio) {
        self.patientID = patientID
        self.location = location
        self.recordedAt = recordedAt
        self.operatorName = operatorName
        self.device = device
        self.originalFilename = originalFilename
        self.audio = audio
    }
}

extension ClinicStore {
    /// Stores a recording and its audio. The audio file is written, fsynced and linked into
    /// place before the row that points to it commits; a crash at any moment leaves the whole
    /// recording or nothing (after `recoverInterruptedImports`). The same audio for the same
    /// patient is refused (naming the existing recording) unless `allowDuplicate`.
    @discardableResult
    /// With `assessment`, the recording's assessment is stored in the same transaction.
    public func addRecording(_ new: NewRecording, allowDuplicate: Bool = false, assessment: NewAssessment? = nil) throws -> Recording {
        let schema = EntitySchema.recording
        let operatorName = try new.operatorName.map { try schema.text($0, "operator") }
        let device = try new.device.map { try schema.text($0, "device") }
        let filename = try schema.text(new.originalFilename, "original_filename")
        let audio = new.audio
        guard isSHA256Hex(audio.storedSHA256) else { throw ClinicError.invalid("The audio hash is malformed.") }

        // Check before writing any file, so refused input leaves the store exactly as it was.
        try writer.read { db in try checkCanAdd(db, new, allowDuplicate: allowDuplicate) }

        let recording = Recording(
            id: dependencies.uuid(), patientID: new.patientID, location: new.location,
            recordedAt: Timestamp.format(new.recordedAt), operatorName: operatorName, device: device,
            originalFilename: filename, originalFormat: audio.originalFormat, originalSHA256: audio.originalSHA256,
            originalSize: audio.originalSize, storedFormat: audio.storedFormat, sampleRate: audio.sampleRate,
            channels: audio.channels, frames: audio.frames, duration: audio.duration,
            audioSHA256: audio.storedSHA256, audioSize: Int64(audio.stored.count), samplesSHA256: audio.samplesSHA256,
            createdAt: Timestamp.format(dependencies.now()))
        let assessed = try assessment.map { try makeAssessment(recordingID: recording.id, $0) }

        let staged = try blobs.stage(audio.stored, sha256: audio.storedSHA256, token: recording.id.lowercased)
        FaultInjection.point("after-stage")
        try writer.write { db in
            try checkCanAdd(db, new, allowDuplicate: allowDuplicate)
            try db.insert("recordings", recording.fields)
            try recordChange(db, entity: .recording, id: recording.id, operation: .insert, fields: recording.fields)
            if let assessed { try insert(db, assessed) }
            FaultInjection.point("before-publish")
            try blobs.publish(staged: staged, sha256: audio.storedSHA256)
            FaultInjection.point("before-commit")
        }
        FaultInjection.point("after-commit")
        unlink(staged.path)
        return recording
    }

    private func checkCanAdd(_ db: Database, _ new: NewRecording, allowDuplicate: Bool) throws {
        let patient = try Self.patient(db, id: new.patientID)
        guard !patient.deleted else {
            throw ClinicError(.notFound, "Patient \(patient.id.lowercased) was deleted; recordings cannot be added.")
        }
        guard !allowDuplicate else { return }
        if let existing = try String.fetchOne(db, sql: """
            SELECT id FROM recordings
            WHERE patient_id = ? AND deleted = 0 AND (samples_sha256 = ? OR original_sha256 = ?)
            ORDER BY created_at LIMIT 1
            """, arguments: [new.patientID.lowercased, new.audio.samplesSHA256, new.audio.originalSHA256]) {
            throw ClinicError(.duplicate, "This audio is already stored for this patient as recording \(existing). Nothing was added. To store it again anyway, pass --allow-duplicate.")
        }
    }

    public func recording(_ id: UUID) throws -> Recording {
        try writer.read { db in try recording(db, id: id) }
    }

    func recording(_ db: Database, id: UUID) throws -> Recording {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM recordings WHERE id = ?", arguments: [id.lowercased]) else {
            throw ClinicError(.notFound, "No recording with id \(id.lowercased). See `clinic recording list`.")
        }
        return try Recording(row: row)
    }

    public func resolveRecordingID(_ text: String) throws -> UUID {
        try resolveID(text, table: "recordings", noun: "recording", hint: "clinic recording list")
    }

    /// Recordings, newest first; of one patient if given.
    public func recordings(patientID: UUID? = nil, includeDeleted: Bool = false, limit: Int? = nil) throws -> [Recording] {
        try writer.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let patientID { conditions.append("patient_id = ?"); arguments += [patientID.lowercased] }
            if !includeDeleted { conditions.append("deleted = 0") }
            var sql = "SELECT * FROM recordings"
            if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
            sql += " ORDER BY recorded_at DESC, id"
            if let limit, limit > 0 { sql += " LIMIT \(limit)" }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Recording.init(row:))
        }
    }

    /// The stored audio bytes of a recording, checked against its SHA-256.
    public func audio(of recording: Recording) throws -> [UInt8] {
        if !FileManager.default.fileExists(atPath: blobs.path(for: recording.audioSHA256).path),
           try writer.read({ db in
               try Bool.fetchOne(db, sql: "SELECT 1 FROM pulled_changes WHERE entity = 'recording' AND entity_id = ? AND applied = 1",
                                 arguments: [recording.id.lowercased]) ?? false
           }) {
            throw ClinicError(.notFound, "This recording came from another device and its audio is not on this laptop yet. Run `clinic sync --with-audio`.")
        }
        return try blobs.read(sha256: recording.audioSHA256)
    }

    /// Finishes or undoes imports that a crash interrupted: a staged file whose audio no
    /// recording references is removed together with its linked copy. Runs under the write lock
    /// whenever the store is opened. Returns how many staged files were cleaned up.
    @discardableResult
    public func recoverInterruptedImports() throws -> Int {
        let staged = blobs.staged()
        guard !staged.isEmpty else { return 0 }
        for (url, sha) in staged {
            let referenced = isSHA256Hex(sha)
                ? try writer.read { db in
                    try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM recordings WHERE audio_sha256 = ?)", arguments: [sha]) ?? false
                }
                : true
            if !referenced {
                let published = blobs.path(for: sha)
                // Only remove the published copy if it is this staged file (same inode).
                if let a = try? FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? NSNumber,
                   let b = try? FileManager.default.attributesOfItem(atPath: published.path)[.systemFileNumber] as? NSNumber,
                   a == b {
                    unlink(published.path)
                    BlobStore.fsyncDirectory(published.deletingLastPathComponent())
                }
            }
            unlink(url.path)
        }
        BlobStore.fsyncDirectory(blobs.tmpDirectory)
        return staged.count
    }
}

/// Named crash points for the crash-safety test: when `CLINIC_FAULT_POINT` names a point, the
/// process kills itself there with SIGKILL, as a power cut would. Unset in normal use.
enum FaultInjection {
    static let armed = ProcessInfo.processInfo.environment["CLINIC_FAULT_POINT"]

    static func point(_ name: String) {
        if armed == name { kill(getpid(), SIGKILL) }
    }
}
