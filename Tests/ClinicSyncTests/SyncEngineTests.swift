import ClinicCore
@testable import ClinicSync
import Foundation
import Testing

/// The engine between the machine and its neighbours, with fakes of the transport and the
/// store: what it records, and when it must record nothing. (With a real server, real stores
/// and a cut link: ClinicSyncCurlTests/SyncConvergenceTests.)
@Suite struct SyncEngineTests {
    static let caps = Capabilities(protocolVersion: SyncProtocol.version, serverVersion: "t", maxRequestBytes: 100_000,
                                   maxBatch: 10, chunkBytes: 1_000, maxPull: 100)
    static let device = UUID()

    final class FakeStore: SyncStore {
        var entries: [OutgoingEntry] = []
        var answers: [PushResult] = []
        var pages: [PullResponse] = []
        var cursor: (push: Int64, pull: Int64) = (0, 0)
        var conflicts: [ConflictRecord] = []
        var results: [(String, String?)] = []
        var failApply = false

        func syncCursors() throws -> (push: Int64, pull: Int64) { cursor }
        func outgoingEntries(after: Int64, limit: Int) throws -> [OutgoingEntry] {
            Array(entries.filter { $0.entry.change.sequence > after }.prefix(limit))
        }
        func recordPushAnswers(_ results: [PushResult]) throws {
            answers += results
            cursor.push = max(cursor.push, results.map(\.seq).max() ?? 0)
        }
        func serverHolds(audio sha256: String) throws -> Bool { false }
        func markServerHolds(audio sha256: String) throws {}
        func forgetServerHolds(audio sha256: String) throws {}
        func audioBytes(_ sha256: String, range: Range<Int64>) throws -> [UInt8] { Array(repeating: 1, count: range.count) }
        func applyPulledPage(_ page: PullResponse, after cursor: Int64) throws -> (applied: Int, refused: Int) {
            if failApply { throw ClinicError(.io, "Could not write: the disk is full.") }
            pages.append(page)
            self.cursor.pull = page.next
            return (page.changes.count, 0)
        }
        func keepConflicts(_ records: [ConflictRecord], openOnServer: Bool) throws -> Int {
            conflicts = records
            return records.count
        }
        func recordSyncResult(_ result: String, error: String?) throws { results.append((result, error)) }
        func missingAudio() throws -> [SyncMachine.Blob] { [] }
        func appendDownloadedAudio(_ sha256: String, offset: Int64, _ bytes: [UInt8]) throws -> Int64 { offset + Int64(bytes.count) }
    }

    /// Answers by route; records every request.
    final class FakeTransport: SyncTransport {
        var requests: [String] = []
        let answer: (String, String, [UInt8]?) -> Result<HTTPAnswer, SyncMachine.Failure>
        init(_ answer: @escaping (String, String, [UInt8]?) -> Result<HTTPAnswer, SyncMachine.Failure>) { self.answer = answer }
        func exchange(_ method: String, _ path: String, body: [UInt8]?, headers: [String: String]) -> Result<HTTPAnswer, SyncMachine.Failure> {
            requests.append("\(method) \(path)")
            return answer(method, path, body)
        }
    }

    static func json(_ value: some Encodable) -> Result<HTTPAnswer, SyncMachine.Failure> {
        .success(HTTPAnswer(status: 200, body: [UInt8](try! JSONEncoder().encode(value))))
    }

    func entry(_ seq: Int64) -> OutgoingEntry {
        let c = Change(sequence: seq, changeID: UUID(), entity: .patient, entityID: UUID(), operation: .update,
                       fields: ["family_name": .text("F")], hlc: HLCTimestamp(milliseconds: seq, counter: 0), deviceID: Self.device)
        return OutgoingEntry(entry: PushEntry(change: c), blob: nil)
    }

    /// A server that answers each push with `results` for the seqs it was sent, and an empty feed.
    func server(results: @escaping ([Int64]) -> [PushResult], conflicts: Result<HTTPAnswer, SyncMachine.Failure>? = nil) -> FakeTransport {
        FakeTransport { method, path, body in
            switch (method, path.split(separator: "?").first.map(String.init) ?? path) {
            case ("GET", "/v1/capabilities"): return Self.json(Self.caps)
            case ("POST", "/v1/changes"):
                let request = try! JSONDecoder().decode(PushRequest.self, from: Data(body!))
                return Self.json(PushResponse(results: results(request.changes.map(\.change.sequence))))
            case ("GET", "/v1/changes"): return Self.json(PullResponse(changes: [], next: 0, more: false))
            case ("GET", "/v1/conflicts"): return conflicts ?? Self.json([ConflictRecord]())
            default: return .success(HTTPAnswer(status: 404, body: []))
            }
        }
    }

    func run(_ transport: FakeTransport, _ store: FakeStore) -> SyncReport {
        SyncEngine(transport: transport, store: store, seed: 1, sleep: { _ in }).run()
    }

    @Test func answersAreRecordedWithRejectionsNamedAndTheResultKept() {
        let store = FakeStore()
        store.entries = (1...3).map(entry)
        let report = run(server(results: { seqs in seqs.map {
            PushResult(seq: $0, changeID: "c", outcome: $0 == 2 ? .rejected : .applied, reason: $0 == 2 ? "unknown field\u{202E} x" : nil)
        } }), store)
        #expect(report.ok && report.pushed == 2 && report.rejected == [.init(seq: 2, reason: "unknown field x")], "\(report)")
        #expect(store.answers.map(\.seq) == [1, 2, 3] && store.cursor.push == 3)
        #expect(store.results.count == 1 && store.results[0].1 == nil)
    }

    @Test func anAnswerForOtherChangesIsNotRecorded() {
        let store = FakeStore()
        store.entries = (1...3).map(entry)
        let report = run(server(results: { seqs in seqs.dropLast().map { PushResult(seq: $0, changeID: "c", outcome: .applied) } }), store)
        #expect(!report.ok && (report.error ?? "").contains("different set of changes"))
        #expect(store.answers.isEmpty && store.cursor.push == 0, "nothing acknowledged from a wrong answer")
        #expect(store.results.last?.1 != nil, "the failure is kept for clinic status")
    }

    @Test func aStoreThatCannotWriteEndsTheRunSayingWhy() {
        let store = FakeStore()
        store.failApply = true
        let report = run(server(results: { _ in [] }), store)
        #expect(!report.ok && (report.error ?? "").contains("disk is full"))
    }

    @Test func conflictsAreKeptAndAServerThatCannotGiveThemFailsTheRunAfterRetries() {
        let record = ConflictRecord(id: UUID().uuidString.lowercased(), entity: .patient, entityID: UUID().uuidString.lowercased(), field: "family_name",
                                    losingValue: .text("A"), losingClock: FieldClock(hlc: .init(milliseconds: 1, counter: 0), device: Self.device),
                                    winningValue: .text("B"), winningClock: FieldClock(hlc: .init(milliseconds: 2, counter: 0), device: UUID()),
                                    changeID: UUID().uuidString.lowercased(), createdAt: "t")
        let store = FakeStore()
        #expect(run(server(results: { _ in [] }, conflicts: Self.json([record])), store).newConflicts == 1)
        #expect(store.conflicts == [record])
        let failing = run(server(results: { _ in [] }, conflicts: .success(HTTPAnswer(status: 500, body: []))), FakeStore())
        #expect(!failing.ok && failing.retries == 5 && (failing.error ?? "").contains("run clinic sync again"), "\(failing)")
    }

    @Test func anAnswerThatIsNotTheProtocolsStopsTheRun() {
        let transport = FakeTransport { _, path, _ in
            path == "/v1/capabilities" ? .success(HTTPAnswer(status: 200, body: Array("<html>portal login</html>".utf8))) : .failure(.network("x"))
        }
        let report = run(transport, FakeStore())
        #expect(!report.ok && (report.error ?? "").contains("not the sync protocol's") && transport.requests == ["GET /v1/capabilities"])
    }

    @Test func aLaptopClockFarFromTheServersIsWarnedAbout() {
        let serverDate = Date(timeIntervalSince1970: 1_795_000_000)
        let base = server(results: { _ in [] })
        let transport = FakeTransport { method, path, body in
            guard case .success(var answer) = base.answer(method, path, body) else { return base.answer(method, path, body) }
            answer.date = serverDate
            return .success(answer)
        }
        let ahead = SyncEngine(transport: transport, store: FakeStore(), seed: 1, sleep: { _ in }, now: { serverDate.addingTimeInterval(3 * 3600 + 120) }).run()
        #expect(ahead.ok && ahead.clockOffsetSeconds == 3 * 3600 + 120)
        #expect(ahead.warnings.count == 1 && ahead.warnings[0].contains("3 h 2 min ahead of"), "\(ahead.warnings)")
        let close = SyncEngine(transport: transport, store: FakeStore(), seed: 1, sleep: { _ in }, now: { serverDate.addingTimeInterval(-30) }).run()
        #expect(close.warnings.isEmpty && close.clockOffsetSeconds == -30)
        #expect(HTTPAnswer.date("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
    }
}
