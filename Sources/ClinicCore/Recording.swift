import Foundation

/// Where the stethoscope was placed: the four valve areas, the pulmonic/carotid "Phc" site
/// CirCor uses, or another site.
public enum AuscultationLocation: String, Sendable, Codable, CaseIterable {
    case AV, PV, TV, MV, Phc, other

    /// Accepts the codes in any letter case ("av", "Av", "PHC"), and "Other".
    public init?(userText: String) {
        let t = userText.trimmingCharacters(in: .whitespaces).lowercased()
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == t }) else { return nil }
        self = match
    }
}

/// A stored heart-sound recording. Recordings are immutable once stored; only `deleted` changes.
public struct Recording: Sendable, Equatable, Codable, FieldRecord {
    public static var schema: EntitySchema { .recording }

    public var id: UUID
    public var patientID: UUID
    public var location: AuscultationLocation
    public var recordedAt: String
    public var operatorName: String?
    public var device: String?
    /// The file name as given at import (the last path component only).
    public var originalFilename: String
    /// The input's container and encoding, e.g. `wav/pcm16`, `flac/pcm16`, `wav/float32`.
    public var originalFormat: String
    public var originalSHA256: String
    public var originalSize: Int64
    /// How the audio is kept in the store, e.g. `flac/pcm16`.
    public var storedFormat: String
    public var sampleRate: Int
    public var channels: Int
    public var frames: Int64
    public var duration: Double
    /// SHA-256 of the stored audio file, its content address.
    public var audioSHA256: String
    public var audioSize: Int64
    /// SHA-256 of the decoded samples: equal for the same audio in any container.
    public var samplesSHA256: String
    public var createdAt: String
    public var deleted: Bool

    public init(
        id: UUID, patientID: UUID, location: AuscultationLocation, recordedAt: String,
        operatorName: String?, device: String?, originalFilename: String, originalFormat: String,
        originalSHA256: String, originalSize: Int64, storedFormat: String, sampleRate: Int,
        channels: Int, frames: Int64, duration: Double, audioSHA256: String, audioSize: Int64,
        samplesSHA256: String, createdAt: String, deleted: Bool = false
    ) {
        self.id = id
        self.patientID = patientID
        self.location = location
        self.recordedAt = recordedAt
        self.operatorName = operatorName
        self.device = device
        self.originalFilename = originalFilename
        self.originalFormat = originalFormat
        self.originalSHA256 = originalSHA256
        self.originalSize = originalSize
        self.storedFormat = storedFormat
        self.sampleRate = sampleRate
        self.channels = channels
        self.frames = frames
        self.duration = duration
        self.audioSHA256 = audioSHA256
        self.audioSize = audioSize
        self.samplesSHA256 = samplesSHA256
        self.createdAt = createdAt
        self.deleted = deleted
    }

    enum CodingKeys: String, CodingKey {
        case id, patientID = "patient_id", location, recordedAt = "recorded_at", operatorName = "operator"
        case device, originalFilename = "original_filename", originalFormat = "original_format"
        case originalSHA256 = "original_sha256", originalSize = "original_size"
        case storedFormat = "stored_format", sampleRate = "sample_rate", channels, frames, duration
        case audioSHA256 = "audio_sha256", audioSize = "audio_size", samplesSHA256 = "samples_sha256", createdAt = "created_at", deleted
    }

}

/// The result of assessing a recording (signal quality, classification). Append-only: a new
/// assessment is added, never an old one changed. Its content is defined by the assessment models.
public struct Assessment: Sendable, Equatable, Codable, FieldRecord {
    public static var schema: EntitySchema { .assessment }

    public var id: UUID
    public var recordingID: UUID
    /// What was assessed, e.g. `quality` or `classification`.
    public var kind: String
    public var model: String
    public var modelVersion: String
    /// The model's output as a JSON object.
    public var result: String
    public var createdAt: String

    public init(id: UUID, recordingID: UUID, kind: String, model: String, modelVersion: String, result: String, createdAt: String) {
        self.id = id
        self.recordingID = recordingID
        self.kind = kind
        self.model = model
        self.modelVersion = modelVersion
        self.result = result
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, recordingID = "recording_id", kind, model, modelVersion = "model_version", result
        case createdAt = "created_at"
    }

}
