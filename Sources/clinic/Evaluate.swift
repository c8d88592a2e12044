import ArgumentParser
import ClinicAssessment
import ClinicAudio
import ClinicCore
import Foundation
import Synchronization

/// `clinic evaluate --manifest CSV [--root DIR] [--json] [--jobs N]`: the shipped models over a
/// labelled manifest, with the figures per task.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Run the built-in models over a labelled manifest and print how well they do.",
        discussion: """
            The manifest has the columns of ../shared/data/manifest.csv: `path` (relative to --root, by \
            default the manifest's folder), `dataset`, `patient_id`, `record_id`, and the labels \
            `quality`, `abnormal`, `murmur`, `murmur_at_location` (an empty cell is "not labelled"; a task \
            with no labels is skipped). Each file is assessed as `clinic assess` does. Quality: accuracy, \
            balanced accuracy, AUC, confusion (also on PhysioNet 2016 alone). Abnormal: sensitivity and \
            specificity over recordings given a call, their mean (MAcc), AUC, how many were unsure. \
            Murmur: the 2022 challenge's weighted accuracy at patient level, and per-recording accuracy. \
            Segmentation (a `segmentation` column naming CirCor-style .tsv annotations): S1 and S2 F1 (a \
            decoded sound within 60 ms of an annotated one) and the heart-rate error. Valve disease (the \
            `diagnosis` of BMD-HS rows: N, AR, AS, MR, MS, MD:AS+AR …): per patient, exact-set accuracy, \
            macro-F1 over N/AR/AS/MR/MS and each label's confusion. PASCAL 2011 (`diagnosis` of \
            pascal2011 rows): artifact/murmur/normal accuracy, macro-F1 and confusion.

            The shipped models were trained on ../shared/data: figures on it measure fit, not skill. The \
            cross-validated figures, on patients the models never saw, are in the model cards (Models/*.md).
            """
    )

    @Option(help: ArgumentHelp("The labelled manifest (CSV).", valueName: "csv")) var manifest: String
    @Option(help: ArgumentHelp("The folder the manifest's paths are relative to (default: the manifest's folder).", valueName: "dir"))
    var root: String?
    @Option(help: "Files assessed at a time (default: the number of cores).") var jobs: Int?
    @Option(help: ArgumentHelp("Evaluate the models in this folder (as Training/train_models.py writes them, with SHA256SUMS) instead of the built-in ones; also CLINIC_MODELS.", valueName: "dir"))
    var models: String?
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if let jobs, !(1...256).contains(jobs) { throw ValidationError("--jobs must be between 1 and 256.") }
    }

    struct Shown: Encodable {
        var report: EvaluationReport
        var recordings: Int
        var assessed: Int
        var failed: Int
        var seconds: Double
        var models: [String: String]
        func encode(to encoder: Encoder) throws {
            try report.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(recordings, forKey: .recordings)
            try c.encode(assessed, forKey: .assessed)
            try c.encode(failed, forKey: .failed)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(models, forKey: .models)
        }
        enum Keys: String, CodingKey { case recordings, assessed, failed, seconds, models }
    }

    func run() throws {
        Clinic.keepBuffers()
        let manifest = try Manifest(self.manifest, root: root)
        let assessor = try AssessmentCLI.assessor(models: models)
        let rows = manifest.rows
        let progress = Progress(total: rows.count, show: !output.json)
        let started = DispatchTime.now().uptimeNanoseconds
        let next = Atomic<Int>(0)
        let results = Mutex<[Int: AssessmentReport]>([:])
        let failures = Mutex<[String: Int]>([:])
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs ?? ProcessInfo.processInfo.activeProcessorCount, rows.count))) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < rows.count else { return }
                var failed = true
                if let path = Manifest.path(rows[i], manifest.pathColumn, manifest.root) {
                    do {
                        // An annotated recording is always segmented (to score the segmenter);
                        // any other as `clinic assess` does (the class models read its cycle).
                        let report = try assessor.assess(file: path, segment: manifest.value(rows[i], "segmentation") != nil ? true : nil)
                        results.withLock { $0[i] = report }
                        failed = false
                    } catch let error as AudioError {
                        failures.withLock { $0[error.clinicError.message, default: 0] += 1 }
                    } catch {
                        failures.withLock { $0["\(error)", default: 0] += 1 }
                    }
                } else {
                    failures.withLock { $0["The manifest row has no path.", default: 0] += 1 }
                }
                progress.advance(failed: failed)
            }
        }
        progress.finish()
        let reports = results.withLock { $0 }
        // Annotated heart cycles (`segmentation`: a .tsv relative to the root, as the audio).
        var annotations: [Int: CycleAnnotation] = [:]
        for i in reports.keys {
            guard let tsv = manifest.value(rows[i], "segmentation") else { continue }
            let path = manifest.root.appending(path: tsv).path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ClinicError.invalid("Cannot read the segmentation annotation \(path) (manifest row \(i + 2)).")
            }
            do { annotations[i] = try CycleAnnotation(tsv: text) } catch {
                throw ClinicError.invalid("\(path): \(error) (manifest row \(i + 2)).")
            }
        }
        let evaluated = reports.keys.sorted().map { i -> EvaluatedRecording in
            let row = rows[i]
            let dataset = manifest.value(row, "dataset") ?? ""
            // A patient id where the source has one; else the record (PhysioNet 2016 publishes no patients).
            let patient = manifest.value(row, "patient_id") ?? manifest.value(row, "record_id") ?? "row \(i)"
            return EvaluatedRecording(dataset: dataset, patient: patient, quality: manifest.value(row, "quality"),
                                      abnormal: manifest.value(row, "abnormal").flatMap(Int.init), murmur: manifest.value(row, "murmur"),
                                      murmurAtLocation: manifest.value(row, "murmur_at_location"), cycle: annotations[i],
                                      diagnosis: manifest.value(row, "diagnosis"), report: reports[i]!)
        }
        let report = EvaluationReport(evaluated, assessor: assessor)
        let failed = failures.withLock { $0 }
        let shown = Shown(report: report, recordings: rows.count, assessed: reports.count, failed: failed.values.reduce(0, +),
                          seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, models: assessor.models)
        if output.json {
            try Output.json(shown)
        } else {
            print(Self.text(shown))
            for (message, count) in failed.sorted(by: { $0.value > $1.value }) { print("  not read: \(count) × \(message)") }
        }
        guard !reports.isEmpty else {
            throw ClinicError(.invalidInput, "No recording of the manifest could be read (is --root right?).")
        }
    }

    static func text(_ s: Shown) -> String {
        let f = { (x: Double?) in x.map { String(format: "%.3f", $0) } ?? "—" }
        var lines = ["Assessed \(s.assessed) of \(s.recordings) recordings in \(String(format: "%.1f", s.seconds)) s (\(s.failed) not read)."]
        if let q = s.report.quality {
            lines.append("quality   n \(q.n): accuracy \(f(q.accuracy)), balanced accuracy \(f(q.balancedAccuracy)), AUC \(f(q.auc))"
                         + (q.physionet.map { "; PhysioNet 2016 alone (n \($0.n)): balanced accuracy \(f($0.balancedAccuracy)), AUC \(f($0.auc))" } ?? ""))
            lines.append("          confusion (label → call): \(confusionText(q.confusion))")
        }
        if let a = s.report.abnormal {
            lines.append("abnormal  n \(a.n): sensitivity \(f(a.sensitivity)), specificity \(f(a.specificity)), MAcc \(f(a.macc)), AUC \(f(a.auc)), unsure \(a.unsure)")
            lines.append("          confusion (label → call): \(confusionText(a.confusion))")
        }
        if let m = s.report.murmur {
            lines.append("murmur    patients \(m.n): weighted accuracy \(f(m.weightedAccuracy)); recordings \(m.recordings): accuracy \(f(m.recordingAccuracy))")
            lines.append("          confusion (label → call): \(confusionText(m.confusion))")
        }
        if let g = s.report.segmentation {
            lines.append("segmentation recordings \(g.n) (\(g.unsegmented) not segmented): S1 F1 \(f(g.f1S1)), S2 F1 \(f(g.f1S2)); heart rate error \(g.hrMaeBpm.map { String(format: "%.2f bpm", $0) } ?? "–") over \(g.hrN)")
        }
        if let v = s.report.valve {
            lines.append("valve     patients \(v.n) (\(v.recordings) recordings): exact accuracy \(f(v.accuracy)), macro-F1 \(f(v.macroF1)); F1 "
                         + v.f1.keys.sorted().map { "\($0) \(f(v.f1[$0] ?? nil))" }.joined(separator: ", "))
        }
        if let p = s.report.pascal {
            lines.append("pascal    n \(p.n) (\(p.unassessed) too short to assess): accuracy \(f(p.accuracy)), macro-F1 \(f(p.macroF1))")
            lines.append("          confusion (label → call): \(confusionText(p.confusion))")
        }
        if s.report.quality == nil && s.report.abnormal == nil && s.report.murmur == nil && s.report.segmentation == nil
            && s.report.valve == nil && s.report.pascal == nil { lines.append("The manifest has no labels to evaluate against.") }
        return lines.joined(separator: "\n")
    }

    static func confusionText(_ c: [String: [String: Int]]) -> String {
        c.keys.sorted().map { label in "\(label): " + c[label]!.keys.sorted().map { "\($0) \(c[label]![$0]!)" }.joined(separator: ", ") }
            .joined(separator: "; ")
    }
}
