import ClinicTestSupport
import Foundation
import Testing

/// `kill -9` of `clinic add-recording` at any moment leaves a store that `clinic doctor` calls
/// clean, and re-running the same import leaves exactly one copy of the recording.
@Suite(.serialized) struct CrashSafetyTests {
    let audio = sample("circor2022_68318_TV.flac")

    func recordingCount(_ store: URL, patient: String) throws -> Int {
        let r = try clinic(["recording", "list", "--patient", patient, "--json"], store: store)
        return try #require(r.json as? [Any]).count
    }

    /// Checks the store after a crash, re-runs the import and checks again.
    func expectRecoveredAndRerunGivesOneCopy(_ store: URL, patient: String, context: String) throws {
        let doctor = try clinic(["doctor"], store: store)
        #expect(doctor.status == 0, "\(context): \(doctor.stdout)")
        #expect(try recordingCount(store, patient: patient) <= 1, "\(context)")
        let rerun = try clinic(["add-recording", "--patient", patient, "--location", "TV", audio], store: store)
        #expect(rerun.status == 0 || rerun.status == 5, "\(context): \(rerun.stderr)")
        #expect(try recordingCount(store, patient: patient) == 1, "\(context)")
        #expect(try clinic(["doctor"], store: store).status == 0, "\(context)")
    }

    @Test(arguments: ["after-stage", "before-publish", "before-commit", "after-commit"])
    func killAtEachNamedPoint(_ point: String) async throws {
        try await offThePool {
            let store = try newStore(); defer { cleanup(store) }
            let patient = try addPatient(store)
            let r = try clinic(["add-recording", "--patient", patient, "--location", "TV", audio], store: store,
                               environment: ["CLINIC_FAULT_POINT": point])
            #expect(r.status == SIGKILL, "the process was to die at \(point)")
            #expect(try recordingCount(store, patient: patient) == (point == "after-commit" ? 1 : 0))
            try expectRecoveredAndRerunGivesOneCopy(store, patient: patient, context: point)
        }
    }

    @Test func killAtRandomMoments() async throws {
        try await offThePool {
            let store = try newStore(); defer { cleanup(store) }
            var rng = SplitMix(seed: UInt64(ProcessInfo.processInfo.environment["CLINIC_CRASH_SEED"] ?? "") ?? 20261122)
            // How long a whole import takes here, to spread the kills over it.
            let started = Date()
            let probe = try addPatient(store, "Probe", "Patient")
            #expect(try clinic(["add-recording", "--patient", probe, "--location", "TV", audio], store: store).status == 0)
            let span = max(0.02, Date().timeIntervalSince(started)) * 1.2
            var killed = 0, finished = 0
            for i in 0..<40 {
                let patient = try addPatient(store, "Crash", "Test \(i)")
                let process = Process()
                process.executableURL = clinicBinary
                process.arguments = ["add-recording", "--patient", patient, "--location", "TV", audio]
                process.environment = ProcessInfo.processInfo.environment.merging(["CLINIC_STORE": store.path]) { $1 }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                usleep(UInt32(Double(rng.next() % 1_000) / 1_000 * span * 1_000_000))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                if process.terminationReason == .uncaughtSignal { killed += 1 } else { finished += 1 }
                try expectRecoveredAndRerunGivesOneCopy(store, patient: patient, context: "iteration \(i)")
            }
            print("crash test: \(killed) of 40 imports killed before finishing, \(finished) finished first")
            #expect(killed > 10, "only \(killed) of 40 imports were killed before finishing")
            let status = try #require(try clinic(["status", "--json"], store: store).json as? [String: Any])
            #expect(status["recordings"] as? Int == 41)
        }
    }
}
