import ArgumentParser
import ClinicAssessment
import ClinicAudio
import ClinicCore
import ClinicStore
import Foundation

/// `clinic assess FILE...` and `clinic assess --recording ID`: the shipped models' grade and
/// calls for audio files (nothing stored), or a stored recording (a new assessment is added;
/// older ones are kept).
struct AssessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assess",
        abstract: "Grade the signal quality of recordings and classify them, with the models built into clinic.",
        discussion: """
            With FILE arguments nothing is stored. With --recording, the stored recording is assessed \
            again with the current models and the new assessment is stored beside the old ones (and \
            synced like any change). Prints the quality grade (very bad … very good), whether it is \
            acceptable, normal/abnormal/unsure, murmur present/absent/unknown, each with its \
            confidence, and advice when the recording should be made again. The models and their \
            measured accuracy are described in the model cards (Models/*.md).
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "Assess this stored recording again (its id or first 8 or more characters).") var recording: String?
    @Option(help: ArgumentHelp("Use the models in this folder (quality.json, abnormal.json, murmur.json and SHA256SUMS, as Training/train_models.py writes) instead of the built-in ones; also CLINIC_MODELS.", valueName: "dir"))
    var models: String?
    @Argument(help: "Audio files to assess (nothing is stored).") var files: [String] = []
    @OptionGroup var output: JSONFlag

    func validate() throws {
        guard (recording == nil) != files.isEmpty else {
            throw ValidationError("Give audio FILEs, or --recording ID, not both.")
        }
    }

    func run() throws {
        let assessor = try AssessmentCLI.assessor(models: models)
        if let recording {
            let store = try ClinicStore.open(at: storeOptions.url)
            let stored = try store.recording(try store.resolveRecordingID(recording))
            let report = try AssessmentCLI.assess(stored, in: store, with: assessor)
            let saved = try store.addAssessment(recordingID: stored.id, try AssessmentCLI.record(report))
            if output.json {
                try Output.json(AssessmentCLI.Shown(file: nil, recording: stored.id.lowercased, assessment: saved.id.lowercased, report: report))
            } else {
                AssessmentCLI.print(report)
            }
            return
        }
        var shown: [AssessmentCLI.Shown] = []
        var failed = 0
        for file in files {
            do {
                let report = try assessor.assess(file: file)
                shown.append(.init(file: file, recording: nil, assessment: nil, report: report))
                if !output.json {
                    if files.count > 1 { Swift.print("\(file):") }
                    AssessmentCLI.print(report)
                }
            } catch let error as AudioError {
                failed += 1
                Output.note("\(file): \(error.clinicError.message)")
            }
        }
        if output.json { try Output.json(shown) }
        if failed > 0 { throw ClinicError.invalid("\(failed) of \(files.count) file(s) could not be read as audio; nothing was assessed for them.") }
    }
}

/// The CLI's side of assessment: loading the models, assessing stored audio, and the record stored.
enum AssessmentCLI {
    /// The models: from `--models DIR` or `CLINIC_MODELS` when given (a researcher's retrained
    /// folder, checksums checked), else those built into clinic.
    static func assessor(models directory: String? = nil) throws -> Assessor {
        if let directory = directory ?? ProcessInfo.processInfo.environment["CLINIC_MODELS"].flatMap({ $0.isEmpty ? nil : $0 }) {
            do { return try Assessor.load(directory: URL(fileURLWithPath: (directory as NSString).expandingTildeInPath)) } catch {
                throw ClinicError(.invalidInput, "The models in \(directory) cannot be used: \(error).")
            }
        }
        do { return try Assessor.shipped() } catch {
            throw ClinicError(.integrity, "The assessment models built into clinic cannot be used (\(error)). Reinstall clinic.")
        }
    }

    /// A stored recording's audio, assessed (from a temporary copy of its stored file).
    static func assess(_ recording: Recording, in store: ClinicStore, with assessor: Assessor) throws -> AssessmentReport {
        try withStoredAudio(recording, in: store) { try assessor.assess(file: $0) }
    }

    /// Runs `body` on a temporary copy of a recording's stored audio file (removed after).
    static func withStoredAudio<T>(_ recording: Recording, in store: ClinicStore, _ body: (String) throws -> T) throws -> T {
        let bytes = try store.audio(of: recording)
        let copy = FileManager.default.temporaryDirectory.appending(path: "clinic-audio-\(UUID().uuidString).flac")
        guard FileManager.default.createFile(atPath: copy.path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw ClinicError(.io, "Cannot write a temporary copy of the audio in \(copy.deletingLastPathComponent().path).")
        }
        defer { try? FileManager.default.removeItem(at: copy) }
        return try body(copy.path)
    }

    /// The stored form: kind `assessment`, the models by name, their versions, the report as JSON.
    static func record(_ report: AssessmentReport) throws -> NewAssessment {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(report), as: UTF8.self)
        let tasks = report.models.keys.sorted()
        let names = tasks.compactMap { report.models[$0]?.split(separator: " ").first.map(String.init) }
        let versions = Array(Set(tasks.compactMap { report.models[$0]?.split(separator: " ").dropFirst().first.map(String.init) })).sorted()
        return NewAssessment(kind: "assessment", model: names.joined(separator: "+"), modelVersion: String(versions.joined(separator: "/").prefix(64)), result: json)
    }

    /// What a nurse reads: the summary, and the advice on its own line.
    static func print(_ report: AssessmentReport) {
        Swift.print(report.summary)
        if let reason = report.reason { Swift.print("  not assessed: \(reason)") }
        if let advice = report.advice { Swift.print("  advice: \(advice)") }
    }

    /// The parts of a stored assessment's result that `patient show` prints.
    struct Stored: Decodable {
        struct Quality: Decodable { var grade: String; var acceptable: Bool }
        struct Call: Decodable { var call: String }
        var quality: Quality
        var abnormal: Call
        var murmur: Call
        var advice: String?

        init?(_ assessment: Assessment) {
            guard assessment.kind == "assessment",
                  let s = try? JSONDecoder().decode(Stored.self, from: Data(assessment.result.utf8)) else { return nil }
            self = s
        }

        var line: String {
            "quality \(quality.grade) (\(quality.acceptable ? "acceptable" : "unacceptable")); \(abnormal.call); murmur \(murmur.call)"
                + (advice != nil ? "  (record again)" : "")
        }
    }

    struct Shown: Encodable {
        var file: String?
        var recording: String?
        var assessment: String?
        var report: AssessmentReport
    }
}
