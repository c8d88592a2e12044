import ClinicAudio
import Foundation

/// One labelled recording's assessment, for `clinic evaluate`: the manifest's labels (nil:
/// not labelled) beside what the models said.
public struct EvaluatedRecording: Sendable {
    public var dataset: String
    /// The patient (the same key for every recording of one patient).
    public var patient: String
    /// `acceptable` or `unacceptable`.
    public var quality: String?
    /// 1 abnormal, 0 normal.
    public var abnormal: Int?
    /// Patient level: `present`, `absent` or `unknown`.
    public var murmur: String?
    /// This location: `present` or `absent`.
    public var murmurAtLocation: String?
    /// The annotated heart cycle (CirCor's `.tsv`), when the manifest names one.
    public var cycle: CycleAnnotation?
    /// The manifest's `diagnosis`: BMD-HS's valve classes (`N`, `AS`, `MD:AS+AR`), PASCAL's
    /// (`normal`, `murmur(noisy)`, `extrastole`, `artifact`, …).
    public var diagnosis: String?
    public var report: AssessmentReport

    public init(dataset: String, patient: String, quality: String?, abnormal: Int?, murmur: String?, murmurAtLocation: String?,
                cycle: CycleAnnotation? = nil, diagnosis: String? = nil, report: AssessmentReport) {
        self.cycle = cycle
        self.diagnosis = diagnosis
        self.dataset = dataset
        self.patient = patient
        self.quality = quality
        self.abnormal = abnormal
        self.murmur = murmur
        self.murmurAtLocation = murmurAtLocation
        self.report = report
    }
}

/// A recording's annotated heart cycle: CirCor 2022's `.tsv` (`start_s<TAB>end_s<TAB>state`,
/// state 0 unannotated, 1 S1, 2 systole, 3 S2, 4 diastole).
public struct CycleAnnotation: Sendable, Equatable {
    /// Centres (s) of the annotated S1s and S2s.
    public var s1: [Double]
    public var s2: [Double]
    /// The annotated stretches (state ≠ 0), [start, end).
    public var regions: [ClosedRange<Double>]
    /// 60 / the median S1-to-next-S1 over complete, contiguous annotated cycles; nil without one.
    public var heartRate: Double?

    public init(tsv text: String) throws(ModelError) {
        var rows: [(start: Double, end: Double, state: Int)] = []
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() where !line.allSatisfy(\.isWhitespace) {
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard f.count == 3, let a = Double(f[0]), let b = Double(f[1]), let st = Double(f[2]).map(Int.init), a.isFinite, b >= a,
                  (0...4).contains(st) else {
                throw ModelError("line \(n + 1) is not `start_s<TAB>end_s<TAB>state` (state 0–4)")
            }
            rows.append((a, b, st))
        }
        s1 = rows.filter { $0.state == 1 }.map { ($0.start + $0.end) / 2 }
        s2 = rows.filter { $0.state == 3 }.map { ($0.start + $0.end) / 2 }
        regions = rows.filter { $0.state != 0 }.map { $0.start...$0.end }
        var rr: [Double] = []
        if rows.count >= 5 {
            for i in 0..<(rows.count - 4) where (0..<5).map({ rows[i + $0].state }) == [1, 2, 3, 4, 1]
                && (0..<4).allSatisfy({ abs(rows[i + $0].end - rows[i + $0 + 1].start) < 1e-6 }) {
                rr.append(rows[i + 4].start - rows[i].start)
            }
        }
        heartRate = rr.isEmpty ? nil : 60 / Stats.median(rr)
    }

    /// Whether t lies in an annotated stretch ([start, end)).
    public func annotated(_ t: Double) -> Bool { regions.contains { t >= $0.lowerBound && t < $0.upperBound } }

    /// Hits of `detected` against `reference` within `tolerance` s, one-to-one, closest pairs first.
    public static func hits(_ detected: [Double], _ reference: [Double], tolerance: Double) -> Int {
        var pairs: [(d: Double, i: Int, j: Int)] = []
        for (i, x) in detected.enumerated() { for (j, y) in reference.enumerated() where abs(x - y) <= tolerance { pairs.append((abs(x - y), i, j)) } }
        pairs.sort { $0.d != $1.d ? $0.d < $1.d : ($0.i, $0.j) < ($1.i, $1.j) }
        var usedD = Set<Int>(), usedR = Set<Int>(), n = 0
        for p in pairs where !usedD.contains(p.i) && !usedR.contains(p.j) {
            usedD.insert(p.i)
            usedR.insert(p.j)
            n += 1
        }
        return n
    }
}

/// The figures `clinic evaluate` prints, one object per task (absent when no row has its label).
public struct EvaluationReport: Sendable, Encodable, Equatable {
    public struct Quality: Sendable, Encodable, Equatable {
        public var n: Int
        public var accuracy: Double
        public var balancedAccuracy: Double
        /// Of P(acceptable); a recording that could not be assessed counts as 0.
        public var auc: Double?
        /// `confusion[label][prediction]`.
        public var confusion: [String: [String: Int]]
        /// The same on PhysioNet 2016 alone (its labels are the challenge's; PASCAL's are artifacts only).
        public var physionet: Physionet?
        enum CodingKeys: String, CodingKey { case n, accuracy, balancedAccuracy = "balanced_accuracy", auc, confusion, physionet }
    }

    public struct Physionet: Sendable, Encodable, Equatable {
        public var n: Int
        public var accuracy: Double
        public var balancedAccuracy: Double
        public var auc: Double?
        enum CodingKeys: String, CodingKey { case n, accuracy, balancedAccuracy = "balanced_accuracy", auc }
    }

    public struct Abnormal: Sendable, Encodable, Equatable {
        public var n: Int
        /// Over recordings given a call (normal or abnormal).
        public var sensitivity: Double?
        public var specificity: Double?
        /// The mean of the two (PhysioNet 2016's MAcc).
        public var macc: Double?
        /// Of P(abnormal) over every assessed recording, unsure ones included.
        public var auc: Double?
        /// Recordings called unsure (unacceptable quality, or not assessable).
        public var unsure: Int
        public var confusion: [String: [String: Int]]
        enum CodingKeys: String, CodingKey { case n, sensitivity, specificity, macc, auc, unsure, confusion }
    }

    public struct Murmur: Sendable, Encodable, Equatable {
        /// Patients with a murmur label.
        public var n: Int
        /// The 2022 challenge's weighted accuracy at patient level (present 5, unknown 3, absent 1).
        public var weightedAccuracy: Double
        /// `confusion[label][prediction]`, patients.
        public var confusion: [String: [String: Int]]
        /// Recordings with a label at their location, and the share called correctly (unknown counts as wrong).
        public var recordings: Int
        public var recordingAccuracy: Double?
        enum CodingKeys: String, CodingKey {
            case n, weightedAccuracy = "weighted_accuracy", confusion, recordings, recordingAccuracy = "recording_accuracy"
        }
    }

    /// The heart-cycle segmenter against annotated cycles: a decoded S1 (S2) whose centre lies
    /// in an annotated stretch is a detection, a hit within 60 ms of an annotated one's centre.
    public struct SegmentationFigures: Sendable, Encodable, Equatable {
        /// Recordings with an annotation.
        public var n: Int
        /// Of those, recordings the segmenter refused (their annotated sounds count as missed).
        public var unsegmented: Int
        public var f1S1: Double?
        public var f1S2: Double?
        /// Mean |heart rate − the annotation's| over recordings with both.
        public var hrMaeBpm: Double?
        public var hrN: Int
        enum CodingKeys: String, CodingKey { case n, unsegmented, f1S1 = "f1_s1", f1S2 = "f1_s2", hrMaeBpm = "hr_mae_bpm", hrN = "hr_n" }
    }

    /// Valve disease at patient level (BMD-HS): a patient's probability of each label is the
    /// mean over their recordings with an answer; a label is called at the model's threshold.
    public struct ValveFigures: Sendable, Encodable, Equatable {
        /// Patients with a valve label (BMD-HS's `MD:` with no disease named is left out).
        public var n: Int
        public var recordings: Int
        /// The called set equals the true set (N: none).
        public var accuracy: Double
        /// The mean of the per-label F1s over N, AR, AS, MR, MS (N: no label called vs none true).
        public var macroF1: Double
        public var f1: [String: Double?]
        /// `confusion[label][truth][call]`, truth and call `present` or `absent`, patients.
        public var confusion: [String: [String: [String: Int]]]
        enum CodingKeys: String, CodingKey { case n, recordings, accuracy, macroF1 = "macro_f1", f1, confusion }
    }

    /// artifact / murmur / normal on PASCAL 2011 recordings (extrahls and extrastole count as
    /// normal; `(noisy)` is dropped), over the recordings the models could assess.
    public struct PascalFigures: Sendable, Encodable, Equatable {
        public var n: Int
        /// Recordings with a label the models could not assess (shorter than 3 s).
        public var unassessed: Int
        public var accuracy: Double
        public var macroF1: Double
        /// `confusion[label][call]`.
        public var confusion: [String: [String: Int]]
        enum CodingKeys: String, CodingKey { case n, unassessed, accuracy, macroF1 = "macro_f1", confusion }
    }

    public var quality: Quality?
    public var abnormal: Abnormal?
    public var murmur: Murmur?
    public var segmentation: SegmentationFigures?
    public var valve: ValveFigures?
    public var pascal: PascalFigures?

    /// The figures of `rows`; patients' murmur calls by `assessor`'s rule.
    public init(_ rows: [EvaluatedRecording], assessor: Assessor) {
        let q = rows.filter { $0.quality != nil }
        if !q.isEmpty {
            let physionet = q.filter { $0.dataset == "physionet2016" }
            let figures = Self.qualityFigures(q)
            quality = Quality(n: q.count, accuracy: figures.accuracy, balancedAccuracy: figures.balanced, auc: figures.auc,
                              confusion: Self.confusion(q.map { ($0.quality!, $0.report.quality.acceptable ? "acceptable" : "unacceptable") }),
                              physionet: physionet.isEmpty ? nil : {
                                  let f = Self.qualityFigures(physionet)
                                  return Physionet(n: physionet.count, accuracy: f.accuracy, balancedAccuracy: f.balanced, auc: f.auc)
                              }())
        }
        let a = rows.filter { $0.abnormal != nil }
        if !a.isEmpty {
            let decided = a.filter { $0.report.abnormal.call != "unsure" }
            let positives = decided.filter { $0.abnormal == 1 }, negatives = decided.filter { $0.abnormal == 0 }
            let se = positives.isEmpty ? nil : Double(positives.filter { $0.report.abnormal.call == "abnormal" }.count) / Double(positives.count)
            let sp = negatives.isEmpty ? nil : Double(negatives.filter { $0.report.abnormal.call == "normal" }.count) / Double(negatives.count)
            let scored = a.compactMap { r in r.report.abnormal.probability.map { ($0, r.abnormal == 1) } }
            abnormal = Abnormal(n: a.count, sensitivity: se, specificity: sp, macc: se.flatMap { se in sp.map { (se + $0) / 2 } },
                                auc: Self.auc(scored), unsure: a.count - decided.count,
                                confusion: Self.confusion(a.map { ($0.abnormal == 1 ? "abnormal" : "normal", $0.report.abnormal.call) }))
        }
        segmentation = Self.segmentationFigures(rows)
        if let model = assessor.valve { valve = Self.valveFigures(rows, model) }
        pascal = Self.pascalFigures(rows)
        let m = rows.filter { $0.murmur != nil }
        if !m.isEmpty {
            // Patient level: the label is the patient's; the call combines their recordings.
            var patients: [String: (label: String, calls: [(call: String, acceptable: Bool, grade: QualityGrade)])] = [:]
            for r in m {
                patients["\(r.dataset)/\(r.patient)", default: (r.murmur!, [])].calls
                    .append((r.report.murmur.call, r.report.quality.acceptable, r.report.quality.grade))
            }
            let pairs = patients.values.map { ($0.label, assessor.patientMurmur($0.calls)) }
            let located = rows.filter { $0.murmurAtLocation != nil }
            murmur = Murmur(n: pairs.count, weightedAccuracy: Self.weightedAccuracy(pairs), confusion: Self.confusion(pairs),
                            recordings: located.count,
                            recordingAccuracy: located.isEmpty ? nil
                                : Double(located.filter { $0.report.murmur.call == $0.murmurAtLocation }.count) / Double(located.count))
        }
    }

    enum CodingKeys: String, CodingKey { case quality, abnormal, murmur, segmentation, valve, pascal }

    /// BMD-HS's diagnosis as a set of valve labels: `N` none, `AS` one, `MD:AS+AR` several; nil
    /// for anything else (`MD:` naming none, other data sets' diagnoses).
    public static func valveLabels(_ diagnosis: String) -> Set<String>? {
        if diagnosis == "N" { return [] }
        let labels = Set((diagnosis.hasPrefix("MD:") ? String(diagnosis.dropFirst(3)) : diagnosis).split(separator: "+").map(String.init))
        return !labels.isEmpty && labels.isSubset(of: ["AR", "AS", "MR", "MS"]) ? labels : nil
    }

    /// PASCAL 2011's diagnosis as artifact / murmur / normal (extra heart sounds and extrasystoles are normal).
    public static func pascalClass(_ diagnosis: String) -> String? {
        switch diagnosis.replacingOccurrences(of: "(noisy)", with: "") {
        case "artifact": "artifact"
        case "murmur": "murmur"
        case "normal", "extrahls", "extrastole": "normal"
        default: nil
        }
    }

    static func f1(tp: Int, fp: Int, fn: Int) -> Double? { 2 * tp + fp + fn == 0 ? nil : Double(2 * tp) / Double(2 * tp + fp + fn) }

    static func valveFigures(_ rows: [EvaluatedRecording], _ model: ClassModel) -> ValveFigures? {
        // patient -> (true labels, summed probabilities, recordings, a murmur heard in any)
        var patients: [String: (truth: Set<String>, sum: [Double], n: Int, murmur: Bool)] = [:]
        let classes = model.file.classes
        for r in rows where r.dataset == "bmd-hs" {
            guard let truth = r.diagnosis.flatMap(valveLabels), let v = r.report.valve else { continue }
            let key = "\(r.dataset)/\(r.patient)"
            var entry = patients[key] ?? (truth, Array(repeating: 0, count: classes.count), 0, false)
            for (i, c) in classes.enumerated() { entry.sum[i] += v.probabilities[c] ?? 0 }
            entry.n += 1
            entry.murmur = entry.murmur || r.report.murmur.call == "present"
            patients[key] = entry
        }
        guard !patients.isEmpty else { return nil }
        let none = model.file.none ?? "N"
        var counts: [String: (tp: Int, fp: Int, fn: Int, tn: Int)] = [:]
        var exact = 0
        for entry in patients.values {
            // the patient's mean probabilities, named only when a murmur was heard (as assess does)
            let called = entry.murmur ? Set(model.called(entry.sum.map { $0 / Double(entry.n) })) : []
            if called == entry.truth { exact += 1 }
            for label in classes + [none] {
                let t = label == none ? entry.truth.isEmpty : entry.truth.contains(label)
                let c = label == none ? called.isEmpty : called.contains(label)
                var k = counts[label] ?? (0, 0, 0, 0)
                switch (t, c) {
                case (true, true): k.tp += 1
                case (false, true): k.fp += 1
                case (true, false): k.fn += 1
                case (false, false): k.tn += 1
                }
                counts[label] = k
            }
        }
        let f1s = counts.mapValues { f1(tp: $0.tp, fp: $0.fp, fn: $0.fn) }
        let defined = f1s.values.compactMap { $0 }
        return ValveFigures(
            n: patients.count, recordings: patients.values.reduce(0) { $0 + $1.n }, accuracy: Double(exact) / Double(patients.count),
            macroF1: defined.reduce(0, +) / Double(max(1, defined.count)), f1: f1s,
            confusion: counts.mapValues { k in ["present": ["present": k.tp, "absent": k.fn], "absent": ["present": k.fp, "absent": k.tn]] })
    }

    static func pascalFigures(_ rows: [EvaluatedRecording]) -> PascalFigures? {
        let labelled = rows.filter { $0.dataset == "pascal2011" }.compactMap { r in r.diagnosis.flatMap(pascalClass).map { (r, $0) } }
        let assessed = labelled.compactMap { r, label in r.report.heartSound.map { (label: label, prediction: $0.call) } }
        guard !assessed.isEmpty else { return nil }
        let classes = Set(assessed.flatMap { [$0.label, $0.prediction] })
        let f1s = classes.compactMap { c in
            f1(tp: assessed.filter { $0.label == c && $0.prediction == c }.count, fp: assessed.filter { $0.label != c && $0.prediction == c }.count,
               fn: assessed.filter { $0.label == c && $0.prediction != c }.count)
        }
        return PascalFigures(n: assessed.count, unassessed: labelled.count - assessed.count,
                             accuracy: Double(assessed.filter { $0.label == $0.prediction }.count) / Double(assessed.count),
                             macroF1: f1s.reduce(0, +) / Double(max(1, f1s.count)), confusion: confusion(assessed))
    }

    /// Matching tolerance for S1/S2 centres, seconds.
    public static let segmentationTolerance = 0.060

    static func segmentationFigures(_ rows: [EvaluatedRecording]) -> SegmentationFigures? {
        let annotated = rows.filter { $0.cycle != nil }
        guard !annotated.isEmpty else { return nil }
        var tp = [0, 0], fp = [0, 0], fn = [0, 0], errors: [Double] = [], unsegmented = 0
        for r in annotated {
            let truth = r.cycle!
            if r.report.cycle == nil { unsegmented += 1 }
            for (k, (detected, reference)) in [(r.report.cycle?.s1Centres ?? [], truth.s1), (r.report.cycle?.s2Centres ?? [], truth.s2)].enumerated() {
                let inside = detected.filter(truth.annotated)
                let hits = CycleAnnotation.hits(inside, reference, tolerance: segmentationTolerance)
                tp[k] += hits
                fp[k] += inside.count - hits
                fn[k] += reference.count - hits
            }
            if let h = truth.heartRate, let got = r.report.cycle?.heartRate { errors.append(abs(got - h)) }
        }
        let f1 = { (k: Int) -> Double? in 2 * tp[k] + fp[k] + fn[k] == 0 ? nil : Double(2 * tp[k]) / Double(2 * tp[k] + fp[k] + fn[k]) }
        return SegmentationFigures(n: annotated.count, unsegmented: unsegmented, f1S1: f1(0), f1S2: f1(1),
                                   hrMaeBpm: errors.isEmpty ? nil : errors.reduce(0, +) / Double(errors.count), hrN: errors.count)
    }

    private static func qualityFigures(_ rows: [EvaluatedRecording]) -> (accuracy: Double, balanced: Double, auc: Double?) {
        let correct = rows.filter { ($0.quality == "acceptable") == $0.report.quality.acceptable }.count
        let good = rows.filter { $0.quality == "acceptable" }, poor = rows.filter { $0.quality != "acceptable" }
        let tpr = good.isEmpty ? nil : Double(good.filter { $0.report.quality.acceptable }.count) / Double(good.count)
        let tnr = poor.isEmpty ? nil : Double(poor.filter { !$0.report.quality.acceptable }.count) / Double(poor.count)
        let balanced = [tpr, tnr].compactMap { $0 }.reduce(0, +) / Double(max(1, [tpr, tnr].compactMap { $0 }.count))
        let auc = Self.auc(rows.map { ($0.report.quality.probability ?? 0, $0.quality == "acceptable") })
        return (Double(correct) / Double(rows.count), balanced, auc)
    }

    /// `counts[label][prediction]`.
    static func confusion(_ pairs: [(label: String, prediction: String)]) -> [String: [String: Int]] {
        var counts: [String: [String: Int]] = [:]
        for (label, prediction) in pairs { counts[label, default: [:]][prediction, default: 0] += 1 }
        return counts
    }

    /// The area under the ROC curve: the probability that a positive scores above a negative,
    /// ties counting one half (Mann–Whitney). Nil without both classes.
    public static func auc(_ scored: [(score: Double, positive: Bool)]) -> Double? {
        let positives = scored.filter(\.positive).count, negatives = scored.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        // Ranks with ties averaged.
        let sorted = scored.sorted { $0.score < $1.score }
        var rankSum = 0.0, i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1].score == sorted[i].score { j += 1 }
            let rank = Double(i + j + 2) / 2
            for k in i...j where sorted[k].positive { rankSum += rank }
            i = j + 1
        }
        return (rankSum - Double(positives) * Double(positives + 1) / 2) / (Double(positives) * Double(negatives))
    }

    /// The PhysioNet 2022 challenge's murmur weighted accuracy: correct calls weighted by the
    /// true class (present 5, unknown 3, absent 1) over all patients weighted the same way.
    public static func weightedAccuracy(_ pairs: [(label: String, prediction: String)]) -> Double {
        let weight = ["present": 5.0, "unknown": 3.0, "absent": 1.0]
        let total = pairs.reduce(0) { $0 + (weight[$1.label] ?? 0) }
        let correct = pairs.reduce(0) { $0 + ($1.label == $1.prediction ? weight[$1.label] ?? 0 : 0) }
        return total > 0 ? correct / total : 0
    }
}
