import ArgumentParser
import ClinicServer
import ClinicCore
import Foundation
import Logging

@main
struct ClinicServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clinic-server",
        abstract: "The central clinic sync server and its administration.",
        discussion: """
            Data lives in --data DIR, else $CLINIC_SERVER_DATA, else ~/.clinic-server: the SQLite \
            database (server.sqlite) and the audio blobs (blobs/). Use --db postgres://... for PostgreSQL.
            """,
        version: ClinicServerInfo.version,
        subcommands: [Serve.self, SiteCommand.self, DeviceCommand.self]
    )
}

/// Where the data is; shared by every command so admin commands and the server agree.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The data directory.", valueName: "dir")) var data: String?
    @Option(help: ArgumentHelp("The database: sqlite:PATH or postgres://USER@HOST:PORT/DB. Default: sqlite in the data directory.", valueName: "url"))
    var db: String?

    var dataDirectory: URL {
        if let data { return URL(fileURLWithPath: (data as NSString).expandingTildeInPath) }
        if let env = ProcessInfo.processInfo.environment["CLINIC_SERVER_DATA"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return userHomeDirectory.appending(path: ".clinic-server")
    }

    func validate() throws {
        if let db, DatabaseLocation(db) == nil { throw ValidationError("--db must be sqlite:PATH or postgres://USER@HOST:PORT/DB.") }
    }

    var configuration: ServerConfiguration {
        var config = ServerConfiguration.defaults(dataDirectory: dataDirectory)
        if let db, let location = DatabaseLocation(db) { config.database = location }
        return config
    }

    /// Opens the storage, creating the data directory for the SQLite default.
    func openStorage(logger: Logger = Logger(label: "clinic-server")) async throws -> any ServerStorage {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        do {
            return try await Storage.open(configuration.database, logger: logger)
        } catch let error as AdminError {
            throw error
        } catch {
            throw AdminError("Cannot open the database \(configuration.database): \(String(describing: type(of: error))).")
        }
    }
}

struct JSONOption: ParsableArguments {
    @Flag(help: "Print JSON for scripts.") var json = false
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Runs an admin action, closing the storage after.
func withStorage<T>(_ options: DataOptions, _ body: (ServerAdmin) async throws -> T) async throws -> T {
    let storage = try await options.openStorage()
    do {
        let result = try await body(ServerAdmin(storage: storage))
        try await storage.shutdown()
        return result
    } catch let error as AdminError {
        try? await storage.shutdown()
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the sync server.")
    @OptionGroup var data: DataOptions
    @Option(help: "Directory for audio blobs. Default: blobs/ in the data directory.") var blobs: String?
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "PEM certificate chain for built-in TLS (with --tls-key).") var tlsCert: String?
    @Option(help: "PEM private key for built-in TLS.") var tlsKey: String?
    @Option(help: "Close a connection that sends nothing (no request, or a request that stops) for this many seconds.")
    var idleTimeout = 30
    @Option(help: "Close a connection whose request has not arrived whole (head to end) after this many seconds.")
    var requestTimeout = 300
    @Option(help: "Connections served at once; more wait until one closes. Keep it below `ulimit -n`.")
    var maxConnections = 1_000
    @Option(help: "Refuse (until the server's clock catches up) changes whose clock is more than this many hours ahead of the server's.")
    var maxClockSkew = 24

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("Give both --tls-cert and --tls-key, or neither.") }
        guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1-65535.") }
        guard (1...3_600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be 1-3600 seconds.") }
        guard (1...86_400).contains(requestTimeout) else { throw ValidationError("--request-timeout must be 1-86400 seconds.") }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--max-connections must be 1-1000000.") }
        guard (1...8_760).contains(maxClockSkew) else { throw ValidationError("--max-clock-skew must be 1-8760 hours.") }
    }

    func run() async throws {
        var config = data.configuration
        config.host = host
        config.port = port
        if let blobs { config.blobs = URL(fileURLWithPath: blobs) }
        if let tlsCert, let tlsKey { config.tls = (tlsCert, tlsKey) }
        config.idleTimeout = .seconds(idleTimeout)
        config.requestReadTimeout = .seconds(requestTimeout)
        config.maxConnections = maxConnections
        config.maxClockSkew = .seconds(maxClockSkew * 3600)
        var logger = Logger(label: "clinic-server")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let storage = try await data.openStorage(logger: logger)
        let app = try buildApplication(config, storage: storage, blobs: try FileBlobStorage(root: config.blobs), logger: logger)
        logger.info("clinic-server starting", metadata: ["database": "\(config.database)", "port": "\(port)"])
        try await app.runService()
        try await storage.shutdown()
    }
}

struct SiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "site", abstract: "Add and list sites (clinics).", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a site.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The site's name.") var name: String
        @OptionGroup var output: JSONOption

        func run() async throws {
            let site = try await withStorage(data) { try await $0.addSite(name: name) }
            if output.json { try printJSON(site) } else { print(site.id) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sites.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            let sites = try await withStorage(data) { try await $0.storage.sites() }
            if output.json { try printJSON(sites) } else { for s in sites { print("\(s.id)  \(s.name)") } }
        }
    }
}

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device", abstract: "Enrol, list and revoke devices.",
                                                    subcommands: [Enroll.self, List.self, Revoke.self])

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol a device at a site and print its bearer token.",
            discussion: "The token is shown once; the server keeps only its hash. Give it to the device's `clinic sync` setup.")
        @OptionGroup var data: DataOptions
        @Option(help: "The site's name or id.") var site: String
        @Option(help: "A name for the device.") var name: String?
        @Option(help: "The laptop's device id, as `clinic status` shows it (its changes carry it). Default: a new id.")
        var deviceId: String?
        @OptionGroup var output: JSONOption

        func validate() throws {
            if let deviceId, UUID(strict: deviceId) == nil { throw ValidationError("--device-id must be a UUID.") }
        }

        func run() async throws {
            let id = deviceId.flatMap(UUID.init(uuidString:))
            let (device, token) = try await withStorage(data) { try await $0.enroll(site: site, name: name, deviceID: id) }
            if output.json {
                struct Enrolled: Encodable { var device: DeviceRecord; var token: String }
                try printJSON(Enrolled(device: device, token: token))
            } else {
                print(token)
                FileHandle.standardError.write(Data("Enrolled device \(device.id.uuidString.lowercased()) at \(device.siteName). The token above is shown only once.\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            let devices = try await withStorage(data) { try await $0.storage.devices() }
            if output.json { try printJSON(devices); return }
            for d in devices {
                print("\(d.id.uuidString.lowercased())  \(d.siteName)  \(d.name)  \(d.revokedAt.map { "revoked \($0)" } ?? "active")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a device: its token stops working at once.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The device id.") var id: String

        func run() async throws {
            try await withStorage(data) { try await $0.revoke(device: id) }
            print("Revoked \(id.lowercased())")
        }
    }
}
