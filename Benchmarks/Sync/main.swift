// clinic-sync-bench: `clinic sync`'s engine against a real server (in this process, SQLite, on
// loopback), with stores and servers on /dev/shm so the disk's fsync does not dominate.
// Prints (issue 11):
//   1. initial sync of a site with --patients patients and --recordings recordings' metadata:
//      changes/s, where the time goes (server and HTTP, the local store, the engine), and the
//      same run's baseline: the server alone ingesting the same entries in-process;
//   2. peak memory (max RSS) of the `clinic sync` process (next to this binary) on that store;
//   3. audio upload efficiency: bytes on the wire (counted by a proxy) / audio bytes, no faults;
//   4. audio bytes re-sent per cut when a proxy cuts the link every few hundred KB.
//
//   swift build -c release --product clinic-sync-bench && swift build -c release --product clinic
//   .build/release/clinic-sync-bench [--patients 10000] [--recordings 30000]
// Targets: >= 10,000 changes/s; efficiency <= 1.02; <= one chunk re-sent per cut; <= 100 MB peak.
import ClinicCore
import ClinicServer
import ClinicStore
import ClinicSync
import ClinicSyncCurl
import ClinicTestSupport
import Crypto
import Foundation
import Logging
import Synchronization

func option(_ name: String, _ fallback: Int) -> Int {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count, let n = Int(a[i + 1]) { return n }
    return fallback
}
if CommandLine.arguments.contains("--help") {
    print("usage: clinic-sync-bench [--patients 10000] [--recordings 30000]  (see the comment at the top of Benchmarks/Sync/main.swift)")
    exit(0)
}
let patientCount = option("--patients", 10_000)
let recordingCount = option("--recordings", 30_000)
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let root = URL(fileURLWithPath: "/dev/shm").appending(path: "clinic-sync-bench-\(getpid())")
try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: root) }

func seconds(_ start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// Deterministic bytes standing in for audio (they do not compress, as FLAC does not).
func noise(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in x = x &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: x >> 33) }
}

func audio(_ bytes: [UInt8]) -> RecordingAudio {
    let sha = sha256Hex(bytes)
    return RecordingAudio(originalFormat: "flac/pcm16", originalSHA256: sha, originalSize: Int64(bytes.count), sampleRate: 4_000, channels: 1,
                          frames: 80_000, stored: bytes, storedFormat: "flac/pcm16", storedSHA256: sha, samplesSHA256: sha)
}

/// A store with `patients` patients and `recordings` recordings spread over them, their audio
/// one of `blobs` (each `blobBytes` long).
func makeStore(_ name: String, patients: Int, recordings: Int, blobs: Int, blobBytes: Int) throws -> URL {
    let dir = root.appending(path: name)
    let store = try ClinicStore.create(at: dir, site: "Bench", deviceName: name)
    var ids: [UUID] = []
    for chunk in stride(from: 0, to: patients, by: 1_000) {
        let inputs = (chunk..<min(patients, chunk + 1_000)).map { PatientInput(externalID: "B-\($0)", givenName: "Given\($0)", familyName: "Family\($0)") }
        ids += try store.addPatients(inputs).map(\.id)
    }
    let audios = (0..<blobs).map { audio(noise(blobBytes, seed: UInt64($0 + 1))) }
    for i in 0..<recordings {
        _ = try store.addRecording(NewRecording(patientID: ids[i % ids.count], location: .AV, recordedAt: Date(timeIntervalSince1970: 1_790_000_000),
                                                operatorName: "Nurse", device: "Steth", originalFilename: "r\(i).flac", audio: audios[i % audios.count]),
                                   allowDuplicate: true)
    }
    return dir
}

func copy(_ dir: URL, _ name: String) throws -> URL {
    let to = root.appending(path: name)
    try FileManager.default.copyItem(at: dir, to: to)
    try? FileManager.default.removeItem(at: to.appending(path: "lock"))
    return to
}

/// A clinic-server in this process on loopback, with one site and the store's device enrolled.
struct Server {
    let url: String
    let port: Int
    let token: String
    let storage: any ServerStorage
    let server: InProcessServer
    let site: String

    static func start(_ name: String, device: UUID, chunkBytes: Int = 1 << 20) async throws -> Server {
        var config = ServerConfiguration.defaults(dataDirectory: root.appending(path: name))
        try FileManager.default.createDirectory(at: root.appending(path: name), withIntermediateDirectories: true)
        config.port = 0
        config.chunkBytes = chunkBytes
        let storage = try await Storage.open(config.database)
        let admin = ServerAdmin(storage: storage)
        let site = try await admin.addSite(name: "Bench")
        let token = try await admin.enroll(site: "Bench", name: "laptop", deviceID: device).token
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "clinic-server")
        logger.logLevel = .critical  // the server's start and stop lines would break up the figures
        let app = try buildApplication(config, storage: storage, blobs: try FileBlobStorage(root: config.blobs), logger: logger,
                                       onServerRunning: { listening.yield($0) })
        let server = InProcessServer(app, logger: logger)
        var it = ports.makeAsyncIterator()
        let port = await it.next()!
        return Server(url: "http://127.0.0.1:\(port)", port: port, token: token, storage: storage, server: server, site: site.id)
    }

    func stop() async {
        await server.stop()
        try? await storage.shutdown()
    }
}

/// Times and counts what the engine asks of its neighbours.
final class TimedTransport: SyncTransport, @unchecked Sendable {
    let inner: CurlTransport
    var seconds = 0.0
    var putBodyBytes: Int64 = 0
    init(_ inner: CurlTransport) { self.inner = inner }
    func exchange(_ method: String, _ path: String, body: [UInt8]?, headers: [String: String]) -> Result<HTTPAnswer, SyncMachine.Failure> {
        let start = ContinuousClock.now
        defer { seconds += clinicSeconds(start) }
        if method == "PUT" { putBodyBytes += Int64(body?.count ?? 0) }
        return inner.exchange(method, path, body: body, headers: headers)
    }
}

final class TimedStore: SyncStore, @unchecked Sendable {
    let inner: ClinicStore
    var seconds = 0.0
    init(_ inner: ClinicStore) { self.inner = inner }
    func timed<T>(_ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        defer { seconds += clinicSeconds(start) }
        return try body()
    }
    func syncCursors() throws -> (push: Int64, pull: Int64) { try timed { try inner.syncCursors() } }
    func outgoingEntries(after: Int64, limit: Int) throws -> [OutgoingEntry] { try timed { try inner.outgoingEntries(after: after, limit: limit) } }
    func recordPushAnswers(_ results: [PushResult]) throws { try timed { try inner.recordPushAnswers(results) } }
    func serverHolds(audio sha256: String) throws -> Bool { try timed { try inner.serverHolds(audio: sha256) } }
    func markServerHolds(audio sha256: String) throws { try timed { try inner.markServerHolds(audio: sha256) } }
    func forgetServerHolds(audio sha256: String) throws { try timed { try inner.forgetServerHolds(audio: sha256) } }
    func audioBytes(_ sha256: String, range: Range<Int64>) throws -> [UInt8] { try timed { try inner.audioBytes(sha256, range: range) } }
    func applyPulledPage(_ page: PullResponse, after cursor: Int64) throws -> (applied: Int, refused: Int) { try timed { try inner.applyPulledPage(page, after: cursor) } }
    func keepConflicts(_ records: [ConflictRecord], openOnServer: Bool) throws -> Int { try timed { try inner.keepConflicts(records, openOnServer: openOnServer) } }
    func recordSyncResult(_ result: String, error: String?) throws { try timed { try inner.recordSyncResult(result, error: error) } }
    func missingAudio() throws -> [SyncMachine.Blob] { try timed { try inner.missingAudio() } }
    func appendDownloadedAudio(_ sha256: String, offset: Int64, _ bytes: [UInt8]) throws -> Int64 { try timed { try inner.appendDownloadedAudio(sha256, offset: offset, bytes) } }
}

func clinicSeconds(_ start: ContinuousClock.Instant) -> Double { seconds(start) }

/// Runs a sync on a thread of its own (libcurl blocks; the server here needs the pool's threads).
func sync(_ engine: SyncEngine) async -> SyncReport {
    struct Box: @unchecked Sendable { let engine: SyncEngine }
    let box = Box(engine: engine)
    return await withCheckedContinuation { done in Thread { done.resume(returning: box.engine.run()) }.start() }
}

func deviceID(_ dir: URL) throws -> UUID {
    let store = try ClinicStore.open(at: dir)
    return UUID(strict: try store.identity().deviceID)!
}

nonisolated(unsafe) var failures: [String] = []
func check(_ ok: Bool, _ what: String) { if !ok { failures.append(what); print("FAILED: \(what)") } }

// MARK: 1. Initial sync of a site's metadata

print("== building a store: \(patientCount) patients, \(recordingCount) recordings (30 distinct 32 KB audio files) on /dev/shm")
let built = ContinuousClock.now
let site = try makeStore("site", patients: patientCount, recordings: recordingCount, blobs: 30, blobBytes: 32_768)
print(String(format: "   built in %.1f s", seconds(built)))
let forCLI = try copy(site, "site-cli")
let changes = patientCount + recordingCount

do {
    let device = try deviceID(site)
    let server = try await Server.start("server-1", device: device)
    let store = try ClinicStore.open(at: site)
    let entries = try store.outgoingEntries(after: 0, limit: changes + 10).map(\.entry)  // for the baseline
    let transport = TimedTransport(try CurlTransport(.init(server: server.url, token: server.token)))
    let timedStore = TimedStore(store)
    let start = ContinuousClock.now
    let report = await sync(SyncEngine(transport: transport, store: timedStore, seed: 1, sleep: { _ in }))
    let wall = seconds(start)
    check(report.ok && report.pushed == changes, "initial sync: \(report)")
    let rate = Double(changes) / wall
    print("== 1. initial sync: \(changes) changes, \(report.audioUploaded) audio files, \(report.bytesUp / 1024) KB up in \(String(format: "%.2f", wall)) s")
    print(String(format: "   %.0f changes/s (target >= 10,000)", rate))
    print(String(format: "   time: server and HTTP %.2f s (%.0f%%), local store %.2f s (%.0f%%), engine (encoding, decisions) %.2f s",
                 transport.seconds, 100 * transport.seconds / wall, timedStore.seconds, 100 * timedStore.seconds / wall,
                 wall - transport.seconds - timedStore.seconds))
    // Baseline, same run: the whole feed as a pull without omit_own sends it (a client before
    // 2026-12-04 downloaded all of it, its own changes included).
    var wholeFeed = 0, cursor: Int64 = 0
    let raw = try CurlTransport(.init(server: server.url, token: server.token))
    while case .success(let r) = raw.send("GET", "/v1/changes?after=\(cursor)&limit=1000") {
        wholeFeed += r.body.count
        let page = try JSONDecoder().decode(PullResponse.self, from: Data(r.body))
        cursor = page.next
        if !page.more { break }
    }
    print(String(format: "   pulled %.1f KB (this device's own changes left out); the whole feed is %.1f KB: ratio %.4f",
                 Double(report.bytesDown) / 1024, Double(wholeFeed) / 1024, Double(report.bytesDown) / Double(max(wholeFeed, 1))))
    check(report.bytesDown * 20 < wholeFeed, "the initial sync downloads its own changes again")
    await server.stop()

    // Baseline, same run: the server alone takes the same entries (in-process, no HTTP), in the same batch size.
    let baseline = try await Server.start("server-base", device: device)
    // The audio first, as the client does (the server refuses recordings without it).
    var shas = Set<String>()
    for e in entries where e.change.entity == .recording {
        if let sha = e.change.fields["audio_sha256"]?.text, shas.insert(sha).inserted {
            let bytes = try store.audioBytes(sha, range: 0..<Int64(e.change.fields["audio_size"]!.integer!))
            let t = try CurlTransport(.init(server: baseline.url, token: baseline.token))
            _ = t.send("PUT", "/v1/blobs/\(sha)?offset=0&total=\(bytes.count)", body: bytes)
        }
    }
    let devices = try await baseline.storage.devices()
    let record = devices.first { $0.id == device }!
    let b0 = ContinuousClock.now
    for batch in stride(from: 0, to: entries.count, by: 1_000) {
        let slice = Array(entries[batch..<min(entries.count, batch + 1_000)])
        _ = try await baseline.storage.push(slice, device: record, now: Timestamp.format(Date()))
    }
    let baseRate = Double(entries.count) / seconds(b0)
    print(String(format: "   baseline, same run: the server alone ingests the same entries at %.0f changes/s; sync / server alone = %.2f", baseRate, rate / baseRate))
    let serverShare = transport.seconds / wall
    print("   limiting side: \(serverShare > 0.5 ? "the server and HTTP (waiting on answers)" : "the client (store and engine)"), \(Int(100 * serverShare))% of the sync's time")
    await baseline.stop()
}

// MARK: 2. Peak memory of the clinic sync process

do {
    let clinic = binDir.appending(path: "clinic")
    if FileManager.default.isExecutableFile(atPath: clinic.path) {
        let server = try await Server.start("server-2", device: try deviceID(forCLI))
        let settings = #"{"server":"\#(server.url)","token":"\#(server.token)"}"#
        FileManager.default.createFile(atPath: forCLI.appending(path: "sync.json").path, contents: Data(settings.utf8), attributes: [.posixPermissions: 0o600])
        let p = Process()
        p.executableURL = clinic
        p.arguments = ["sync", "--json", "--store", forCLI.path]
        let out = Pipe()
        p.standardOutput = out
        let start = ContinuousClock.now
        try p.run()
        // The process's own high-water mark, read until it exits. Not getrusage(RUSAGE_CHILDREN):
        // a child's ru_maxrss keeps the RSS of this (large) process it was forked from before exec.
        let peakKB = Mutex(0)
        let pid = p.processIdentifier
        let watcher = Thread {
            while kill(pid, 0) == 0 {
                if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                   let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                   let kb = Int(line.split(separator: " ").dropFirst().first ?? "") {
                    peakKB.withLock { $0 = max($0, kb) }
                }
                usleep(5_000)
            }
        }
        watcher.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let wall = seconds(start)
        let peakMB = Double(peakKB.withLock { $0 }) / 1024
        let ok = p.terminationStatus == 0 && String(decoding: data, as: UTF8.self).contains("\"ok\" : true")
        check(ok, "clinic sync process: exit \(p.terminationStatus)")
        print("== 2. `clinic sync` process, \(changes) changes pending: exit \(p.terminationStatus) in \(String(format: "%.2f", wall)) s, "
              + String(format: "%.0f changes/s, peak memory %.1f MB (target <= 100 MB)", Double(changes) / wall, peakMB))
        await server.stop()
    } else {
        print("== 2. skipped: no clinic binary next to this one (swift build -c release --product clinic)")
    }
}

// MARK: 3 and 4. Audio on the wire

let audioStore = try makeStore("audio", patients: 100, recordings: 100, blobs: 100, blobBytes: 150_000)
let audioCut = try copy(audioStore, "audio-cut")
let audioBytes = Int64(100 * 150_000)
do {
    let server = try await Server.start("server-3", device: try deviceID(audioStore))
    let proxy = try FaultProxy(upstream: server.port)
    let store = try ClinicStore.open(at: audioStore)
    let transport = TimedTransport(try CurlTransport(.init(server: proxy.url, token: server.token)))
    let report = await sync(SyncEngine(transport: transport, store: store, seed: 1, sleep: { _ in }))
    check(report.ok && report.audioUploaded == 100, "audio sync: \(report)")
    let ratio = Double(proxy.bytesUp) / Double(audioBytes)
    print(String(format: "== 3. audio upload, no faults: %d files, %.1f MB of audio, %.1f MB on the wire up: %.4f (target <= 1.02); audio PUT bodies %.4f",
                 report.audioUploaded, Double(audioBytes) / 1e6, Double(proxy.bytesUp) / 1e6, ratio, Double(transport.putBodyBytes) / Double(audioBytes)))
    proxy.stop()
    await server.stop()
}
do {
    let chunk = 256 * 1024
    let server = try await Server.start("server-4", device: try deviceID(audioCut), chunkBytes: chunk)
    let proxy = try FaultProxy(upstream: server.port, cutAfter: 300_000...700_000, seed: 5)
    let store = try ClinicStore.open(at: audioCut)
    let transport = TimedTransport(try CurlTransport(.init(server: proxy.url, token: server.token)))
    var runs = 0
    var report = SyncReport(ok: false)
    while !report.ok && runs < 20 {
        report = await sync(SyncEngine(transport: transport, store: store, seed: UInt64(runs + 1), sleep: { _ in }))
        runs += 1
    }
    check(report.ok, "audio sync under cuts: \(report)")
    let resent = transport.putBodyBytes - audioBytes
    let perCut = Double(resent) / Double(max(1, proxy.cuts))
    print(String(format: "== 4. audio upload, link cut every 300-700 KB (chunks of %d KB): %d cuts, %d run(s), %.1f KB re-sent, %.1f KB per cut (target <= one chunk, %d KB)",
                 chunk / 1024, proxy.cuts, runs, Double(resent) / 1024, perCut / 1024, chunk / 1024))
    check(perCut <= Double(chunk), "re-sent per cut \(perCut) > chunk \(chunk)")
    proxy.stop()
    await server.stop()
}

if !failures.isEmpty {
    print("\(failures.count) check(s) failed")
    exit(1)
}
