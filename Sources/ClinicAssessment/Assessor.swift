import ClinicAudio
import ClinicCore
import Foundation

/// A recording's quality grade, from P(acceptable) by the quality model's cut points.
public enum QualityGrade: Int, Sendable, Codable, CaseIterable, Comparable {
    case veryBad, bad, ok, good, veryGood

    public var label: String { ["very bad", "bad", "ok", "good", "very good"][rawValue] }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(label)
    }
}

/// What the models say about one recording (`clinic assess`, `add-recording`), and what the
/// nurse should do about it. Stored as an assessment's `result`.
public struct AssessmentReport: Sendable, Equatable, Encodable {
    public struct Quality: Sendable, Equatable, Encodable {
        /// P(acceptable for interpretation); nil when the recording could not be assessed.
        public var probability: Double?
        public var grade: QualityGrade
        public var acceptable: Bool
        /// The probability of the decision taken (P(acceptable) or its complement).
        public var confidence: Double
    }

    /// A binary call: `positive`, `negative`, or the undecided label (`unsure`, `unknown`).
    public struct Call: Sendable, Equatable, Encodable {
        public var probability: Double?
        public var call: String
        public var confidence: Double?
    }

    /// The heart cycle (`Segmenter`): heart rate, S1/S2 onsets, cycle timing; nil when the
    /// recording is graded very bad or could not be segmented.
    public struct Cycle: Sendable, Equatable, Encodable {
        /// Beats per minute, and whether from the decoded cycles or the autocorrelation.
        public var heartRate: Double
        public var heartRateSource: String
        /// The S1 periodicity's autocorrelation peak (0–1).
        public var confidence: Double
        /// Complete decoded cycles.
        public var cycles: Int
        public var s1Onsets: [Double]
        public var s2Onsets: [Double]
        /// The cycle-timing features (`Segmenter.cycleFeatureNames`), nil where undefined.
        public var timing: [String: Double?]
        /// Centres (s) of every decoded S1 and S2 run (for scoring against annotations; not stored).
        public var s1Centres: [Double]
        public var s2Centres: [Double]
        enum CodingKeys: String, CodingKey {
            case heartRate = "heart_rate_bpm", heartRateSource = "heart_rate_source", confidence = "heart_rate_confidence", cycles
            case s1Onsets = "s1_onsets_s", s2Onsets = "s2_onsets_s", timing
        }

        public init(_ s: Segmentation) {
            heartRate = s.heartRate
            heartRateSource = s.heartRateSource
            confidence = s.heartRateConfidence
            cycles = Int(((s.cycleFeatures["n_cycles"] ?? nil) ?? 0).rounded())
            s1Onsets = s.s1Onsets
            s2Onsets = s.s2Onsets
            timing = s.cycleFeatures
            s1Centres = s.centres(of: .s1)
            s2Centres = s.centres(of: .s2)
        }
    }

    /// A class model's answer (`ClassModel`): each class's probability and the call.
    public struct Classes: Sendable, Equatable, Encodable {
        /// By class (valve: AR, AS, MR, MS; heart_sound: artifact, murmur, normal).
        public var probabilities: [String: Double]
        /// Valve: the classes called joined by `+` (`AS+AR`), the model's none label (`N`) when
        /// none is, `unsure` when the recording is not of acceptable quality. heart_sound: the
        /// most probable class.
        public var call: String

        public init(probabilities: [String: Double], call: String) {
            self.probabilities = probabilities
            self.call = call
        }
    }

    public var quality: Quality
    /// normal / abnormal / unsure (an unacceptable recording is unsure, as PhysioNet 2016 scores it).
    public var abnormal: Call
    /// present / absent / unknown.
    public var murmur: Call
    /// One line of advice when the recording should be made again.
    public var advice: String?
    /// Why the models could not assess it (too short, silent), when they could not.
    public var reason: String?
    public var cycle: Cycle?
    /// Valve disease (AR, AS, MR, MS; adults), nil when not assessed or no valve model.
    public var valve: Classes?
    /// artifact / murmur / normal (PASCAL 2011's classes), nil when not assessed or no model.
    public var heartSound: Classes?
    /// The recording's duration, seconds.
    public var durationSeconds: Double
    /// Each task's model, `name version`.
    public var models: [String: String]

    enum CodingKeys: String, CodingKey {
        case quality, abnormal, murmur, advice, reason, cycle, valve, heartSound = "heart_sound", durationSeconds = "duration_s", models
    }

    /// The line a nurse reads: grade and decision, then the calls, each with its model's
    /// probability of the positive class (acceptable, abnormal, murmur present); a call is that
    /// probability against the model's threshold (docs/assessment.md), not against 0.5.
    public var summary: String {
        let p = { (p: Double?) in p.map { String(format: "p %.2f", $0) } }
        var line = "quality \(quality.grade.label) (\(quality.acceptable ? "acceptable" : "unacceptable")\(p(quality.probability).map { ", \($0)" } ?? ""))"
        // An undecided call (unsure, unknown) shows no probability: it is not a finding.
        line += "; \(abnormal.call)" + (abnormal.confidence != nil ? p(abnormal.probability).map { " (\($0) abnormal)" } ?? "" : "")
        line += "; murmur \(murmur.call)" + (murmur.confidence != nil ? p(murmur.probability).map { " (\($0) present)" } ?? "" : "")
        if let cycle { line += String(format: "; heart rate %.0f bpm", cycle.heartRate) }
        if let heartSound {
            // Two models of murmur (CirCor's, the headline; PASCAL's artifact/murmur/normal) can
            // disagree: the line says so instead of contradicting itself.
            let disagrees = (heartSound.call == "murmur" && murmur.call == "absent") || (heartSound.call == "normal" && murmur.call == "present")
            line += "; sounds \(heartSound.call)" + (disagrees ? " (the murmur model disagrees)" : "")
        }
        if let valve, valve.call != "unsure" {
            // A call that names no class is the model's none label (N).
            let named = valve.call.split(separator: "+").allSatisfy { valve.probabilities[String($0)] != nil }
            line += named ? "; valve disease \(valve.call) suspected" : "; no valve disease found"
        }
        return line
    }
}

/// The shipped models and the rules that turn their probabilities into calls. Pure: features
/// in, a report out (the audio front end computes the features; no store access).
public struct Assessor: Sendable {
    public let quality: Model
    public let abnormal: Model
    public let murmur: Model
    /// The heart-cycle segmenter (heart rate, S1/S2); nil: no cycle in the reports.
    public let segmenter: Segmenter?
    /// Valve disease and artifact/murmur/normal (docs/classifiers.md); nil: not in the reports.
    public let valve: ClassModel?
    public let heartSound: ClassModel?
    /// The feature set every model reads.
    public static let featureSet = FeatureSet.assessV1

    public init(quality: Model, abnormal: Model, murmur: Model, segmenter: Segmenter? = nil,
                valve: ClassModel? = nil, heartSound: ClassModel? = nil) throws(ModelError) {
        for (task, model) in [("quality", quality), ("abnormal", abnormal), ("murmur", murmur)] {
            guard model.file.task == task else { throw ModelError("the \(task) model file is for task \(model.file.task)") }
            guard model.file.featureSet == Self.featureSet.name else {
                throw ModelError("the \(task) model reads \(model.file.featureSet), not \(Self.featureSet.name)")
            }
            if let unknown = model.file.features.first(where: { !Self.featureInputs.contains($0) }) {
                throw ModelError("the \(task) model reads \(unknown), which this build does not compute")
            }
        }
        // Quality and abnormal decide whether and how the murmur call is made; they must answer
        // for every recording the features accept, which a cnn cannot for one without a patch.
        for (task, model) in [("quality", quality), ("abnormal", abnormal)] where model.readsPatches {
            throw ModelError("the \(task) model is a cnn; this build runs a cnn only for murmur")
        }
        guard quality.file.grades != nil else { throw ModelError("the quality model has no grade cut points") }
        let known = Self.featureInputs.union([ClassModel.murmurInput])
        for (task, model) in [("valve", valve), ("heart_sound", heartSound)] {
            guard let model else { continue }
            guard model.file.task == task else { throw ModelError("the \(task) model file is for task \(model.file.task)") }
            guard model.file.featureSet == Self.featureSet.name else {
                throw ModelError("the \(task) model reads \(model.file.featureSet), not \(Self.featureSet.name)")
            }
            if let unknown = model.file.inputs.first(where: { !known.contains($0) }) {
                throw ModelError("the \(task) model reads \(unknown), which this build does not compute")
            }
        }
        self.valve = valve
        self.heartSound = heartSound
        self.quality = quality
        self.abnormal = abnormal
        self.murmur = murmur
        self.segmenter = segmenter
    }

    public static let tasks = ["quality", "abnormal", "murmur"]

    /// What a feature model may read: assess-v1's features and the cycle's (`cycle.<name>`).
    public static let featureInputs = Set(featureSet.featureNames + Segmenter.cycleFeatureNames.map { ClassModel.cyclePrefix + $0 })

    /// The models built into this binary (Models/*.json, embedded at build time).
    public static func shipped() throws(ModelError) -> Assessor {
        func load(_ task: String) throws(ModelError) -> Model {
            guard let json = embeddedModels.first(where: { $0.name == task })?.json else {
                throw ModelError("this build has no \(task) model")
            }
            do { return try Model(json: Data(json.utf8)) } catch { throw ModelError("Models/\(task).json (built in): \(error)") }
        }
        return try Assessor(quality: load("quality"), abnormal: load("abnormal"), murmur: load("murmur"), segmenter: Segmenter.shipped(),
                            valve: shippedClasses("valve"), heartSound: shippedClasses("heart_sound"))
    }

    /// A built-in class model (Models/<task>.json), nil when this build has none.
    static func shippedClasses(_ task: String) throws(ModelError) -> ClassModel? {
        guard let json = embeddedModels.first(where: { $0.name == task })?.json else { return nil }
        do { return try ClassModel(json: Data(json.utf8)) } catch { throw ModelError("Models/\(task).json (built in): \(error)") }
    }

    /// Models from a folder (a researcher's retrained `Models/`): `quality.json`,
    /// `abnormal.json` and `murmur.json`, each checked against the folder's `SHA256SUMS`
    /// (`sha256sum` format, written by Training/train_models.py) before it is read. Every error
    /// names the file.
    public static func load(directory: URL) throws(ModelError) -> Assessor {
        let sums = directory.appending(path: "SHA256SUMS")
        guard let text = try? String(contentsOf: sums, encoding: .utf8) else {
            throw ModelError("\(sums.path) is missing or unreadable: a model folder needs the checksums Training/train_models.py writes")
        }
        var expected: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, isSHA256Hex(parts[0]) else { throw ModelError("\(sums.path): a line is not `SHA256  file`") }
            expected[parts[1].trimmingCharacters(in: CharacterSet(charactersIn: " *"))] = parts[0]
        }
        /// A file of the folder, read and checked against its checksum, then parsed by `parse`.
        func verified<T>(_ name: String, _ parse: (Data) throws(ModelError) -> T) throws(ModelError) -> T {
            let url = directory.appending(path: name)
            guard let data = FileManager.default.contents(atPath: url.path) else { throw ModelError("\(url.path) is missing or unreadable") }
            guard let sum = expected[name] else { throw ModelError("\(sums.path) has no checksum for \(name)") }
            guard sha256Hex([UInt8](data)) == sum else {
                throw ModelError("\(url.path) does not match its checksum in SHA256SUMS (damaged, or changed after training)")
            }
            do { return try parse(data) } catch { throw ModelError("\(url.path): \(error)") }
        }
        func load(_ task: String) throws(ModelError) -> Model { try verified("\(task).json") { (d) throws(ModelError) in try Model(json: d) } }
        // The segmenter: the folder's segmentation.json when SHA256SUMS lists it, else the built-in one.
        let segmenter = expected["segmentation.json"] == nil
            ? try Segmenter.shipped() : try verified("segmentation.json") { (d) throws(ModelError) in try Segmenter(json: d) }
        // The class models likewise: the folder's when SHA256SUMS lists them, else the built-in ones.
        func classes(_ task: String) throws(ModelError) -> ClassModel? {
            expected["\(task).json"] == nil
                ? try shippedClasses(task) : try verified("\(task).json") { (d) throws(ModelError) in try ClassModel(json: d) }
        }
        return try Assessor(quality: load("quality"), abnormal: load("abnormal"), murmur: load("murmur"), segmenter: segmenter,
                            valve: classes("valve"), heartSound: classes("heart_sound"))
    }

    public var models: [String: String] {
        var m = ["quality": quality.file.name + " " + quality.file.version, "abnormal": abnormal.file.name + " " + abnormal.file.version,
                 "murmur": murmur.file.name + " " + murmur.file.version]
        if let segmenter { m["segmentation"] = "segmentation " + segmenter.file.modelVersion }
        for model in [valve, heartSound].compactMap({ $0 }) { m[model.file.task] = model.file.name + " " + model.file.version }
        return m
    }

    /// Assesses an audio file: its features and heart cycle, then the models. A recording the
    /// features refuse (too short, no sound in the band) still gets a report that says why.
    /// Throws only for a file that cannot be read as audio.
    ///
    /// The cycle is found for every assessable recording (models may read its `cycle.<name>`
    /// timing features) and shown in the report (`cycle`) for recordings graded above very bad
    /// (`segment` nil: a very bad one's cycle would be made of noise), always (true: `clinic
    /// evaluate` scoring the segmenter) or never (false).
    public func assess(file path: String, segment: Bool? = nil) throws -> AssessmentReport {
        let audio = try AudioReader.readMono(path: path, resampledTo: Self.featureSet.analysisRate)
        do {
            let analysis = try Self.featureSet.analyze(resampled: audio)
            let cycle = segmenter.flatMap { try? $0.segment(bandPassed: analysis.bandPassed) }
            var report = assess(analysis.features, patches: murmur.readsPatches ? analysis.logMelPatches : [], duration: audio.duration,
                                cycle: cycle)
            if segment ?? (report.quality.grade > .veryBad), let cycle { report.cycle = AssessmentReport.Cycle(cycle) }
            return report
        } catch {
            return unassessable(duration: audio.duration, error)
        }
    }

    /// The models' calls on computed features, the recording's heart cycle (nil: its
    /// `cycle.<name>` inputs are missing; the report shows no cycle either way) and, for a cnn
    /// murmur model, the log-mel patches (`FeatureAnalysis.logMelPatches`; none: the murmur call
    /// is unknown).
    public func assess(_ features: Features, patches: [FrameMatrix] = [], duration: Double, cycle: Segmentation? = nil) -> AssessmentReport {
        let timing = cycle?.cycleFeatures ?? [:]
        let value = { (name: String) -> Double? in
            name.hasPrefix(ClassModel.cyclePrefix) ? timing[String(name.dropFirst(ClassModel.cyclePrefix.count))] ?? nil : features[name]
        }
        let pq = quality.probability(value)
        let cuts = quality.file.grades!
        let grade = QualityGrade(rawValue: cuts.filter { $0 <= pq }.count)!
        let acceptable = pq >= quality.file.threshold
        let q = AssessmentReport.Quality(probability: pq, grade: grade, acceptable: acceptable, confidence: acceptable ? pq : 1 - pq)

        let pa = abnormal.probability(value)
        let isAbnormal = pa >= abnormal.file.threshold
        let a = acceptable
            ? AssessmentReport.Call(probability: pa, call: isAbnormal ? "abnormal" : "normal", confidence: isAbnormal ? pa : 1 - pa)
            : AssessmentReport.Call(probability: pa, call: "unsure", confidence: nil)

        let pm = murmur.probability(value, patches: patches)
        let m: AssessmentReport.Call
        if let pm, murmurCounts(acceptable: acceptable, grade: grade) {
            if let u = murmur.file.uncertain, pm >= u[0], pm < u[1] {
                m = .init(probability: pm, call: "unknown", confidence: nil)
            } else {
                let present = pm >= murmur.file.threshold
                m = .init(probability: pm, call: present ? "present" : "absent", confidence: present ? pm : 1 - pm)
            }
        } else {
            m = .init(probability: pm, call: "unknown", confidence: nil)
        }
        let advice = acceptable ? nil : "too noisy to interpret: record again at the same site, press the stethoscope more firmly, keep the patient still and the room quiet"
        var report = AssessmentReport(quality: q, abnormal: a, murmur: m, advice: advice, reason: nil, cycle: nil, durationSeconds: duration, models: models)
        // The class models: the same inputs and the murmur probability (missing inputs take the training medians).
        let withMurmur = { (name: String) -> Double? in name == ClassModel.murmurInput ? pm : value(name) }
        func answer(_ model: ClassModel, call: ([Double]) -> String) -> AssessmentReport.Classes {
            let p = model.probabilities(withMurmur)
            return .init(probabilities: Dictionary(uniqueKeysWithValues: zip(model.file.classes, p)), call: call(p))
        }
        report.valve = valve.map { model in
            answer(model) { p in
                guard acceptable else { return "unsure" }
                // Named only where the evidence allows: with a murmur heard. Without that gate the
                // model (76 BMD-HS adults, most of them diseased) called a valve disease on nearly
                // every healthy heart of another device or age (docs/classifiers.md).
                guard m.call == "present" else { return m.call == "absent" ? model.file.none! : "unsure" }
                let found = model.called(p)
                return found.isEmpty ? model.file.none! : found.joined(separator: "+")
            }
        }
        report.heartSound = heartSound.map { model in answer(model) { model.called($0)[0] } }
        return report
    }

    /// The report for a recording the features refused: very bad, unacceptable, with why.
    public func unassessable(duration: Double, _ error: DSPError) -> AssessmentReport {
        let seconds = String(format: "%.1f", duration)
        let (reason, advice): (String, String) = switch error.reason {
        case .tooShort:
            ("\(seconds) s, too short to assess (at least \(Int(Self.featureSet.minimumDuration)) s is needed)",
             "too short: record again at the same site for at least 10 s")
        case .degenerate:
            ("no sound in the heart-sound band",
             "no heart sound picked up: check the stethoscope is on and on bare skin, then record again")
        default:
            ("the signal could not be analysed: \(error.message)", "record again at the same site")
        }
        return AssessmentReport(
            quality: .init(probability: nil, grade: .veryBad, acceptable: false, confidence: 1),
            abnormal: .init(probability: nil, call: "unsure", confidence: nil),
            murmur: .init(probability: nil, call: "unknown", confidence: nil),
            advice: advice, reason: reason, cycle: nil, valve: nil, heartSound: nil, durationSeconds: duration, models: models)
    }

    /// Whether the murmur call waits for acceptable quality (the murmur model's `quality_gate`).
    public var murmurGate: Bool { murmur.file.qualityGate ?? true }

    /// Whether a recording gets a murmur call and counts for its patient's: never when graded
    /// very bad (noise, speech, music, clipping score there: a murmur call on them would be a
    /// finding made of nothing; 1.1 % of CirCor's recordings fall below p 0.1 and 10 % below
    /// the very-bad cut), and, with the model's quality gate on, only when acceptable.
    public func murmurCounts(acceptable: Bool, grade: QualityGrade) -> Bool {
        grade > .veryBad && (acceptable || !murmurGate)
    }

    /// A patient's murmur call from their recordings' (one per location): recordings that do
    /// not count (`murmurCounts`) are left out; then present when any call is present, unknown
    /// when any is unknown (too close to call) or none is left, else absent.
    public func patientMurmur(_ recordings: [(call: String, acceptable: Bool, grade: QualityGrade)]) -> String {
        Self.patientMurmur(recordings.filter { murmurCounts(acceptable: $0.acceptable, grade: $0.grade) }.map(\.call))
    }

    /// The rule on calls alone: present if any; absent when there are some and all are absent; else unknown.
    public static func patientMurmur(_ calls: [String]) -> String {
        if calls.contains("present") { return "present" }
        if !calls.isEmpty && calls.allSatisfy({ $0 == "absent" }) { return "absent" }
        return "unknown"
    }
}
