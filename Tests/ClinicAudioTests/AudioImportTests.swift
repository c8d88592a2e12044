@testable import ClinicAudio
import ClinicCore
import Foundation
import Testing

@Suite struct AudioImportTests {
    /// Decodes bytes with libsndfile to interleaved 32-bit integers.
    func samples(_ bytes: [UInt8]) throws -> [Int32] {
        let file = try SoundFile(reading: MemoryFile(bytes))
        var out = [Int32](repeating: 0, count: Int(file.frames) * file.channels)
        #expect(file.read(into: &out, frames: Int(file.frames)) == Int(file.frames))
        return out
    }

    @Test(arguments: [AudioFileFormat.wav8, .wav16, .wav24, .aiff16])
    func uncompressedPCMIsKeptAsFLACWithIdenticalSamples(_ format: AudioFileFormat) throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let path = dir.appending(path: "in.\(format == .aiff16 ? "aiff" : "wav")").path
        try AudioWriter.write(samples: heartbeat(seconds: 6, rate: 4_000), sampleRate: 4_000, format: format, to: path)
        let prepared = try AudioImport.prepare(path: path)
        #expect(prepared.storedFormat.hasPrefix("flac/"))
        #expect(prepared.frames == 24_000 && prepared.sampleRate == 4_000 && prepared.channels == 1)
        #expect(prepared.stored.count < prepared.originalSize)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try samples(prepared.stored) == samples(original))
        #expect(prepared.originalSHA256 == sha256Hex(original))
        #expect(prepared.storedSHA256 == sha256Hex(prepared.stored))
    }

    @Test func stereo48kHz24BitIsAccepted() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let mono = heartbeat(seconds: 5, rate: 48_000)
        let stereo = mono.flatMap { [$0, -$0 * 0.5] }
        let path = dir.appending(path: "s.wav").path
        try AudioWriter.write(samples: stereo, sampleRate: 48_000, channels: 2, format: .wav24, to: path)
        let prepared = try AudioImport.prepare(path: path)
        #expect(prepared.channels == 2 && prepared.sampleRate == 48_000 && prepared.storedFormat == "flac/pcm24")
        #expect(abs(prepared.duration - 5) < 1e-9)
    }

    @Test func floatAndFLACInputAreStoredAsTheyCame() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        for (format, name) in [(AudioFileFormat.wavFloat, "f.wav"), (.flac16, "f.flac")] {
            let path = dir.appending(path: name).path
            try AudioWriter.write(samples: heartbeat(seconds: 5, rate: 2_000), sampleRate: 2_000, format: format, to: path)
            let prepared = try AudioImport.prepare(path: path)
            #expect(prepared.stored == [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            #expect(prepared.storedFormat == prepared.originalFormat)
        }
    }

    @Test func sameSamplesInAnyContainerHaveTheSameSamplesHash() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let x = heartbeat(seconds: 5, rate: 4_000)
        try AudioWriter.write(samples: x, sampleRate: 4_000, format: .wav16, to: dir.appending(path: "a.wav").path)
        try AudioWriter.write(samples: x, sampleRate: 4_000, format: .flac16, to: dir.appending(path: "a.flac").path)
        let a = try AudioImport.prepare(path: dir.appending(path: "a.wav").path)
        let b = try AudioImport.prepare(path: dir.appending(path: "a.flac").path)
        #expect(a.samplesSHA256 == b.samplesSHA256)
        #expect(a.originalSHA256 != b.originalSHA256)
    }

    @Test func exportWritesExactlyTheStoredSamples() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let path = dir.appending(path: "in.wav").path
        try AudioWriter.write(samples: heartbeat(seconds: 5, rate: 4_000), sampleRate: 4_000, format: .wav16, to: path)
        let prepared = try AudioImport.prepare(path: path)
        for name in ["out.wav", "out.flac"] {
            let out = dir.appending(path: name).path
            try AudioWriter.export(stored: prepared.stored, storedFormat: prepared.storedFormat, to: out, overwrite: false)
            #expect(try AudioImport.prepare(path: out).samplesSHA256 == prepared.samplesSHA256)
            #expect(throws: AudioError.self) {
                try AudioWriter.export(stored: prepared.stored, storedFormat: prepared.storedFormat, to: out, overwrite: false)
            }
        }
        #expect(throws: AudioError.self) {
            try AudioWriter.export(stored: prepared.stored, storedFormat: prepared.storedFormat, to: dir.appending(path: "x.mp3").path, overwrite: false)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)
    }
}
