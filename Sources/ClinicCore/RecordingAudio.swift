import Foundation

/// A recording's audio as the import checked and prepared it: what the store keeps and the
/// facts about the input it records. ClinicAudio makes it (`AudioImport.prepare`); the store
/// takes it whole (`NewRecording.audio`).
public struct RecordingAudio: Sendable {
    /// The input's format, e.g. `wav/pcm16`.
    public var originalFormat: String
    public var originalSHA256: String
    public var originalSize: Int64
    public var sampleRate: Int
    public var channels: Int
    public var frames: Int64
    public var duration: Double { Double(frames) / Double(sampleRate) }
    /// The bytes the store keeps: lossless FLAC for uncompressed PCM input, else the original bytes.
    public var stored: [UInt8]
    public var storedFormat: String
    public var storedSHA256: String
    /// SHA-256 of the decoded samples (interleaved, 32-bit little-endian integers, or 64-bit
    /// floats for float formats): the same audio in any container has the same samples hash.
    public var samplesSHA256: String

    public init(originalFormat: String, originalSHA256: String, originalSize: Int64, sampleRate: Int, channels: Int, frames: Int64,
                stored: [UInt8], storedFormat: String, storedSHA256: String, samplesSHA256: String) {
        self.originalFormat = originalFormat
        self.originalSHA256 = originalSHA256
        self.originalSize = originalSize
        self.sampleRate = sampleRate
        self.channels = channels
        self.frames = frames
        self.stored = stored
        self.storedFormat = storedFormat
        self.storedSHA256 = storedSHA256
        self.samplesSHA256 = samplesSHA256
    }
}
