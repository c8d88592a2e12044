import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// The class models (valve, heart_sound; format clinic-classes): loader, evaluator, the calls,
/// the report, the evaluate figures, and parity of the shipped files with Training/classes.
@Suite struct ClassModelTests {
    static func file(task: String = "valve", output: String = "sigmoid", inputs: [String] = ["rms", "p_murmur", "cycle.systolic_fraction"],
                     classes: [String] = ["AR", "AS"], extra: String? = nil) -> String {
        let n = inputs.count, k = classes.count
        let row = (0..<n).map { $0 == 0 ? "1.0" : "0.5" }.joined(separator: ", ")
        let tail = extra ?? (output == "sigmoid" ? #", "thresholds": [\#(Array(repeating: "0.5", count: k).joined(separator: ", "))], "none": "N""# : "")
        return """
            {"format": "clinic-classes", "format_version": 1, "task": "\(task)", "name": "\(task)-test", "version": "t1",
             "feature_set": "assess-v1", "inputs": [\(inputs.map { "\"\($0)\"" }.joined(separator: ", "))],
             "impute": [\(Array(repeating: "0.5", count: n).joined(separator: ", "))],
             "mean": [\(Array(repeating: "1.0", count: n).joined(separator: ", "))],
             "scale": [\(Array(repeating: "2.0", count: n).joined(separator: ", "))], "clip": 5.0,
             "output": "\(output)", "classes": [\(classes.map { "\"\($0)\"" }.joined(separator: ", "))],
             "coef": [\(classes.indices.map { c in "[" + (c == 0 ? row : row.replacingOccurrences(of: "1.0", with: "-1.0")) + "]" }.joined(separator: ", "))],
             "intercept": [\(classes.indices.map { "\(Double($0) * 0.25)" }.joined(separator: ", "))]\(tail)}
            """
    }

    static func model(_ json: String) throws -> ClassModel { try ClassModel(json: Data(json.utf8)) }

    @Test func inputsAreImputedStandardisedAndClipped() throws {
        let m = try Self.model(Self.file())
        // rms 3 → (3 - 1) / 2 = 1; p_murmur, cycle missing → (0.5 - 1) / 2 = -0.25 each.
        // AR: 0 + 1 - 0.125 - 0.125 = 0.75; AS: 0.25 - 1 - 0.25 = -1.
        let p = m.probabilities { $0 == "rms" ? 3 : nil }
        #expect(abs(p[0] - 1 / (1 + exp(-0.75))) < 1e-12 && abs(p[1] - 1 / (1 + exp(1.0))) < 1e-12)
        #expect(m.called(p) == ["AR"])
        // A huge input is clipped at 5 standard deviations: rms 1e9 gives what rms 11 gives.
        #expect(m.probabilities { $0 == "rms" ? 1e9 : nil } == m.probabilities { $0 == "rms" ? 11 : nil })
        // Non-finite is missing.
        #expect(m.probabilities { $0 == "rms" ? .nan : nil } == m.probabilities { _ in nil })
    }

    @Test func softmaxSumsToOneAndCallsTheMostProbable() throws {
        let m = try Self.model(Self.file(task: "heart_sound", output: "softmax", classes: ["artifact", "murmur", "normal"]))
        for rms in [-30.0, 0, 3, 40] {
            let p = m.probabilities { $0 == "rms" ? rms : nil }
            #expect(abs(p.reduce(0, +) - 1) < 1e-12)
            #expect(m.called(p) == [m.file.classes[p.indices.max { p[$0] < p[$1] }!]])
        }
        // rms large: class 0 (coef +1) wins; very negative: classes 1 and 2 tie on the rms term, the intercept decides (2).
        #expect(m.called(m.probabilities { $0 == "rms" ? 40 : nil }) == ["artifact"])
        #expect(m.called(m.probabilities { $0 == "rms" ? -40 : nil }) == ["normal"])
    }

    @Test(arguments: [
        (#""clip": 5.0"#, #""clip": 0"#, "clip is not positive"),
        (#""scale": [2.0, 2.0, 2.0]"#, #""scale": [2.0, 0.0, 2.0]"#, "scale is zero"),
        (#""impute": [0.5, 0.5, 0.5]"#, #""impute": [0.5, 0.5]"#, "differ in length"),
        (#""intercept": [0.0, 0.25]"#, #""intercept": [0.0]"#, "do not match"),
        (#""format_version": 1"#, #""format_version": 2"#, "clinic-classes version 1"),
        (#""thresholds": [0.5, 0.5]"#, #""thresholds": [0.5, 1.0]"#, "threshold in (0, 1)"),
        (#""output": "sigmoid""#, #""output": "tanh""#, "not a clinic-classes"),
    ] as [(String, String, String)])
    func aMalformedFileIsRefusedSayingWhy(from: String, to: String, says: String) throws {
        let good = Self.file()
        #expect(good.contains(from))
        #expect(throws: Never.self) { try Self.model(good) }
        let error = #expect(throws: ModelError.self) { try Self.model(good.replacingOccurrences(of: from, with: to)) }
        #expect(error?.description.contains(says) == true, "\(error?.description ?? "")")
    }

    func assessor(valve: String = file(), heartSound: String? = nil) throws -> Assessor {
        let base = try ModelTests().assessor()
        return try Assessor(quality: base.quality, abnormal: base.abnormal, murmur: base.murmur,
                            valve: Self.model(valve), heartSound: heartSound.map(Self.model))
    }

    @Test func theAssessorRefusesAClassModelForAnotherTaskOrReadingWhatItCannotCompute() throws {
        #expect(throws: Never.self) { try assessor() }
        let wrongTask = #expect(throws: ModelError.self) { try assessor(valve: Self.file(task: "heart_sound")) }
        #expect(wrongTask?.description.contains("for task heart_sound") == true)
        let unknown = #expect(throws: ModelError.self) { try assessor(valve: Self.file(inputs: ["rms", "cycle.qt_interval"])) }
        #expect(unknown?.description.contains("cycle.qt_interval") == true)
    }

    @Test func theValveAnswerReadsTheMurmurProbabilityAndIsUnsureOnAPoorRecording() throws {
        // A valve model on p_murmur alone: AR = sigmoid((p - 1) / 2 * 1), AS = sigmoid(0.25 - (p - 1) / 2).
        let a = try assessor(valve: Self.file(inputs: ["p_murmur"]),
                             heartSound: Self.file(task: "heart_sound", output: "softmax", classes: ["artifact", "murmur", "normal"]))
        let good = a.assess(ModelTests().features(rms: 5, snr: 5), duration: 20)
        let pm = try #require(good.murmur.probability)
        let v = try #require(good.valve)
        #expect(abs(v.probabilities["AR"]! - 1 / (1 + exp(-(pm - 1) / 2))) < 1e-12)
        #expect(abs(v.probabilities["AS"]! - 1 / (1 + exp(-(0.25 - (pm - 1) / 2)))) < 1e-12)
        // p_murmur < 1: AR < 0.5 and AS > 0.5 → AS.
        #expect(v.call == "AS" && good.summary.contains("valve disease AS suspected"))
        #expect(good.heartSound != nil && good.summary.contains("sounds \(good.heartSound!.call)"))
        // The two murmur models disagreeing is said, not left as a contradiction.
        var mixed = good
        mixed.heartSound!.call = "murmur"
        mixed.murmur.call = "absent"
        #expect(mixed.summary.contains("murmur absent") && mixed.summary.contains("sounds murmur (the murmur model disagrees)"), "\(mixed.summary)")
        mixed.murmur.call = "present"
        #expect(mixed.summary.contains("sounds murmur") && !mixed.summary.contains("disagrees"), "\(mixed.summary)")
        mixed.heartSound!.call = "normal"
        #expect(mixed.summary.contains("sounds normal (the murmur model disagrees)"), "\(mixed.summary)")
        let poor = a.assess(ModelTests().features(rms: -3, snr: 5), duration: 20)
        #expect(!poor.quality.acceptable && poor.valve?.call == "unsure" && !poor.summary.contains("valve"))
        // Not assessable: no answer at all.
        let short = a.unassessable(duration: 1, DSPError(.tooShort, "short"))
        #expect(short.valve == nil && short.heartSound == nil)
        // The JSON names them.
        let json = String(decoding: try JSONEncoder().encode(good), as: UTF8.self)
        #expect(json.contains("\"valve\"") && json.contains("\"heart_sound\"") && a.models["valve"] == "valve-test t1")
    }

    /// A valve disease is named only with a murmur heard: an acceptable recording whose murmur
    /// is absent reads "no valve disease found" though the valve model's AS output is above 0.5.
    @Test func aValveDiseaseIsNamedOnlyWithAMurmurPresent() throws {
        let base = try ModelTests().assessor()
        // murmur on snr_db alone: z = -1 + (snr - 1) / 2; quality on rms and snr as in ModelTests.
        let a = try Assessor(quality: base.quality, abnormal: base.abnormal,
                             murmur: ModelTests.model(ModelTests.file(task: "murmur", features: ["snr_db"])),
                             valve: Self.model(Self.file(inputs: ["p_murmur"])))
        let quiet = a.assess(ModelTests().features(rms: 9, snr: 1), duration: 20)  // quality p 0.95, murmur p 0.27
        let v = try #require(quiet.valve)
        #expect(quiet.quality.acceptable && quiet.murmur.call == "absent" && v.probabilities["AS"]! > 0.5)
        #expect(v.call == "N" && quiet.summary.contains("no valve disease found") && !quiet.summary.contains("suspected"))
        let heard = a.assess(ModelTests().features(rms: 5, snr: 5), duration: 20)  // murmur p 0.73
        #expect(heard.murmur.call == "present" && heard.valve?.call == "AS")
    }

    @Test func valveFiguresArePerPatientMeansAndPascalFiguresPerRecording() throws {
        let a = try assessor(heartSound: Self.file(task: "heart_sound", output: "softmax", classes: ["artifact", "murmur", "normal"]))
        let base = a.assess(ModelTests().features(rms: 5, snr: 5), duration: 20)
        func row(_ dataset: String, _ patient: String, _ diagnosis: String, valve: [Double]? = nil, sound: String? = nil,
                 murmur: String = "present") -> EvaluatedRecording {
            var r = base
            r.murmur.call = murmur
            r.valve = valve.map { .init(probabilities: ["AR": $0[0], "AS": $0[1]], call: "") }
            r.heartSound = sound.map { .init(probabilities: [:], call: $0) }
            return EvaluatedRecording(dataset: dataset, patient: patient, quality: nil, abnormal: nil, murmur: nil, murmurAtLocation: nil,
                                      diagnosis: diagnosis, report: r)
        }
        let rows = [
            // p1 AS+AR: means AR 0.55, AS 0.6 → both called: exact.
            row("bmd-hs", "p1", "MD:AS+AR", valve: [0.9, 0.8]), row("bmd-hs", "p1", "MD:AS+AR", valve: [0.2, 0.4]),
            // p2 N: AR 0.6 called → wrong (AR fp, N fn).
            row("bmd-hs", "p2", "N", valve: [0.6, 0.1]),
            // p3 AS: nothing called → wrong (AS fn, N fp).
            row("bmd-hs", "p3", "AS", valve: [0.1, 0.4]),
            // p6 N: AR 0.9, but no murmur heard in any recording → N called (right).
            row("bmd-hs", "p6", "N", valve: [0.9, 0.1], murmur: "absent"),
            // not a valve label / no answer: left out.
            row("bmd-hs", "p4", "MD:", valve: [0.9, 0.9]), row("bmd-hs", "p5", "AS"),
            row("pascal2011", "a", "murmur(noisy)", sound: "murmur"), row("pascal2011", "b", "extrastole", sound: "normal"),
            row("pascal2011", "c", "artifact", sound: "normal"), row("pascal2011", "d", "normal"),
        ]
        let r = EvaluationReport(rows, assessor: a)
        let v = try #require(r.valve)
        #expect(v.n == 4 && v.recordings == 5 && abs(v.accuracy - 2.0 / 4) < 1e-12)
        // F1: AR tp1 fp1 → 2/3; AS tp1 fn1 → 2/3; N tp1 fp1 fn1 → 1/2. Macro over the three defined.
        #expect(v.f1["AR"]! == 2.0 / 3 && v.f1["AS"]! == 2.0 / 3 && v.f1["N"]! == 0.5)
        #expect(abs(v.macroF1 - (4.0 / 3 + 0.5) / 3) < 1e-12)
        #expect(v.confusion["AR"]?["absent"]?["present"] == 1 && v.confusion["N"]?["absent"]?["present"] == 1)
        let p = try #require(r.pascal)
        // a right, b right, c wrong, d unassessed. F1: murmur 1, normal 2/3, artifact 0.
        #expect(p.n == 3 && p.unassessed == 1 && abs(p.accuracy - 2.0 / 3) < 1e-12)
        #expect(abs(p.macroF1 - (1 + 2.0 / 3 + 0) / 3) < 1e-12 && p.confusion["artifact"]?["normal"] == 1)
        #expect(EvaluationReport.valveLabels("MD:AS+AR") == ["AS", "AR"] && EvaluationReport.valveLabels("MD:") == nil
                && EvaluationReport.valveLabels("TR") == nil && EvaluationReport.pascalClass("extrahls") == "normal")
    }

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
            var inputs: [String: Double?]
            var p: [Double]
        }
    }

    @Test func theShippedClassModelsMatchTheTrainingCode() throws {
        let data = try Data(contentsOf: ParityTests.root.appending(path: "Tests/Fixtures/models/classes-parity.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        #expect(fixture.tolerance == 1e-9)
        let assessor = try Assessor.shipped()
        var missing = 0
        for (task, model) in [("valve", assessor.valve), ("heart_sound", assessor.heartSound)] {
            let model = try #require(model, "this build has no \(task) model")
            let expected = try #require(fixture.tasks[task])
            #expect(expected.model == "Models/\(task).json" && expected.version == model.file.version, "the fixture is for another \(task) model")
            #expect(expected.rows.count >= 12)
            for row in expected.rows {
                let p = model.probabilities { row.inputs[$0] ?? nil }
                #expect(p.count == row.p.count && zip(p, row.p).allSatisfy { abs($0 - $1) <= fixture.tolerance }, "\(task) \(row.source): \(p) vs \(row.p)")
                if row.inputs.values.contains(where: { $0 == nil }) { missing += 1 }
            }
        }
        #expect(missing >= 4)
    }
}
