import ArgumentParser
import ClinicAudio
import ClinicCore
import Foundation

@main
struct Clinic: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clinic",
        abstract: "An offline-first record store for heart-sound recordings in field clinics.",
        discussion: """
            The store lives in --store DIR, else $CLINIC_STORE, else ~/.clinic.
            Exit codes: 0 success; 3 invalid input; 4 not found; 5 duplicate; 6 store problem; \
            7 integrity problem (doctor); 8 file I/O error; 9 sync stopped (what was sent is kept); \
            10 sync finished but the server rejected changes; 64 usage error; 1 other failure.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, PatientCommand.self, AddRecording.self, RecordingCommand.self,
            Log.self, Status.self, Doctor.self, FeaturesCommand.self, AssessCommand.self, EvaluateCommand.self, ReportCommand.self,
            ConfigCommand.self, SyncCommand.self, ConflictsCommand.self,
        ]
    )

    /// glibc's mallopt, when the C library has one (RTLD_DEFAULT lookup; no glibc header needed).
    static func mallopt(_ parameter: Int32, _ value: Int32) {
        if let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            _ = unsafeBitCast(f, to: (@convention(c) (Int32, Int32) -> Int32).self)(parameter, value)
        }
    }
    /// malloc.h's M_TRIM_THRESHOLD and M_MMAP_THRESHOLD.
    static let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3

    /// For commands that analyse one recording after another (evaluate, features --manifest):
    /// the signal buffers (up to 32 MB each) stay in the heap for the next file instead of being
    /// mapped and unmapped every time. With the single-file threshold, the kernel zeroed about
    /// 16 MB of fresh pages per recording: half of `clinic evaluate`'s time was page faults.
    static func keepBuffers() {
        mallopt(mmapThreshold, 32 * 1024 * 1024)
        mallopt(trimThreshold, 64 * 1024 * 1024)
    }

    /// Runs the command; maps errors to the documented exit codes. Error messages never carry patient data.
    static func main() {
        // A fixed mmap threshold: large signal buffers go back to the system when freed
        // instead of raising glibc's threshold and staying in the heap (peak memory on a
        // 120 s recording, docs/audio-front-end.md). Batch commands undo it (`keepBuffers`).
        mallopt(mmapThreshold, 256 * 1024)
        // FFTW's plans from earlier processes: planning anew costs more than a 20 s
        // recording's features (docs/audio-front-end.md, "Speed").
        FFT.keepWisdom(in: FFT.defaultWisdomFile)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ClinicError {
            fail(error)
        } catch let error as AudioError {
            fail(error.clinicError)
        } catch {
            exit(withError: error)
        }
    }

    static func fail(_ error: ClinicError) -> Never {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        Foundation.exit(error.exitCode)
    }
}

/// Where the store is: `--store`, else `CLINIC_STORE`, else `~/.clinic`.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory.", valueName: "dir"))
    var store: String?

    var url: URL {
        let path = store ?? ProcessInfo.processInfo.environment["CLINIC_STORE"]
        guard let path, !path.isEmpty else {
            return userHomeDirectory.appending(path: ".clinic")
        }
        return URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
    }
}

struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print JSON for scripts.")
    var json = false
}

enum Output {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable) throws {
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
