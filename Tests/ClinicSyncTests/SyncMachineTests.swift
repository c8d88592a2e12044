import ClinicCore
@testable import ClinicSync
import Testing

/// The sync engine's decisions, with no network: every event in every phase, the backoff's
/// bounds, batching, and where an interrupted upload resumes.
@Suite struct SyncMachineTests {
    static let caps = Capabilities(protocolVersion: SyncProtocol.version, serverVersion: "t", maxRequestBytes: 10_000,
                                   maxBatch: 3, chunkBytes: 1_000, maxPull: 100)
    static let sha = String(repeating: "ab", count: 32)

    func result(_ seq: Int64, _ outcome: PushOutcome = .applied) -> PushResult {
        PushResult(seq: seq, changeID: "c\(seq)", outcome: outcome, reason: outcome == .rejected ? "why" : nil, serverSeq: outcome == .rejected ? nil : seq)
    }

    func started(_ caps: Capabilities = caps, pushCursor: Int64 = 0, pullCursor: Int64 = 0, config: SyncMachine.Configuration = .init()) -> SyncMachine {
        var m = SyncMachine(configuration: config, pushCursor: pushCursor, pullCursor: pullCursor, seed: 42)
        #expect(m.handle(.start) == .fetchCapabilities)
        #expect(m.handle(.capabilities(caps)) == .loadPending(afterSeq: pushCursor, limit: config.loadLimit))
        return m
    }

    @Test func aWholeRunUploadsAudioBeforeItsRecordingThenPushesThenPulls() {
        var m = started()
        let blob = SyncMachine.Blob(sha256: Self.sha, size: 2_500)
        let entries = [SyncMachine.Pending(seq: 1, bytes: 100), SyncMachine.Pending(seq: 2, bytes: 300, blob: blob),
                       SyncMachine.Pending(seq: 3, bytes: 100), SyncMachine.Pending(seq: 4, bytes: 100)]
        // Entries before the recording go first; its audio before its insert.
        #expect(m.handle(.pendingLoaded(entries)) == .push(seqs: [1]))
        #expect(m.handle(.pushAnswered([result(1)])) == .queryBlob(sha256: Self.sha))
        #expect(m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil)))
                == .uploadChunk(sha256: Self.sha, range: 0..<1_000, total: 2_500))
        #expect(m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 1_000, complete: false, size: 2_500)))
                == .uploadChunk(sha256: Self.sha, range: 1_000..<2_000, total: 2_500))
        #expect(m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 2_000, complete: false, size: 2_500)))
                == .uploadChunk(sha256: Self.sha, range: 2_000..<2_500, total: 2_500))
        // Then the insert and what follows, max_batch (3) at a time.
        #expect(m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 2_500, complete: true, size: 2_500))) == .push(seqs: [2, 3, 4]))
        #expect(m.handle(.pushAnswered([result(2), result(3, .conflict), result(4, .rejected)])) == .loadPending(afterSeq: 4, limit: 1_000))
        #expect(m.pushCursor == 4)
        #expect(m.handle(.pendingLoaded([])) == .pull(after: 0, limit: 100))
        #expect(m.handle(.pulled(count: 100, bytes: 50_000, next: 140, more: true)) == .pull(after: 140, limit: 100))
        #expect(m.handle(.pulled(count: 7, bytes: 3_000, next: 150, more: false)) == .fetchConflicts)
        guard case .finish(let s) = m.handle(.conflictsFetched) else { Issue.record("no finish"); return }
        #expect(s.pushed == 3 && s.conflicts == 1 && s.rejected == 1 && s.pulled == 107 && s.bytesDown == 53_000 && s.batchesSent == 2)
        #expect(s.bytesUp >= 2_500 + 600 && s.bytesUp < 2_500 + 600 + 100, "\(s.bytesUp)")
        #expect(m.pullCursor == 150)
    }

    @Test func batchesRespectTheRequestSizeAndSkipWhatIsAcknowledged() {
        var m = started(pushCursor: 10)
        let entries = (8...16).map { SyncMachine.Pending(seq: Int64($0), bytes: 4_000) }
        // 8, 9, 10 are acknowledged already; two 4,000-byte entries fit in 10,000 bytes, three do not.
        #expect(m.handle(.pendingLoaded(entries)) == .push(seqs: [11, 12]))
        #expect(m.handle(.pushAnswered([result(11), result(12)])) == .push(seqs: [13, 14]))
    }

    @Test func aChangeLargerThanAnyRequestFailsSayingSo() {
        var m = started()
        guard case .fail(let reason, _) = m.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 20_000)])) else { Issue.record("no fail"); return }
        #expect(reason.contains("larger"))
    }

    @Test func aDroppedPushIsRetriedWithBackoffThenGivenUpKeepingWhatWasSent() {
        var config = SyncMachine.Configuration()
        config.maxAttempts = 4
        var m = started(config: config)
        #expect(m.handle(.pendingLoaded((1...6).map { SyncMachine.Pending(seq: Int64($0), bytes: 10) })) == .push(seqs: [1, 2, 3]))
        #expect(m.handle(.pushAnswered([result(1), result(2), result(3)])) == .push(seqs: [4, 5, 6]))
        for n in 1..<4 {
            guard case .wait(let d) = m.handle(.failed(.server(status: 502, message: "bad gateway"))) else { Issue.record("no wait"); return }
            let cap = min(config.maxDelay, config.baseDelay * (1 << (n - 1)))
            #expect(d >= cap / 2 && d <= cap, "attempt \(n): \(d)")
            #expect(m.handle(.waited) == .push(seqs: [4, 5, 6]))  // the same batch again: the server deduplicates it
        }
        guard case .fail(let reason, let summary) = m.handle(.failed(.server(status: 503, message: "busy"))) else { Issue.record("no fail"); return }
        #expect(reason.contains("run clinic sync again") && summary.batchesSent == 1 && summary.pushed == 3 && summary.retries == 3)
        #expect(m.pushCursor == 3)
    }

    @Test func anInterruptedUploadAsksWhereToResumeAndResendsAtMostOneChunk() {
        var m = started()
        let size: Int64 = 10_500
        _ = m.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 100, blob: .init(sha256: Self.sha, size: size))]))
        var serverHolds: Int64 = 0
        var action = m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil)))
        var sent: Int64 = 0, cuts = 0, steps = 0
        while case .uploadChunk(_, let range, _) = action, steps < 200 {
            steps += 1
            sent += Int64(range.count)
            #expect(range.lowerBound == serverHolds, "a chunk from \(range.lowerBound), the server holds \(serverHolds)")
            // Every second chunk: the link drops after the server stored half of it (the bytes that arrived).
            if steps % 2 == 0 {
                serverHolds += Int64(range.count) / 2
                cuts += 1
                guard case .wait = m.handle(.failed(.network("reset"))) else { Issue.record("no wait"); return }
                #expect(m.handle(.waited) == .queryBlob(sha256: Self.sha))
                action = m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: serverHolds, complete: false, size: nil)))
            } else {
                serverHolds = range.upperBound
                let done = serverHolds == size
                action = m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: serverHolds, complete: done, size: done ? size : nil)))
            }
        }
        #expect(action == .push(seqs: [1]))
        // Re-sent bytes: what was sent beyond the blob, at most one chunk per cut.
        #expect(sent - size <= Int64(cuts) * Int64(Self.caps.chunkBytes), "re-sent \(sent - size) over \(cuts) cuts")
        #expect(cuts >= 5, "the drops happened (\(cuts))")
    }

    @Test func anUploadThatMakesNoProgressGivesUp() {
        var config = SyncMachine.Configuration()
        config.maxAttempts = 3
        var m = started(config: config)
        _ = m.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 100, blob: .init(sha256: Self.sha, size: 5_000))]))
        _ = m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil)))
        var failed = false
        for _ in 0..<10 where !failed {
            switch m.handle(.failed(.network("timeout"))) {
            case .wait:
                #expect(m.handle(.waited) == .queryBlob(sha256: Self.sha))
                _ = m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil)))
            case .fail(let reason, _):
                failed = true
                #expect(reason.contains("no network"))
            default: Issue.record("unexpected action")
            }
        }
        #expect(failed)
    }

    @Test func outOfStepUploadsAskAgainAndBadBlobAnswersFail() {
        var m = started()
        _ = m.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 100, blob: .init(sha256: Self.sha, size: 5_000))]))
        _ = m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil)))
        guard case .wait = m.handle(.failed(.uploadOutOfStep)) else { Issue.record("no wait"); return }
        #expect(m.handle(.waited) == .queryBlob(sha256: Self.sha))
        // A status for another blob, or a complete blob of another size, is refused.
        var other = m
        guard case .fail = other.handle(.blobStatus(BlobStatus(sha256: String(repeating: "cd", count: 32), received: 0, complete: false, size: nil))) else {
            Issue.record("another blob accepted"); return
        }
        guard case .fail(let reason, _) = m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 4_000, complete: true, size: 4_000))) else {
            Issue.record("wrong size accepted"); return
        }
        #expect(reason.contains("another size"))
    }

    @Test func aRefusedTokenOrProtocolFailsAtOnceSayingWhatToDo() {
        var m = started()
        _ = m.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 10)]))
        guard case .fail(let reason, _) = m.handle(.failed(.unauthorized)) else { Issue.record("no fail"); return }
        #expect(reason.contains("token"))
        var v = SyncMachine(pushCursor: 0, pullCursor: 0, seed: 1)
        _ = v.handle(.start)
        var caps = Self.caps
        caps.protocolVersion = 99
        guard case .fail(let r2, _) = v.handle(.capabilities(caps)) else { Issue.record("no fail"); return }
        #expect(r2.contains("protocol 99"))
        var z = SyncMachine(pushCursor: 0, pullCursor: 0, seed: 1)
        _ = z.handle(.start)
        caps = Self.caps
        caps.chunkBytes = 0
        guard case .fail = z.handle(.capabilities(caps)) else { Issue.record("zero chunk accepted"); return }
        var r = started()
        _ = r.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 10)]))
        guard case .fail(let r3, _) = r.handle(.failed(.refused("400 bad_request"))) else { Issue.record("no fail"); return }
        #expect(r3.contains("400"))
    }

    @Test func aBatchTooLargeIsHalved() {
        var m = started()
        #expect(m.handle(.pendingLoaded((1...3).map { SyncMachine.Pending(seq: Int64($0), bytes: 10) })) == .push(seqs: [1, 2, 3]))
        #expect(m.handle(.failed(.tooLarge)) == .push(seqs: [1]))
        guard case .fail = m.handle(.failed(.tooLarge)) else { Issue.record("a single change halved"); return }
    }

    @Test func answersThatDoNotMatchTheRequestFail() {
        var m = started()
        _ = m.handle(.pendingLoaded((1...2).map { SyncMachine.Pending(seq: Int64($0), bytes: 10) }))
        guard case .fail(let reason, _) = m.handle(.pushAnswered([result(1)])) else { Issue.record("short answer accepted"); return }
        #expect(reason.contains("different set"))
        var p = started(pullCursor: 50)
        _ = p.handle(.pendingLoaded([]))
        guard case .fail = p.handle(.pulled(count: 3, bytes: 10, next: 40, more: false)) else { Issue.record("feed went backwards"); return }
        var q = started(pullCursor: 50)
        _ = q.handle(.pendingLoaded([]))
        guard case .fail = q.handle(.pulled(count: 0, bytes: 10, next: 50, more: true)) else { Issue.record("a page that does not advance"); return }
        var r = started(pullCursor: 50)
        _ = r.handle(.pendingLoaded([]))
        #expect(r.handle(.pulled(count: 0, bytes: 10, next: 50, more: false)) == .fetchConflicts, "an empty last page is taken")
    }

    /// Every event in a phase that does not expect it ends the run with a reason, never a wrong action.
    @Test func everyUnexpectedEventInEveryPhaseFails() {
        let events: [SyncMachine.Event] = [
            .start, .capabilities(Self.caps), .pendingLoaded([]), .blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil)),
            .pushAnswered([]), .pulled(count: 0, bytes: 0, next: 0, more: false), .failed(.network("x")), .waited,
            .missingAudioLoaded([]), .downloaded(sha256: Self.sha, received: 1), .conflictsFetched,
        ]
        // The machine in each phase, with the events that phase expects.
        var idle = SyncMachine(pushCursor: 0, pullCursor: 0, seed: 3)
        var capabilities = idle; _ = capabilities.handle(.start)
        let loading = started()
        var pushing = started(); _ = pushing.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 1)]))
        var querying = started(); _ = querying.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 1, blob: .init(sha256: Self.sha, size: 10))]))
        var pulling = started(); _ = pulling.handle(.pendingLoaded([]))
        var waiting = pushing; _ = waiting.handle(.failed(.network("x")))
        var fetching = pulling; _ = fetching.handle(.pulled(count: 0, bytes: 0, next: 0, more: false))
        var finished = fetching; _ = finished.handle(.conflictsFetched)
        var loadingAudio = started(config: .init(fetchAudio: true)); _ = loadingAudio.handle(.pendingLoaded([]))
        _ = loadingAudio.handle(.pulled(count: 0, bytes: 0, next: 0, more: false))
        _ = loadingAudio.handle(.conflictsFetched)
        var downloading = loadingAudio; _ = downloading.handle(.missingAudioLoaded([.init(sha256: Self.sha, size: 10)]))
        let phases: [(String, SyncMachine, Set<Int>)] = [
            ("idle", idle, [0]), ("capabilities", capabilities, [1, 6]), ("loading", loading, [2, 6]), ("pushing", pushing, [4, 6]),
            ("blob status", querying, [3, 6]), ("pulling", pulling, [5, 6]), ("waiting", waiting, [7]), ("finished", finished, []),
            ("loading audio", loadingAudio, [6, 8]), ("downloading", downloading, [6, 9]), ("fetching conflicts", fetching, [6, 10]),
        ]
        for (name, machine, expected) in phases {
            for (i, event) in events.enumerated() where !expected.contains(i) {
                var m = machine
                guard case .fail = m.handle(event) else { Issue.record("\(name) took \(event)"); continue }
            }
        }
        _ = idle.handle(.start)
    }

    @Test func backoffIsBoundedAndDeterministicForASeed() {
        var a = SyncMachine(pushCursor: 0, pullCursor: 0, seed: 9), b = SyncMachine(pushCursor: 0, pullCursor: 0, seed: 9)
        let config = a.configuration
        var seen: Set<Duration> = []
        for n in 1...12 {
            let d = a.backoff(attempt: n)
            #expect(d == b.backoff(attempt: n))
            let cap = min(config.maxDelay, config.baseDelay * (1 << min(n - 1, 20)))
            #expect(d >= cap / 2 && d <= cap, "attempt \(n): \(d) outside [\(cap / 2), \(cap)]")
            seen.insert(d)
        }
        #expect(seen.count > 8, "jitter spreads the delays")
        #expect(a.backoff(attempt: 40) <= config.maxDelay)
    }

    @Test func audioIsDownloadedInChunksAfterThePullResumingAfterADrop() {
        var m = started(config: .init(fetchAudio: true))
        #expect(m.handle(.pendingLoaded([])) == .pull(after: 0, limit: 100))
        #expect(m.handle(.pulled(count: 2, bytes: 10, next: 9, more: false)) == .fetchConflicts)
        // Reading the conflicts is retried like any request.
        guard case .wait = m.handle(.failed(.network("reset"))) else { Issue.record("no backoff"); return }
        #expect(m.handle(.waited) == .fetchConflicts)
        #expect(m.handle(.conflictsFetched) == .loadMissingAudio)
        let other = String(repeating: "cd", count: 32)
        let blobs = [SyncMachine.Blob(sha256: Self.sha, size: 2_500), SyncMachine.Blob(sha256: other, size: 10)]
        #expect(m.handle(.missingAudioLoaded(blobs)) == .downloadChunk(sha256: Self.sha, range: 0..<1_000, total: 2_500))
        #expect(m.handle(.downloaded(sha256: Self.sha, received: 1_000)) == .downloadChunk(sha256: Self.sha, range: 1_000..<2_000, total: 2_500))
        // A drop: back off, then the same range again (the bytes held are kept).
        guard case .wait = m.handle(.failed(.network("reset"))) else { Issue.record("no backoff"); return }
        #expect(m.handle(.waited) == .downloadChunk(sha256: Self.sha, range: 1_000..<2_000, total: 2_500))
        #expect(m.handle(.downloaded(sha256: Self.sha, received: 2_000)) == .downloadChunk(sha256: Self.sha, range: 2_000..<2_500, total: 2_500))
        #expect(m.handle(.downloaded(sha256: Self.sha, received: 2_500)) == .downloadChunk(sha256: other, range: 0..<10, total: 10))
        // Audio the server cannot give is skipped, not the end of the sync.
        guard case .finish(let s) = m.handle(.failed(.refused("HTTP 404"))) else { Issue.record("no finish"); return }
        #expect(s.audioDownloaded == 1 && s.audioUnavailable == 1 && s.bytesDown == 10 + 2_500 && s.retries == 2)
    }

    /// A download an earlier run was cut off in resumes at the bytes held; audio held whole is skipped.
    @Test func aDownloadResumesAtTheBytesAnEarlierRunHeld() {
        var m = started(config: .init(fetchAudio: true))
        _ = m.handle(.pendingLoaded([]))
        _ = m.handle(.pulled(count: 0, bytes: 0, next: 0, more: false))
        #expect(m.handle(.conflictsFetched) == .loadMissingAudio)
        let other = String(repeating: "cd", count: 32)
        let blobs = [SyncMachine.Blob(sha256: Self.sha, size: 2_500, held: 1_200), SyncMachine.Blob(sha256: other, size: 10, held: 4)]
        #expect(m.handle(.missingAudioLoaded(blobs)) == .downloadChunk(sha256: Self.sha, range: 1_200..<2_200, total: 2_500))
        #expect(m.handle(.downloaded(sha256: Self.sha, received: 2_200)) == .downloadChunk(sha256: Self.sha, range: 2_200..<2_500, total: 2_500))
        #expect(m.handle(.downloaded(sha256: Self.sha, received: 2_500)) == .downloadChunk(sha256: other, range: 4..<10, total: 10))
        guard case .finish(let s) = m.handle(.downloaded(sha256: other, received: 10)) else { Issue.record("no finish"); return }
        #expect(s.audioDownloaded == 2 && s.bytesDown == 1_300 + 6, "only the bytes not held are counted")
    }

    /// `clinic recording export` of another device's recording: capabilities, then that audio
    /// only; nothing pushed or pulled.
    @Test func anAudioOnlyRunDownloadsTheNamedAudioAndNothingElse() {
        let other = String(repeating: "cd", count: 32)
        var m = SyncMachine(configuration: .init(audioOnly: [other]), pushCursor: 0, pullCursor: 0, seed: 1)
        #expect(m.handle(.start) == .fetchCapabilities)
        #expect(m.handle(.capabilities(Self.caps)) == .loadMissingAudio)
        let blobs = [SyncMachine.Blob(sha256: Self.sha, size: 50), SyncMachine.Blob(sha256: other, size: 10)]
        #expect(m.handle(.missingAudioLoaded(blobs)) == .downloadChunk(sha256: other, range: 0..<10, total: 10))
        guard case .finish(let s) = m.handle(.downloaded(sha256: other, received: 10)) else { Issue.record("no finish"); return }
        #expect(s.audioDownloaded == 1 && s.pushed == 0 && s.pulled == 0)
    }

    @Test func withoutFetchAudioThePullEndsTheRunAndADownloadThatMovesNothingGivesUp() {
        var plain = started()
        _ = plain.handle(.pendingLoaded([]))
        _ = plain.handle(.pulled(count: 0, bytes: 0, next: 0, more: false))
        guard case .finish = plain.handle(.conflictsFetched) else { Issue.record("no finish"); return }

        var m = started(config: .init(fetchAudio: true))
        _ = m.handle(.pendingLoaded([]))
        _ = m.handle(.pulled(count: 0, bytes: 0, next: 0, more: false))
        _ = m.handle(.conflictsFetched)
        _ = m.handle(.missingAudioLoaded([SyncMachine.Blob(sha256: Self.sha, size: 100)]))
        var gaveUp = false
        for _ in 0..<10 {
            let a = m.handle(.failed(.network("timeout")))
            if case .fail(let reason, _) = a { gaveUp = reason.contains("no network"); break }
            #expect(m.handle(.waited) == .downloadChunk(sha256: Self.sha, range: 0..<100, total: 100))
        }
        #expect(gaveUp)
        // An answer that does not move forward is out of step.
        var n = started(config: .init(fetchAudio: true))
        _ = n.handle(.pendingLoaded([]))
        _ = n.handle(.pulled(count: 0, bytes: 0, next: 0, more: false))
        _ = n.handle(.conflictsFetched)
        _ = n.handle(.missingAudioLoaded([SyncMachine.Blob(sha256: Self.sha, size: 100)]))
        guard case .fail = n.handle(.downloaded(sha256: Self.sha, received: 0)) else { Issue.record("took a download that moved nothing"); return }
    }

    /// A request the link cuts is sent again smaller (half the entries, half the bytes); each
    /// answer doubles the window back towards the server's limits.
    @Test func requestsTheLinkCutsShrinkAndAnswersGrowThemBack() {
        let caps = Capabilities(protocolVersion: SyncProtocol.version, serverVersion: "t", maxRequestBytes: 1 << 20,
                                maxBatch: 100, chunkBytes: 64_000, maxPull: 1_000)
        var m = started(caps)
        #expect(m.handle(.pendingLoaded((1...16).map { SyncMachine.Pending(seq: Int64($0), bytes: 10) })) == .push(seqs: Array(1...16)))
        _ = m.handle(.failed(.network("reset")))
        #expect(m.handle(.waited) == .push(seqs: Array(1...8)))
        _ = m.handle(.failed(.network("reset")))
        #expect(m.handle(.waited) == .push(seqs: Array(1...4)))
        #expect(m.handle(.pushAnswered((1...4).map { result($0) })) == .push(seqs: Array(5...12)))
        #expect(m.handle(.pushAnswered((5...12).map { result($0) })) == .push(seqs: Array(13...16)))
        #expect(m.handle(.pushAnswered((13...16).map { result($0) })) == .loadPending(afterSeq: 16, limit: 1_000))
        // A cut pull asks for an eighth as many entries.
        #expect(m.handle(.pendingLoaded([])) == .pull(after: 0, limit: 1_000))
        _ = m.handle(.failed(.network("reset")))
        #expect(m.handle(.waited) == .pull(after: 0, limit: 125))
        // A server error is not the link's fault: the same request again.
        _ = m.handle(.failed(.server(status: 503, message: "busy")))
        #expect(m.handle(.waited) == .pull(after: 0, limit: 125))
        #expect(m.handle(.pulled(count: 125, bytes: 1, next: 125, more: true)) == .pull(after: 125, limit: 250))

        // Chunks too: a cut upload resumes from the server's offset with half the bytes.
        var u = started(caps)
        let blob = SyncMachine.Blob(sha256: Self.sha, size: 200_000)
        #expect(u.handle(.pendingLoaded([SyncMachine.Pending(seq: 1, bytes: 10, blob: blob)])) == .queryBlob(sha256: Self.sha))
        #expect(u.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil)))
                == .uploadChunk(sha256: Self.sha, range: 0..<64_000, total: 200_000))
        _ = u.handle(.failed(.network("reset")))
        #expect(u.handle(.waited) == .queryBlob(sha256: Self.sha))
        #expect(u.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 10_000, complete: false, size: nil)))
                == .uploadChunk(sha256: Self.sha, range: 10_000..<42_000, total: 200_000))
    }

    /// A recording the server refuses for want of its audio (`audio_missing`, not final): the
    /// answers before it count, the audio is asked for and sent again, then the rest is pushed.
    @Test func audioTheServerLacksIsUploadedAgainThenTheRestPushed() {
        var m = started()
        let blob = SyncMachine.Blob(sha256: Self.sha, size: 500)
        let entries = [SyncMachine.Pending(seq: 1, bytes: 10), SyncMachine.Pending(seq: 2, bytes: 10, blob: blob), SyncMachine.Pending(seq: 3, bytes: 10)]
        #expect(m.handle(.pendingLoaded(entries)) == .push(seqs: [1]))
        #expect(m.handle(.pushAnswered([result(1)])) == .queryBlob(sha256: Self.sha))
        // The status says complete (a stale belief, or the server lost it after saying so).
        #expect(m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 500, complete: true, size: 500))) == .push(seqs: [2, 3]))
        let missing = PushResult(seq: 2, changeID: "c2", outcome: .rejected, reason: "no audio", code: PushResult.audioMissing)
        #expect(m.handle(.pushAnswered([missing, result(3)])) == .queryBlob(sha256: Self.sha))
        #expect(m.pushCursor == 1, "neither 2 nor 3 is final yet")
        #expect(m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 0, complete: false, size: nil))) == .uploadChunk(sha256: Self.sha, range: 0..<500, total: 500))
        #expect(m.handle(.blobStatus(BlobStatus(sha256: Self.sha, received: 500, complete: true, size: 500))) == .push(seqs: [2, 3]))
        // Asked a second time in one run for audio it says it holds: stop rather than loop.
        guard case .fail(let reason, let summary) = m.handle(.pushAnswered([missing, result(3)])) else { Issue.record("looped"); return }
        #expect(reason.contains("refuses its recording") && summary.pushed == 1 && summary.rejected == 0)
        #expect(m.pushCursor == 1)
    }

    /// A change the server refuses for a clock far ahead (`clock_ahead`, not final): the answers
    /// before it count, and the run stops saying so, with that change still pending.
    @Test func aClockAheadStopsTheRunKeepingTheChange() {
        var m = started()
        #expect(m.handle(.pendingLoaded((1...3).map { SyncMachine.Pending(seq: Int64($0), bytes: 10) })) == .push(seqs: [1, 2, 3]))
        let ahead = PushResult(seq: 2, changeID: "c2", outcome: .rejected, reason: "its clock is more than 3 hour(s) past", code: PushResult.clockAhead)
        guard case .fail(let reason, let summary) = m.handle(.pushAnswered([result(1), ahead, result(3)])) else { Issue.record("no fail"); return }
        #expect(reason.contains("clock is ahead") && reason.contains("nothing is lost"))
        #expect(summary.pushed == 1 && summary.rejected == 0 && m.pushCursor == 1)
    }
}
