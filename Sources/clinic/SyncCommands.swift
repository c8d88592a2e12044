import ArgumentParser
import ClinicCore
import ClinicStore
import ClinicSync
import ClinicSyncCurl
import Foundation

/// Where this laptop syncs: `sync.json` in the store directory, readable by its owner only
/// (it holds the device's token).
struct SyncSettings: Codable, Equatable {
    var server: String?
    var token: String?
    var caFile: String?

    enum CodingKeys: String, CodingKey { case server, token, caFile = "ca_file" }

    static func file(_ store: URL) -> URL { store.appending(path: "sync.json") }

    static func checkedServer(_ value: String) throws -> String {
        guard !value.isEmpty else { throw ClinicError.invalid("Give the server's address, e.g. https://sync.example.org.") }
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil,
              url.user == nil, url.query == nil else {
            throw ClinicError.invalid("The server address must be http:// or https:// with a host and no user or query, e.g. https://sync.example.org.")
        }
        return value
    }

    static func checkedToken(_ value: String) throws -> String {
        let token = value.trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, token.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 }) else {
            throw ClinicError.invalid("The token must be the printable text the administrator gave (from clinic-server enroll).")
        }
        return token
    }

    static func load(_ store: URL) throws -> SyncSettings {
        let url = file(store)
        guard FileManager.default.fileExists(atPath: url.path) else { return SyncSettings() }
        do { return try JSONDecoder().decode(SyncSettings.self, from: Data(contentsOf: url)) } catch {
            throw ClinicError(.store, "\(url.path) cannot be read. Set the server and token again with `clinic config set`.")
        }
    }

    /// Written whole (a temporary file renamed over the old one), mode 0600 from the start.
    func save(_ store: URL) throws {
        guard FileManager.default.fileExists(atPath: store.appending(path: ClinicStore.databaseName).path) else {
            throw ClinicError(.store, "No clinic store at \(store.path). Run `clinic init` first.")
        }
        let url = Self.file(store)
        let temporary = store.appending(path: ".sync.json.\(getpid())")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        guard FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600]),
              chmod(temporary.path, 0o600) == 0, rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw ClinicError(.io, "Cannot write \(url.path).")
        }
    }

    /// `abcd…wxyz`: enough to tell two tokens apart, not enough to use one.
    static func masked(_ token: String?) -> String {
        guard let token, !token.isEmpty else { return "(not set)" }
        return token.count <= 12 ? "(set, \(token.count) characters)" : "\(token.prefix(4))…\(token.suffix(4))"
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Set or show where this laptop syncs (server, token, CA file).",
        subcommands: [Set.self, Show.self]
    )

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set server, token or ca-file.",
            discussion: """
                clinic config set server https://sync.example.org
                clinic config set token            (reads the token from standard input, so it stays out of the shell history)
                clinic config set ca-file /etc/clinic/ca.pem   (a private CA; empty to use the system's)
                The settings are kept in sync.json in the store, readable by its owner only.
                """
        )
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "server, token or ca-file.") var key: String
        @Argument(help: "The value (for token: omit it, or '-', to read it from standard input).") var value: String?

        func run() throws {
            var settings = try SyncSettings.load(storeOptions.url)
            switch key {
            case "server":
                settings.server = try SyncSettings.checkedServer(value ?? "")
            case "token":
                var token = value ?? "-"
                if token == "-" {
                    if isatty(0) == 1 { Output.note("Paste the device token, then press Enter:") }
                    token = readLine(strippingNewline: true) ?? ""
                }
                settings.token = try SyncSettings.checkedToken(token)
            case "ca-file":
                if let value, !value.isEmpty {
                    let path = (value as NSString).expandingTildeInPath
                    guard FileManager.default.isReadableFile(atPath: path) else { throw ClinicError.invalid("Cannot read the CA file \(path).") }
                    settings.caFile = URL(fileURLWithPath: path).path
                } else {
                    settings.caFile = nil
                }
            default:
                throw ClinicError.invalid("Unknown setting \(EntityRules.quotable(key)). Use server, token or ca-file.")
            }
            try settings.save(storeOptions.url)
            Output.note("Saved \(key == "token" ? "token \(SyncSettings.masked(settings.token))" : key).")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the sync settings (the token masked).")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: JSONFlag

        func run() throws {
            let settings = try SyncSettings.load(storeOptions.url)
            if output.json {
                struct Shown: Encodable { var server: String?; var token: String; var ca_file: String? }
                try Output.json(Shown(server: settings.server, token: SyncSettings.masked(settings.token), ca_file: settings.caFile))
                return
            }
            print("Server   \(settings.server ?? "(not set)")")
            print("Token    \(SyncSettings.masked(settings.token))")
            print("CA file  \(settings.caFile ?? "(the system's)")")
        }
    }
}

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Send this laptop's changes and audio to the server and bring back the site's other changes.",
        discussion: """
            Pushes every change not yet acknowledged (a recording's audio first), then pulls the site's \
            changes from other devices until none are left. An interrupted sync loses nothing: run it again \
            and it resumes where it stopped. Set the server first: clinic config set server URL; clinic config set token.
            Exit 0: everything is in step. Exit 9: the sync stopped (no network, token refused, …); what was sent \
            is kept. Exit 10: it finished, but the server rejected some changes (listed; clinic status counts them).
            """
    )
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONFlag
    @Flag(help: "Also download the audio of recordings made on other devices.") var withAudio = false
    @Option(help: ArgumentHelp("A PEM file of the CA that signed the server's certificate (overrides the saved one).", valueName: "file"))
    var caFile: String?
    @Option(help: ArgumentHelp("The server for this run only (instead of the saved one).", valueName: "url")) var server: String?
    @Option(help: ArgumentHelp("The device token for this run only. Other users can see a command line: prefer `clinic config set token`.",
                               valueName: "token")) var token: String?

    func run() throws {
        var settings = try SyncSettings.load(storeOptions.url)
        if let server { settings.server = try SyncSettings.checkedServer(server) }
        if let token { settings.token = try SyncSettings.checkedToken(token) }
        let store = try ClinicStore.open(at: storeOptions.url)
        if let caFile { settings.caFile = caFile }
        let report = try Self.run(store: store, settings: settings, configuration: .init(fetchAudio: withAudio), showProgress: !output.json)
        if output.json {
            try Output.json(report)
        } else {
            // One summary line; more only for what someone must act on.
            let kb = { (n: Int64) in n < 10 * 1024 ? "\(n) B" : "\(n / 1024) KB" }
            let audio = withAudio ? ", downloaded \(report.audioDownloaded) audio file(s)" : ""
            print((report.ok ? "Sync finished: " : "Sync stopped: \(report.error ?? "unknown reason"). Before that: ")
                  + "sent \(report.pushed) change(s) and \(report.audioUploaded) audio file(s), received \(report.pulled) change(s)\(audio)"
                  + " (\(kb(report.bytesUp)) up, \(kb(report.bytesDown)) down, \(String(format: "%.1f", report.durationSeconds)) s"
                  + "\(report.retries > 0 ? ", \(report.retries) retries" : ""))")
            for w in report.warnings { print("warning: \(w)") }
            if report.audioUnavailable > 0 { print("  \(report.audioUnavailable) audio file(s) not available from the server yet (asked again next sync)") }
            if report.newConflicts > 0 { print("  \(report.newConflicts) new conflict(s): see clinic conflicts list") }
            if report.pulledRefused > 0 { print("  \(report.pulledRefused) received change(s) could not be applied here") }
            if !report.rejected.isEmpty {
                print("  the server rejected \(report.rejected.count) change(s):")
                for r in report.rejected.prefix(20) { print("    change \(r.seq): \(r.reason)") }
            }
            if !report.ok { print("  Nothing is lost: run clinic sync again when the link is back.") }
        }
        if !report.ok { throw ExitCode(9) }
        if !report.rejected.isEmpty { throw ExitCode(10) }
    }
}

extension SyncCommand {
    /// One sync run against the saved server, with a progress line on a terminal.
    static func run(store: ClinicStore, settings: SyncSettings, configuration: SyncMachine.Configuration, showProgress: Bool) throws -> SyncReport {
        guard let server = settings.server else {
            throw ClinicError.invalid("No server is set. Run `clinic config set server URL`, then `clinic config set token`.")
        }
        guard let token = settings.token else {
            throw ClinicError.invalid("No device token is set. Run `clinic config set token` with the token from the administrator.")
        }
        let transport: CurlTransport
        do {
            transport = try CurlTransport(.init(server: server, token: token, caFile: settings.caFile))
        } catch {
            throw ClinicError.invalid("Cannot use the server address: \(error). Fix it with `clinic config set server URL`.")
        }
        let before = try store.status()
        let line = ProgressLine(show: showProgress, changes: configuration.audioOnly == nil ? Int(before.pendingChanges) : 0,
                                audioBytes: configuration.audioOnly == nil ? before.pendingAudioBytes : 0)
        let engine = SyncEngine(transport: transport, store: store, configuration: configuration, seed: UInt64.random(in: 1...UInt64.max),
                                sleep: { Thread.sleep(forTimeInterval: Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) },
                                progress: line.show)
        let report = engine.run()
        line.end()
        return report
    }
}

/// One progress line on standard error, rewritten in place on a terminal (nothing otherwise):
/// changes sent of those pending, audio bytes up or down, the rate and the time left.
final class ProgressLine {
    let enabled: Bool
    private var shown = false
    private let changes: Int
    private let audioTotal: Int64
    private let started = Date()
    private var sent = 0
    private var pulled = 0
    /// Audio bytes of finished files, and of the file in progress.
    private var audioDone: Int64 = 0
    private var current: (sha: String, received: Int64, total: Int64)?
    private var lastDraw = Date.distantPast

    init(show: Bool, changes: Int, audioBytes: Int64) {
        enabled = show && isatty(2) == 1
        self.changes = changes
        audioTotal = audioBytes
    }

    func show(_ p: SyncProgress) {
        guard enabled else { return }
        var note: String?
        switch p {
        case .connecting: note = "connecting…"
        case .pushing(let n): sent = n
        case .pulling(let n): pulled = n
        case .uploading(let sha, let received, let total), .downloading(let sha, let received, let total):
            if let c = current, c.sha != sha { audioDone += c.total }
            current = (sha, received, total)
        case .waiting(let d, let attempt): note = "link lost; retrying in \(d.components.seconds) s (retry \(attempt))"
        }
        let now = Date()
        guard note != nil || now.timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = now
        let audio = audioDone + (current?.received ?? 0)
        let elapsed = max(0.001, now.timeIntervalSince(started))
        let rate = Double(audio) / elapsed
        var parts = ["sent \(sent)/\(changes) changes"]
        if audioTotal > 0 || audio > 0 { parts.append("audio \(audio / 1024)/\(max(audioTotal, audio) / 1024) KB") }
        if pulled > 0 { parts.append("received \(pulled)") }
        if rate > 0 { parts.append("\(Int(rate / 1024)) KB/s") }
        if rate > 0, audioTotal > audio { parts.append("about \(Int(Double(audioTotal - audio) / rate) + 1) s left") }
        if let note { parts.append(note) }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(parts.joined(separator: " · "))".utf8))
        shown = true
    }

    func end() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

struct ConflictsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "List and resolve fields that two devices changed at the same time.",
        discussion: """
            When two devices change the same field of a patient without seeing each other's change, the later \
            change wins everywhere and the other value is kept here. Resolving writes the value you choose as a \
            new change, which the next clinic sync sends.
            """,
        subcommands: [List.self, Resolve.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List open conflicts (--all: resolved ones too).")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Include resolved conflicts.") var all = false
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let conflicts = try store.conflicts(includeResolved: all)
            if output.json { try Output.json(conflicts); return }
            if conflicts.isEmpty { Output.note(all ? "No conflicts." : "No open conflicts."); return }
            let me = try store.identity().deviceID
            func who(_ clock: FieldClock) -> String { clock.device.lowercased == me ? "this device" : "device \(clock.device.lowercased.prefix(8))" }
            for c in conflicts {
                let r = c.record
                print("\(r.id)  \(r.entity.rawValue) \(r.entityID)  field \(r.field)\(c.resolvedAt.map { "  (resolved \($0))" } ?? "")")
                print("  kept:  \(r.winningValue)  by \(who(r.winningClock)) at \(r.winningClock.hlc)")
                print("  lost:  \(r.losingValue)  by \(who(r.losingClock)) at \(r.losingClock.hlc)")
            }
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resolve a conflict: keep mine, theirs, kept, lost, or a new value.",
            discussion: """
                mine: the value this device wrote; theirs: the other device's. kept / lost: the value that won or \
                lost the merge (for a conflict between two other devices). Anything else is the new value itself.
                """
        )
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The conflict id.") var id: String
        @Option(help: "mine, theirs, kept, lost, or a value.") var keep: String
        @OptionGroup var output: JSONFlag

        func run() throws {
            guard let conflictID = UUID(strict: id) else { throw ClinicError.invalid("A conflict id is a UUID; `clinic conflicts list` shows them.") }
            let store = try ClinicStore.open(at: storeOptions.url)
            guard let conflict = try store.conflicts(includeResolved: true).first(where: { $0.record.id == conflictID.lowercased })?.record else {
                throw ClinicError(.notFound, "No conflict \(conflictID.lowercased) here. `clinic conflicts list` shows the open ones.")
            }
            let me = try store.identity().deviceID
            let choice: ConflictChoice
            switch keep {
            case "kept": choice = .winning
            case "lost": choice = .losing
            case "mine", "theirs":
                let winnerIsMine = conflict.winningClock.device.lowercased == me, loserIsMine = conflict.losingClock.device.lowercased == me
                guard winnerIsMine || loserIsMine else {
                    throw ClinicError.invalid("This device wrote neither value. Use --keep kept, --keep lost, or a new value.")
                }
                choice = (keep == "mine") == winnerIsMine ? .winning : .losing
            default: choice = .value(keep)
            }
            let seq = try store.resolveConflict(conflictID, choice)
            if output.json {
                struct Shown: Encodable { var conflict: String; var change_seq: Int64 }
                try Output.json(Shown(conflict: conflictID.lowercased, change_seq: seq))
            } else {
                print("Resolved; the next clinic sync sends it (change \(seq)).")
            }
        }
    }
}
