@testable import ClinicAudio
import Foundation
import Testing

/// qaqc-v1 in Swift against its Python twin (Training/qaqc_v1.py, which uses scipy,
/// librosa and python-soxr), so models trained in Python see the laptop's numbers.
@Suite struct FeatureSetParityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Fixture: Decodable {
        struct Case: Decodable {
            var file: String
            var sample_rate: Int
            var features: [String: Double]
        }
        var feature_set: String
        var feature_names: [String]
        var cases: [Case]
    }

    /// Agreement stated for the feature set: rtol 1e-7, atol 1e-9 (1e-6 for dB features).
    static func tolerance(_ name: String) -> Tolerance {
        Tolerance(rtol: 1e-7, atol: name == "snr_db" || name.hasPrefix("mfcc") ? 1e-6 : 1e-9)
    }

    @Test func featuresMatchThePythonTwin() throws {
        let data = try Data(contentsOf: Self.root.appending(path: "Tests/Fixtures/features/qaqc_v1.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        let set = FeatureSet.qaqcV1
        #expect(fixture.feature_set == set.name && fixture.feature_names == set.featureNames)
        var worst: [String: (abs: Double, rel: Double)] = [:]
        for c in fixture.cases {
            let audio = try AudioReader.read(path: Self.root.appending(path: c.file).path)
            #expect(audio.sampleRate == c.sample_rate)
            let got = try set.compute(audio)
            for (name, value) in zip(got.names, got.values) {
                let want = try #require(c.features[name])
                let err = abs(value - want), tol = Self.tolerance(name)
                let w = worst[name] ?? (0, 0)
                worst[name] = (max(w.abs, err), max(w.rel, want == 0 ? 0 : err / abs(want)))
                #expect(err <= tol.atol + tol.rtol * abs(want), "\(c.file) \(name): \(value) vs \(want)")
            }
        }
        for name in set.featureNames {
            print("parity qaqc-v1 \(name): max abs err \(worst[name]!.abs), max rel err \(worst[name]!.rel)")
        }
    }
}
