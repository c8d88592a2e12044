import ClinicCore

/// The sync engine's decisions as a pure state machine (GUIDE habit 7; docs/sync-client.md):
/// fed events (what the transport and the store answered), it returns the next action. It does
/// no I/O, reads no clock and draws no system randomness (jitter comes from a seeded
/// generator), so every decision, failures included, is unit-tested without a network.
///
/// The run: capabilities, then push (entries in seq order; before an entry that inserts a
/// recording, that recording's audio is uploaded chunk by chunk, resuming from the server's
/// offset), then pull until `more` is false. The engine persists what each answer covers
/// (acknowledged entries and the push cursor, a pulled page and the pull cursor) in one
/// transaction before it reports the event, so a run that stops anywhere resumes there.
public struct SyncMachine: Sendable {
    /// Tuning; the defaults suit a 2G/3G link.
    public struct Configuration: Sendable, Equatable {
        /// Attempts of one request before the run gives up (the first included).
        public var maxAttempts = 6
        /// Backoff before the n-th retry: between half and all of `min(maxDelay, baseDelay · 2^(n-1))`.
        public var baseDelay: Duration = .milliseconds(500)
        public var maxDelay: Duration = .seconds(30)
        /// Entries asked of the store at a time.
        public var loadLimit = 1_000
        /// After the pull, download the audio of recordings this laptop does not hold.
        public var fetchAudio = false
        /// A run that only downloads these missing audio files (`clinic recording export` of a
        /// recording from another device): no push, pull or conflicts.
        public var audioOnly: Set<String>?
        public init(fetchAudio: Bool = false, audioOnly: Set<String>? = nil) {
            self.fetchAudio = fetchAudio
            self.audioOnly = audioOnly
        }
    }

    /// A change-log entry waiting to be pushed, as the store describes it.
    public struct Pending: Sendable, Equatable {
        public var seq: Int64
        /// Its size in the push body, bytes (JSON).
        public var bytes: Int
        /// The audio the server must hold before this entry (a recording's insert).
        public var blob: Blob?
        public init(seq: Int64, bytes: Int, blob: Blob? = nil) {
            self.seq = seq
            self.bytes = bytes
            self.blob = blob
        }
    }

    public struct Blob: Sendable, Equatable {
        public var sha256: String
        public var size: Int64
        /// Of audio to download: the bytes this laptop holds already (a download an earlier run
        /// was cut off in), where the download resumes.
        public var held: Int64
        public init(sha256: String, size: Int64, held: Int64 = 0) {
            self.sha256 = sha256
            self.size = size
            self.held = held
        }
    }

    /// How a request failed, as the transport classifies it.
    public enum Failure: Sendable, Equatable {
        /// No connection, a reset, a timeout, a truncated body: the request may or may not have
        /// been applied; sending it again is safe (pushes are idempotent by (device, seq), chunks
        /// resume from the server's offset).
        case network(String)
        /// 5xx, or 409 `upload_busy`: try again later.
        case server(status: Int, message: String)
        /// 401: the token is wrong or revoked.
        case unauthorized
        /// 413 on a push: the batch is too large for this server.
        case tooLarge
        /// 409 `wrong_offset` or 422 `hash_mismatch` on an upload: ask where to resume.
        case uploadOutOfStep
        /// Any other answer that retrying will not change (4xx, a body that is not the protocol's).
        case refused(String)
    }

    public enum Event: Sendable, Equatable {
        case start
        case capabilities(Capabilities)
        /// The store's unsynced entries after the push cursor, at most `loadLimit`, in seq order.
        case pendingLoaded([Pending])
        case blobStatus(BlobStatus)
        /// The answer to a push of the batch in flight (already recorded by the engine).
        case pushAnswered([PushResult])
        /// A pulled page, already applied with its cursor.
        case pulled(count: Int, bytes: Int, next: Int64, more: Bool)
        case failed(Failure)
        /// The backoff the machine asked for has passed.
        case waited
        /// The server's conflict records were read and kept.
        case conflictsFetched
        /// The recordings' audio this laptop does not hold (after `loadMissingAudio`).
        case missingAudioLoaded([Blob])
        /// Bytes of the blob being downloaded now held here (stored whole once all are).
        case downloaded(sha256: String, received: Int64)
    }

    public enum Action: Sendable, Equatable {
        case fetchCapabilities
        case loadPending(afterSeq: Int64, limit: Int)
        case queryBlob(sha256: String)
        /// Send bytes `range` of the blob (whose size is `total`).
        case uploadChunk(sha256: String, range: Range<Int64>, total: Int64)
        /// Push the entries with these sequence numbers, in this order.
        case push(seqs: [Int64])
        /// Pull at most `limit` entries after the cursor.
        case pull(after: Int64, limit: Int)
        /// Read the server's conflict records (after the pull) and keep them.
        case fetchConflicts
        case loadMissingAudio
        /// Fetch bytes `range` of the blob (whose size is `total`).
        case downloadChunk(sha256: String, range: Range<Int64>, total: Int64)
        case wait(Duration)
        case finish(Summary)
        case fail(reason: String, summary: Summary)
    }

    /// What the run did; kept however it ends.
    public struct Summary: Sendable, Equatable {
        public var pushed = 0
        public var rejected = 0
        public var conflicts = 0
        public var pulled = 0
        public var bytesUp: Int64 = 0
        public var bytesDown: Int64 = 0
        public var batchesSent = 0
        public var retries = 0
        public var audioDownloaded = 0
        /// Audio the server could not give (it does not hold it, or it failed its hash): skipped, asked again next run.
        public var audioUnavailable = 0
    }

    enum Phase: Sendable, Equatable {
        case idle, capabilities, loading, blobStatus, uploading, pushing, pulling, fetchingConflicts, loadingAudio, downloading, waiting, finished
    }

    public let configuration: Configuration
    public private(set) var summary = Summary()
    private(set) var phase: Phase = .idle
    private var capabilities: Capabilities?
    /// Highest acknowledged seq; loads start after it.
    private(set) var pushCursor: Int64
    private(set) var pullCursor: Int64
    /// Loaded entries not yet pushed, in seq order.
    private var queue: [Pending] = []
    /// Blobs confirmed complete on the server in this run.
    private var uploaded: Set<String> = []
    /// Blobs the server asked for again (`audio_missing`) in this run: asked once only.
    private var reuploaded: Set<String> = []
    private var lastFailure: Failure?
    /// The request in flight (repeated after a backoff) and its attempt number.
    private var inFlight: Action?
    private var attempt = 0
    /// Entries in a batch: the server's `max_batch`, halved on each 413.
    private var batchLimit = 0
    /// Request sizes that the link has shown it carries: entries in a push, bytes in a chunk,
    /// entries in a pull. A request the link cuts halves its window (a pull's goes to an
    /// eighth); an answer doubles it (up to the server's limit). A link that drops every few kilobytes still passes small
    /// requests, where a large one would never get through.
    private var pushWindow = Int.max
    private var chunkWindow = Int64.max
    private var pullWindow = Int.max
    /// Bytes of the current blob the server last said it held (-1: not asked yet).
    private var blobProgress: Int64 = -1
    private var rng: UInt64
    /// Audio to download, in order; the first is in progress with `downloadProgress` bytes held.
    private var downloads: [Blob] = []
    private var downloadProgress: Int64 = 0

    public init(configuration: Configuration = .init(), pushCursor: Int64, pullCursor: Int64, seed: UInt64) {
        self.configuration = configuration
        self.pushCursor = pushCursor
        self.pullCursor = pullCursor
        rng = seed | 1
    }

    /// The next action after `event`.
    public mutating func handle(_ event: Event) -> Action {
        switch (phase, event) {
        case (.idle, .start):
            return send(.fetchCapabilities)

        case (.capabilities, .capabilities(let c)):
            attempt = 0
            guard c.protocolVersion == SyncProtocol.version else {
                return fail("the server speaks sync protocol \(c.protocolVersion); this clinic speaks \(SyncProtocol.version): update clinic or the server")
            }
            guard c.maxBatch > 0, c.maxRequestBytes > 0, c.chunkBytes > 0, c.maxPull > 0 else {
                return fail("the server's capabilities are not usable (a limit is zero)")
            }
            capabilities = c
            batchLimit = c.maxBatch
            if configuration.audioOnly != nil { return send(.loadMissingAudio) }
            return nextPush()

        case (.loading, .pendingLoaded(let entries)):
            attempt = 0
            inFlight = nil
            let fresh = entries.filter { $0.seq > pushCursor }
            guard fresh.map(\.seq) == fresh.map(\.seq).sorted() else { return fail("the store gave entries out of order") }
            queue = fresh
            if queue.isEmpty { return send(pullAction(after: pullCursor)) }
            return nextPush()

        case (.blobStatus, .blobStatus(let status)), (.uploading, .blobStatus(let status)):
            return continueUpload(status)

        case (.pushing, .pushAnswered(let results)):
            guard case .push(let seqs) = inFlight else { return fail("internal: an answer with no push in flight") }
            guard results.map(\.seq) == seqs else {
                return fail("the server answered a different set of changes than was sent; nothing was lost, run clinic sync again")
            }
            attempt = 0
            inFlight = nil
            grow()
            summary.batchesSent += 1
            let final = PushResult.finalPrefix(results)
            if final < results.count, results[final].code == PushResult.clockAhead {
                // Sent again next run, and accepted once the server's clock has caught up.
                for r in results.prefix(final) { count(r) }
                if final > 0 { pushCursor = max(pushCursor, seqs[final - 1]) }
                return fail("the server refused change \(results[final].seq): this laptop's clock is ahead of the server's "
                            + "(\(Failure.clean(results[final].reason ?? ""))); nothing is lost, and it is sent again by a later clinic sync")
            }
            if final < results.count {
                // The server lacks the audio of entry `final` (lost, or never sent): upload it again, then push from there.
                guard let blob = queue[final].blob else { return fail("the server asks for audio that change \(results[final].seq) does not have") }
                guard !reuploaded.contains(blob.sha256) else {
                    return fail("the server says it holds audio \(blob.sha256.prefix(12))… but refuses its recording; ask the server's administrator")
                }
                reuploaded.insert(blob.sha256)
                uploaded.remove(blob.sha256)
            }
            for r in results.prefix(final) { count(r) }
            if final > 0 { pushCursor = max(pushCursor, seqs[final - 1]) }
            queue.removeFirst(final)
            return nextPush()

        case (.pulling, .pulled(let count, let bytes, let next, let more)):
            attempt = 0
            inFlight = nil
            guard next >= pullCursor else { return fail("the server's feed went backwards (next \(next) after \(pullCursor))") }
            guard next > pullCursor || (count == 0 && !more) else {
                return fail("the server returned a page that does not advance its feed")
            }
            summary.pulled += count
            summary.bytesDown += Int64(bytes)
            pullCursor = next
            grow()
            if more { return send(pullAction(after: next)) }
            return send(.fetchConflicts)

        case (.fetchingConflicts, .conflictsFetched):
            attempt = 0
            inFlight = nil
            if configuration.fetchAudio { return send(.loadMissingAudio) }
            phase = .finished
            return .finish(summary)

        case (.loadingAudio, .missingAudioLoaded(let blobs)):
            inFlight = nil
            downloads = blobs.filter { $0.size > 0 && $0.held < $0.size && configuration.audioOnly?.contains($0.sha256) != false }
            downloadProgress = downloads.first?.held ?? 0
            return nextDownload()

        case (.downloading, .downloaded(let sha, let received)):
            guard let blob = downloads.first, blob.sha256 == sha, received > downloadProgress, received <= blob.size else {
                return fail("internal: a download answer out of step")
            }
            attempt = 0
            inFlight = nil
            grow()
            summary.bytesDown += received - downloadProgress
            downloadProgress = received
            if received == blob.size {
                summary.audioDownloaded += 1
                downloads.removeFirst()
                downloadProgress = downloads.first?.held ?? 0
            }
            return nextDownload()

        case (.waiting, .waited):
            guard let action = inFlight else { return fail("internal: nothing to retry") }
            return send(action)

        case (let p, .failed(let failure)) where p != .idle && p != .finished && p != .waiting:
            return recover(from: failure)

        default:
            return fail("internal: event \(event) in phase \(phase)")
        }
    }

    // MARK: Push

    /// The next step of the push phase: load more, upload a blob, or push a batch.
    private mutating func nextPush() -> Action {
        guard let capabilities else { return fail("internal: no capabilities") }
        guard let first = queue.first else {
            return send(.loadPending(afterSeq: pushCursor, limit: configuration.loadLimit))
        }
        if let blob = first.blob, !uploaded.contains(blob.sha256) {
            blobProgress = -1
            return send(.queryBlob(sha256: blob.sha256))
        }
        // A batch: consecutive entries whose blobs are up, within max_batch and max_request_bytes.
        let overhead = 16
        var seqs: [Int64] = []
        var bytes = overhead
        for entry in queue {
            if let blob = entry.blob, !uploaded.contains(blob.sha256) { break }
            if seqs.count == min(batchLimit, pushWindow) { break }
            if !seqs.isEmpty && bytes + entry.bytes + 1 > capabilities.maxRequestBytes { break }
            seqs.append(entry.seq)
            bytes += entry.bytes + 1
        }
        if bytes > capabilities.maxRequestBytes {
            return fail("change \(first.seq) is larger (\(first.bytes) bytes) than the server accepts in one request (\(capabilities.maxRequestBytes))")
        }
        summary.bytesUp += Int64(bytes)
        return send(.push(seqs: seqs))
    }

    /// After the server said how much of a blob it holds: upload the next chunk, or go on.
    private mutating func continueUpload(_ status: BlobStatus) -> Action {
        guard let capabilities, let blob = queue.first?.blob, blob.sha256 == status.sha256 else {
            return fail("the server answered about another blob than was asked")
        }
        // Attempts count per stretch without progress: a link that drops every few seconds
        // still finishes a large upload, one that moves nothing gives up.
        if status.complete || status.received > blobProgress {
            attempt = 0
            if phase == .uploading { grow() }  // a chunk got through (a status answer after a cut is not a reason to grow)
        }
        blobProgress = status.received
        if status.complete {
            guard status.size == nil || status.size == blob.size else {
                return fail("the server holds audio \(blob.sha256.prefix(12)) with another size than this laptop's; run clinic doctor")
            }
            uploaded.insert(blob.sha256)
            attempt = 0
            inFlight = nil
            return nextPush()
        }
        guard status.received >= 0, status.received < blob.size else {
            return fail("the server reports \(status.received) bytes of a \(blob.size)-byte upload")
        }
        let end = min(blob.size, status.received + chunk(capabilities))
        summary.bytesUp += end - status.received
        return send(.uploadChunk(sha256: blob.sha256, range: status.received..<end, total: blob.size))
    }

    private mutating func count(_ r: PushResult) {
        switch r.outcome {
        case .applied, .superseded: summary.pushed += 1
        case .conflict: summary.pushed += 1; summary.conflicts += 1
        case .rejected: summary.rejected += 1
        }
    }

    // MARK: Request sizes

    private func chunk(_ c: Capabilities) -> Int64 { min(Int64(c.chunkBytes), chunkWindow) }

    private func pullAction(after: Int64) -> Action {
        .pull(after: after, limit: min(capabilities?.maxPull ?? 1, pullWindow))
    }

    /// After an answer: the windows double (a window at its limit stays there).
    private mutating func grow() {
        pushWindow = pushWindow > Int.max / 2 ? Int.max : pushWindow * 2
        chunkWindow = chunkWindow > Int64.max / 2 ? Int64.max : chunkWindow * 2
        pullWindow = pullWindow > Int.max / 2 ? Int.max : pullWindow * 2
    }

    // MARK: Audio download

    private mutating func nextDownload() -> Action {
        guard let capabilities else { return fail("internal: no capabilities") }
        guard let blob = downloads.first else {
            phase = .finished
            inFlight = nil
            return .finish(summary)
        }
        let end = min(blob.size, downloadProgress + chunk(capabilities))
        return send(.downloadChunk(sha256: blob.sha256, range: downloadProgress..<end, total: blob.size))
    }

    // MARK: Failures

    private mutating func recover(from failure: Failure) -> Action {
        lastFailure = failure
        guard let action = inFlight else { return fail("internal: a failure with no request in flight") }
        switch failure {
        case .unauthorized:
            return fail("the server refused this device's token (revoked or wrong): ask the administrator for a new one, then clinic config set token")
        case .refused(let message):
            // Audio the server cannot give is skipped (and asked for again next run), not the end of the sync.
            if case .downloadChunk = action {
                summary.audioUnavailable += 1
                downloads.removeFirst()
                downloadProgress = 0
                attempt = 0
                return nextDownload()
            }
            return fail("the server refused the request: \(message)")
        case .tooLarge:
            guard case .push = action, batchLimit > 1 else { return fail("the server refused a single change as too large") }
            batchLimit = max(1, batchLimit / 2)
            inFlight = nil
            return nextPush()
        case .uploadOutOfStep:
            guard case .uploadChunk(let sha, _, _) = action else { return fail("the server answered an upload error to another request") }
            return retry(.queryBlob(sha256: sha))
        case .network, .server:
            // A cut link halves the window of what it cut; a server error says nothing about the link.
            let cut: Bool = if case .network = failure { true } else { false }
            switch action {
            case .uploadChunk(let sha, let range, _):
                if cut { chunkWindow = max(1_024, Int64(range.count) / 2) }
                // An interrupted upload asks where to resume instead of resending the chunk.
                return retry(.queryBlob(sha256: sha))
            case .push(let seqs):
                if cut { pushWindow = max(1, seqs.count / 2) }
                return retry(.push(seqs: Array(seqs.prefix(pushWindow))))
            case .pull(let after, let limit):
                // A page may hold far fewer entries than its limit, so halving would take many cuts to matter.
                if cut { pullWindow = max(1, limit / 8) }
                return retry(pullAction(after: after))
            case .downloadChunk(let sha, let range, let total):
                if cut { chunkWindow = max(1_024, Int64(range.count) / 2) }
                return retry(.downloadChunk(sha256: sha, range: range.lowerBound..<min(range.upperBound, range.lowerBound + chunkWindow), total: total))
            default:
                return retry(action)
            }
        }
    }

    private mutating func retry(_ action: Action) -> Action {
        attempt += 1
        guard attempt < configuration.maxAttempts else {
            let what = if case .server(let status, _) = lastFailure { "the server keeps failing (HTTP \(status))" } else { "no network" }
            return fail("\(what) (gave up after \(configuration.maxAttempts) attempts); \(summary.batchesSent) batches were sent and are kept: run clinic sync again")
        }
        summary.retries += 1
        inFlight = action
        phase = .waiting
        return .wait(backoff(attempt: attempt))
    }

    /// Equal jitter: between half and all of the capped exponential delay.
    mutating func backoff(attempt: Int) -> Duration {
        let cap = configuration.maxDelay
        var d = configuration.baseDelay
        for _ in 1..<max(1, attempt) where d < cap { d = d * 2 }
        d = min(d, cap)
        return d / 2 + d / 2 * nextUnit()
    }

    private mutating func nextUnit() -> Double {
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        return Double(rng >> 11) / Double(1 << 53)
    }

    /// Issues `action` (the phase follows from it). Attempts are reset only by an answer that makes progress.
    private mutating func send(_ action: Action) -> Action {
        inFlight = action
        phase = Self.phase(of: action)
        return action
    }

    private mutating func fail(_ reason: String) -> Action {
        phase = .finished
        inFlight = nil
        return .fail(reason: reason, summary: summary)
    }

    static func phase(of action: Action) -> Phase {
        switch action {
        case .fetchCapabilities: .capabilities
        case .loadPending: .loading
        case .queryBlob: .blobStatus
        case .uploadChunk: .uploading
        case .push: .pushing
        case .pull: .pulling
        case .fetchConflicts: .fetchingConflicts
        case .loadMissingAudio: .loadingAudio
        case .downloadChunk: .downloading
        case .wait: .waiting
        case .finish, .fail: .finished
        }
    }
}
