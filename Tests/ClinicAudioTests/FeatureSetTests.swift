@testable import ClinicAudio
import Foundation
import Testing

/// The qaqc-v1 feature set gives the same values for the same heart sound recorded at
/// different sample rates.
@Suite struct FeatureSetTests {
    /// A band-limited synthetic heart sound as a function of time (seconds): S1 and S2
    /// bursts at 72 bpm, a murmur-like sum of tones (25–700 Hz), a 3 Hz baseline wander and
    /// an 850 Hz hum (both outside the 20–720 Hz band, so the SNR is finite), faded in and out.
    static func heartSound(_ t: Double, duration: Double) -> Double {
        let beat = 60.0 / 72
        var v = 0.0
        for k in -1...Int(duration / beat) + 1 {
            let s1 = t - Double(k) * beat - 0.1, s2 = s1 - 0.32
            v += 0.3 * exp(-s1 * s1 / (2 * 0.015 * 0.015))
                * (sin(2 * .pi * 50 * s1) + 0.6 * sin(2 * .pi * 90 * s1) + 0.3 * sin(2 * .pi * 150 * s1))
            v += 0.2 * exp(-s2 * s2 / (2 * 0.010 * 0.010))
                * (sin(2 * .pi * 70 * s2) + 0.5 * sin(2 * .pi * 130 * s2) + 0.3 * sin(2 * .pi * 200 * s2))
        }
        for j in 0..<40 {
            let f = 25 + Double(j) * 17.0, phase = Double((j * 7919) % 360) * .pi / 180
            v += 0.004 * sin(2 * .pi * f * t + phase)
        }
        v += 0.05 * sin(2 * .pi * 3 * t) + 0.01 * sin(2 * .pi * 850 * t)
        let fade = 0.1, edge = min(t, duration - t)
        return edge < fade ? v * (0.5 - 0.5 * cos(.pi * max(0, edge) / fade)) : v
    }

    static func recording(rate: Int, duration: Double = 10) -> [Double] {
        (0..<Int(duration * Double(rate))).map { heartSound(Double($0) / Double(rate), duration: duration) }
    }

    @Test func sameHeartSoundAtTwoFourEightAnd44kHzGivesTheSameFeatures() throws {
        let set = FeatureSet.qaqcV1
        let reference = try set.compute(Self.recording(rate: 2000), sampleRate: 2000)
        #expect(reference.names == set.featureNames && reference.featureSet == "qaqc-v1")
        for rate in [4000, 8000, 44100] {
            let got = try set.compute(Self.recording(rate: rate), sampleRate: Double(rate))
            for (i, name) in set.featureNames.enumerated() {
                let a = got.values[i], b = reference.values[i]
                let tol = FeatureSet.crossRateTolerance(name)
                let err = abs(a - b)
                print(String(format: "cross-rate %@ @%d: %@ = %.9g vs %.9g, abs err %.3g, rel err %.3g",
                             set.name, rate, name, a, b, err, b == 0 ? 0 : err / abs(b)))
                #expect(err <= tol.atol + tol.rtol * abs(b), "\(name) at \(rate) Hz: \(a) vs \(b) at 2000 Hz")
            }
        }
    }

    /// A real 2 kHz recording (Samples/), played back at 4, 8 and 44.1 kHz (libsoxr VHQ
    /// upsampling, edges extended so that no ringing is added, keeps its band intact) must
    /// give the features of the original.
    @Test(arguments: ["circor2022_13918_AV.flac", "physionet2016_b0001.flac"])
    func realRecordingUpsampledGivesTheSameFeatures(_ file: String) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "Samples/\(file)").path
        let audio = try AudioReader.read(path: path)
        let x = Mixdown.mono(audio)
        let set = FeatureSet.qaqcV1
        let reference = try set.compute(x, sampleRate: 2000)
        for rate in [4000.0, 8000, 44100] {
            let up = try Resampler.resampleExtendingEdges(x, from: 2000, to: rate, quality: .veryHigh)
            let got = try set.compute(up, sampleRate: rate)
            for (i, name) in set.featureNames.enumerated() {
                let a = got.values[i], b = reference.values[i], tol = FeatureSet.crossRateTolerance(name, bandLimited: false)
                print(String(format: "cross-rate real %@ @%.0f: %@ = %.9g vs %.9g, abs err %.3g, rel err %.3g",
                             file, rate, name, a, b, abs(a - b), b == 0 ? 0 : abs(a - b) / abs(b)))
                #expect(abs(a - b) <= tol.atol + tol.rtol * abs(b), "\(file) \(name) at \(rate) Hz: \(a) vs \(b)")
            }
        }
    }

    @Test func channelsAreMixedAndShortOrSilentInputIsRefused() throws {
        let mono = Self.recording(rate: 4000, duration: 2)
        let stereo = DecodedAudio(samples: mono.flatMap { [$0, $0] }, sampleRate: 4000, channels: 2)
        #expect(try FeatureSet.qaqcV1.compute(stereo) == FeatureSet.qaqcV1.compute(mono, sampleRate: 4000))
        #expect(throws: DSPError.self) { try FeatureSet.qaqcV1.compute([Double](repeating: 0.1, count: 1000), sampleRate: 2000) }
        #expect(throws: DSPError.self) { try FeatureSet.qaqcV1.compute([Double](repeating: 0, count: 8000), sampleRate: 4000) }
        // A constant (DC-only) recording: only rounding is left in the band.
        #expect(throws: DSPError.self) { try FeatureSet.qaqcV1.compute([Double](repeating: 0.3, count: 24000), sampleRate: 8000) }
    }
}

/// The fast sample entropy (sorted templates) counts exactly the pairs the textbook double loop counts.
@Suite struct SampleEntropyTests {
    func plain(_ v: [Double], m: Int, r: Double) -> Double {
        let n = v.count - m
        var a = 0, b = 0
        for i in 0..<(n - 1) {
            for j in (i + 1)..<n {
                guard (0..<m).allSatisfy({ abs(v[i + $0] - v[j + $0]) <= r }) else { continue }
                b += 1
                if abs(v[i + m] - v[j + m]) <= r { a += 1 }
            }
        }
        return a > 0 && b > 0 ? -log(Double(a) / Double(b)) : log(Double(n) * Double(n - 1) / 2)
    }

    @Test func matchesTheDoubleLoop() {
        var state: UInt64 = 5
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 40) / Double(1 << 24)
        }
        for (count, levels) in [(40, 0), (300, 0), (300, 7), (1_000, 0)] {
            // `levels` > 0 quantises the values, so many are exactly equal (ties in the sort).
            let v = (0..<count).map { _ in levels > 0 ? (next() * Double(levels)).rounded() : sin(next() * 6) + 0.3 * next() }
            for r in [0.0, 0.05, 0.2, 1.0] {
                #expect(Stats.sampleEntropy(v, tolerance: r) == plain(v, m: 2, r: r), "n \(count) levels \(levels) r \(r)")
            }
        }
        #expect(Stats.sampleEntropy([1, 2], tolerance: 0.1) == 0)
    }
}
