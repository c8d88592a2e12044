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
    /// The site's feed after `after`, at most `limit` entries, in server order, in their wire form,
    /// each with the device that pushed it.
    func feed(siteID: String, after: Int64, limit: Int) async throws -> [StoredFeedEntry]
    /// The site's conflicts, oldest first; only those not yet resolved when `openOnly`.
    func conflicts(siteID: String, openOnly: Bool, limit: Int) async throws -> [ConflictRecord]

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

/// A feed entry as stored: its server sequence number, its pull JSON (`FeedEntry`) and the
/// device that pushed it (lowercased; from `feed`).
public struct StoredFeedEntry: Sendable, Equatable {
    public var serverSeq: Int64
    public var json: String
    public var deviceID: String?
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
