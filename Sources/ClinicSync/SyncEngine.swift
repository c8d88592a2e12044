import ClinicCore
import Foundation
import Synchronization

/// An HTTP answer as the engine needs it.
public struct HTTPAnswer: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// The server's `Date` header, when it sent one.
    public var date: Date?
    public init(status: Int, body: [UInt8], date: Date? = nil) {
        self.status = status
        self.body = body
        self.date = date
    }

    /// An HTTP date (RFC 9110 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
    public static func date(_ text: String) -> Date? { httpDate.withLock { $0.date(from: text) } }

    private static let httpDate: Mutex<DateFormatter> = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return Mutex(f)
    }()
}

extension SyncMachine.Failure: Error {}

/// The engine's network neighbour (`CurlTransport` in ClinicSyncCurl; fakes in tests). An
/// answer of any status is a success here; only a request that got no whole answer fails,
/// as `SyncMachine.Failure.network` (or `.refused` for an answer the client will not read).
public protocol SyncTransport: AnyObject {
    func exchange(_ method: String, _ path: String, body: [UInt8]?, headers: [String: String]) -> Result<HTTPAnswer, SyncMachine.Failure>
}

/// A change-log entry ready to push, and the audio the server must hold first.
public struct OutgoingEntry: Sendable, Equatable {
    public var entry: PushEntry
    public var blob: SyncMachine.Blob?
    public init(entry: PushEntry, blob: SyncMachine.Blob?) {
        self.entry = entry
        self.blob = blob
    }
}

/// The engine's store neighbour (`ClinicStore`). Each method is one transaction.
public protocol SyncStore: AnyObject {
    func syncCursors() throws -> (push: Int64, pull: Int64)
    /// Unacknowledged entries after `after`, in seq order, at most `limit`.
    func outgoingEntries(after: Int64, limit: Int) throws -> [OutgoingEntry]
    /// The server's answers (already checked to name the seqs sent), with the push cursor.
    func recordPushAnswers(_ results: [PushResult]) throws
    func serverHolds(audio sha256: String) throws -> Bool
    func markServerHolds(audio sha256: String) throws
    /// The server said it lacks this audio after all (`audio_missing`).
    func forgetServerHolds(audio sha256: String) throws
    func audioBytes(_ sha256: String, range: Range<Int64>) throws -> [UInt8]
    /// Applies a pulled page with its cursor; returns (applied, refused).
    func applyPulledPage(_ page: PullResponse, after cursor: Int64) throws -> (applied: Int, refused: Int)
    /// Keeps the server's conflict records; returns how many are new.
    func keepConflicts(_ records: [ConflictRecord], openOnServer: Bool) throws -> Int
    /// The audio of recordings this laptop holds no file for (pulled ones), each blob once,
    /// with the bytes of it already downloaded.
    func missingAudio() throws -> [SyncMachine.Blob]
    /// Keeps downloaded bytes of audio at `offset`; when all are held, checks its size and
    /// SHA-256 and stores it (throws, keeping nothing, if they differ). Returns the bytes held.
    func appendDownloadedAudio(_ sha256: String, offset: Int64, _ bytes: [UInt8]) throws -> Int64
    func recordSyncResult(_ result: String, error: String?) throws
}

/// What a run did and how it ended; `clinic sync` prints it (and `--json` writes it).
public struct SyncReport: Sendable, Equatable, Encodable {
    public var ok: Bool
    public var error: String?
    /// Entries the server acknowledged (applied, superseded or conflict).
    public var pushed = 0
    /// Entries the server rejected, with its reasons (kept; `clinic status` counts them).
    public var rejected: [Rejected] = []
    /// Entries whose push produced a conflict on the server.
    public var pushConflicts = 0
    /// Other devices' entries pulled and applied here.
    public var pulled = 0
    /// Pulled entries the merge rules refused here.
    public var pulledRefused = 0
    /// Conflicts new to this laptop (`clinic conflicts list`).
    public var newConflicts = 0
    public var audioUploaded = 0
    public var audioDownloaded = 0
    /// Audio the server could not give this run (asked for again next run).
    public var audioUnavailable = 0
    public var bytesUp: Int64 = 0
    public var bytesDown: Int64 = 0
    public var retries = 0
    /// This laptop's clock minus the server's, seconds (from the server's `Date`), when known.
    public var clockOffsetSeconds: Int?
    /// Things the user should know that did not stop the run.
    public var warnings: [String] = []
    public var durationSeconds: Double = 0

    public init(ok: Bool) { self.ok = ok }

    public struct Rejected: Sendable, Equatable, Encodable {
        public var seq: Int64
        public var reason: String
    }

    enum CodingKeys: String, CodingKey {
        case ok, error, pushed, rejected, pushConflicts = "push_conflicts", pulled, pulledRefused = "pulled_refused"
        case clockOffsetSeconds = "clock_offset_seconds", warnings, durationSeconds = "duration_seconds"
        case newConflicts = "new_conflicts", audioUploaded = "audio_uploaded", audioDownloaded = "audio_downloaded",
        audioUnavailable = "audio_unavailable", bytesUp = "bytes_up", bytesDown = "bytes_down", retries
    }
}

/// Progress of a run, for a progress line.
public enum SyncProgress: Sendable, Equatable {
    case connecting
    case pushing(done: Int)
    case uploading(sha256: String, received: Int64, total: Int64)
    case pulling(done: Int)
    case downloading(sha256: String, received: Int64, total: Int64)
    case waiting(Duration, attempt: Int)
}

/// Runs `SyncMachine` against a transport and a store: performs each action, persists what
/// each answer covers before reporting it to the machine, and ends with a report that says
/// what happened however the run ends. Never throws: a failure is in the report, and what was
/// done before it is kept.
public final class SyncEngine {
    let transport: SyncTransport
    let store: SyncStore
    let configuration: SyncMachine.Configuration
    let sleep: (Duration) -> Void
    let progress: (SyncProgress) -> Void
    let seed: UInt64
    let now: () -> Date
    /// A clock further than this from the server's is warned about.
    public static let clockWarning: TimeInterval = 300

    private var report = SyncReport(ok: false)
    /// The loaded entries, each with its JSON (encoded once: sized when loaded, sent as is).
    private var outgoing: [Int64: (entry: OutgoingEntry, json: [UInt8])] = [:]
    private var pullCursor: Int64 = 0

    public init(transport: SyncTransport, store: SyncStore, configuration: SyncMachine.Configuration = .init(), seed: UInt64,
                sleep: @escaping (Duration) -> Void, progress: @escaping (SyncProgress) -> Void = { _ in },
                now: @escaping () -> Date = Date.init) {
        self.now = now
        self.transport = transport
        self.store = store
        self.configuration = configuration
        self.seed = seed
        self.sleep = sleep
        self.progress = progress
    }

    public func run() -> SyncReport {
        let started = now()
        var result = runOnce()
        result.durationSeconds = now().timeIntervalSince(started)
        return result
    }

    private func runOnce() -> SyncReport {
        report = SyncReport(ok: false)
        do {
            let cursors = try store.syncCursors()
            pullCursor = cursors.pull
            var machine = SyncMachine(configuration: configuration, pushCursor: cursors.push, pullCursor: cursors.pull, seed: seed)
            progress(.connecting)
            var action = machine.handle(.start)
            while true {
                switch action {
                case .finish(let summary):
                    absorb(summary)
                    report.ok = true
                    try store.recordSyncResult(resultLine(), error: nil)
                    return report
                case .fail(let reason, let summary):
                    absorb(summary)
                    return failed(reason)
                case .wait(let delay):
                    progress(.waiting(delay, attempt: machine.summary.retries))
                    sleep(delay)
                    action = machine.handle(.waited)
                default:
                    action = machine.handle(try perform(action))
                }
            }
        } catch let error as ClinicError {
            return failed(error.message)
        } catch {
            return failed("the store could not record the sync: \(error)")
        }
    }

    private func failed(_ reason: String) -> SyncReport {
        report.ok = false
        report.error = reason
        try? store.recordSyncResult(resultLine(), error: reason)
        return report
    }

    private func absorb(_ s: SyncMachine.Summary) {
        report.pushed = s.pushed
        report.pushConflicts = s.conflicts
        report.bytesUp = s.bytesUp
        report.bytesDown = s.bytesDown
        report.retries = s.retries
        report.audioDownloaded = s.audioDownloaded
        report.audioUnavailable = s.audioUnavailable
    }

    private func resultLine() -> String {
        "pushed \(report.pushed), rejected \(report.rejected.count), pulled \(report.pulled), new conflicts \(report.newConflicts)"
    }

    /// Does one action; returns the event that reports it.
    private func perform(_ action: SyncMachine.Action) throws -> SyncMachine.Event {
        switch action {
        case .fetchCapabilities:
            return try request("GET", "/v1/capabilities", Capabilities.self) { caps, answer in
                self.capabilities = caps
                if let server = answer.date {
                    let offset = self.now().timeIntervalSince(server)
                    self.report.clockOffsetSeconds = Int(offset.rounded())
                    if abs(offset) > Self.clockWarning {
                        let minutes = Int(abs(offset) / 60)
                        self.report.warnings.append("this laptop's clock is \(minutes / 60) h \(minutes % 60) min \(offset > 0 ? "ahead of" : "behind") the server's: "
                                                    + "correct its date and time (changes made with a clock far ahead are refused by the server)")
                    }
                }
                return .capabilities(caps)
            }

        case .loadPending(let after, let limit):
            let entries = try store.outgoingEntries(after: after, limit: limit)
            outgoing = [:]
            var pending: [SyncMachine.Pending] = []
            for e in entries where outgoing[e.entry.change.sequence] == nil {
                let json = [UInt8](try Self.encoder.encode(e.entry))
                outgoing[e.entry.change.sequence] = (e, json)
                pending.append(SyncMachine.Pending(seq: e.entry.change.sequence, bytes: json.count, blob: e.blob))
            }
            return .pendingLoaded(pending)

        case .queryBlob(let sha):
            if let size = outgoing.values.first(where: { $0.entry.blob?.sha256 == sha })?.entry.blob?.size, try store.serverHolds(audio: sha) {
                return .blobStatus(BlobStatus(sha256: sha, received: size, complete: true, size: size))
            }
            return try request("GET", "/v1/blobs/\(sha)/status", BlobStatus.self) { status in
                if status.complete && status.sha256 == sha { try self.uploaded(sha) }
                return .blobStatus(status)
            }

        case .uploadChunk(let sha, let range, let total):
            let bytes = try store.audioBytes(sha, range: range)
            sending.insert(sha)
            progress(.uploading(sha256: sha, received: range.lowerBound, total: total))
            return try request("PUT", "/v1/blobs/\(sha)?offset=\(range.lowerBound)&total=\(total)", BlobStatus.self, body: bytes,
                               contentType: "application/octet-stream") { status in
                if status.complete && status.sha256 == sha { try self.uploaded(sha) }
                return .blobStatus(status)
            }

        case .push(let seqs):
            // The body is PushRequest's JSON, assembled from the entries' (encoded when loaded).
            var body = Array(#"{"changes":["#.utf8)
            for (i, seq) in seqs.enumerated() {
                guard let e = outgoing[seq] else { throw ClinicError(.sync, "internal: change \(seq) was not loaded") }
                if i > 0 { body.append(UInt8(ascii: ",")) }
                body += e.json
            }
            body += Array("]}".utf8)
            return try request("POST", "/v1/changes", PushResponse.self, body: body, contentType: "application/json") { response in
                // Recorded only when it answers exactly what was sent (else the machine stops the run, and nothing moves).
                if response.results.map(\.seq) == seqs {
                    let final = PushResult.finalPrefix(response.results)
                    let answered = Array(response.results.prefix(final))
                    try self.store.recordPushAnswers(answered)
                    if final < response.results.count, let blob = self.outgoing[seqs[final]]?.entry.blob {
                        // The laptop believed the server held it (or never asked): ask again.
                        try self.store.forgetServerHolds(audio: blob.sha256)
                    }
                    for r in answered where r.outcome == .rejected {
                        self.report.rejected.append(.init(seq: r.seq, reason: SyncMachine.Failure.clean(r.reason ?? "no reason given")))
                    }
                    self.pushedThisRun += final
                    self.progress(.pushing(done: self.pushedThisRun))
                }
                return .pushAnswered(response.results)
            }

        case .pull(let after, let limit):
            return try request("GET", "/v1/changes?after=\(after)&limit=\(limit)&omit_own=true", PullResponse.self) { page, answer in
                guard after == self.pullCursor else { throw ClinicError(.sync, "internal: pull after \(after), cursor \(self.pullCursor)") }
                let done = try self.store.applyPulledPage(page, after: after)
                self.pullCursor = max(self.pullCursor, page.next)
                self.report.pulled += done.applied
                self.report.pulledRefused += done.refused
                self.progress(.pulling(done: self.report.pulled))
                return .pulled(count: page.changes.count, bytes: answer.body.count, next: page.next, more: page.more)
            }

        case .fetchConflicts:
            return try fetchConflicts()

        case .loadMissingAudio:
            return .missingAudioLoaded(try store.missingAudio())

        case .downloadChunk(let sha, let range, let total):
            progress(.downloading(sha256: sha, received: range.lowerBound, total: total))
            switch transport.exchange("GET", "/v1/blobs/\(sha)", body: nil, headers: ["Range": "bytes=\(range.lowerBound)-\(range.upperBound - 1)"]) {
            case .failure(let f):
                return .failed(f)
            case .success(let answer) where answer.status == 206 || (answer.status == 200 && range.lowerBound == 0):
                // A 200 is the whole blob (a server that ignores ranges); a 206 must be the bytes asked for.
                let bytes = answer.status == 200 ? Array(answer.body.prefix(Int(total))) : answer.body
                guard !bytes.isEmpty, bytes.count <= range.count || answer.status == 200 else {
                    return .failed(.refused("the server sent another part of the audio than was asked"))
                }
                do {
                    return .downloaded(sha256: sha, received: try store.appendDownloadedAudio(sha, offset: range.lowerBound, bytes))
                } catch let error as ClinicError where error.reason == .sync {
                    return .failed(.refused("the server's copy of audio \(sha.prefix(12))… was refused: \(error.message)"))
                }
            case .success(let answer):
                return .failed(SyncMachine.Failure(status: answer.status, body: answer.body))
            }

        case .wait, .finish, .fail:
            throw ClinicError(.sync, "internal: \(action) is not a request")
        }
    }

    private var pushedThisRun = 0
    private var capabilities: Capabilities?
    /// Audio this run has sent bytes of; counted as uploaded when the server holds it whole
    /// (which a status answer may say first, when the link cut the last chunk's answer).
    private var sending: Set<String> = []

    private func uploaded(_ sha: String) throws {
        try store.markServerHolds(audio: sha)
        if sending.remove(sha) != nil { report.audioUploaded += 1 }
    }

    /// The server's conflicts, kept locally: the open ones from a server that resolves them
    /// (so one resolved elsewhere is closed here too), else all.
    private func fetchConflicts() throws -> SyncMachine.Event {
        let openOnly = capabilities?.conflictStatus == true
        return try request("GET", "/v1/conflicts?limit=10000\(openOnly ? "&status=open" : "")", [ConflictRecord].self) { records in
            // A full page may not be all of them: then nothing is closed for being absent.
            let complete = openOnly && records.count < 10_000
            self.report.newConflicts += try self.store.keepConflicts(records.filter { $0.resolvedAt == nil }, openOnServer: complete)
            return .conflictsFetched
        }
    }

    private func request<T: Decodable>(_ method: String, _ path: String, _ type: T.Type, body: [UInt8]? = nil, contentType: String? = nil,
                                       _ then: (T) throws -> SyncMachine.Event) throws -> SyncMachine.Event {
        try request(method, path, type, body: body, contentType: contentType) { value, _ in try then(value) }
    }

    /// One request: a 2xx answer decoded and handed to `then` (with the answer, for its size and
    /// date), anything else classified as the machine's `Failure`.
    private func request<T: Decodable>(_ method: String, _ path: String, _ type: T.Type, body: [UInt8]? = nil, contentType: String? = nil,
                                       _ then: (T, HTTPAnswer) throws -> SyncMachine.Event) throws -> SyncMachine.Event {
        switch transport.exchange(method, path, body: body, headers: contentType.map { ["Content-Type": $0] } ?? [:]) {
        case .failure(let f):
            return .failed(f)
        case .success(let answer) where (200..<300).contains(answer.status):
            guard let value = try? JSONDecoder().decode(T.self, from: Data(answer.body)) else {
                return .failed(.refused("HTTP \(answer.status) with an answer that is not the sync protocol's"))
            }
            return try then(value, answer)
        case .success(let answer):
            return .failed(SyncMachine.Failure(status: answer.status, body: answer.body))
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}
