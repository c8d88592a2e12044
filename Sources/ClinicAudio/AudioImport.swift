internal import CSndfile
import ClinicCore
import Foundation

/// Limits applied to every imported recording.
public struct ImportLimits: Sendable, Equatable {
    /// Longest accepted recording, in seconds (default 10 minutes).
    public var maxDuration: Double
    /// Largest accepted file, in bytes (default 1 GiB).
    public var maxFileBytes: Int
    /// Accepted sample rates, Hz.
    public var sampleRates: ClosedRange<Int>
    /// Accepted channel counts.
    public var channels: ClosedRange<Int>

    public init(maxDuration: Double = 600, maxFileBytes: Int = 1 << 30,
                sampleRates: ClosedRange<Int> = 1_000...192_000, channels: ClosedRange<Int> = 1...8) {
        self.maxDuration = maxDuration
        self.maxFileBytes = maxFileBytes
        self.sampleRates = sampleRates
        self.channels = channels
    }
}

/// Decodes a recording with libsndfile to validate it, and encodes uncompressed PCM losslessly
/// as FLAC, checking that the FLAC decodes to exactly the same samples.
public enum AudioImport {
    public static func prepare(path: String, limits: ImportLimits = ImportLimits()) throws(AudioError) -> RecordingAudio {
        let bytes = try readFile(path: path, limits: limits)
        let original = try SoundFile(reading: MemoryFile(bytes))
        let format = original.format
        try checkHeader(original, limits: limits)

        // One pass: validate every sample and, for PCM, encode FLAC as we go (bounded memory).
        var flac: (memory: MemoryFile, file: SoundFile)?
        if format.isUncompressedPCM, let subtype = format.losslessFLACSubtype {
            let memory = MemoryFile()
            let file = try SoundFile(writing: memory, format: Int32(SF_FORMAT_FLAC) | subtype,
                                     sampleRate: original.sampleRate, channels: original.channels)
            flac = (memory, file)
        }
        var samplesHash = ContentHasher()
        let framesRead = try decodeAll(original, float: format.isFloat, hasher: &samplesHash) { chunk, n throws(AudioError) in
            try flac?.file.write(chunk, frames: n)
        }
        if framesRead < original.frames {
            throw AudioError(.truncated, "The file is truncated: its header promises \(original.frames) frames but only \(framesRead) are present. Copy the recording from the stethoscope again.")
        }

        var stored = bytes
        var storedFormat = format.description
        if let (memory, file) = flac {
            file.close()
            stored = memory.bytes
            try verifySameSamples(original: bytes, encoded: stored)
            storedFormat = "flac/" + format.encoding.replacingOccurrences(of: "pcm8u", with: "pcm8")
        }
        return RecordingAudio(
            originalFormat: format.description, originalSHA256: sha256Hex(bytes), originalSize: Int64(bytes.count),
            sampleRate: original.sampleRate, channels: original.channels, frames: framesRead,
            stored: stored, storedFormat: storedFormat, storedSHA256: sha256Hex(stored),
            samplesSHA256: samplesHash.finalize()
        )
    }

    /// Reads the whole file after checking it is a regular, readable, non-empty file within the size limit.
    static func readFile(path: String, limits: ImportLimits) throws(AudioError) -> [UInt8] {
        try checkFile(path: path, limits: limits)
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() else {
            throw AudioError(.unreadable, "The file cannot be read (check its permissions).")
        }
        try? handle.close()
        guard !data.isEmpty else { throw AudioError(.empty, "The file is empty (0 bytes). Copy the recording from the stethoscope again.") }
        return [UInt8](data)
    }

    /// Checks that `path` is a regular, readable, non-empty file within the size limit.
    static func checkFile(path: String, limits: ImportLimits) throws(AudioError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw AudioError(.missing, "No file at the path given. Check the file name and try again.")
        }
        guard !isDirectory.boolValue else {
            throw AudioError(.notAFile, "The path given is a directory, not an audio file.")
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
        guard size != 0 else { throw AudioError(.empty, "The file is empty (0 bytes). Copy the recording from the stethoscope again.") }
        guard size <= limits.maxFileBytes else {
            throw AudioError(.fileTooLarge, "The file is \(size / 1_048_576) MiB; the limit is \(limits.maxFileBytes / 1_048_576) MiB.")
        }
        guard access(path, R_OK) == 0 else { throw AudioError(.unreadable, "The file cannot be read (check its permissions).") }
    }

    static func checkHeader(_ file: SoundFile, limits: ImportLimits) throws(AudioError) {
        guard limits.sampleRates.contains(file.sampleRate) else {
            throw AudioError(.badSampleRate, "The recording's sample rate is \(file.sampleRate) Hz; accepted rates are \(limits.sampleRates.lowerBound)–\(limits.sampleRates.upperBound) Hz.")
        }
        guard limits.channels.contains(file.channels) else {
            throw AudioError(.badChannels, "The recording has \(file.channels) channels; at most \(limits.channels.upperBound) are accepted.")
        }
        guard file.frames > 0 else {
            throw AudioError(.zeroFrames, "The file holds no audio (0 samples). Record again.")
        }
        let seconds = Double(file.frames) / Double(file.sampleRate)
        guard seconds <= limits.maxDuration else {
            throw AudioError(.tooLong, String(format: "The recording is %.0f seconds long; the limit is %.0f seconds.", seconds, limits.maxDuration))
        }
        // libsndfile reads what is there when a WAV header claims more; its log says so.
        let log = file.log
        let claimsMore = log.split(separator: "\n").contains { line in
            (line.hasPrefix("data") || line.hasPrefix("SSND")) && line.contains("(should be")
        }
        if claimsMore {
            throw AudioError(.truncated, "The file is truncated: its header claims more audio than the file holds. Copy the recording from the stethoscope again.")
        }
    }

    /// Decodes every frame, checking samples are finite and not all zero; hands integer chunks to `sink`.
    /// Returns the number of frames decoded.
    static func decodeAll(_ file: SoundFile, float: Bool, hasher: inout ContentHasher, sink: ([Int32], Int) throws(AudioError) -> Void) throws(AudioError) -> Int64 {
        let chunk = SoundFile.chunkFrames
        var total: Int64 = 0
        var nonZero = false
        if float {
            var buffer = [Double](repeating: 0, count: chunk * file.channels)
            while true {
                let n = file.read(into: &buffer, frames: chunk)
                if n <= 0 { break }
                for i in 0..<(n * file.channels) {
                    let x = buffer[i]
                    guard x.isFinite else {
                        throw AudioError(.nonFinite, "The recording contains invalid samples (NaN or infinity). It is corrupt; record again.")
                    }
                    if x != 0 { nonZero = true }
                }
                buffer.withUnsafeBytes { hasher.update($0.prefix(n * file.channels * 8)) }
                total += Int64(n)
            }
        } else {
            var buffer = [Int32](repeating: 0, count: chunk * file.channels)
            while true {
                let n = file.read(into: &buffer, frames: chunk)
                if n <= 0 { break }
                if !nonZero { nonZero = buffer[0..<(n * file.channels)].contains { $0 != 0 } }
                buffer.withUnsafeBytes { hasher.update($0.prefix(n * file.channels * 4)) }
                try sink(buffer, n)
                total += Int64(n)
            }
        }
        guard total > 0 else { throw AudioError(.zeroFrames, "The file holds no audio (0 samples). Record again.") }
        guard nonZero else {
            throw AudioError(.silent, "The recording is silent (every sample is zero). Check the stethoscope's connection and record again.")
        }
        return total
    }

    /// Decodes both and compares every integer sample; throws if any differs.
    static func verifySameSamples(original: [UInt8], encoded: [UInt8]) throws(AudioError) {
        let a = try SoundFile(reading: MemoryFile(original))
        let b = try SoundFile(reading: MemoryFile(encoded))
        guard a.channels == b.channels, a.sampleRate == b.sampleRate else {
            throw AudioError(.verifyFailed, "The lossless copy does not match the original's format; nothing was stored.")
        }
        let chunk = SoundFile.chunkFrames
        var x = [Int32](repeating: 0, count: chunk * a.channels)
        var y = [Int32](repeating: 0, count: chunk * a.channels)
        while true {
            let n = a.read(into: &x, frames: chunk)
            let m = b.read(into: &y, frames: chunk)
            guard n == m else { throw AudioError(.verifyFailed, "The lossless copy has a different length; nothing was stored.") }
            if n <= 0 { return }
            guard x[0..<(n * a.channels)] == y[0..<(n * a.channels)] else {
                throw AudioError(.verifyFailed, "The lossless copy does not decode to the same samples; nothing was stored.")
            }
        }
    }
}
