internal import CSndfile
import Foundation

/// Decoded audio: interleaved samples in [-1, 1].
public struct DecodedAudio: Sendable {
    public var samples: [Double]
    public var sampleRate: Int
    public var channels: Int
    public var frames: Int { samples.count / max(channels, 1) }
}

public enum AudioReader {
    /// Decodes a whole file (checked as on import) to doubles.
    public static func read(path: String, limits: ImportLimits = ImportLimits()) throws(AudioError) -> DecodedAudio {
        let bytes = try AudioImport.readFile(path: path, limits: limits)
        let file = try SoundFile(reading: MemoryFile(bytes))
        try AudioImport.checkHeader(file, limits: limits)
        var out = [Double]()
        out.reserveCapacity(Int(file.frames) * file.channels)
        var buffer = [Double](repeating: 0, count: SoundFile.chunkFrames * file.channels)
        while case let n = file.read(into: &buffer, frames: SoundFile.chunkFrames), n > 0 {
            out.append(contentsOf: buffer[0..<(n * file.channels)])
        }
        guard out.count == Int(file.frames) * file.channels else {
            throw AudioError(.truncated, "The file is truncated. Copy the recording from the stethoscope again.")
        }
        return DecodedAudio(samples: out, sampleRate: file.sampleRate, channels: file.channels)
    }
}

/// Mono audio resampled while it was decoded, and what the file held.
public struct ResampledAudio: Sendable {
    /// Mono samples at `rate` Hz.
    public var samples: [Double]
    public var rate: Double
    /// The file's own sample rate, channels and frames.
    public var sourceRate: Int
    public var channels: Int
    public var frames: Int
    public var duration: Double { Double(frames) / Double(sourceRate) }
}

extension AudioReader {
    /// Decodes a file piece by piece (checked as on import, and every sample finite), mixes
    /// each frame to mono and resamples to `rate` with `Resampler.resampleExtendingEdges`'s
    /// edge handling, keeping only the output: memory follows the output's length, not the
    /// file's (a 120 s 48 kHz stereo file is 92 MB of doubles; its 2 kHz mono is 1.9 MB).
    public static func readMono(path: String, resampledTo rate: Double, limits: ImportLimits = ImportLimits()) throws(AudioError) -> ResampledAudio {
        try AudioImport.checkFile(path: path, limits: limits)
        let file = try SoundFile(readingPath: path)
        try AudioImport.checkHeader(file, limits: limits)
        let channels = file.channels, frames = Int(file.frames)
        do {
            let resampler = try EdgeExtendingResampler(count: frames, from: Double(file.sampleRate), to: rate)
            var buffer = [Double](repeating: 0, count: SoundFile.chunkFrames * channels)
            var mono = [Double](repeating: 0, count: SoundFile.chunkFrames)
            var read = 0
            while read < frames, case let n = file.read(into: &buffer, frames: min(SoundFile.chunkFrames, frames - read)), n > 0 {
                let scale = 1 / Double(channels)
                for f in 0..<n {
                    var s = 0.0
                    for c in 0..<channels { s += buffer[f * channels + c] }
                    guard s.isFinite else {
                        throw AudioError(.nonFinite, "The recording contains invalid samples (NaN or infinity). It is corrupt; record again.")
                    }
                    mono[f] = channels == 1 ? s : s * scale
                }
                try mono.withUnsafeBufferPointer { (p) throws(DSPError) in try resampler.push(UnsafeBufferPointer(rebasing: p[0..<n])) }
                read += n
            }
            guard read == frames else {
                throw AudioError(.truncated, "The file is truncated. Copy the recording from the stethoscope again.")
            }
            return ResampledAudio(samples: try resampler.finish(), rate: rate, sourceRate: file.sampleRate, channels: channels, frames: frames)
        } catch let error as AudioError {
            throw error
        } catch {
            throw AudioError(.unsupported, "The recording could not be resampled (\(error)).")
        }
    }
}
