import Foundation

/// How a server instance runs. Instances keep no state of their own: everything is in the
/// database and the blob directory, so several can serve one PostgreSQL database.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var database: DatabaseLocation
    public var blobs: URL
    /// Largest JSON request body, bytes.
    public var maxRequestBytes: Int
    /// Most entries in one push.
    public var maxBatch: Int
    /// Largest blob chunk in one upload, bytes.
    public var chunkBytes: Int
    /// Largest blob, bytes.
    public var maxBlobBytes: Int64
    /// Most changes one pull returns.
    public var maxPull: Int
    /// PEM certificate chain and key for built-in TLS; nil to serve plain HTTP (behind a TLS proxy, or on loopback).
    public var tls: (certificate: String, key: String)?
    /// A connection that reads no HTTP part for this long is closed: an idle kept-alive
    /// connection, one whose request head has not arrived (the header-read timeout), and one
    /// whose body stops. Not while the server is working on a request it has read.
    public var idleTimeout: Duration = .seconds(30)
    /// A request must arrive whole, head to end, within this (a body sent a byte at a time
    /// is closed here). 300 s lets a 1 MiB chunk through at 3.5 KB/s, a poor 2G link.
    public var requestReadTimeout: Duration = .seconds(300)
    /// Connections served at once; beyond this the server stops accepting (new connections wait
    /// in the kernel's backlog) until one closes. Keep it below the open-files limit (`ulimit -n`).
    public var maxConnections: Int = 1_000
    /// How far ahead of the server's clock an entry's HLC may be. Further ahead, it is refused
    /// (not for good, `clock_ahead`): a far-future clock would win every later merge of its fields.
    public var maxClockSkew: Duration = .seconds(24 * 3600)

    public init(host: String = "127.0.0.1", port: Int = 8080, database: DatabaseLocation, blobs: URL,
                maxRequestBytes: Int = 4 << 20, maxBatch: Int = 1_000, chunkBytes: Int = 1 << 20,
                maxBlobBytes: Int64 = 1 << 30, maxPull: Int = 1_000, tls: (certificate: String, key: String)? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.blobs = blobs
        self.maxRequestBytes = maxRequestBytes
        self.maxBatch = maxBatch
        self.chunkBytes = chunkBytes
        self.maxBlobBytes = maxBlobBytes
        self.maxPull = maxPull
        self.tls = tls
    }

    /// The defaults under a data directory: `DIR/server.sqlite` and `DIR/blobs`.
    public static func defaults(dataDirectory: URL) -> ServerConfiguration {
        ServerConfiguration(database: .sqlite(path: dataDirectory.appending(path: "server.sqlite").path),
                            blobs: dataDirectory.appending(path: "blobs"))
    }
}

public enum ClinicServerInfo {
    public static let version = "0.1.0"
}
