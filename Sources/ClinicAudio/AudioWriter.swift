internal import CSndfile
import Foundation

/// File formats clinic writes: exports, and synthetic audio for tests and benchmarks.
public enum AudioFileFormat: String, Sendable, CaseIterable {
    case wav8, wav16, wav24, wav32, wavFloat, flac8, flac16, flac24, aiff16

    /// The export format for a file name: `.wav` or `.flac`, or nil.
    public static func forExport(path: String, like source: String) -> AudioFileFormat? {
        let depth = source.split(separator: "/").last.map(String.init) ?? "pcm16"
        switch (URL(fileURLWithPath: path).pathExtension.lowercased(), depth) {
        case ("wav", "pcm8"), ("wav", "pcm8u"): return .wav8
        case ("wav", "pcm24"): return .wav24
        case ("wav", "pcm32"): return .wav32
        case ("wav", "float32"), ("wav", "float64"): return .wavFloat
        case ("wav", _): return .wav16
        case ("flac", "pcm8"), ("flac", "pcm8u"): return .flac8
        case ("flac", "pcm24"): return .flac24
        case ("flac", "pcm32"), ("flac", "float32"), ("flac", "float64"): return nil
        case ("flac", _): return .flac16
        default: return nil
        }
    }

    var code: Int32 {
        let wav = Int32(SF_FORMAT_WAV), flac = Int32(SF_FORMAT_FLAC)
        switch self {
        case .wav8: return wav | Int32(SF_FORMAT_PCM_U8)
        case .wav16: return wav | Int32(SF_FORMAT_PCM_16)
        case .wav24: return wav | Int32(SF_FORMAT_PCM_24)
        case .wav32: return wav | Int32(SF_FORMAT_PCM_32)
        case .wavFloat: return wav | Int32(SF_FORMAT_FLOAT)
        case .flac8: return flac | Int32(SF_FORMAT_PCM_S8)
        case .flac16: return flac | Int32(SF_FORMAT_PCM_16)
        case .flac24: return flac | Int32(SF_FORMAT_PCM_24)
        case .aiff16: return Int32(SF_FORMAT_AIFF) | Int32(SF_FORMAT_PCM_16)
        }
    }

    var isFloat: Bool { self == .wavFloat }
}

public enum AudioWriter {
    /// Writes interleaved samples in [-1, 1] to `path` (replacing it). For tests, benchmarks and demos.
    public static func write(samples: [Double], sampleRate: Int, channels: Int = 1,
                             format: AudioFileFormat, to path: String) throws(AudioError) {
        let file = try SoundFile(writingPath: path, format: format.code, sampleRate: sampleRate, channels: channels)
        try file.write(samples, frames: samples.count / channels)
        file.close()
    }

    /// Decodes stored audio and writes it to `path` as WAV or FLAC (by the extension), atomically:
    /// a partial file is never left at `path`. Refuses to replace an existing file unless `overwrite`.
    public static func export(stored: [UInt8], storedFormat: String, to path: String, overwrite: Bool) throws(AudioError) {
        guard let format = AudioFileFormat.forExport(path: path, like: storedFormat) else {
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            if ext == "flac" {
                throw AudioError(.unsupported, "This recording (\(storedFormat)) cannot be written as FLAC without loss; export it as .wav.")
            }
            throw AudioError(.unsupported, "Export writes .wav or .flac files; give an output name ending in one of those.")
        }
        if !overwrite && FileManager.default.fileExists(atPath: path) {
            throw AudioError(.writeFailed, "The output file already exists; choose another name or pass --force.")
        }
        let source = try SoundFile(reading: MemoryFile(stored))
        let partial = path + ".partial-\(getpid())"
        defer { unlink(partial) }
        do {
            let target = try SoundFile(writingPath: partial, format: format.code, sampleRate: source.sampleRate, channels: source.channels)
            let chunk = SoundFile.chunkFrames
            if format.isFloat {
                var buffer = [Double](repeating: 0, count: chunk * source.channels)
                while case let n = source.read(into: &buffer, frames: chunk), n > 0 { try target.write(Array(buffer[0..<(n * source.channels)]), frames: n) }
            } else {
                var buffer = [Int32](repeating: 0, count: chunk * source.channels)
                while case let n = source.read(into: &buffer, frames: chunk), n > 0 { try target.write(Array(buffer[0..<(n * source.channels)]), frames: n) }
            }
            target.close()
        }
        try FileSync.fsync(path: partial)
        guard rename(partial, path) == 0 else {
            throw AudioError(.writeFailed, "Could not write the output file: \(String(cString: strerror(errno))).")
        }
        FileSync.fsyncDirectory(of: path)
    }
}

/// fsync helpers shared by the store and exports.
public enum FileSync {
    public static func fsync(path: String) throws(AudioError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0, Foundation.fsync(fd) == 0 else {
            if fd >= 0 { Foundation.close(fd) }
            throw AudioError(.writeFailed, "Could not flush the file to disk: \(String(cString: strerror(errno))).")
        }
        Foundation.close(fd)
    }

    public static func fsyncDirectory(of path: String) {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(dir, O_RDONLY)
        if fd >= 0 { _ = Foundation.fsync(fd); Foundation.close(fd) }
    }
}
