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
