import ClinicCore
import Crypto
import Foundation
import Synchronization

/// Where audio bytes live on the server. Content-addressed by SHA-256; uploads resume from
/// the bytes already received; a completed upload is verified against its hash before it
/// becomes visible.
public protocol BlobStorage: Sendable {
    /// Bytes of an unfinished upload held for `site`.
    func received(sha256: String, site: String) throws -> Int64
    /// Appends `bytes` at `offset` (which must equal the bytes received) and returns the new total.
    func append(sha256: String, site: String, offset: Int64, bytes: [UInt8]) throws -> Int64
    /// Verifies the finished upload against its hash: true and stored, or false and discarded.
    func finish(sha256: String, site: String) throws -> Bool
    /// The size of a stored blob, or nil.
    func size(sha256: String) throws -> Int64?
    /// Reads `range` of a stored blob.
    func read(sha256: String, range: Range<Int64>) throws -> [UInt8]
}

/// Blobs as files: `blobs/ab/<sha256>`, unfinished uploads in `partial/<site>/<sha256>`.
public final class FileBlobStorage: BlobStorage {
    let root: URL
    private let busy = Mutex<Set<String>>([])

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root.appending(path: "blobs"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appending(path: "partial"), withIntermediateDirectories: true)
    }

    private func partial(_ sha256: String, _ site: String) -> URL {
        precondition(isSHA256Hex(sha256) && UUID(strict: site) != nil)
        return root.appending(path: "partial").appending(path: site).appending(path: sha256)
    }

    private func final(_ sha256: String) -> URL {
        precondition(isSHA256Hex(sha256))
        return root.appending(path: "blobs").appending(path: String(sha256.prefix(2))).appending(path: sha256)
    }

    private func fileSize(_ url: URL) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size].flatMap { ($0 as? NSNumber)?.int64Value }
    }

    public func received(sha256: String, site: String) throws -> Int64 { fileSize(partial(sha256, site)) ?? 0 }

    public func append(sha256: String, site: String, offset: Int64, bytes: [UInt8]) throws -> Int64 {
        let url = partial(sha256, site)
        let key = site + "/" + sha256
        guard busy.withLock({ $0.insert(key).inserted }) else {
            throw ServerError(.conflict, "upload_busy", "Another upload of this blob is in progress; retry shortly.")
        }
        defer { _ = busy.withLock { $0.remove(key) } }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let have = fileSize(url) ?? 0
        guard offset == have else {
            throw ServerError(.conflict, "wrong_offset", "The server holds \(have) bytes of this blob; upload from offset \(have).")
        }
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServerError.internalError("cannot store the upload") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ServerError.internalError("cannot store the upload") }
            written += n
        }
        return have + Int64(bytes.count)
    }

    public func finish(sha256: String, site: String) throws -> Bool {
        let url = partial(sha256, site)
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return false }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        try handle.close()
        let digest = hash.finalize().map { String(format: "%02x", $0) }.joined()
        guard digest == sha256 else {
            try? FileManager.default.removeItem(at: url)
            return false
        }
        let target = final(sha256)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        if rename(url.path, target.path) != 0 { throw ServerError.internalError("cannot store the blob") }
        return true
    }

    public func size(sha256: String) throws -> Int64? { fileSize(final(sha256)) }

    public func read(sha256: String, range: Range<Int64>) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: final(sha256).path) else { throw ServerError.notFound("No such blob.") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(range.lowerBound))
        return [UInt8](try handle.read(upToCount: Int(range.count)) ?? Data())
    }
}
