import ClinicCore
import Foundation

/// The sync protocol's version and wire types (docs/sync-protocol.md). JSON, snake_case keys.
public enum SyncProtocol {
    /// Bumped on any incompatible change; the server serves `/v1/...` for version 1.
    public static let version = 1
}

/// What a server accepts: a client reads this before pushing or uploading.
public struct Capabilities: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var serverVersion: String
    /// Largest request body the server reads, in bytes (413 above it).
    public var maxRequestBytes: Int
    /// Most change-log entries in one push.
    public var maxBatch: Int
    /// Largest blob chunk in one upload request, in bytes.
    public var chunkBytes: Int
    /// Most changes one pull returns.
    public var maxPull: Int
    /// Largest blob the server stores, bytes (absent from older servers).
    public var maxBlobBytes: Int64?
    /// The server marks conflicts resolved and lists open ones (`GET /v1/conflicts?status=open`; absent from older servers).
    public var conflictStatus: Bool?

    public init(protocolVersion: Int, serverVersion: String, maxRequestBytes: Int, maxBatch: Int, chunkBytes: Int, maxPull: Int,
                maxBlobBytes: Int64? = nil, conflictStatus: Bool? = nil) {
        self.protocolVersion = protocolVersion
        self.serverVersion = serverVersion
        self.maxRequestBytes = maxRequestBytes
        self.maxBatch = maxBatch
        self.chunkBytes = chunkBytes
        self.maxPull = maxPull
        self.maxBlobBytes = maxBlobBytes
        self.conflictStatus = conflictStatus
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version", serverVersion = "server_version", maxRequestBytes = "max_request_bytes"
        case maxBatch = "max_batch", chunkBytes = "chunk_bytes", maxPull = "max_pull", maxBlobBytes = "max_blob_bytes"
        case conflictStatus = "conflict_status"
    }
}

/// The clock of a field's value: who wrote it and when. Ordered by (hlc, device id).
public struct FieldClock: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var hlc: HLCTimestamp
    public var device: UUID

    public init(hlc: HLCTimestamp, device: UUID) {
        self.hlc = hlc
        self.device = device
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.hlc, a.device.lowercased) < (b.hlc, b.device.lowercased)
    }

    /// `HLC@device`, the form used in `base`.
    public var description: String { "\(hlc)@\(device.lowercased)" }

    public init?(_ text: String) {
        let parts = text.split(separator: "@")
        guard parts.count == 2, let hlc = HLCTimestamp(String(parts[0])), let device = UUID(strict: String(parts[1])) else { return nil }
        self.init(hlc: hlc, device: device)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let clock = FieldClock(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a field clock (HLC@device)"))
        }
        self = clock
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// One change-log entry as pushed: the entry, and optionally for each field the clock of the
/// value the device had when it wrote (`base`), so the server can tell a concurrent edit from
/// an edit made after seeing the other one.
public struct PushEntry: Codable, Sendable, Equatable {
    public var change: Change
    public var base: [String: FieldClock]?

    public init(change: Change, base: [String: FieldClock]? = nil) {
        self.change = change
        self.base = base
    }

    enum CodingKeys: String, CodingKey { case base }

    public init(from decoder: Decoder) throws {
        change = try Change(from: decoder)
        base = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([String: FieldClock].self, forKey: .base)
    }

    public func encode(to encoder: Encoder) throws {
        try change.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(base, forKey: .base)
    }
}

public struct PushRequest: Codable, Sendable, Equatable {
    public var changes: [PushEntry]
    public init(changes: [PushEntry]) { self.changes = changes }
}

/// What happened to one pushed entry.
public enum PushOutcome: String, Codable, Sendable, CaseIterable {
    /// At least one field took the entry's value.
    case applied
    /// Every field already had a newer value (or the same one); nothing changed.
    case superseded
    /// A concurrent edit of a field with a different value: the losing value is kept as a conflict record.
    case conflict
    /// Refused; `reason` says why. Nothing changed.
    case rejected
}

public struct PushResult: Codable, Sendable, Equatable {
    public var seq: Int64
    public var changeID: String
    public var outcome: PushOutcome
    public var reason: String?
    /// The entry's position in the site's feed (absent when rejected).
    public var serverSeq: Int64?
    /// On a rejection that is not final, why, for a client to act on: `audio_missing` (a new
    /// recording whose audio this site has not uploaded; upload it and push the entry again).
    public var code: String?

    public init(seq: Int64, changeID: String, outcome: PushOutcome, reason: String? = nil, serverSeq: Int64? = nil, code: String? = nil) {
        self.seq = seq
        self.changeID = changeID
        self.outcome = outcome
        self.reason = reason
        self.serverSeq = serverSeq
        self.code = code
    }

    /// The `code` of a rejection for a recording whose audio the server does not hold.
    public static let audioMissing = "audio_missing"
    /// The `code` of a rejection for an entry whose clock is further ahead of the server's than it allows.
    public static let clockAhead = "clock_ahead"

    /// How many of a push's answers, from the first, a client takes as final: all up to the
    /// first rejection with a `code` (not final: that entry and those after it are pushed
    /// again later; the server answers replays the same).
    public static func finalPrefix(_ results: [PushResult]) -> Int {
        results.firstIndex { $0.outcome == .rejected && $0.code != nil } ?? results.count
    }

    enum CodingKeys: String, CodingKey {
        case seq, changeID = "change_id", outcome, reason, serverSeq = "server_seq", code
    }
}

public struct PushResponse: Codable, Sendable, Equatable {
    public var results: [PushResult]
    public init(results: [PushResult]) { self.results = results }
}

/// A change in a site's feed: the pushed entry and its server sequence number.
public struct FeedEntry: Codable, Sendable, Equatable {
    public var serverSeq: Int64
    public var change: Change
    public var outcome: PushOutcome

    public init(serverSeq: Int64, change: Change, outcome: PushOutcome) {
        self.serverSeq = serverSeq
        self.change = change
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey { case serverSeq = "server_seq", outcome }

    public init(from decoder: Decoder) throws {
        change = try Change(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serverSeq = try c.decode(Int64.self, forKey: .serverSeq)
        outcome = try c.decode(PushOutcome.self, forKey: .outcome)
    }

    public func encode(to encoder: Encoder) throws {
        try change.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(serverSeq, forKey: .serverSeq)
        try c.encode(outcome, forKey: .outcome)
    }
}

public struct PullResponse: Codable, Sendable, Equatable {
    public var changes: [FeedEntry]
    /// The cursor for the next pull: the last server_seq returned (or the one given).
    public var next: Int64
    /// True when more changes are waiting.
    public var more: Bool

    public init(changes: [FeedEntry], next: Int64, more: Bool) {
        self.changes = changes
        self.next = next
        self.more = more
    }
}

/// How much of a blob the server holds for the caller's site.
public struct BlobStatus: Codable, Sendable, Equatable {
    public var sha256: String
    /// Bytes received so far (the offset to upload from).
    public var received: Int64
    public var complete: Bool
    public var size: Int64?

    public init(sha256: String, received: Int64, complete: Bool, size: Int64?) {
        self.sha256 = sha256
        self.received = received
        self.complete = complete
        self.size = size
    }
}

/// A value that lost a concurrent edit, kept so nobody's edit is silently dropped.
public struct ConflictRecord: Codable, Sendable, Equatable {
    public var id: String
    public var entity: EntityKind
    public var entityID: String
    public var field: String
    public var losingValue: FieldValue
    public var losingClock: FieldClock
    public var winningValue: FieldValue
    public var winningClock: FieldClock
    public var changeID: String
    public var createdAt: String
    /// When a later write of the field, made after seeing the winning value, resolved it (server time), and that write's change id.
    public var resolvedAt: String?
    public var resolvedBy: String?

    public init(id: String, entity: EntityKind, entityID: String, field: String, losingValue: FieldValue, losingClock: FieldClock,
                winningValue: FieldValue, winningClock: FieldClock, changeID: String, createdAt: String,
                resolvedAt: String? = nil, resolvedBy: String? = nil) {
        self.id = id
        self.entity = entity
        self.entityID = entityID
        self.field = field
        self.losingValue = losingValue
        self.losingClock = losingClock
        self.winningValue = winningValue
        self.winningClock = winningClock
        self.changeID = changeID
        self.createdAt = createdAt
        self.resolvedAt = resolvedAt
        self.resolvedBy = resolvedBy
    }

    enum CodingKeys: String, CodingKey {
        case id, entity, entityID = "entity_id", field, losingValue = "losing_value", losingClock = "losing_clock"
        case winningValue = "winning_value", winningClock = "winning_clock", changeID = "change_id", createdAt = "created_at"
        case resolvedAt = "resolved_at", resolvedBy = "resolved_by"
    }
}

/// The JSON body of every error response.
public struct ErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var message: String
    public init(error: String, message: String) {
        self.error = error
        self.message = message
    }
}
