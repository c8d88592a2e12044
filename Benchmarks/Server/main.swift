// clinic-server-bench: N simulated devices push and pull concurrently over loopback against a
// real `clinic-server` process, on each backend. Prints ingest throughput, push p50/p99, pull
// p50, the server's peak memory, and the ratio of push latency to a same-run baseline (the
// unauthenticated health endpoint under the same concurrency).
//
//   swift build -c release && .build/release/clinic-server-bench [--devices 200] [--rounds 10]
//       [--batch 50] [--backend sqlite|postgres|both]
// Targets (issue 4): >= 5,000 changes/s and push p99 <= 250 ms at 200 devices on SQLite.
import AsyncHTTPClient
import ClinicCore
import ClinicServer
import ClinicSync
import Foundation
import NIOCore

func option(_ name: String, _ fallback: String) -> String {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count { return a[i + 1] }
    return fallback
}

let devicesCount = Int(option("--devices", "200"))!
let rounds = Int(option("--rounds", "10"))!
let batch = Int(option("--batch", "50"))!
let backends = option("--backend", "both") == "both" ? ["sqlite", "postgres"] : [option("--backend", "both")]
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func shell(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
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

let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
    connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: devicesCount + 8)))

func request(_ url: String, post: Bool = false, token: String? = nil, body: Data? = nil) async throws -> (UInt, ByteBuffer, Double) {
    var req = HTTPClientRequest(url: url)
    if post { req.method = .POST }
    if let token { req.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let body {
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(ByteBuffer(bytes: body))
    }
    let start = DispatchTime.now().uptimeNanoseconds
    let response = try await client.execute(req, timeout: .seconds(60))
    let bytes = try await response.body.collect(upTo: 64 << 20)
    return (response.status.code, bytes, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
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

    let server = Process()
    server.executableURL = binDir.appending(path: "clinic-server")
    server.arguments = ["serve", "--data", dir.path, "--port", String(port)] + dbArgs
    server.environment = ProcessInfo.processInfo.environment.merging(["LOG_LEVEL": "warning"]) { $1 }
    try server.run()
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

    let started = DispatchTime.now().uptimeNanoseconds
    let (pushes, pulls, failures) = try await withThrowingTaskGroup(of: ([Double], [Double], Int).self) { group in
        for (device, token) in devices {
            group.addTask {
                var pushTimes: [Double] = [], pullTimes: [Double] = [], failures = 0
                var seq: Int64 = 0, cursor: Int64 = 0
                let encoder = JSONEncoder()
                for _ in 0..<rounds {
                    let entries = (0..<batch).map { _ -> PushEntry in
                        seq += 1
                        let id = UUID()
                        let now = Timestamp.format(Date())
                        return PushEntry(change: Change(
                            sequence: seq, changeID: UUID(), entity: .patient, entityID: id, operation: .insert,
                            fields: ["id": .text(id.lowercased), "given_name": .text("Given \(seq)"), "family_name": .text("Family"),
                                     "created_at": .text(now), "updated_at": .text(now), "deleted": .integer(0)],
                            hlc: HLCTimestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000), counter: Int32(seq)), deviceID: device.id))
                    }
                    let (status, _, t) = try await request(base + "/v1/changes", post: true, token: token,
                                                           body: try encoder.encode(PushRequest(changes: entries)))
                    if status != 200 { failures += 1 }
                    pushTimes.append(t)
                    let (_, body, tp) = try await request(base + "/v1/changes?after=\(cursor)&limit=1000", token: token)
                    if let page = try? JSONDecoder().decode(PullResponse.self, from: Data(body.readableBytesView)) { cursor = page.next }
                    pullTimes.append(tp)
                }
                return (pushTimes, pullTimes, failures)
            }
        }
        var all = ([Double](), [Double](), 0)
        for try await r in group { all.0 += r.0; all.1 += r.1; all.2 += r.2 }
        return all
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let changes = devicesCount * rounds * batch
    let peak = memoryKB(server.processIdentifier, "VmHWM:")
    server.terminate()
    server.waitUntilExit()
    if backend == "postgres" { _ = try? shell(["bash", repo.appending(path: "scripts/temp-postgres.sh").path, "stop", pgDir]) }
    try? FileManager.default.removeItem(at: dir)

    print("\(backend): \(devicesCount) devices x \(rounds) rounds x \(batch) changes = \(changes) changes, each push followed by a pull")
    print(String(format: "  ingest %.0f changes/s (%.1f s)  push p50 %.1f ms  p99 %.1f ms  pull p50 %.1f ms  failed pushes %d",
                 Double(changes) / seconds, seconds, percentile(pushes, 0.5), percentile(pushes, 0.99), percentile(pulls, 0.5), failures))
    print(String(format: "  server peak memory %.0f MB   baseline health p50 %.2f ms   push p50 / health p50 = %.1fx",
                 Double(peak) / 1024, percentile(health, 0.5), percentile(pushes, 0.5) / percentile(health, 0.5)))
    if backend == "sqlite" {
        print("  targets: >= 5000 changes/s \(Double(changes) / seconds >= 5000 ? "MET" : "NOT MET"), push p99 <= 250 ms \(percentile(pushes, 0.99) <= 250 ? "MET" : "NOT MET")")
    }
}
try await client.shutdown()
