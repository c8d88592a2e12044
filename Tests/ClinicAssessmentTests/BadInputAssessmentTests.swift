import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// Sounds that are not heart sounds, and recordings too damaged to read: graded very bad or
/// unacceptable, with "unsure" for normal/abnormal: never a confident finding.
@Suite struct BadInputAssessmentTests {
    static let sample = ParityTests.root.appending(path: "Samples/circor2022_13918_AV.flac").path

    static func write(_ name: String, _ samples: [Double], rate: Double = 4_000) throws -> String {
        let url = FileManager.default.temporaryDirectory.appending(path: "bad-\(UUID().uuidString)-\(name).wav")
        try AudioWriter.write(samples: samples, sampleRate: Int(rate), format: .wav16, to: url.path)
        return url.path
    }

    /// Seeded noise, tones and pulses, 10 s at 4 kHz.
    static func signal(_ kind: String) throws -> [Double] {
        let rate = 4_000.0, n = 40_000
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double { x = x &* 6364136223846793005 &+ 1442695040888963407; return Double(x >> 11) / Double(1 << 53) }
        switch kind {
        case "noise":
            return (0..<n).map { _ in 0.5 * (uniform() * 2 - 1) }
        case "music":  // triads changing every half second
            let notes = [261.6, 329.6, 392.0, 440.0, 349.2, 293.7]
            return (0..<n).map { i in
                let t = Double(i) / rate, f = notes[(i / 2_000) % notes.count]
                return 0.25 * (sin(2 * .pi * f * t) + sin(2 * .pi * f * 1.25 * t) + sin(2 * .pi * f * 1.5 * t))
            }
        case "speech":  // a 120 Hz voice through two formants, four syllables a second
            var y = [Double](repeating: 0, count: n)
            for i in stride(from: 0, to: n, by: Int(rate / 120)) where sin(2 * .pi * 4 * Double(i) / rate) > 0 { y[i] = 1 }
            for (fc, bw) in [(700.0, 130.0), (1_200.0, 70.0)] {
                let r = exp(-.pi * bw / rate), a1 = -2 * r * cos(2 * .pi * fc / rate), a2 = r * r
                var z1 = 0.0, z2 = 0.0
                for i in 0..<n { let v = y[i] - a1 * z1 - a2 * z2; z2 = z1; z1 = v; y[i] = v }
            }
            let peak = y.map(abs).max()!
            return y.map { 0.8 * $0 / peak }
        case "clipped":  // a real heart sound forty times too loud
            let audio = try AudioReader.readMono(path: sample, resampledTo: 4_000)
            return audio.samples.map { max(-1, min(1, $0 * 40)) }
        default:
            return [Double](repeating: 0, count: n)
        }
    }

    @Test(arguments: ["silence", "noise", "music", "speech", "clipped"])
    func aSoundThatIsNotAUsableHeartSoundIsUnacceptableAndUnsure(_ kind: String) throws {
        let path = try Self.write(kind, try Self.signal(kind))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let report = try Assessor.shipped().assess(file: path)
        print("\(kind): \(report.summary)")
        #expect(!report.quality.acceptable && report.quality.grade <= .bad, "\(kind): \(report.summary)")
        #expect(report.abnormal.call == "unsure" && report.murmur.call == "unknown" && report.advice != nil, "\(kind): \(report.summary)")
    }

    @Test func aOneSecondRecordingIsVeryBadAndSaysItIsTooShort() throws {
        let audio = try AudioReader.readMono(path: Self.sample, resampledTo: 4_000)
        let path = try Self.write("short", Array(audio.samples.prefix(4_000)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let report = try Assessor.shipped().assess(file: path)
        #expect(report.quality.grade == .veryBad && report.reason?.contains("too short") == true && report.murmur.call == "unknown")
    }

    @Test func aFileThatIsNotAudioIsAnErrorNotAnAssessment() throws {
        let url = FileManager.default.temporaryDirectory.appending(path: "bad-\(UUID().uuidString).wav")
        try Data("RIFF....WAVEfmt garbage".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: AudioError.self) { try Assessor.shipped().assess(file: url.path) }
    }
}
