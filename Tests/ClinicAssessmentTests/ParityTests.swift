import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// The shipped models (Models/*.json, as built into the binary) give the probabilities that
/// Training/train_models.py's evaluator of the same files gives (itself checked against
/// scikit-learn within 1e-9), within 1e-5, on real recordings' features and with inputs missing.
@Suite struct ParityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Fixture: Decodable {
        var tolerance: Double
        var tasks: [String: Task]
        struct Task: Decodable {
            var model: String
            var version: String
            var rows: [Row]
        }
        struct Row: Decodable {
            var source: String
            var features: [String: Double?]
            var z: Double
            var p: Double
        }
    }

    @Test func shippedModelsMatchTheTrainingCode() throws {
        let data = try Data(contentsOf: Self.root.appending(path: "Tests/Fixtures/models/parity.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        #expect(fixture.tolerance == 1e-5)
        let assessor = try Assessor.shipped()
        var checked = 0, missing = 0
        for (task, model) in [("quality", assessor.quality), ("abnormal", assessor.abnormal), ("murmur", assessor.murmur)] {
            let expected = try #require(fixture.tasks[task], "no \(task) rows")
            #expect(expected.model == "Models/\(task).json" && expected.version == model.file.version, "the fixture is for another \(task) model")
            #expect(expected.rows.count >= 20)
            for row in expected.rows {
                let value = { (name: String) -> Double? in row.features[name] ?? nil }
                let z = model.margin(model.inputs(value)), p = model.probability(value)
                #expect(abs(z - row.z) <= 1e-5 * max(1, abs(row.z)), "\(task) \(row.source): z \(z) vs \(row.z)")
                #expect(abs(p - row.p) <= fixture.tolerance, "\(task) \(row.source): p \(p) vs \(row.p)")
                checked += 1
                if row.features.values.contains(where: { $0 == nil }) { missing += 1 }
            }
        }
        #expect(checked >= 60 && missing >= 6, "\(checked) rows, \(missing) with an input missing")
    }

    /// The whole path on a real recording: features from the file, then the models.
    @Test func aRealRecordingIsAssessedEndToEnd() throws {
        let assessor = try Assessor.shipped()
        let report = try assessor.assess(file: Self.root.appending(path: "Samples/physionet2016_b0001.flac").path)
        let p = try #require(report.quality.probability)
        #expect(p > 0 && p < 1 && report.reason == nil && abs(report.durationSeconds - 8) < 5)
        #expect(report.quality.acceptable == (p >= assessor.quality.file.threshold))
        #expect(report.models["quality"] == "\(assessor.quality.file.name) \(assessor.quality.file.version)")
        print("physionet2016_b0001 (acceptable, normal in PhysioNet): \(report.summary)")
    }
}
