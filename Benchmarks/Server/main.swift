// clinic-server-bench: N simulated devices push and pull concurrently over loopback against a
// real `clinic-server` process, on each backend. Prints ingest throughput, push p50/p99, pull
// p50, the server's peak memory, server and client CPU seconds, and the ratio of push latency
// to a same-run baseline (the unauthenticated health endpoint under the same concurrency).
// After the run it pulls every site's whole feed and checks that it holds exactly
// devices x rounds x batch changes, none twice.
//
//   swift build -c release --product clinic-server-bench && swift build -c release --product clinic-server
//   .build/release/clinic-server-bench [--devices 200] [--rounds 10] [--batch 50] [--backend sqlite|postgres|both]
// Targets (issue 4): >= 5,000 changes/s and push p99 <= 250 ms at 200 devices on SQLite.
import AsyncHTTPClient
import ClinicCore
import ClinicServer
import ClinicSync
import Foundation
import NIOCore

let usage = """
    usage: clinic-server-bench [--devices N] [--rounds N] [--batch N] [--backend sqlite|postgres|both]
                               [--mode closed|paced|both] [--rate CHANGES_PER_S]

    N devices (default 200, 20 per site) each push `rounds` batches of `batch` new patients
    (defaults 10 and 50), each push followed by a pull of the device's site feed, against a
    clinic-server process (next to this binary) on loopback. Two loads, one after the other:
      closed  every device pushes again as soon as its pull returns: the server's throughput at
              saturation (latency there is just queue length / throughput);
      paced   each device pushes on a fixed schedule so that all together offer --rate changes/s
              (default 5000), phases spread evenly: latency at that load, measured from each
              push's scheduled time (a push held up by the device's previous one counts that wait).
    PostgreSQL runs need PostgreSQL 15 (scripts/temp-postgres.sh starts a throwaway server).
    Prints changes/s, push p50/p99, pull p50, server peak RSS, server / database / client CPU
    seconds, and checks afterwards that the feed holds every change exactly once.
    Targets (issue 4), SQLite, 200 devices: >= 5,000 changes/s (closed loop) and push p99
    <= 250 ms with 5,000 changes/s offered (paced).
    """
if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    print(usage)
    exit(0)
}

func option(_ name: String, _ fallback: String) -> String {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count { return a[i + 1] }
    return fallback
}

let devicesCount = Int(option("--devices", "200"))!
let rounds = Int(option("--rounds", "10"))!
let batch = Int(option("--batch", "50"))!
let backends = option("--backend", "both") == "both" ? ["sqlite", "postgres"] : [option("--backend", "both")]
let modes = option("--mode", "both") == "both" ? ["closed", "paced"] : [option("--mode", "both")]
let pacedRate = Double(option("--rate", "5000"))!
guard modes.allSatisfy({ ["closed", "paced"].contains($0) }), pacedRate > 0 else {
    print(usage)
    exit(2)
}
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
var exitCode: Int32 = 0

/// Runs a command (posix_spawn + waitpid: Foundation's Process on Linux has been seen never to
/// notice that a child ended, which hung the PostgreSQL run) and returns its standard output.
func shell(_ args: [String]) throws -> String {
    let output = FileManager.default.temporaryDirectory.appending(path: "bench-shell-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    let pid = try spawn(["/usr/bin/env"] + args, stdout: output)
    _ = waitForExit(pid, timeout: 120)
    return ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
}

func spawn(_ arguments: [String], stdout: String = "/dev/null", environment: [String: String] = ProcessInfo.processInfo.environment) throws -> pid_t {
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    guard posix_spawn(&pid, arguments[0], &actions, nil, argv, envp) == 0 else { throw CocoaError(.executableLoad) }
    return pid
}

/// Polls for a child's end (waitpid with WNOHANG, so nothing waits on a notification that may
/// never come); SIGKILL after `timeout` seconds. Returns false if it had to kill.
@discardableResult
func waitForExit(_ pid: pid_t, timeout: Double) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while Date() < deadline {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid || (r < 0 && errno != EINTR) { return true }
        usleep(20_000)
    }
    kill(pid, SIGKILL)
    _ = waitpid(pid, &status, 0)
    return false
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s[min(s.count - 1, Int(Double(s.count) * p))]
}

func memoryKB(_ pid: Int32, _ key: String) -> Int {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix(key) } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
}

/// (parent pid, user + system CPU seconds) of a process, from /proc/PID/stat.
func processCPU(_ pid: Int32) -> (ppid: Int32, seconds: Double)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let ppid = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (ppid, (user + system) / ticks)
}

/// CPU seconds of PostgreSQL: the postmaster and its children (one backend per connection).
func postgresCPU(dataDirectory: String) -> Double {
    guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
          let first = text.split(separator: "\n").first, let postmaster = Int32(first) else { return .nan }
    var total = processCPU(postmaster)?.seconds ?? 0
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        if let pid = Int32(name), let cpu = processCPU(pid), cpu.ppid == postmaster { total += cpu.seconds }
    }
    return total
}

func clientCPU() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
    connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: devicesCount + 8)))

func request(_ url: String, post: Bool = false, token: String? = nil, body: ByteBuffer? = nil) async throws -> (UInt, ByteBuffer, Double) {
    var req = HTTPClientRequest(url: url)
    if post { req.method = .POST }
    if let token { req.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let body {
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(body)
    }
    let start = DispatchTime.now().uptimeNanoseconds
    let response = try await client.execute(req, timeout: .seconds(120))
    let bytes = try await response.body.collect(upTo: 64 << 20)
    return (response.status.code, bytes, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
}

struct LoadResult {
    var rate: Double?
    var seconds: Double
    var pushes: [Double]
    var pulls: [Double]
    var failures: Int
    var serverCPU = 0.0, databaseCPU = 0.0, clientCPU = 0.0
}

/// Every device pushes its bodies in order, each push followed by a pull of its site feed.
/// `rate` nil: back to back (closed loop). Otherwise device i's k-th push is due at
/// start + (i / devices + k) x interval, interval = devices x batch / rate, and its latency is
/// counted from that due time (no coordinated omission).
func load(base: String, devices: [(DeviceRecord, String)], bodies: [[ByteBuffer]], rate: Double?) async throws -> LoadResult {
    let interval = rate.map { Double(devices.count * batch) / $0 } ?? 0
    let start = DispatchTime.now().uptimeNanoseconds
    let (pushes, pulls, failures) = try await withThrowingTaskGroup(of: ([Double], [Double], Int).self) { group in
        for (index, ((_, token), deviceBodies)) in zip(devices, bodies).enumerated() {
            group.addTask {
                var pushTimes: [Double] = [], pullTimes: [Double] = [], failures = 0
                var cursor: Int64 = 0
                for (k, body) in deviceBodies.enumerated() {
                    var due = DispatchTime.now().uptimeNanoseconds
                    if rate != nil {
                        due = start + UInt64((Double(index) / Double(devices.count) + Double(k)) * interval * 1e9)
                        let now = DispatchTime.now().uptimeNanoseconds
                        if due > now { try await Task.sleep(nanoseconds: due - now) }
                    }
                    let (status, _, _) = try await request(base + "/v1/changes", post: true, token: token, body: body)
                    if status != 200 { failures += 1 }
                    pushTimes.append(Double(DispatchTime.now().uptimeNanoseconds - due) / 1e6)
                    let (pullStatus, page, tp) = try await request(base + "/v1/changes?after=\(cursor)&limit=1000", token: token)
                    if pullStatus == 200, let next = nextCursor(page) { cursor = next } else { failures += 1 }
                    pullTimes.append(tp)
                }
                return (pushTimes, pullTimes, failures)
            }
        }
        var all = ([Double](), [Double](), 0)
        for try await r in group { all.0 += r.0; all.1 += r.1; all.2 += r.2 }
        return all
    }
    return LoadResult(rate: rate, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, pushes: pushes, pulls: pulls, failures: failures)
}

extension DefaultStringInterpolation {
    mutating func appendInterpolation(memoryKB: Int) { appendLiteral(String(format: "%.0f MB", Double(memoryKB) / 1024)) }
}

/// The `next` cursor of a pull page, read from its end (`…,"next":N}`: keys are sorted) so the
/// client does not spend the CPU it shares with the server decoding every page.
func nextCursor(_ body: ByteBuffer) -> Int64? {
    let text = String(buffer: body.getSlice(at: body.readerIndex + max(0, body.readableBytes - 40), length: min(40, body.readableBytes))!)
    guard let range = text.range(of: "\"next\":", options: .backwards) else { return nil }
    return Int64(text[range.upperBound...].dropLast())
}

/// Every entry of the site's feed, page by page (decoded in full).
func pullAll(_ base: String, token: String) async throws -> [FeedEntry] {
    var all: [FeedEntry] = []
    var cursor: Int64 = 0
    while true {
        let (status, body, _) = try await request(base + "/v1/changes?after=\(cursor)&limit=1000", token: token)
        guard status == 200 else { throw CocoaError(.coderReadCorrupt) }
        let page = try JSONDecoder().decode(PullResponse.self, from: Data(body.readableBytesView))
        all += page.changes
        cursor = page.next
        if !page.more { return all }
    }
}

for backend in backends {
    let dir = FileManager.default.temporaryDirectory.appending(path: "clinic-server-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let port = 30_000 + Int.random(in: 0..<10_000)
    var dbArgs: [String] = []
    let pgDir = dir.appending(path: "pg").path
    if backend == "postgres" {
        guard FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/initdb") else {
            print("postgres: skipped (PostgreSQL 15 is not installed)")
            continue
        }
        dbArgs = ["--db", try shell(["bash", repo.appending(path: "scripts/temp-postgres.sh").path, "start", pgDir, String(port + 1)])]
    }
    // Sites of 20 devices each, enrolled through the library.
    var config = ServerConfiguration.defaults(dataDirectory: dir)
    if let db = dbArgs.last, let location = DatabaseLocation(db) { config.database = location }
    let storage = try await Storage.open(config.database)
    let admin = ServerAdmin(storage: storage)
    var devices: [(DeviceRecord, String)] = []
    for i in 0..<devicesCount {
        if i % 20 == 0 { _ = try await admin.addSite(name: "Bench site \(i / 20)") }
        devices.append(try await admin.enroll(site: "Bench site \(i / 20)", name: "device \(i)"))
    }
    try await storage.shutdown()

    // Every request body, encoded before the clock starts: the client shares the 2 cores.
    let encoder = JSONEncoder()
    let bodies: [[ByteBuffer]] = try devices.map { device, _ in
        try (0..<rounds * modes.count).map { round in
            let entries = (0..<batch).map { i -> PushEntry in
                let seq = Int64(round * batch + i + 1)
                let id = UUID()
                let now = Timestamp.format(Date())
                return PushEntry(change: Change(
                    sequence: seq, changeID: UUID(), entity: .patient, entityID: id, operation: .insert,
                    fields: ["id": .text(id.lowercased), "given_name": .text("Given \(seq)"), "family_name": .text("Family"),
                             "created_at": .text(now), "updated_at": .text(now), "deleted": .integer(0)],
                    hlc: HLCTimestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000), counter: Int32(seq)), deviceID: device.id))
            }
            return ByteBuffer(bytes: try encoder.encode(PushRequest(changes: entries)))
        }
    }

    let serverPID = try spawn([binDir.appending(path: "clinic-server").path, "serve", "--data", dir.path, "--port", String(port)] + dbArgs,
                              environment: ProcessInfo.processInfo.environment.merging(["LOG_LEVEL": "warning"]) { $1 })
    let base = "http://127.0.0.1:\(port)"
    for _ in 0..<100 {
        if (try? await request(base + "/v1/health"))?.0 == 200 { break }
        try await Task.sleep(for: .milliseconds(100))
    }

    // Baseline: health under the same concurrency.
    let health = try await withThrowingTaskGroup(of: [Double].self) { group in
        for _ in 0..<devicesCount { group.addTask { var t: [Double] = []; for _ in 0..<rounds { t.append(try await request(base + "/v1/health").2) }; return t } }
        var all: [Double] = []
        for try await t in group { all += t }
        return all
    }

    // Closed loop first (throughput at saturation), then paced (latency at a fixed offered load).
    var runs: [LoadResult] = []
    var firstRound = 0
    for mode in modes {
        let rate: Double? = mode == "paced" ? pacedRate : nil
        let slice = bodies.map { Array($0[firstRound..<firstRound + rounds]) }
        firstRound += rounds
        let serverCPU0 = processCPU(serverPID)?.seconds ?? .nan
        let databaseCPU0 = backend == "postgres" ? postgresCPU(dataDirectory: pgDir + "/data") : 0
        let clientCPU0 = clientCPU()
        var result = try await load(base: base, devices: devices, bodies: slice, rate: rate)
        result.serverCPU = (processCPU(serverPID)?.seconds ?? .nan) - serverCPU0
        result.databaseCPU = backend == "postgres" ? postgresCPU(dataDirectory: pgDir + "/data") - databaseCPU0 : 0
        result.clientCPU = clientCPU() - clientCPU0
        runs.append(result)
    }
    let changes = devicesCount * rounds * batch
    let peak = memoryKB(serverPID, "VmHWM:")

    // The feed must hold every change exactly once: one device per site reads the whole site feed.
    var feedCount = 0, duplicates = 0
    var seenChanges = Set<UUID>(), seenServerSeqs = Set<Int64>()
    for index in stride(from: 0, to: devices.count, by: 20) {
        for entry in try await pullAll(base, token: devices[index].1) {
            feedCount += 1
            if !seenChanges.insert(entry.change.changeID).inserted || !seenServerSeqs.insert(entry.serverSeq).inserted { duplicates += 1 }
        }
    }

    kill(serverPID, SIGTERM)
    waitForExit(serverPID, timeout: 30)
    if backend == "postgres" { _ = try? shell(["bash", repo.appending(path: "scripts/temp-postgres.sh").path, "stop", pgDir]) }
    try? FileManager.default.removeItem(at: dir)

    print("\(backend): \(devicesCount) devices (sites of 20), each push of \(batch) new patients followed by a pull; server peak RSS \(memoryKB: peak)")
    for run in runs {
        let label = run.rate.map { String(format: "paced at %.0f changes/s (each device every %.2f s; latency from the scheduled time)", $0, Double(devicesCount * batch) / $0) }
            ?? "closed loop (each device pushes again as soon as its pull returns)"
        print("  \(label): \(changes) changes")
        print(String(format: "    ingest %.0f changes/s (%.1f s)  push p50 %.1f ms  p99 %.1f ms  pull p50 %.1f ms  failed requests %d",
                     Double(changes) / run.seconds, run.seconds, percentile(run.pushes, 0.5), percentile(run.pushes, 0.99), percentile(run.pulls, 0.5), run.failures))
        let postgresPart = backend == "postgres" ? String(format: "  postgres %.1f", run.databaseCPU) : ""
        print(String(format: "    CPU seconds: server %.1f", run.serverCPU) + postgresPart
              + String(format: "  client %.1f   (wall %.1f s, 2 cores)", run.clientCPU, run.seconds))
        print(String(format: "    push p50 / health p50 = %.1fx", percentile(run.pushes, 0.5) / percentile(health, 0.5)))
        if run.failures > 0 { exitCode = 1 }
    }
    print(String(format: "  baseline: health p50 %.2f ms under the same concurrency", percentile(health, 0.5)))
    let expected = changes * runs.count
    let feedOK = feedCount == expected && duplicates == 0
    print("  feed check: \(feedCount) entries of \(expected) expected, \(duplicates) duplicated: \(feedOK ? "OK" : "FAILED")")
    if backend == "sqlite" {
        if let closed = runs.first(where: { $0.rate == nil }) {
            let rate = Double(changes) / closed.seconds
            print("  target >= 5000 changes/s (closed loop, saturation): \(rate >= 5000 ? "MET" : "NOT MET")")
        }
        if let paced = runs.first(where: { $0.rate != nil }) {
            let achieved = Double(changes) / paced.seconds
            let met = percentile(paced.pushes, 0.99) <= 250 && achieved >= 0.95 * paced.rate!
            print(String(format: "  target push p99 <= 250 ms at %.0f changes/s offered (achieved %.0f): ", paced.rate!, achieved) + (met ? "MET" : "NOT MET"))
        }
    }
    if !feedOK { exitCode = 1 }
}
try await client.shutdown()
exit(exitCode)
