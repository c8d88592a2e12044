import ClinicCore
import Foundation

/// Content-addressed audio files: `audio/<first two hex>/<sha256>`. A file is written under
/// `tmp/`, fsynced, then hard-linked into place inside the transaction that records it; the
/// temporary name doubles as an intent record for crash recovery.
struct BlobStore: Sendable {
    let root: URL
    var audioDirectory: URL { root.appending(path: "audio") }
    var tmpDirectory: URL { root.appending(path: "tmp") }
    /// Audio being downloaded (`clinic sync --with-audio`): `downloads/<sha256>.part`, the bytes
    /// received so far, kept across runs so a cut-off download resumes where it stopped.
    var downloadsDirectory: URL { root.appending(path: "downloads") }

    func partialDownload(_ sha256: String) -> URL { downloadsDirectory.appending(path: "\(sha256).part") }

    /// Bytes held of a download in progress (0 when none).
    func partialSize(_ sha256: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: partialDownload(sha256).path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// Appends `bytes` at `offset` to a download in progress (offset 0 starts it afresh), fsynced.
    func appendDownload(_ sha256: String, offset: Int64, _ bytes: [UInt8]) throws {
        try? FileManager.default.createDirectory(at: downloadsDirectory, withIntermediateDirectories: true)
        let url = partialDownload(sha256)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw ioError("create a file for downloaded audio") }
        defer { close(fd) }
        guard lseek(fd, 0, SEEK_END) == off_t(offset) else {
            throw ClinicError(.sync, "internal: a download resumed at \(offset) of a partial file of another size")
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ioError("write downloaded audio") }
            written += n
        }
        guard fsync(fd) == 0 else { throw ioError("flush downloaded audio to disk") }
    }

    func createDirectories() throws {
        do {
            try FileManager.default.createDirectory(at: audioDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: tmpDirectory, withIntermediateDirectories: true)
        } catch {
            throw ClinicError(.store, "Cannot create the audio directories in \(root.path): check its permissions.")
        }
    }

    func path(for sha256: String) -> URL {
        audioDirectory.appending(path: String(sha256.prefix(2))).appending(path: sha256)
    }

    /// Writes `bytes` to a new file under `tmp/` and fsyncs it. Returns its path.
    func stage(_ bytes: [UInt8], sha256: String, token: String) throws -> URL {
        let url = tmpDirectory.appending(path: "\(sha256).\(token).partial")
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("create a temporary audio file") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = ioError("write the audio file")
                unlink(url.path)
                throw error
            }
            offset += n
        }
        guard fsync(fd) == 0 else {
            let error = ioError("flush the audio file to disk")
            unlink(url.path)
            throw error
        }
        Self.fsyncDirectory(tmpDirectory)
        return url
    }

    /// Hard-links a staged file into its content address. An existing file of that name holds the
    /// same bytes already (the name is their hash) and is kept.
    func publish(staged: URL, sha256: String) throws {
        let target = path(for: sha256)
        let dir = target.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        if link(staged.path, target.path) != 0 && errno != EEXIST {
            throw ioError("store the audio file")
        }
        Self.fsyncDirectory(dir)
        Self.fsyncDirectory(audioDirectory)
    }

    func read(sha256: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path(for: sha256).path) else {
            throw ClinicError(.integrity, "The audio file of this recording is missing from the store. Run `clinic doctor`.")
        }
        return [UInt8](data)
    }

    /// Staged files left by interrupted imports: (file, the SHA-256 it was to be stored as).
    func staged() -> [(url: URL, sha256: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tmpDirectory.path)) ?? []
        return names.sorted().map { name in
            (tmpDirectory.appending(path: name), String(name.prefix { $0 != "." }))
        }
    }

    /// Every file under `audio/`, by name (for the orphan check).
    func allAudioFiles() -> [(url: URL, name: String)] {
        var result: [(URL, String)] = []
        let fm = FileManager.default
        for prefix in (try? fm.contentsOfDirectory(atPath: audioDirectory.path))?.sorted() ?? [] {
            let dir = audioDirectory.appending(path: prefix)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
                result.append((dir, prefix))
                continue
            }
            for name in (try? fm.contentsOfDirectory(atPath: dir.path))?.sorted() ?? [] {
                result.append((dir.appending(path: name), name))
            }
        }
        return result
    }

    static func fsyncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    private func ioError(_ what: String) -> ClinicError {
        let why = String(cString: strerror(errno))
        if errno == ENOSPC {
            return ClinicError(.io, "Could not \(what): the disk is full. Free some space and try again; nothing was stored.")
        }
        return ClinicError(.io, "Could not \(what) in the store (\(why)); nothing was stored.")
    }
}
