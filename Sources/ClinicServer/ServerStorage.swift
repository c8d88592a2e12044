import ClinicCore
import ClinicSync
import Foundation
import Logging

/// The server's database, behind one interface with two implementations (SQLite, PostgreSQL)
/// that behave the same: the merge logic is shared (`PushPlanner`); a backend loads, runs the
/// plan's steps in one transaction, and answers queries.
public protocol ServerStorage: Sendable {
    /// Applies pending migrations.
    func migrate() async throws

    func createSite(_ site: SiteRecord) async throws
    func sites() async throws -> [SiteRecord]
    func createDevice(_ device: DeviceRecord, tokenHash: String) async throws
    func devices() async throws -> [DeviceRecord]
    /// Marks a device revoked; false if there is no such device.
    func revokeDevice(id: UUID, at: String) async throws -> Bool
    /// The unrevoked device whose token hashes to `tokenHash`, with the stored hash.
    func device(tokenHash: String) async throws -> (DeviceRecord, String)?

    /// Merges a batch of pushed entries atomically; the same batch again gets the same answers.
    func push(_ push: PreparedPush) async throws -> [PushResult]
    /// The site's feed after `after`, at most `limit` entries, in server order, in their wire form.
    func feed(siteID: String, after: Int64, limit: Int) async throws -> [StoredFeedEntry]
    func conflicts(siteID: String, limit: Int) async throws -> [ConflictRecord]

    /// Size of a complete blob the site holds, or nil.
    func blobSize(sha256: String, siteID: String) async throws -> Int64?
    /// Records that a complete, verified blob is held for `siteID`.
    func addBlob(sha256: String, size: Int64, siteID: String, now: String) async throws

    func shutdown() async throws
}

extension ServerStorage {
    /// Merges a batch of pushed entries for `device` atomically (checking and encoding them first).
    public func push(_ entries: [PushEntry], device: DeviceRecord, now: String) async throws -> [PushResult] {
        try await push(PreparedPush(entries, device: device, now: now, newID: { UUID() }))
    }
}

/// A push checked and encoded before it reaches the writer, so the single writer does only
/// the database work: each entry's field-rule verdict (`EntityRules`) and the start of its
/// wire form (`WireJSON.changePrefix`) are computed on the request's own task.
public struct PreparedPush: Sendable {
    struct Entry: Sendable {
        var entry: PushEntry
        /// Why `EntityRules` refuse the entry, or nil.
        var problem: String?
        var prefix: [UInt8]
    }

    var entries: [Entry]
    var device: DeviceRecord
    var now: String
    /// Ids for the conflict records the push may create (injected: `Dependencies.uuid`).
    var newID: @Sendable () -> UUID

    init(_ entries: [PushEntry], device: DeviceRecord, now: String, newID: @escaping @Sendable () -> UUID) {
        self.entries = entries.map { Entry(entry: $0, problem: EntityRules.problem(with: $0.change), prefix: WireJSON.changePrefix($0.change)) }
        self.device = device
        self.now = now
        self.newID = newID
    }
}

/// How many pushes one group commit takes at most: up to `maxPushes` pushes, stopping once
/// they carry `maxChanges` entries (measured: see docs/architecture.md, "Server performance").
enum PushGrouping {
    static let maxPushes = 256
    static let maxChanges = 2_000
}

/// A feed entry as stored: its server sequence number and its pull JSON (`FeedEntry`).
public struct StoredFeedEntry: Sendable, Equatable {
    public var serverSeq: Int64
    public var json: String
}

/// The records a push saves, each once with its last state, in first-touched order.
struct OrderedStates {
    private(set) var items: [(RecordKey, RecordState)] = []
    private var index: [RecordKey: Int] = [:]

    mutating func set(_ key: RecordKey, _ state: RecordState) {
        if let i = index[key] { items[i].1 = state } else { index[key] = items.count; items.append((key, state)) }
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

/// Where the server keeps its data.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// Parses `sqlite:PATH` or `postgres://user@host:port/db`.
    public init?(_ text: String) {
        if text.hasPrefix("sqlite:") { self = .sqlite(path: String(text.dropFirst("sqlite:".count))) }
        else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") { self = .postgres(url: text) }
        else { return nil }
    }

    /// Without any password.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url):
            if let c = URLComponents(string: url) { "postgres://\(c.user.map { $0 + "@" } ?? "")\(c.host ?? ""):\(c.port ?? 5432)\(c.path)" } else { "postgres://…" }
        }
    }
}

public enum Storage {
    /// Opens (and migrates) the storage at `location`; the PostgreSQL backend logs through `logger`.
    public static func open(_ location: DatabaseLocation, logger: Logger = Logger(label: "clinic-server")) async throws -> any ServerStorage {
        let storage: any ServerStorage
        switch location {
        case .sqlite(let path): storage = try SQLiteStorage(path: path)
        case .postgres(let url): storage = try PostgresStorage(url: url, logger: logger)
        }
        try await storage.migrate()
        return storage
    }
}

/// One write a push makes, in order, inside its transaction.
enum PushWrite: Sendable {
    case feed(serverSeq: Int64, entry: PreparedPush.Entry, outcome: PushOutcome)
    case record(RecordKey, RecordState, isNew: Bool)
    case conflict(RecordKey, Conflict, changeID: String)
    case receipt(seq: Int64, StoredReceipt)
}

extension Array where Element == PushStep {
    /// The answers and the writes of these steps, numbering accepted entries from `firstServerSeq`.
    /// (The backend holds its push lock, so nobody else takes those numbers.)
    func materialize(firstServerSeq: Int64) -> (results: [PushResult], writes: [PushWrite]) {
        var results: [PushResult] = []
        var writes: [PushWrite] = []
        var next = firstServerSeq
        for step in self {
            switch step {
            case .replay(let result):
                results.append(result)
            case .sameAs(let index):
                results.append(results[index])
            case .reject(let result, let store):
                if store {
                    writes.append(.receipt(seq: result.seq, StoredReceipt(changeID: result.changeID, outcome: .rejected, reason: result.reason, serverSeq: nil)))
                }
                results.append(result)
            case .accept(let entry, let outcome, let key, let state, let isNew, let conflicts):
                let serverSeq = next
                next += 1
                writes.append(.feed(serverSeq: serverSeq, entry: entry, outcome: outcome))
                writes.append(.record(key, state, isNew: isNew))
                let change = entry.entry.change
                for conflict in conflicts { writes.append(.conflict(key, conflict, changeID: change.changeID.lowercased)) }
                let receipt = StoredReceipt(changeID: change.changeID.lowercased, outcome: outcome, reason: nil, serverSeq: serverSeq)
                writes.append(.receipt(seq: change.sequence, receipt))
                results.append(receipt.result(seq: change.sequence))
            }
        }
        return (results, writes)
    }
}

extension ConflictRecord {
    init(id: String, key: RecordKey, conflict: Conflict, changeID: String, now: String) {
        self.init(id: id, entity: key.entity, entityID: key.id, field: conflict.field, losingValue: conflict.losingValue,
                  losingClock: conflict.losingClock, winningValue: conflict.winningValue, winningClock: conflict.winningClock,
                  changeID: changeID, createdAt: now)
    }
}
