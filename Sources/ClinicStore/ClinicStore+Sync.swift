import ClinicCore
import Foundation
import ClinicSync
import GRDB

/// A change-log entry waiting to be pushed, with what the push needs beside it.
public struct PendingChange: Sendable, Equatable {
    public var change: Change
    /// For each field it changes that had a value before: the clock (`HLC@device`) of that value.
    public var base: [String: String]
    /// The audio the server must hold first (a recording's insert): its SHA-256 and size.
    public var audio: (sha256: String, size: Int64)?

    public static func == (a: Self, b: Self) -> Bool {
        a.change == b.change && a.base == b.base && a.audio?.sha256 == b.audio?.sha256 && a.audio?.size == b.audio?.size
    }
}

/// Where sync stands: cursors and the last run (`sync_state`, migration 0002).
public struct SyncState: Sendable, Equatable {
    /// The highest seq the server has answered for.
    public var pushCursor: Int64 = 0
    /// The server's `next` after the last applied page.
    public var pullCursor: Int64 = 0
    public var lastSyncAt: String?
    public var lastResult: String?
    public var lastError: String?
}

extension ClinicStore {
    /// Entries after the push cursor (or after `after`, if later), oldest first, at most
    /// `limit`, with their bases and audio.
    public func pendingChanges(after: Int64 = 0, limit: Int = 1_000) throws -> [PendingChange] {
        try writer.read { db in
            let cursor = max(after, try Self.syncState(db).pushCursor)
            return try Row.fetchAll(db, sql: "SELECT * FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [cursor, limit]).map { row in
                let change = try Self.change(from: row)
                let baseText: String = row["base"] ?? "{}"
                let base = try JSONDecoder().decode([String: String].self, from: Data(baseText.utf8))
                var audio: (String, Int64)?
                if change.entity == .recording, change.operation == .insert,
                   let sha = change.fields["audio_sha256"]?.text, let size = change.fields["audio_size"]?.integer {
                    audio = (sha, size)
                }
                return PendingChange(change: change, base: base, audio: audio)
            }
        }
    }

    /// Records the server's answers to a push in one transaction: the rejected entries with
    /// their reasons, and the push cursor moved to the highest seq answered.
    public func recordPushAnswers(_ answers: [(seq: Int64, rejection: String?)]) throws {
        guard let highest = answers.map(\.seq).max() else { return }
        let now = Timestamp.format(dependencies.now())
        try writer.write { db in
            for (seq, rejection) in answers {
                guard let reason = rejection else { continue }
                try db.execute(sql: "INSERT INTO sync_rejections(seq, reason, rejected_at) VALUES (?, ?, ?) ON CONFLICT(seq) DO NOTHING",
                               arguments: [seq, reason, now])
            }
            let cursor = try Self.syncState(db).pushCursor
            try Self.setSyncValue(db, "push_cursor", String(max(cursor, highest)))
        }
    }

    /// Entries the server rejected, oldest first: seq and reason.
    public func syncRejections() throws -> [(seq: Int64, reason: String)] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, reason FROM sync_rejections ORDER BY seq").map { ($0["seq"], $0["reason"]) }
        }
    }

    /// Notes that the server holds this audio for the site, so it is not asked again.
    public func markServerHolds(audio sha256: String) throws {
        guard isSHA256Hex(sha256) else { throw ClinicError.invalid("The audio hash is malformed.") }
        try writer.write { db in try markServerHolds(db, audio: sha256) }
    }

    func markServerHolds(_ db: Database, audio sha256: String) throws {
        try db.execute(sql: "INSERT INTO server_blobs(sha256, confirmed_at) VALUES (?, ?) ON CONFLICT(sha256) DO NOTHING",
                       arguments: [sha256, Timestamp.format(dependencies.now())])
    }

    public func forgetServerHolds(audio sha256: String) throws {
        try writer.write { db in try db.execute(sql: "DELETE FROM server_blobs WHERE sha256 = ?", arguments: [sha256]) }
    }

    public func serverHolds(audio sha256: String) throws -> Bool {
        try writer.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM server_blobs WHERE sha256 = ?", arguments: [sha256]) ?? false }
    }

    public func syncState() throws -> SyncState { try writer.read { db in try Self.syncState(db) } }

    /// Records how a run ended (`error` nil: it finished).
    public func recordSyncResult(_ result: String, error: String?) throws {
        try writer.write { db in
            try Self.setSyncValue(db, "last_sync_at", Timestamp.format(dependencies.now()))
            try Self.setSyncValue(db, "last_result", result)
            if let error { try Self.setSyncValue(db, "last_error", error) } else {
                try db.execute(sql: "DELETE FROM sync_state WHERE key = 'last_error'")
            }
        }
    }

    static func syncState(_ db: Database) throws -> SyncState {
        var state = SyncState()
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM sync_state") {
            let value: String = row["value"]
            switch row["key"] as String {
            case "push_cursor": state.pushCursor = Int64(value) ?? 0
            case "pull_cursor": state.pullCursor = Int64(value) ?? 0
            case "last_sync_at": state.lastSyncAt = value
            case "last_result": state.lastResult = value
            case "last_error": state.lastError = value
            default: break
            }
        }
        return state
    }

    static func setSyncValue(_ db: Database, _ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT INTO sync_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [key, value])
    }
}

/// The sync engine's store (`SyncEngine`): each method one transaction.
extension ClinicStore: SyncStore {
    public func syncCursors() throws -> (push: Int64, pull: Int64) {
        let state = try syncState()
        return (state.pushCursor, state.pullCursor)
    }

    public func outgoingEntries(after: Int64, limit: Int) throws -> [OutgoingEntry] {
        try pendingChanges(after: after, limit: limit).map { p in
            var base: [String: FieldClock] = [:]
            for (field, text) in p.base {
                guard let clock = FieldClock(text) else {
                    throw ClinicError(.integrity, "Change \(p.change.sequence) has a malformed base. Run `clinic doctor`.")
                }
                base[field] = clock
            }
            return OutgoingEntry(entry: PushEntry(change: p.change, base: base.isEmpty ? nil : base),
                                 blob: p.audio.map { SyncMachine.Blob(sha256: $0.sha256, size: $0.size) })
        }
    }

    public func recordPushAnswers(_ results: [PushResult]) throws {
        try recordPushAnswers(results.map { ($0.seq, $0.outcome == .rejected ? ($0.reason ?? "no reason given") : nil) })
    }

    public func audioBytes(_ sha256: String, range: Range<Int64>) throws -> [UInt8] {
        guard isSHA256Hex(sha256) else { throw ClinicError.invalid("The audio hash is malformed.") }
        let url = blobs.path(for: sha256)
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw ClinicError(.integrity, "The audio file \(sha256.prefix(12))… is missing. Run `clinic doctor`.")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(range.lowerBound))
        let data = try handle.read(upToCount: range.count) ?? Data()
        guard data.count == range.count else {
            throw ClinicError(.integrity, "The audio file \(sha256.prefix(12))… is shorter than recorded. Run `clinic doctor`.")
        }
        return [UInt8](data)
    }

    public func applyPulledPage(_ page: PullResponse, after cursor: Int64) throws -> (applied: Int, refused: Int) {
        let result = try applyPulled(page, after: cursor)
        return (result.applied, result.refused)
    }

    public func keepConflicts(_ records: [ConflictRecord], openOnServer: Bool) throws -> Int {
        try keepServerConflicts(records, openOnServer: openOnServer)
    }

    /// The audio of recordings this laptop holds no file for, each once, with the bytes of it
    /// an earlier run downloaded (a complete download not yet stored is stored first).
    public func missingAudio() throws -> [SyncMachine.Blob] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT DISTINCT audio_sha256, audio_size FROM recordings ORDER BY created_at, audio_sha256")
        }.compactMap { row -> SyncMachine.Blob? in
            let sha: String = row["audio_sha256"], size: Int64 = row["audio_size"]
            guard isSHA256Hex(sha), !FileManager.default.fileExists(atPath: blobs.path(for: sha).path) else { return nil }
            var held = blobs.partialSize(sha)
            if held >= size {
                if held == size, (try? finishDownload(sha, size: size)) != nil { return nil }
                unlink(blobs.partialDownload(sha).path)
                held = 0
            }
            return SyncMachine.Blob(sha256: sha, size: size, held: held)
        }
    }

    /// Adds downloaded bytes of audio at `offset` (kept on disk, so a later run resumes), and
    /// once all are here checks its size and SHA-256 and stores it. Returns the bytes held.
    /// Audio no recording here has, or that does not match its hash, is not kept.
    public func appendDownloadedAudio(_ sha256: String, offset: Int64, _ bytes: [UInt8]) throws -> Int64 {
        guard isSHA256Hex(sha256) else { throw ClinicError(.sync, "The downloaded audio's hash is malformed; it was not stored.") }
        let expected = try writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT audio_size FROM recordings WHERE audio_sha256 = ? LIMIT 1", arguments: [sha256])
        }
        guard let size = expected, offset >= 0, offset + Int64(bytes.count) <= size else {
            throw ClinicError(.sync, "The downloaded audio belongs to no recording here, or is longer than recorded; it was not stored.")
        }
        try blobs.appendDownload(sha256, offset: offset, bytes)
        let held = offset + Int64(bytes.count)
        if held == size { try finishDownload(sha256, size: size) }
        return held
    }

    /// Checks a complete download against its hash and links it into place; a mismatch is deleted.
    private func finishDownload(_ sha256: String, size: Int64) throws {
        let partial = blobs.partialDownload(sha256)
        guard let data = FileManager.default.contents(atPath: partial.path), Int64(data.count) == size, sha256Hex([UInt8](data)) == sha256 else {
            unlink(partial.path)
            throw ClinicError(.sync, "The downloaded audio does not match its hash; it was not stored.")
        }
        try blobs.publish(staged: partial, sha256: sha256)
        unlink(partial.path)
    }
}

