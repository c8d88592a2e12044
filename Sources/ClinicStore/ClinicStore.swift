import ClinicCore
import Foundation
import GRDB
import Synchronization

/// The local store: one SQLite database and a directory of content-addressed audio files.
/// This type owns the database; its writer never escapes (GUIDE habit 1). Every write to a
/// patient, recording or assessment records a change-log entry in the same transaction.
///
/// Layout of a store directory:
/// ```
/// clinic.sqlite   the database (WAL mode)
/// audio/ab/ab…    audio files named by their SHA-256
/// tmp/            audio being imported (removed by recovery if an import was interrupted)
/// lock            held (flock) by any process that writes
/// ```
public final class ClinicStore: @unchecked Sendable {
    /// The store directory, or nil for an in-memory database (tests).
    public let directory: URL?
    let writer: any DatabaseWriter
    let blobs: BlobStore
    let dependencies: Dependencies
    private var lockFD: Int32 = -1
    /// This device's id, read once: it never changes after `clinic init`.
    private let deviceID = Mutex<String?>(nil)

    /// The file name of the database inside a store directory.
    public static let databaseName = "clinic.sqlite"

    init(directory: URL?, writer: any DatabaseWriter, blobs: BlobStore, dependencies: Dependencies) throws {
        self.directory = directory
        self.writer = writer
        self.blobs = blobs
        self.dependencies = dependencies
        try Self.migrator.migrate(writer)
    }

    deinit {
        if lockFD >= 0 { close(lockFD) }
    }

    /// Creates a new store in `directory` (created if missing) and records this device's identity.
    /// Refuses if a store is already there.
    public static func create(at directory: URL, site: String, deviceName: String,
                              dependencies: Dependencies = .live) throws -> ClinicStore {
        let site = try TextField.singleLine(site, field: "Site name")
        let deviceName = try TextField.singleLine(deviceName, field: "Device name")
        let fm = FileManager.default
        if fm.fileExists(atPath: directory.appending(path: databaseName).path) {
            throw ClinicError(.store, "A clinic store already exists at \(directory.path). Use it as it is, or choose another directory with --store.")
        }
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ClinicError(.store, "Cannot create the store directory \(directory.path): check that you may write there, or choose another with --store.")
        }
        try checkWritable(directory)
        let store = try open(at: directory, dependencies: dependencies, mustExist: false)
        try store.writer.write { db in
            let now = Timestamp.format(dependencies.now())
            for (key, value) in [
                ("device_id", dependencies.uuid().lowercased), ("device_name", deviceName), ("site", site),
                ("created_at", now), ("schema", "clinic-store"),
            ] {
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?)", arguments: [key, value])
            }
        }
        return store
    }

    /// Opens the existing store in `directory` for reading and writing: takes the write lock,
    /// applies pending migrations and finishes or undoes any import a crash interrupted.
    public static func open(at directory: URL, dependencies: Dependencies = .live) throws -> ClinicStore {
        try open(at: directory, dependencies: dependencies, mustExist: true)
    }

    private static func open(at directory: URL, dependencies: Dependencies, mustExist: Bool) throws -> ClinicStore {
        let dbURL = directory.appending(path: databaseName)
        if mustExist && !FileManager.default.fileExists(atPath: dbURL.path) {
            throw ClinicError(.store, "No clinic store at \(directory.path). Run `clinic init` first, or point --store (or CLINIC_STORE) at an existing store.")
        }
        try checkWritable(directory)
        let lockFD = try takeLock(directory)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            // WAL lets readers in other processes proceed while one writes. Durability over
            // speed: with synchronous FULL a committed record survives power loss.
            // (A single connection: GRDB's DatabasePool would write to the file on every open.)
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool: DatabaseQueue
        do {
            pool = try DatabaseQueue(path: dbURL.path, configuration: config)
        } catch {
            close(lockFD)
            throw ClinicError(.store, "Cannot open the store database at \(dbURL.path): \(Self.describe(error)).")
        }
        let blobs = BlobStore(root: directory)
        let store: ClinicStore
        do {
            try blobs.createDirectories()
            store = try ClinicStore(directory: directory, writer: pool, blobs: blobs, dependencies: dependencies)
        } catch {
            close(lockFD)
            throw error
        }
        store.lockFD = lockFD
        if mustExist { _ = try store.recoverInterruptedImports() }
        return store
    }

    /// An in-memory store for tests; audio files go to `audioDirectory`.
    public static func inMemory(audioDirectory: URL, dependencies: Dependencies = .live,
                                site: String = "Test site", deviceName: String = "test") throws -> ClinicStore {
        let queue = try DatabaseQueue()
        let blobs = BlobStore(root: audioDirectory)
        try blobs.createDirectories()
        let store = try ClinicStore(directory: nil, writer: queue, blobs: blobs, dependencies: dependencies)
        try store.writer.write { db in
            for (key, value) in [("device_id", dependencies.uuid().lowercased), ("device_name", deviceName), ("site", site)] {
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?)", arguments: [key, value])
            }
        }
        return store
    }

    private static func checkWritable(_ directory: URL) throws {
        guard access(directory.path, W_OK | X_OK) == 0 else {
            throw ClinicError(.store, "The store directory \(directory.path) is not writable by this user. Ask an administrator to fix its permissions, or use another store with --store.")
        }
        let db = directory.appending(path: databaseName).path
        if FileManager.default.fileExists(atPath: db), access(db, W_OK) != 0 {
            throw ClinicError(.store, "The store database \(db) is not writable by this user. Ask an administrator to fix its permissions.")
        }
    }

    /// One writer at a time: a process that writes holds an exclusive lock on `lock`, so crash
    /// recovery never touches another process's import in flight.
    private static func takeLock(_ directory: URL) throws -> Int32 {
        let path = directory.appending(path: "lock").path
        let fd = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ClinicError(.store, "Cannot create the lock file in \(directory.path): \(String(cString: strerror(errno))).")
        }
        let deadline = Date().addingTimeInterval(30)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK, Date() < deadline else {
                close(fd)
                throw ClinicError(.store, "The store is busy: another clinic command has been writing to it for 30 seconds. Try again when it has finished.")
            }
            usleep(50_000)
        }
        return fd
    }

    /// A short, patient-data-free description of a database error.
    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")"
        }
        return String(describing: type(of: error))
    }

    /// Device and site identity, set at `clinic init`.
    public struct Identity: Sendable, Codable, Equatable {
        public var deviceID: String
        public var deviceName: String
        public var site: String
        enum CodingKeys: String, CodingKey { case deviceID = "device_id", deviceName = "device_name", site }
    }

    public func identity() throws -> Identity {
        try writer.read { db in try Self.identity(db) }
    }

    func cachedDeviceID(_ db: Database) throws -> String {
        if let id = deviceID.withLock({ $0 }) { return id }
        let id = try Self.identity(db).deviceID
        deviceID.withLock { $0 = id }
        return id
    }

    static func identity(_ db: Database) throws -> Identity {
        let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM meta")
        var meta: [String: String] = [:]
        for row in rows { meta[row["key"]] = row["value"] }
        guard let id = meta["device_id"] else {
            throw ClinicError(.store, "The store has no device identity; it was not initialised. Run `clinic init`.")
        }
        return Identity(deviceID: id, deviceName: meta["device_name"] ?? "", site: meta["site"] ?? "")
    }
}
