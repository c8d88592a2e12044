import ArgumentParser
import ClinicAssessment
import ClinicAudio
import ClinicCore
import ClinicStore
import Foundation

struct AddRecording: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-recording",
        abstract: "Store a heart-sound recording for a patient and print its id.",
        discussion: """
            The file (WAV, FLAC, AIFF, OGG and other formats libsndfile reads) is decoded in full to \
            check it. Uncompressed PCM is kept as lossless FLAC, verified to decode to the same samples. \
            The same audio is refused a second time for the same patient, so re-running a command after \
            a crash never makes two records; pass --allow-duplicate to store it again on purpose.

            Every new recording is assessed at once (as `clinic assess` does) and the assessment is \
            stored with it: the quality grade, whether it is acceptable, normal/abnormal and murmur \
            calls with their confidence, and advice when it should be recorded again, printed on \
            standard error after the id (standard output holds only the id, or the JSON with --json).
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "The patient id (or its first 8 or more characters).") var patient: String
    @Option(help: "Auscultation site: AV, PV, TV, MV, Phc or other.") var location: String
    @Option(help: ArgumentHelp("When it was recorded (ISO 8601, e.g. 2026-11-22T09:30:00Z). Default: now.", valueName: "time"))
    var recordedAt: String?
    @Option(name: .customLong("operator"), help: "Who recorded it.") var operatorName: String?
    @Option(help: "The stethoscope or recorder used.") var device: String?
    @Option(help: "Longest recording accepted, in seconds.") var maxDuration: Double = 600
    @Flag(help: "Store the audio even if this patient already has it.") var allowDuplicate = false
    @Argument(help: "The audio file.") var file: String
    @OptionGroup var output: JSONFlag

    func validate() throws {
        guard AuscultationLocation(userText: location) != nil else {
            throw ValidationError("Unknown location. Use one of: \(AuscultationLocation.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if let recordedAt, Timestamp.parse(recordedAt) == nil {
            throw ValidationError("--recorded-at must be an ISO 8601 time such as 2026-11-22T09:30:00Z.")
        }
        guard maxDuration > 0, maxDuration <= 24 * 3600 else {
            throw ValidationError("--max-duration must be between 0 and 86400 seconds.")
        }
    }

    func run() throws {
        let recordedAt = self.recordedAt.flatMap(Timestamp.parse) ?? Date()
        guard recordedAt <= Date().addingTimeInterval(24 * 3600) else {
            throw ClinicError.invalid("--recorded-at is in the future. Check the date and the laptop's clock.")
        }
        let store = try ClinicStore.open(at: storeOptions.url)
        let patientID = try store.resolvePatientID(patient)
        _ = try store.patient(patientID)
        let limits = ImportLimits(maxDuration: maxDuration)
        let audio = try AudioImport.prepare(path: file, limits: limits)
        // Assessed before storing, so the assessment goes in the same transaction. A model
        // failure never stops a recording from being kept.
        var report: AssessmentReport?, unassessed: String?
        do { report = try AssessmentCLI.assessor().assess(file: file) } catch {
            unassessed = "The recording could not be assessed (\(error)); it is stored without an assessment."
        }
        let recording = try store.addRecording(NewRecording(
            patientID: patientID, location: AuscultationLocation(userText: location)!, recordedAt: recordedAt,
            operatorName: operatorName, device: device,
            originalFilename: URL(fileURLWithPath: file).lastPathComponent, audio: audio
        ), allowDuplicate: allowDuplicate, assessment: try report.map(AssessmentCLI.record))
        if output.json { try Output.json(Stored(recording: recording, assessment: report)); return }
        print(recording.id.lowercased)
        Output.note(String(format: "Stored %.1f s at %d Hz (%@, %@ kept as %@, %d KB).",
                           recording.duration, recording.sampleRate, recording.location.rawValue,
                           recording.originalFormat, recording.storedFormat, Int(recording.audioSize / 1024)))
        if let report {
            Output.note("Assessment: \(report.summary)")
            if let reason = report.reason { Output.note("  not assessed: \(reason)") }
            if let advice = report.advice { Output.note("  RECORD AGAIN: \(advice)") }
        } else if let unassessed {
            Output.note("warning: \(unassessed) Run `clinic assess --recording \(recording.id.lowercased)` later.")
        }
    }

    /// The recording's fields, and its assessment under `assessment` (null when it could not be made).
    struct Stored: Encodable {
        var recording: Recording
        var assessment: AssessmentReport?
        enum Keys: String, CodingKey { case assessment }
        func encode(to encoder: Encoder) throws {
            try recording.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(assessment, forKey: .assessment)
        }
    }
}
