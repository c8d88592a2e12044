import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// The model-file loader and evaluator, and the rules that turn probabilities into calls, on
/// small hand-made models (the shipped ones are checked against Python in `ParityTests`).
@Suite struct ModelTests {
    static func file(task: String, kind: String = "logistic", features: [String] = ["rms", "snr_db"], extra: String = "") -> String {
        let n = features.count
        let body = kind == "logistic"
            ? #""logistic": {"coef": [\#(Array(repeating: "1.0", count: n).joined(separator: ", "))], "intercept": -1.0}"#
            : #""gbdt": {"base_score": 0.5, "trees": [{"nodes": [{"f": 0, "t": 2.0, "l": 1, "r": 2, "m": "l"}, {"v": -1.0}, {"v": 1.5}]}]}"#
        return """
            {"format": "clinic-model", "format_version": 1, "task": "\(task)", "name": "\(task)-test", "version": "t1",
             "feature_set": "assess-v1", "features": [\(features.map { "\"\($0)\"" }.joined(separator: ", "))],
             "impute": [\(Array(repeating: "0.5", count: n).joined(separator: ", "))],
             "mean": [\(Array(repeating: "1.0", count: n).joined(separator: ", "))],
             "scale": [\(Array(repeating: "2.0", count: n).joined(separator: ", "))],
             "kind": "\(kind)", \(body), "platt": {"a": 1.0, "b": 0.0}, "threshold": 0.5,
             "positive": "p", "negative": "n"\(extra)}
            """
    }

    static func model(_ json: String) throws -> Model { try Model(json: Data(json.utf8)) }

    @Test func logisticIsImputedStandardisedAndCalibrated() throws {
        let m = try Self.model(Self.file(task: "abnormal"))
        // x' = ((3 - 1) / 2, (0.5 imputed - 1) / 2) = (1, -0.25); z = -1 + 1 - 0.25.
        let p = m.probability { $0 == "rms" ? 3 : nil }
        #expect(abs(p - 1 / (1 + exp(0.25))) < 1e-12)
        // A non-finite input is imputed too.
        #expect(m.probability { $0 == "rms" ? 3 : .nan } == p)
    }

    @Test func treesGoLeftBelowTheThreshold() throws {
        let m = try Self.model(Self.file(task: "abnormal", kind: "gbdt"))
        // x'[0] = (rms - 1) / 2: rms 4 gives 1.5 < 2 (left, -1); rms 6 gives 2.5 (right, 1.5); rms 5 is 2, not < 2.
        #expect(m.margin(m.inputs { $0 == "rms" ? 4 : 0 }) == -0.5)
        #expect(m.margin(m.inputs { $0 == "rms" ? 6 : 0 }) == 2.0)
        #expect(m.margin(m.inputs { $0 == "rms" ? 5 : 0 }) == 2.0)
    }

    /// A packed tree (format version 3) is the same tree: the base64 below is what
    /// Training/train_models.py's pack_tree writes for ModelTests.file's gbdt nodes.
    @Test func aPackedTreeIsTheSameTree() throws {
        let nodes = #"{"nodes": [{"f": 0, "t": 2.0, "l": 1, "r": 2, "m": "l"}, {"v": -1.0}, {"v": 1.5}]}"#
        let packed = #"{"packed": "AAAAAAAAAAAAAABAAQAAAAIAAAAB/////wAAAAAAAPC///////////8A/////wAAAAAAAPg///////////8A"}"#
        let v1 = Self.file(task: "quality", kind: "gbdt")
        #expect(v1.contains(nodes))
        let v3 = try Self.model(v1.replacingOccurrences(of: nodes, with: packed).replacingOccurrences(of: #""format_version": 1"#, with: #""format_version": 3"#))
        let m = try Self.model(v1)
        #expect(v3.file.gbdt == m.file.gbdt)
        for rms in [0.0, 4.9, 5.0, 5.1, 9.0] {
            #expect(v3.margin(v3.inputs { $0 == "rms" ? rms : 0 }) == m.margin(m.inputs { $0 == "rms" ? rms : 0 }))
        }
        for bad in ["AAAA", "not base64!", "AAAAAAAAAAAAAABAAQAAAAIAAAAB/////wAAAAAAAPC///////////8A/////wAAAAAAAPg///////////8AAAAA"] {
            let text = v1.replacingOccurrences(of: nodes, with: #"{"packed": "\#(bad)"}"#)
            let error = #expect(throws: ModelError.self) { try Self.model(text) }
            #expect(error?.description.contains("packed tree") == true, "\(error?.description ?? "")")
        }
        // A split whose missing-value side is neither left nor right is refused like any malformed split.
        let noSide = "AAAAAAAAAAAAAABAAQAAAAIAAAAA/////wAAAAAAAPC///////////8A/////wAAAAAAAPg///////////8A"
        let error = #expect(throws: ModelError.self) { try Self.model(v1.replacingOccurrences(of: nodes, with: #"{"packed": "\#(noSide)"}"#)) }
        #expect(error?.description.contains("malformed split") == true)
    }

    @Test(arguments: [
        (#""scale": [2.0, 2.0]"#, #""scale": [2.0, 0.0]"#, "scale is zero"),
        (#""coef": [1.0, 1.0]"#, #""coef": [1.0]"#, "do not match"),
        (#""format_version": 1"#, #""format_version": 4"#, "version 1, 2 or 3"),
        (#""l": 1, "r": 2"#, #""l": 0, "r": 2"#, "malformed split"),
        (#""f": 0, "t""#, #""f": 9, "t""#, "malformed split"),
        (#""kind": "logistic""#, #""kind": "forest""#, "not a clinic-model"),
    ] as [(String, String, String)])
    func aMalformedFileIsRefusedSayingWhy(from: String, to: String, says: String) throws {
        let kind = from.contains("\"l\"") || from.contains("\"f\"") ? "gbdt" : "logistic"
        let good = Self.file(task: "quality", kind: kind)
        #expect(good.contains(from))
        #expect(throws: Never.self) { try Self.model(good) }
        let error = #expect(throws: ModelError.self) { try Self.model(good.replacingOccurrences(of: from, with: to)) }
        #expect(error?.description.contains(says) == true, "\(error?.description ?? "")")
    }

    func assessor(threshold: Double = 0.5) throws -> Assessor {
        let grades = #", "grades": [0.2, 0.4, 0.6, 0.8]"#
        return try Assessor(quality: Self.model(Self.file(task: "quality", extra: grades)),
                            abnormal: Self.model(Self.file(task: "abnormal")),
                            murmur: Self.model(Self.file(task: "murmur", extra: #", "uncertain": [0.4, 0.6]"#)))
    }

    func features(rms: Double, snr: Double) -> Features {
        let names = FeatureSet.assessV1.featureNames
        return Features(featureSet: "assess-v1", analysisRate: 2000, names: names,
                        values: names.map { $0 == "rms" ? rms : $0 == "snr_db" ? snr : 0 })
    }

    @Test func anUnacceptableRecordingIsUnsureAndGetsAdvice() throws {
        let a = try assessor()
        // z = -1 + (rms - 1) / 2 + (snr - 1) / 2.
        let poor = a.assess(features(rms: 1, snr: 1), duration: 20)
        #expect(poor.quality.grade == .bad && !poor.quality.acceptable && abs(poor.quality.confidence - (1 - 1 / (1 + exp(1)))) < 1e-12)
        #expect(poor.abnormal.call == "unsure" && poor.murmur.call == "unknown" && poor.advice != nil)
        let good = a.assess(features(rms: 5, snr: 5), duration: 20)
        #expect(good.quality.grade == .veryGood && good.quality.acceptable && good.advice == nil)
        #expect(good.abnormal.call == "abnormal" && good.murmur.call == "present")
        // Murmur p = 0.5 exactly lies in [0.4, 0.6): unknown, though the recording is fine.
        let close = a.assess(features(rms: 3, snr: 1), duration: 20)
        #expect(close.quality.acceptable && close.murmur.call == "unknown" && close.murmur.confidence == nil)
        #expect(good.summary.hasPrefix("quality very good (acceptable, "))
    }

    @Test func aRecordingTooShortForTheFeaturesIsVeryBadAndSaysWhy() throws {
        let a = try assessor()
        let short = a.unassessable(duration: 1.23, DSPError(.tooShort, "too short"))
        #expect(short.quality.grade == .veryBad && !short.quality.acceptable && short.quality.probability == nil)
        #expect(short.reason?.hasPrefix("1.2 s, too short to assess") == true && short.advice?.contains("at least 10 s") == true)
        #expect(short.abnormal.call == "unsure" && short.murmur.call == "unknown")
    }

    /// With the murmur model's quality gate off (as training may choose), a poor recording still
    /// gets a murmur call and counts for the patient; with it on, it is unknown and left out.
    @Test func theQualityGateDecidesWhetherAPoorRecordingGetsAMurmurCall() throws {
        let grades = #", "grades": [0.2, 0.4, 0.6, 0.8]"#
        let open = try Assessor(quality: Self.model(Self.file(task: "quality", extra: grades)), abnormal: Self.model(Self.file(task: "abnormal")),
                                murmur: Self.model(Self.file(task: "murmur", extra: #", "quality_gate": false"#)))
        let gated = try assessor()
        #expect(!open.murmurGate && gated.murmurGate)
        // z = -1 + (0 - 1) / 2 + (3 - 1) / 2 = -0.5 for every model: p 0.38, unacceptable, murmur absent (no band).
        let poor = features(rms: 0, snr: 3)
        let a = open.assess(poor, duration: 20), b = gated.assess(poor, duration: 20)
        #expect(!a.quality.acceptable && a.abnormal.call == "unsure" && a.murmur.call == "absent" && b.murmur.call == "unknown")
        let recordings: [(call: String, acceptable: Bool, grade: QualityGrade)] = [("present", false, .bad), ("absent", true, .good)]
        #expect(open.patientMurmur(recordings) == "present" && gated.patientMurmur(recordings) == "absent")
        #expect(gated.patientMurmur([("present", false, .bad)]) == "unknown", "no recording left")
        // Very bad never counts, gate or not, and gets no murmur call of its own.
        #expect(open.patientMurmur([("present", false, .veryBad), ("absent", true, .ok)]) == "absent")
        let veryPoor = open.assess(features(rms: -3, snr: -3), duration: 20)
        #expect(veryPoor.quality.grade == .veryBad && veryPoor.murmur.call == "unknown" && veryPoor.murmur.confidence == nil)
    }

    @Test func thePatientsMurmurCallCombinesTheLocations() {
        #expect(Assessor.patientMurmur(["absent", "present", "unknown"]) == "present")
        #expect(Assessor.patientMurmur(["absent", "absent"]) == "absent")
        #expect(Assessor.patientMurmur(["absent", "unknown"]) == "unknown")
        #expect(Assessor.patientMurmur([]) == "unknown")
    }

    @Test func aModelForAnotherTaskOrFeatureSetIsRefused() throws {
        let grades = #", "grades": [0.2, 0.4, 0.6, 0.8]"#
        #expect(throws: ModelError.self) {
            try Assessor(quality: Self.model(Self.file(task: "abnormal", extra: grades)), abnormal: Self.model(Self.file(task: "abnormal")),
                         murmur: Self.model(Self.file(task: "murmur")))
        }
        #expect(throws: ModelError.self) {
            try Assessor(quality: Self.model(Self.file(task: "quality", features: ["made_up"], extra: grades)),
                         abnormal: Self.model(Self.file(task: "abnormal")), murmur: Self.model(Self.file(task: "murmur")))
        }
    }
}

/// The figures `clinic evaluate` prints, on hand-made cases with known answers.
@Suite struct EvaluationTests {
    @Test func aucCountsTiesAsHalfAndNeedsBothClasses() {
        #expect(EvaluationReport.auc([(0.9, true), (0.1, false)]) == 1)
        #expect(EvaluationReport.auc([(0.1, true), (0.9, false)]) == 0)
        #expect(EvaluationReport.auc([(0.5, true), (0.5, false)]) == 0.5)
        // Positives 0.8, 0.4; negatives 0.4, 0.2: pairs (0.8>0.4) (0.8>0.2) (0.4=0.4: 1/2) (0.4>0.2) = 3.5 / 4.
        #expect(EvaluationReport.auc([(0.8, true), (0.4, true), (0.4, false), (0.2, false)]) == 0.875)
        #expect(EvaluationReport.auc([(0.8, true)]) == nil)
    }

    @Test func weightedAccuracyWeighsPresentFiveUnknownThreeAbsentOne() {
        // Labels: 1 present (right), 1 unknown (wrong), 2 absent (1 right): (5 + 0 + 1) / (5 + 3 + 2).
        let pairs = [("present", "present"), ("unknown", "absent"), ("absent", "absent"), ("absent", "present")]
        #expect(abs(EvaluationReport.weightedAccuracy(pairs) - 0.6) < 1e-12)
    }

    @Test func unsureRecordingsAreCountedNotScoredAndPatientsCombineTheirRecordings() throws {
        let a = try ModelTests().assessor()
        func row(_ patient: String, quality: String? = nil, abnormal: Int? = nil, murmur: String? = nil, at: String? = nil, rms: Double) -> EvaluatedRecording {
            EvaluatedRecording(dataset: "circor2022", patient: patient, quality: quality, abnormal: abnormal, murmur: murmur, murmurAtLocation: at,
                               report: a.assess(ModelTests().features(rms: rms, snr: 5), duration: 20))
        }
        // rms 5: p 0.95 (acceptable, abnormal, murmur present); rms -3: z = -1 - 2 + 2 = -1, p 0.27 (unacceptable: unsure, unknown).
        let rows = [row("p1", quality: "acceptable", abnormal: 1, murmur: "present", at: "present", rms: 5),
                    row("p1", quality: "unacceptable", abnormal: 0, murmur: "present", at: "absent", rms: -3),
                    row("p2", quality: "acceptable", abnormal: 0, murmur: "absent", at: "absent", rms: 5)]
        let r = EvaluationReport(rows, assessor: a)
        #expect(r.quality?.n == 3 && r.quality?.accuracy == 1 && r.quality?.balancedAccuracy == 1 && r.quality?.auc == 1)
        #expect(r.abnormal?.unsure == 1 && r.abnormal?.sensitivity == 1 && r.abnormal?.specificity == 0 && r.abnormal?.macc == 0.5)
        // p1: present + unknown → present (right); p2: present (wrong, label absent): (5) / (5 + 1).
        #expect(r.murmur?.n == 2 && abs((r.murmur?.weightedAccuracy ?? 0) - 5.0 / 6.0) < 1e-12)
        #expect(r.murmur?.recordings == 3 && abs((r.murmur?.recordingAccuracy ?? 0) - 1.0 / 3.0) < 1e-12)
        #expect(EvaluationReport([], assessor: a) == EvaluationReport(rows.map { var x = $0; x.quality = nil; x.abnormal = nil; x.murmur = nil; x.murmurAtLocation = nil; return x }, assessor: a))
    }
}
