import ArgumentParser
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
        let audio = try AudioImport.prepare(path: file, limits: ImportLimits(maxDuration: maxDuration))
        let recording = try store.addRecording(NewRecording(
            patientID: patientID, location: AuscultationLocation(userText: location)!, recordedAt: recordedAt,
            operatorName: operatorName, device: device,
            originalFilename: URL(fileURLWithPath: file).lastPathComponent, audio: audio
        ), allowDuplicate: allowDuplicate)
        if output.json { try Output.json(recording); return }
        print(recording.id.lowercased)
        Output.note(String(format: "Stored %.1f s at %d Hz (%@, %@ kept as %@, %d KB).",
                           recording.duration, recording.sampleRate, recording.location.rawValue,
                           recording.originalFormat, recording.storedFormat, Int(recording.audioSize / 1024)))
    }
}
