import ArgumentParser
import ClinicCore
import ClinicStore
import Foundation

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the change log: every insert, update and delete, in order.",
        discussion: "Each entry has the device's sequence number, a hybrid logical clock time and the fields changed."
    )
    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "Only entries after this sequence number.") var after: Int64 = 0
    @Option(help: "Show at most this many.") var limit = 1000
    @OptionGroup var output: JSONFlag

    func run() throws {
        let store = try ClinicStore.open(at: storeOptions.url)
        let changes = try store.changes(after: after, limit: limit)
        if output.json { try Output.json(changes); return }
        for c in changes {
            let names = c.fields.keys.sorted().joined(separator: ",")
            print("\(c.sequence)\t\(c.hlc)\t\(c.operation.rawValue)\t\(c.entity.rawValue)\t\(c.entityID.lowercased)\t\(names)")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show counts, pending changes and the store's size.")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONFlag

    func run() throws {
        let status = try ClinicStore.open(at: storeOptions.url).status()
        if output.json { try Output.json(status); return }
        print("Store        \(status.store)")
        print("Site         \(status.site)")
        print("Device       \(status.deviceName) (\(status.deviceID))")
        print("Patients     \(status.patients)\(status.deletedPatients > 0 ? " (+\(status.deletedPatients) deleted)" : "")")
        print("Recordings   \(status.recordings)")
        print("Assessments  \(status.assessments)")
        print("Changes      \(status.changes) (\(status.pendingChanges) not yet synced\(status.rejectedChanges > 0 ? ", \(status.rejectedChanges) rejected by the server" : ""))")
        print("Sync         \(status.lastSyncAt.map { "last run \($0): \(status.lastSyncResult ?? "?")" } ?? "never run")\(status.pendingAudioBytes > 0 ? "; \(status.pendingAudioBytes / 1024) KB of audio to upload" : "")")
        if let error = status.lastSyncError { print("Last error   \(error)") }
        print("Size         \(status.audioBytes / 1024) KB audio, \(status.databaseBytes / 1024) KB database")
    }
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the store's integrity.",
        discussion: """
            Checks SQLite's integrity, foreign keys, the search index, every audio file (present, right size \
            and hash), orphan files, and that the change log replays to exactly the stored rows. Exits 7 and \
            lists the problems when the store is not clean. Imports interrupted by a crash are cleaned up first.
            """
    )
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONFlag

    func run() throws {
        let report = try ClinicStore.open(at: storeOptions.url).doctor()
        if output.json {
            struct Shown: Encodable { var clean: Bool; var checks: [String]; var problems: [String]; var recovered_imports: Int }
            try Output.json(Shown(clean: report.clean, checks: report.checks, problems: report.problems, recovered_imports: report.recoveredImports))
        } else {
            if report.recoveredImports > 0 { print("Cleaned up \(report.recoveredImports) interrupted import(s).") }
            for check in report.checks { print("checked: \(check)") }
            for problem in report.problems { print("PROBLEM: \(problem)") }
            print(report.clean ? "The store is clean." : "\(report.problems.count) problem(s) found.")
        }
        if !report.clean { throw ClinicError(.integrity, "The store has \(report.problems.count) problem(s); see above.") }
    }
}
