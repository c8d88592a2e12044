import ArgumentParser
import ClinicAudio
import ClinicCore
import ClinicStore
import Foundation

struct RecordingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recording",
        abstract: "List, show and export stored recordings.",
        subcommands: [List.self, Show.self, Export.self]
    )

    static func line(_ r: Recording) -> String {
        String(format: "%@  %@  %-5@ %6.1f s  %5d Hz  %@%@", r.id.lowercased, r.recordedAt, r.location.rawValue,
               r.duration, r.sampleRate, r.storedFormat, r.deleted ? "  (deleted)" : "")
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List recordings, newest first.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "Only this patient's recordings.") var patient: String?
        @Option(help: "Show at most this many (0: all).") var limit = 100
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let patientID = try patient.map { try store.resolvePatientID($0) }
            let recordings = try store.recordings(patientID: patientID, limit: limit == 0 ? nil : limit)
            if output.json { try Output.json(recordings); return }
            if recordings.isEmpty { Output.note("No recordings.") }
            for r in recordings { print(RecordingCommand.line(r)) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one recording.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The recording id (or its first 8 or more characters).") var id: String
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let r = try store.recording(try store.resolveRecordingID(id))
            if output.json { try Output.json(r); return }
            print("Recording   \(r.id.lowercased)\(r.deleted ? "  (deleted)" : "")")
            print("Patient     \(r.patientID.lowercased)")
            print("Location    \(r.location.rawValue)")
            print("Recorded at \(r.recordedAt)")
            print("Operator    \(r.operatorName ?? "-")")
            print("Device      \(r.device ?? "-")")
            print(String(format: "Audio       %.2f s, %d Hz, %d channel(s), %lld frames", r.duration, r.sampleRate, r.channels, r.frames))
            print("Original    \(r.originalFilename) (\(r.originalFormat), \(r.originalSize) bytes, sha256 \(r.originalSHA256))")
            print("Stored as   \(r.storedFormat), \(r.audioSize) bytes, sha256 \(r.audioSHA256)")
            print("Stored at   \(r.createdAt)")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a recording's audio to a WAV or FLAC file.",
            discussion: """
                The format follows the output name's extension (.wav or .flac); samples are exactly those stored. \
                A recording made on another device whose audio is not here yet is downloaded first (that file \
                only, resumable) from the server set with `clinic config set server`.
                """
        )
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The recording id (or its first 8 or more characters).") var id: String
        @Option(help: "The file to write (.wav or .flac).") var out: String
        @Flag(help: "Replace the output file if it exists.") var force = false
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let r = try store.recording(try store.resolveRecordingID(id))
            // Audio recorded on another device is fetched now, this file only, when a server is set.
            if try store.missingAudio().contains(where: { $0.sha256 == r.audioSHA256 }),
               let settings = try? SyncSettings.load(storeOptions.url), settings.server != nil, settings.token != nil {
                if !output.json { Output.note("The audio was recorded on another device; downloading it from the server...") }
                let report = try SyncCommand.run(store: store, settings: settings, configuration: .init(audioOnly: [r.audioSHA256]),
                                                 showProgress: !output.json)
                guard report.ok else {
                    throw ClinicError(.sync, "The audio could not be downloaded: \(report.error ?? "unknown reason"). Run this again when the link is back (what arrived is kept).")
                }
            }
            try AudioWriter.export(stored: try store.audio(of: r), storedFormat: r.storedFormat, to: out, overwrite: force)
            if output.json { try Output.json(["id": r.id.lowercased, "out": out]) } else { Output.note("Wrote \(out)") }
        }
    }
}
