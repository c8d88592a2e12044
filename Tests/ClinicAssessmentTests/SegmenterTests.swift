import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// The heart-cycle segmenter (Models/segmentation.json) against its Python specification
/// (Training/segmentation/segment.py) on the CirCor sample recordings, step by step:
/// Tests/Fixtures/segmentation/parity.json holds every intermediate value and its tolerance.
@Suite struct SegmenterTests {
    struct Fixture: Decodable {
        var modelVersion: String
        var cases: [Case]
        enum CodingKeys: String, CodingKey { case modelVersion = "model_version", cases }
        struct Case: Decodable {
            var file: String
            var nFrames: Int
            var envRaw: [Double]
            var features: [String: [Double]]
            var logB: [[Double]]
            var autocorrelation: [Double]
            var candidates: [Candidate]
            var chosenCandidate: Int
            var states: String
            var s1OnsetsS: [Double]
            var s2OnsetsS: [Double]
            var heartRateBpm: Double
            var hrSource: String
            var hrConfidence: Double
            var systolicIntervalS: Double
            var cycleFeatures: [String: Double?]
            enum CodingKeys: String, CodingKey {
                case file, nFrames = "n_frames", envRaw = "env_raw", features, logB, autocorrelation, candidates
                case chosenCandidate = "chosen_candidate", states, s1OnsetsS = "s1_onsets_s", s2OnsetsS = "s2_onsets_s"
                case heartRateBpm = "heart_rate_bpm", hrSource = "hr_source", hrConfidence = "hr_confidence"
                case systolicIntervalS = "systolic_interval_s", cycleFeatures = "cycle_features"
            }
        }
        struct Candidate: Decodable {
            var lag: Int
            var periodS: Double
            var heartRateBpm: Double
            var hrConfidence: Double
            var sysLag: Int
            var systolicIntervalS: Double
            var sysFound: Bool
            var durationLimitsFrames: [[Int]]
            var viterbiScore: Double
            var states: String
            enum CodingKeys: String, CodingKey {
                case lag, periodS = "period_s", heartRateBpm = "heart_rate_bpm", hrConfidence = "hr_confidence", sysLag = "sys_lag"
                case systolicIntervalS = "systolic_interval_s", sysFound = "sys_found", durationLimitsFrames = "duration_limits_frames"
                case viterbiScore = "viterbi_score", states
            }
        }
    }

    static func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: ParityTests.root.appending(path: "Tests/Fixtures/segmentation/parity.json")))
    }

    static func bandPassed(_ file: String) throws -> [Double] {
        let audio = try AudioReader.readMono(path: ParityTests.root.appending(path: file).path, resampledTo: Assessor.featureSet.analysisRate)
        return try Assessor.featureSet.analyze(resampled: audio).bandPassed
    }

    static func maxGap(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test func everyStepMatchesTheSpecification() throws {
        let fixture = try Self.fixture()
        let segmenter = try Segmenter.shipped()
        #expect(fixture.modelVersion == segmenter.file.modelVersion, "the fixture is for another segmentation model")
        #expect(fixture.cases.count >= 3)
        for c in fixture.cases {
            let y = try Self.bandPassed(c.file)
            let (columns, envelope) = try segmenter.features(bandPassed: y)
            #expect(envelope.count == c.nFrames, "\(c.file)")
            let envGap = zip(envelope, c.envRaw).map { abs($0 - $1) / max(abs($1), 1e-300) }.max() ?? 0
            #expect(envGap <= 1e-6, "\(c.file): envelope rel. gap \(envGap)")
            for (name, column) in zip(segmenter.file.features, columns) {
                let expected = try #require(c.features[name])
                #expect(Self.maxGap(column, expected) <= 1e-6, "\(c.file) \(name): gap \(Self.maxGap(column, expected))")
            }
            let (logB, post) = segmenter.emissions(columns)
            let logBGap = Self.maxGap(logB, c.logB.flatMap { $0 })
            #expect(logBGap <= 1e-5, "\(c.file): logB gap \(logBGap)")
            let r = try segmenter.autocorrelation(post)
            let rGap = Self.maxGap(Array(r.prefix(c.autocorrelation.count)), c.autocorrelation)
            #expect(rGap <= 1e-6, "\(c.file): autocorrelation gap \(rGap)")
            let cands = segmenter.candidates(r)
            #expect(cands.count == c.candidates.count)
            for (got, want) in zip(cands, c.candidates) {
                #expect(got.lag == want.lag && got.systolicLag == want.sysLag && got.systolicFound == want.sysFound, "\(c.file) candidate \(want.lag)")
                #expect(abs(got.period - want.periodS) <= 1e-6 && abs(got.systolicInterval - want.systolicIntervalS) <= 1e-6)
                #expect(abs(got.heartRate - want.heartRateBpm) <= 1e-3)
                let table = segmenter.durationTable(got)
                #expect(table.limits.map { [$0.0, $0.1] } == want.durationLimitsFrames, "\(c.file) candidate \(want.lag): limits")
                // The decoder on the fixture's own scores, so the path is checked exactly whatever the features' rounding.
                let (states, score) = Segmenter.viterbi(logB: c.logB.flatMap { $0 }, frames: c.nFrames, logp: table.logp, logE: table.logE)
                #expect(states.map(String.init).joined() == want.states, "\(c.file) candidate \(want.lag): path differs")
                #expect(abs(score - want.viterbiScore) <= 1e-3, "\(c.file): score \(score) vs \(want.viterbiScore)")
            }
            // The whole segmenter from the file.
            let s = try segmenter.segment(bandPassed: y)
            #expect(s.candidateIndex == c.chosenCandidate)
            #expect(s.states.map { String($0.rawValue) }.joined() == c.states, "\(c.file): decoded path differs")
            #expect(s.s1Onsets == c.s1OnsetsS && s.s2Onsets == c.s2OnsetsS)
            #expect(abs(s.heartRate - c.heartRateBpm) <= 1e-3 && s.heartRateSource == c.hrSource)
            #expect(abs(s.heartRateConfidence - c.hrConfidence) <= 1e-6 && abs(s.systolicInterval - c.systolicIntervalS) <= 1e-6)
            #expect(Set(s.cycleFeatures.keys) == Set(c.cycleFeatures.keys))
            for (k, v) in c.cycleFeatures {
                let got = s.cycleFeatures[k] ?? nil
                #expect((got == nil) == (v == nil) && abs((got ?? 0) - (v ?? 0)) <= 1e-6, "\(c.file) \(k): \(String(describing: got)) vs \(String(describing: v))")
            }
            print("segmentation \(c.file): \(s.s1Onsets.count) S1, \(s.s2Onsets.count) S2, heart rate \(String(format: "%.1f", s.heartRate)) bpm (\(s.heartRateSource)); gaps: envelope \(envGap), logB \(logBGap), autocorrelation \(rGap)")
        }
    }

    @Test func tooShortOrFlatIsRefusedSayingWhy() throws {
        let segmenter = try Segmenter.shipped()
        let short = #expect(throws: DSPError.self) { try segmenter.segment(bandPassed: Array(repeating: 0.1, count: 2000 * 2)) }
        #expect(short?.reason == .tooShort)
        let flat = #expect(throws: DSPError.self) { try segmenter.segment(bandPassed: Array(repeating: 0, count: 2000 * 10)) }
        #expect(flat?.reason == .degenerate, "\(String(describing: flat))")
    }

    @Test func aMalformedFileIsRefusedSayingWhy() throws {
        let good = try String(contentsOf: ParityTests.root.appending(path: "Models/segmentation.json"), encoding: .utf8)
        #expect(throws: Never.self) { try Segmenter(json: Data(good.utf8)) }
        for (from, to, says) in [("\"format_version\": 1", "\"format_version\": 2", "version 1"),
                                 ("\"kind\": \"softmax_lr\"", "\"kind\": \"svm\"", "emission model"),
                                 ("\"edge\": \"survival\"", "\"edge\": \"wrap\"", "edge must be"),
                                 ("\"band_25_50\"", "\"band_50_25\"", "unknown feature")] {
            #expect(good.contains(from), "\(from)")
            let error = #expect(throws: ModelError.self) { try Segmenter(json: Data(good.replacingOccurrences(of: from, with: to).utf8)) }
            #expect(error?.description.contains(says) == true, "\(error?.description ?? "")")
        }
    }
}

/// How `clinic evaluate` scores the segmenter against CirCor-style annotations.
@Suite struct CycleAnnotationTests {
    // Two complete cycles of 0.8 s (S1 at 0.00–0.10 and 0.80–0.90, S2 at 0.30–0.40 and 1.10–1.20),
    // an unannotated stretch from 1.60 s.
    static let tsv = """
        0\t0.1\t1\n0.1\t0.3\t2\n0.3\t0.4\t3\n0.4\t0.8\t4\n0.8\t0.9\t1\n0.9\t1.1\t2\n1.1\t1.2\t3\n1.2\t1.6\t4\n1.6\t2.4\t1\n2.4\t3.0\t0\n
        """

    @Test func theAnnotationGivesCentresStretchesAndTheHeartRate() throws {
        let a = try CycleAnnotation(tsv: Self.tsv)
        #expect(a.s1.count == 3 && abs(a.s1[0] - 0.05) < 1e-12 && a.s2.count == 2)
        #expect(abs(try #require(a.heartRate) - 75) < 1e-9)   // 60 / 0.8 s
        #expect(a.annotated(1.0) && !a.annotated(2.5))
        #expect(throws: ModelError.self) { try CycleAnnotation(tsv: "0\t1\t7\n") }
        #expect(throws: ModelError.self) { try CycleAnnotation(tsv: "0\t1\n") }
    }

    @Test func hitsAreOneToOneWithinTheTolerance() {
        // 0.05 matches 0.06 (closest first); 0.10 would match 0.06 too but it is taken; 0.90 is 50 ms from 0.85.
        #expect(CycleAnnotation.hits([0.05, 0.10, 0.90], [0.06, 0.85], tolerance: 0.06) == 2)
        #expect(CycleAnnotation.hits([0.20], [0.06], tolerance: 0.06) == 0)
        #expect(CycleAnnotation.hits([], [0.06], tolerance: 0.06) == 0)
    }

    /// `sys_dia_p25_*` is numpy's default percentile of the per-cycle contrasts: the same
    /// numbers, bit for bit, on both sides of its interpolation switch at t = 0.5 (expected
    /// values from numpy 2.4.6, `np.percentile(v, 25)` and `np.percentile(v, 75)`).
    @Test func percentileIsNumpys() {
        let cases: [([Double], Double, Double)] = [
            ([0.3, -1.7, 2.9], -0.7, 1.5999999999999999),                         // t = 0.5
            ([0.1, 5.5, -2.25, 1.0 / 3], -0.48750000000000004, 1.625),            // t = 0.75, 0.25
            ([4.0, -0.5, 0.7, 2.2, -3.1], -0.5, 2.2),                              // on a rank
            ([1.25, -0.75], -0.25, 0.75),
            ([7.0], 7.0, 7.0),
        ]
        for (v, p25, p75) in cases {
            #expect(Segmenter.percentile(v, 0.25) == p25, "\(v)")
            #expect(Segmenter.percentile(v, 0.75) == p75, "\(v)")
        }
    }
}
