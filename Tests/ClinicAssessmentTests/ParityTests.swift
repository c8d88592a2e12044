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
            if model.readsPatches {  // a cnn: theMurmurNetworkMatchesPyTorch
                #expect(fixture.tasks[task] == nil, "parity.json has feature rows for the \(task) cnn")
                continue
            }
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
        #expect(checked >= 40 && missing >= 4, "\(checked) rows, \(missing) with an input missing")
    }

    struct NetworkFixture: Decodable {
        var model: String
        var version: String
        var tolerance: Double
        var sampleTolerance: Double
        var rows: [Row]
        var samples: [Sample]
        struct Row: Decodable {
            var source: String
            /// [patch][band][frame]
            var patches: [[[Double]]]
            var patchP: [Double]
            var z: Double
            var p: Double
            enum CodingKeys: String, CodingKey { case source, patches, patchP = "patch_p", z, p }
        }
        struct Sample: Decodable {
            var file: String
            var patches: Int
            var z: Double
            var p: Double
        }
        enum CodingKeys: String, CodingKey { case model, version, tolerance, sampleTolerance = "sample_tolerance", rows, samples }
    }

    /// The murmur network that shipped until the cycle features beat it (clinic-model format 2,
    /// kind cnn; kept as Tests/Fixtures/models/murmur-cnn.json, as Training/cnn/ship_murmur.py
    /// wrote it) gives the trained PyTorch network's outputs within 1e-5 on real patches, and on
    /// the sample recordings (Swift's own patches against the Python twin's: the DSP in the loop)
    /// within the same tolerance. clinic runs such a file wherever a model is read.
    @Test func theMurmurNetworkMatchesPyTorch() throws {
        let data = try Data(contentsOf: Self.root.appending(path: "Tests/Fixtures/models/murmur-cnn-parity.json"))
        let fixture = try JSONDecoder().decode(NetworkFixture.self, from: data)
        let model = try Model(json: Data(contentsOf: Self.root.appending(path: fixture.model)))
        #expect(model.readsPatches && fixture.version == model.file.version, "the fixture is for another murmur model")
        #expect(fixture.tolerance == 1e-5 && fixture.rows.count >= 3 && fixture.samples.count >= 4)
        var patchGap = 0.0, sampleGap = 0.0
        for row in fixture.rows {
            let patches = row.patches.map { bands in
                FrameMatrix(rows: bands.count, frames: bands[0].count,
                            values: (0..<bands[0].count).flatMap { f in bands.map { $0[f] } })
            }
            let got = try #require(model.patchProbabilities(patches))
            #expect(got.count == row.patchP.count)
            for (a, b) in zip(got, row.patchP) {
                #expect(abs(a - b) <= fixture.tolerance, "\(row.source): patch p \(a) vs \(b)")
                patchGap = max(patchGap, abs(a - b))
            }
            let z = try #require(model.margin(patches: patches))
            #expect(abs(z - row.z) <= 1e-4 * max(1, abs(row.z)), "\(row.source): z \(z) vs \(row.z)")
            #expect(abs(model.calibrated(z) - row.p) <= fixture.tolerance, "\(row.source): p \(model.calibrated(z)) vs \(row.p)")
        }
        for sample in fixture.samples {
            let audio = try AudioReader.readMono(path: Self.root.appending(path: sample.file).path, resampledTo: Assessor.featureSet.analysisRate)
            let patches = try Assessor.featureSet.analyze(resampled: audio).logMelPatches
            #expect(patches.count == sample.patches, "\(sample.file)")
            let p = try #require(model.margin(patches: patches).map(model.calibrated))
            #expect(abs(p - sample.p) <= fixture.sampleTolerance, "\(sample.file): p \(p) (Swift patches) vs \(sample.p) (Python twin's)")
            sampleGap = max(sampleGap, abs(p - sample.p))
        }
        print("murmur cnn parity: largest patch p difference \(patchGap), sample recording p difference \(sampleGap)")
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
