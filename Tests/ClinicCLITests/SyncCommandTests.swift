import ClinicCore
import ClinicTestSupport
import Foundation
import Testing

/// `clinic config`, `clinic sync` and `clinic conflicts` as an administrator runs them: the
/// built binaries, a real `clinic-server` process on 127.0.0.1, real recordings.
@Suite(.serialized) struct SyncCommandTests {
    static let serverBinary = clinicBinary.deletingLastPathComponent().appending(path: "clinic-server")

    /// A clinic-server process with one site, stopped when the test ends.
    final class Server {
        let data: URL
        let port: Int
        private var process: Process?

        init() throws {
            data = FileManager.default.temporaryDirectory.appending(path: "clinic-cli-server-\(UUID().uuidString)")
            port = freeLoopbackPort()
            let r = try Self.admin(["site", "add", "Test clinic"], data)
            #expect(r.status == 0, "\(r.stderr)")
        }
        deinit { stop(); cleanup(data) }

        var url: String { "http://127.0.0.1:\(port)" }

        static func admin(_ arguments: [String], _ data: URL) throws -> Result {
            let r = try runProcess(SyncCommandTests.serverBinary, arguments + ["--data", data.path])
            return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
        }

        /// Enrols the laptop whose store is `store` and saves server and token in it, the token through standard input.
        func enroll(_ store: URL, url: String? = nil) throws {
            let status = try clinic(["status", "--json"], store: store)
            let device = try #require((status.json as? [String: Any])?["device_id"] as? String)
            let enrolled = try Self.admin(["device", "enroll", "--site", "Test clinic", "--device-id", device], data)
            #expect(enrolled.status == 0, "\(enrolled.stderr)")
            let token = enrolled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try clinic(["config", "set", "server", url ?? self.url], store: store).status == 0)
            let set = try clinic(["config", "set", "token"], store: store, input: token + "\n")
            #expect(set.status == 0 && !set.stderr.contains(token), "\(set.stderr)")
        }

        func start() throws {
            let p = Process()
            p.executableURL = SyncCommandTests.serverBinary
            p.arguments = ["serve", "--data", data.path, "--port", String(port)]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            process = p
            #expect(waitForLoopbackPort(port), "clinic-server did not start")
        }

        /// A crash: `kill -9`, so nothing is flushed or closed in order.
        func crash() {
            guard let p = process, p.isRunning else { return }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            process = nil
        }

        func stop() {
            guard let p = process, p.isRunning else { return }
            p.terminate()
            p.waitUntilExit()
            process = nil
        }
    }

    func json(_ r: Result) -> [String: Any] { (r.json as? [String: Any]) ?? [:] }

    @Test func twoLaptopsSyncThroughAServerProcessAndResolveAConflict() async throws {
        try await offThePool {
            let server = try Server()
            try server.start()
            let a = try newStore(), b = try newStore()
            defer { cleanup(a); cleanup(b) }
            try server.enroll(a)
            try server.enroll(b)

            // The token is kept readable by its owner only and never shown whole.
            let settings = a.appending(path: "sync.json").path
            let mode = try FileManager.default.attributesOfItem(atPath: settings)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let token = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: settings))) as? [String: Any])?["token"] as? String)
            let shown = try clinic(["config", "show"], store: a)
            #expect(shown.status == 0 && shown.stdout.contains(server.url) && !shown.stdout.contains(token))

            let patient = try addPatient(a, "Amina", "Okafor")
            #expect(try clinic(["add-recording", "--patient", patient, "--location", "AV", sample("circor2022_13918_AV.flac")], store: a).status == 0)
            let first = try clinic(["sync", "--json"], store: a)
            #expect(first.status == 0 && json(first)["ok"] as? Bool == true && json(first)["pushed"] as? Int == 3
                    && json(first)["audio_uploaded"] as? Int == 1, "\(first.stdout)\(first.stderr)")

            let pulled = try clinic(["sync", "--with-audio"], store: b)
            #expect(pulled.status == 0 && pulled.stdout.contains("received 3 change(s)") && pulled.stdout.contains("downloaded 1 audio file(s)"), "\(pulled.stdout)")
            let listed = try clinic(["patient", "list", "--search", "okaf"], store: b)
            #expect(listed.stdout.contains(patient), "a pulled patient is found by search")
            let recording = try #require(try clinic(["recording", "list"], store: b).stdout.split(separator: " ").first.map(String.init))
            let exported = FileManager.default.temporaryDirectory.appending(path: "clinic-export-\(UUID().uuidString).flac")
            defer { cleanup(exported) }
            #expect(try clinic(["recording", "export", recording, "--out", exported.path], store: b).status == 0)
            // A third laptop synced without audio: exporting the recording downloads that file.
            let c = try newStore()
            defer { cleanup(c) }
            // Server and token for one run, on the command line; nothing saved.
            let enrolled = try Server.admin(["device", "enroll", "--site", "Test clinic", "--device-id",
                                             try #require(json(try clinic(["status", "--json"], store: c))["device_id"] as? String)], server.data)
            let cToken = enrolled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let once = try clinic(["sync", "--server", server.url, "--token", cToken], store: c)
            #expect(once.status == 0 && once.stdout.contains("received 3 change(s)"), "\(once.stdout)\(once.stderr)")
            #expect(!FileManager.default.fileExists(atPath: c.appending(path: "sync.json").path), "a one-run server and token are not saved")
            #expect(try clinic(["config", "set", "server", server.url], store: c).status == 0)
            #expect(try clinic(["config", "set", "token"], store: c, input: cToken + "\n").status == 0)
            let fetchedFile = FileManager.default.temporaryDirectory.appending(path: "clinic-export-\(UUID().uuidString).flac")
            defer { cleanup(fetchedFile) }
            let fetched = try clinic(["recording", "export", recording, "--out", fetchedFile.path], store: c)
            #expect(fetched.status == 0 && fetched.stderr.contains("downloading it from the server"), "\(fetched.stderr)")
            #expect(FileManager.default.contentsEqual(atPath: exported.path, andPath: fetchedFile.path))
            #expect(try clinic(["doctor"], store: c).status == 0)

            // Both edit the family name offline; the later edit wins everywhere, the other is kept as a conflict.
            #expect(try clinic(["patient", "update", patient, "--family-name", "Okafor-Bello"], store: a).status == 0)
            #expect(try clinic(["patient", "update", patient, "--family-name", "Bello"], store: b).status == 0)
            for store in [a, b, a] { #expect(try clinic(["sync"], store: store).status == 0) }
            let conflicts = try clinic(["conflicts", "list", "--json"], store: a)
            let list = try #require(conflicts.json as? [[String: Any]])
            #expect(list.count == 1 && list.first?["field"] as? String == "family_name")
            let id = try #require(list.first?["id"] as? String)
            let human = try clinic(["conflicts", "list"], store: a)
            #expect(human.stdout.contains("kept:  Bello") && human.stdout.contains("lost:  Okafor-Bello  by this device"))

            let resolved = try clinic(["conflicts", "resolve", id, "--keep", "mine"], store: a)
            #expect(resolved.status == 0, "\(resolved.stderr)")
            #expect(try clinic(["conflicts", "list"], store: a).stderr.contains("No open conflicts"))
            for store in [a, b] { #expect(try clinic(["sync"], store: store).status == 0) }
            for store in [a, b] {
                #expect(try clinic(["patient", "show", patient], store: store).stdout.contains("Okafor-Bello"))
                #expect(try clinic(["doctor"], store: store).status == 0)
            }
            let again = try clinic(["conflicts", "resolve", id, "--keep", "theirs"], store: a)
            #expect(again.status == 3 && again.stderr.contains("already resolved"))
        }
    }

    @Test func syncSaysWhatIsMissingAndTellsTheTruthWhenTheServerIsDown() async throws {
        try await offThePool {
            let server = try Server()
            let a = try newStore()
            defer { cleanup(a) }
            let unset = try clinic(["sync"], store: a)
            #expect(unset.status == 3 && unset.stderr.contains("clinic config set server"))
            #expect(try clinic(["config", "set", "server", "ftp://x"], store: a).status == 3)
            #expect(try clinic(["config", "set", "token", "two words"], store: a).status == 3)
            #expect(try clinic(["config", "set", "colour", "red"], store: a).status == 3)
            try server.enroll(a)
            _ = try addPatient(a)

            // The server is not running: the sync fails, says so, and keeps everything for later.
            let down = try clinic(["sync"], store: a, environment: [:])
            #expect(down.status == 9 && down.stdout.contains("Sync stopped") && down.stdout.contains("Nothing is lost"), "\(down.stdout)")
            let status = try clinic(["status", "--json"], store: a)
            #expect(json(status)["pending_changes"] as? Int == 1 && json(status)["last_sync_error"] as? String != nil)

            try server.start()
            let up = try clinic(["sync", "--json"], store: a)
            #expect(up.status == 0 && json(up)["pushed"] as? Int == 1)
            let after = try clinic(["status", "--json"], store: a)
            #expect(json(after)["pending_changes"] as? Int == 0 && json(after)["last_sync_error"] == nil)
        }
    }

    /// `kill -9` in the middle of a sync over a slow link, three times at different moments:
    /// the next sync finishes, and nothing is lost or duplicated.
    @Test func aSyncKilledMidwayLosesAndDuplicatesNothing() async throws {
        try await offThePool {
            let server = try Server()
            try server.start()
            let proxy = try FaultProxy(upstream: server.port)
            defer { proxy.stop() }
            proxy.bytesPerSecond = 40_000
            let a = try newStore(), b = try newStore()
            defer { cleanup(a); cleanup(b) }
            try server.enroll(a, url: proxy.url)
            try server.enroll(b)
            var patients: [String] = []
            for i in 0..<3 {
                patients.append(try addPatient(a, "Patient\(i)", "Family\(i)"))
                #expect(try clinic(["add-recording", "--patient", patients[i], "--location", "AV",
                                    sample(["circor2022_13918_AV.flac", "circor2022_13918_PV.flac", "circor2022_31737_AV.flac"][i])], store: a).status == 0)
            }
            for i in 0..<120 { _ = try clinic(["patient", "update", patients[i % 3], "--notes", "visit \(i)"], store: a) }
            for delay in [0.3, 0.8, 1.5] {
                let p = Process()
                p.executableURL = clinicBinary
                p.arguments = ["sync"]
                p.environment = ProcessInfo.processInfo.environment.merging(["CLINIC_STORE": a.path]) { $1 }
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                Thread.sleep(forTimeInterval: delay)
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                #expect(try clinic(["doctor"], store: a).status == 0, "the store is clean after kill -9 at \(delay) s")
            }
            proxy.bytesPerSecond = nil
            let finished = try clinic(["sync", "--json"], store: a)
            #expect(finished.status == 0 && json(finished)["ok"] as? Bool == true, "\(finished.stdout)")
            let statusA = json(try clinic(["status", "--json"], store: a))
            #expect(statusA["pending_changes"] as? Int == 0 && statusA["pending_audio_bytes"] as? Int == 0)
            // B receives every change exactly once and every recording's audio.
            let pulled = try clinic(["sync", "--with-audio", "--json"], store: b)
            #expect(json(pulled)["pulled"] as? Int == 129 && json(pulled)["audio_downloaded"] as? Int == 3, "\(pulled.stdout)")
            #expect(try clinic(["doctor"], store: b).status == 0)
            let shown = try clinic(["patient", "show", patients[2]], store: b).stdout
            #expect(shown.contains("visit 119"))
        }
    }

    /// The server crashes (`kill -9`) in the middle of a sync over a slow link and comes back
    /// a few seconds later: the running `clinic sync` retries, finishes, and says so; the
    /// server holds every change once; another laptop receives them all and the audio.
    @Test func aServerRestartMidSyncLosesAndDuplicatesNothing() async throws {
        try await offThePool {
            let server = try Server()
            try server.start()
            let proxy = try FaultProxy(upstream: server.port)
            defer { proxy.stop() }
            proxy.bytesPerSecond = 30_000
            let a = try newStore(), b = try newStore()
            defer { cleanup(a); cleanup(b) }
            try server.enroll(a, url: proxy.url)
            try server.enroll(b)
            let patient = try addPatient(a, "Amina", "Okafor")
            for (i, file) in ["circor2022_13918_AV.flac", "circor2022_13918_PV.flac", "circor2022_31737_AV.flac"].enumerated() {
                #expect(try clinic(["add-recording", "--patient", patient, "--location", ["AV", "PV", "MV"][i], sample(file)], store: a).status == 0)
            }
            for i in 0..<60 { _ = try clinic(["patient", "update", patient, "--notes", "visit \(i)"], store: a) }
            let p = Process()
            p.executableURL = clinicBinary
            p.arguments = ["sync", "--json"]
            p.environment = ProcessInfo.processInfo.environment.merging(["CLINIC_STORE": a.path]) { $1 }
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: 1.0)
            server.crash()
            Thread.sleep(forTimeInterval: 1.5)
            try server.start()
            let answer = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let report = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] ?? [:]
            #expect(p.terminationStatus == 0 && report["ok"] as? Bool == true && report["pushed"] as? Int == 67,
                    "\(String(decoding: answer, as: UTF8.self))")
            #expect((report["retries"] as? Int ?? 0) > 0, "the crash should have cost a retry: \(report)")
            #expect(json(try clinic(["status", "--json"], store: a))["pending_changes"] as? Int == 0)
            let pulled = try clinic(["sync", "--with-audio", "--json"], store: b)
            #expect(json(pulled)["pulled"] as? Int == 67 && json(pulled)["audio_downloaded"] as? Int == 3, "\(pulled.stdout)")
            #expect(try clinic(["doctor"], store: b).status == 0)
            #expect(try clinic(["patient", "show", patient], store: b).stdout.contains("visit 59"))
        }
    }
}
