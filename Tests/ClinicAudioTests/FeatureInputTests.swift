@testable import ClinicAudio
import Foundation
import Testing

/// The feature path (`FeatureSet.analyze(file:)`: streaming decode, mixdown, resampling,
/// features) on the issue's list of bad inputs, and its equality with the in-memory path.
@Suite struct FeatureInputTests {
    func wavHeader(frames: Int, rate: Int = 4_000, format: UInt16 = 1, bits: UInt16 = 16, channels: UInt16 = 1) -> [UInt8] {
        var h = [UInt8]()
        func u32(_ v: Int) { h += withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian, Array.init) }
        func u16(_ v: UInt16) { h += withUnsafeBytes(of: v.littleEndian, Array.init) }
        let block = Int(bits / 8) * Int(channels)
        h += Array("RIFF".utf8); u32(36 + frames * block); h += Array("WAVEfmt ".utf8)
        u32(16); u16(format); u16(channels); u32(rate); u32(rate * block); u16(UInt16(block)); u16(bits)
        h += Array("data".utf8); u32(frames * block)
        return h
    }

    func pcm16(_ x: [Double]) -> [UInt8] {
        x.flatMap { v in withUnsafeBytes(of: Int16(max(-1, min(1, v)) * 32767).littleEndian, Array.init) }
    }

    /// Writes `bytes`, runs both feature sets, and returns what each gave (values or the error).
    func analyze(_ bytes: [UInt8]) throws -> [Result<Features, any Error>] {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let path = dir.appending(path: "input.wav").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return FeatureSet.all.map { set in Result { try set.analyze(file: path).analysis.features } }
    }

    /// Both feature sets refuse the input with a typed, non-empty error of one of `reasons`.
    func expectRefused(_ bytes: [UInt8], _ reasons: Set<String>, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for result in try analyze(bytes) {
            switch result {
            case .success: Issue.record("accepted", sourceLocation: sourceLocation)
            case .failure(let error as AudioError):
                #expect(reasons.contains(error.reason.rawValue) && !error.message.isEmpty, "\(error)", sourceLocation: sourceLocation)
            case .failure(let error as DSPError):
                #expect(reasons.contains(error.reason.rawValue) && !error.message.isEmpty, "\(error)", sourceLocation: sourceLocation)
            case .failure(let error):
                Issue.record("untyped error \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func zeroLengthFile() throws { try expectRefused([], ["empty"]) }
    @Test func headerOnlyWav() throws { try expectRefused(wavHeader(frames: 0), ["zeroFrames"]) }
    @Test func headerClaimingMoreFramesThanPresent() throws {
        try expectRefused(wavHeader(frames: 40_000) + pcm16(heartbeat(seconds: 5, rate: 4_000)), ["truncated"])
    }
    @Test func textFileNamedWav() throws { try expectRefused(Array(String(repeating: "not audio\n", count: 50).utf8), ["notAudio"]) }
    @Test func randomBytes() throws {
        var g = SystemRandomNumberGenerator()
        try expectRefused((0..<8_192).map { _ in UInt8.random(in: 0...255, using: &g) }, ["notAudio"])
    }
    @Test func oneSampleFile() throws { try expectRefused(wavHeader(frames: 1) + pcm16([0.5]), ["tooShort"]) }
    @Test func allZeroAudio() throws {
        try expectRefused(wavHeader(frames: 20_000) + [UInt8](repeating: 0, count: 40_000), ["degenerate"])
    }
    @Test func tenHourHeader() throws {
        // libsndfile believes the file's size over the header, then the header's claim is caught.
        try expectRefused(wavHeader(frames: 10 * 3600 * 4_000) + pcm16(heartbeat(seconds: 5, rate: 4_000)), ["truncated", "tooLong"])
    }
    @Test func nanAndInfinityInFloatWav() throws {
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = heartbeat(seconds: 5, rate: 4_000).map(Float.init)
            x[12_345] = bad
            let body = x.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
            try expectRefused(wavHeader(frames: x.count, format: 3, bits: 32) + body, ["nonFinite"])
        }
    }

    /// Valid but poor: full-scale clipping gives finite features (a model will grade it).
    @Test func fullScaleClippingGivesFeatures() throws {
        let clipped = heartbeat(seconds: 5, rate: 4_000).map { $0 > 0 ? 1.0 : -1.0 }
        for result in try analyze(wavHeader(frames: clipped.count) + pcm16(clipped)) {
            let features = try result.get()
            #expect(features.values.allSatisfy { $0.isFinite })
            #expect(features["peak"]! > 0.5)
        }
    }

    /// 48 kHz stereo 24-bit gives the features of the same sound at 4 kHz mono, within the
    /// cross-rate tolerance (both channels carry the sound; the mixdown is their mean).
    @Test func stereo48kHz24BitMatchesTheSameSoundAt4kHz() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let wide = dir.appending(path: "wide.wav").path, narrow = dir.appending(path: "narrow.wav").path
        // The same sound: the 4 kHz signal upsampled (VHQ) to 48 kHz, on both channels.
        let x = heartbeat(seconds: 6, rate: 4_000)
        let up = try Resampler.resampleExtendingEdges(x, from: 4_000, to: 48_000, quality: .veryHigh)
        try AudioWriter.write(samples: up.flatMap { [$0, $0] }, sampleRate: 48_000, channels: 2, format: .wav24, to: wide)
        try AudioWriter.write(samples: x, sampleRate: 4_000, format: .wavFloat, to: narrow)
        for set in FeatureSet.all {
            let a = try set.analyze(file: wide), b = try set.analyze(file: narrow)
            #expect(a.audio.channels == 2 && a.audio.sourceRate == 48_000 && abs(a.audio.duration - 6) < 1e-9)
            for (name, (x, y)) in zip(set.featureNames, zip(a.analysis.features.values, b.analysis.features.values)) {
                // The synthetic sound has noise up to 2 kHz: the real-recording tolerance applies.
                let tol = FeatureSet.crossRateTolerance(name, bandLimited: false)
                #expect(abs(x - y) <= tol.atol + tol.rtol * abs(y), "\(set.name) \(name): \(x) vs \(y)")
            }
        }
    }

    /// Reading piece by piece gives exactly the in-memory path's features (same samples, same
    /// resampler, the same edge extension), for a stereo file longer than one read chunk.
    @Test func streamingEqualsInMemory() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let path = dir.appending(path: "s.wav").path
        let mono = heartbeat(seconds: 8, rate: 44_100)
        try AudioWriter.write(samples: mono.flatMap { [$0, 0.5 * $0] }, sampleRate: 44_100, channels: 2, format: .wav24, to: path)
        let decoded = try AudioReader.read(path: path)
        for set in FeatureSet.all {
            let streamed = try set.analyze(file: path).analysis
            let inMemory = try set.analyze(decoded)
            #expect(streamed.features == inMemory.features)
            #expect(streamed.logMel == inMemory.logMel)
        }
    }

    /// libsoxr fed in pieces of any size gives the one-shot output sample for sample.
    @Test func resamplerGivesTheSameOutputWhateverThePieces() throws {
        let x = heartbeat(seconds: 3, rate: 44_100)
        let whole = try Resampler.resampleExtendingEdges(x, from: 44_100, to: 2_000)
        var state: UInt64 = 9
        for _ in 0..<5 {
            let stream = try EdgeExtendingResampler(count: x.count, from: 44_100, to: 2_000)
            var at = 0
            while at < x.count {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let n = min(x.count - at, 1 + Int(state >> 33) % 9_000)
                try x.withUnsafeBufferPointer { p throws(DSPError) in try stream.push(UnsafeBufferPointer(rebasing: p[at..<(at + n)])) }
                at += n
            }
            #expect(try stream.finish() == whole)
        }
        let short = try EdgeExtendingResampler(count: 10, from: 4_000, to: 2_000)
        #expect(throws: DSPError.self) { try short.finish() }
    }
}

/// Inputs kept from fuzzing (`clinic-audio-fuzz`, Fuzz/Audio/main.swift) and fresh seeded mutants:
/// each gives finite features or a typed error, never a crash or a hang.
@Suite struct FeatureFuzzTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "Fixtures/fuzz")

    func check(_ path: String, _ label: String) {
        for set in FeatureSet.all {
            do {
                let features = try set.analyze(file: path).analysis.features
                #expect(features.values.allSatisfy { $0.isFinite }, "\(label)")
            } catch is AudioError {
            } catch is DSPError {
            } catch {
                Issue.record("\(label): untyped error \(error)")
            }
        }
    }

    @Test func fuzzCorpusNeverCrashes() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".bin") }.sorted()
        #expect(files.count >= 5, "the kept corpus is in Tests/Fixtures/fuzz")
        for name in files { check(Self.corpus.appending(path: name).path, name) }
    }

    @Test func seededMutantsNeverCrash() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let good = dir.appending(path: "good.wav").path
        try AudioWriter.write(samples: heartbeat(seconds: 4, rate: 4_000).flatMap { [$0, $0] }, sampleRate: 4_000, channels: 2, format: .wav24, to: good)
        let seed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        var state: UInt64 = 2026
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % max(n, 1)
        }
        for i in 0..<120 {
            var bytes = seed
            switch i % 4 {
            case 0: for _ in 0..<(1 + next(6)) { bytes[next(64)] = UInt8(next(256)) }
            case 1: bytes = Array(bytes.prefix(next(bytes.count)))
            case 2: bytes.insert(contentsOf: (0..<(1 + next(32))).map { _ in UInt8(next(256)) }, at: next(bytes.count))
            default: for j in stride(from: 44 + next(1000), to: bytes.count, by: 97) { bytes[j] = 0xFF }
            }
            let path = dir.appending(path: "m\(i).wav").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            check(path, "mutant \(i)")
        }
    }
}

/// Every container and encoding the issue names decodes and gives features: lossless ones the
/// same features as the float original, lossy ones (Vorbis, Opus) finite features of the right length.
@Suite struct DecodingFormatsTests {
    // libsndfile format codes (sndfile.h).
    static let wav = 0x01_0000, aiff = 0x02_0000, wavex = 0x13_0000, flac = 0x17_0000, ogg = 0x20_0000
    static let u8 = 0x0005, s16 = 0x0002, s24 = 0x0003, s32 = 0x0004, float = 0x0006, double = 0x0007
    static let vorbis = 0x0060, opus = 0x0064

    @Test(arguments: [
        ("wav-pcm8", wav | u8, 4_000, true), ("wav-pcm16", wav | s16, 4_000, true), ("wav-pcm24", wav | s24, 4_000, true),
        ("wav-pcm32", wav | s32, 4_000, true), ("wav-float32", wav | float, 4_000, true), ("wav-float64", wav | double, 4_000, true),
        ("wavex-pcm16", wavex | s16, 4_000, true), ("aiff-pcm16", aiff | s16, 4_000, true), ("flac-pcm16", flac | s16, 4_000, true),
        ("ogg-vorbis", ogg | vorbis, 8_000, false), ("ogg-opus", ogg | opus, 8_000, false),
    ])
    func decodesAndGivesFeatures(_ name: String, _ format: Int, _ rate: Int, _ lossless: Bool) throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let x = heartbeat(seconds: 5, rate: rate).map { 0.8 * $0 }
        let path = dir.appending(path: name).path
        do {
            let file = try SoundFile(writingPath: path, format: Int32(format), sampleRate: rate, channels: 1)
            try file.write(x, frames: x.count)
            file.close()
        }
        let (analysis, audio) = try FeatureSet.assessV1.analyze(file: path)
        #expect(audio.sourceRate == rate && abs(audio.duration - 5) < 0.1, "\(name): \(audio.duration) s")
        #expect(analysis.features.values.allSatisfy { $0.isFinite })
        guard lossless else { return }
        // The same samples up to the format's quantisation. 8-bit steps (1/128) are coarser
        // than the quiet parts of the signal, which moves the dB features: loudness only there.
        let reference = try FeatureSet.assessV1.compute(x, sampleRate: Double(rate))
        let eightBit = format & 0xFFFF == Self.u8
        for (feature, (got, want)) in zip(reference.names, zip(analysis.features.values, reference.values))
        where feature == "rms" || feature == "peak" || (!eightBit && feature.hasPrefix("mfcc0")) {
            let rtol = eightBit ? 0.05 : 1e-3
            #expect(abs(got - want) <= rtol * abs(want) + 1e-6, "\(name) \(feature): \(got) vs \(want)")
        }
    }
}
