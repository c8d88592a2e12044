import Foundation

/// A throwaway PostgreSQL server on 127.0.0.1 for the tests of the PostgreSQL backend, started
/// once per test process from Debian's `postgresql` package (`.ci/run` installs it) and stopped
/// at exit. Each test gets a database of its own.
final class PostgresServer: @unchecked Sendable {
    static let shared: PostgresServer? = PostgresServer()
    /// Why there is no server, for the skip message.
    nonisolated(unsafe) static var unavailableReason = ""
    nonisolated(unsafe) static var stopCommand: [String] = []
    nonisolated(unsafe) static var stopDirectory = URL(fileURLWithPath: "/nonexistent")

    let port: Int
    let directory: URL
    private let asPostgres: [String]

    private init?() {
        let bin = "/usr/lib/postgresql/15/bin"
        guard FileManager.default.isExecutableFile(atPath: "\(bin)/initdb") else {
            Self.unavailableReason = "PostgreSQL 15 is not installed (apt-get install postgresql; .ci/run does)"
            return nil
        }
        directory = URL(fileURLWithPath: "/tmp/clinic-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        port = 20_000 + Int.random(in: 0..<20_000)
        asPostgres = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            if getuid() == 0 { _ = Self.run(["/usr/bin/chown", "postgres:postgres", directory.path]) }
            let data = directory.appending(path: "data").path
            guard Self.run(asPostgres + ["\(bin)/initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8"]) == 0 else {
                Self.unavailableReason = "initdb failed"
                return nil
            }
            guard Self.run(asPostgres + ["\(bin)/pg_ctl", "-D", data, "-o", "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory.path) -c fsync=off -c max_connections=300",
                                         "-l", "\(directory.path)/log", "-w", "start"]) == 0 else {
                Self.unavailableReason = "pg_ctl start failed"
                return nil
            }
        } catch {
            Self.unavailableReason = "cannot create \(directory.path)"
            return nil
        }
        Self.stopCommand = asPostgres + ["\(bin)/pg_ctl", "-D", directory.appending(path: "data").path, "-m", "immediate", "stop"]
        Self.stopDirectory = directory
        atexit {
            _ = PostgresServer.run(PostgresServer.stopCommand)
            try? FileManager.default.removeItem(at: PostgresServer.stopDirectory)
        }
    }

    /// Creates an empty database and returns its URL.
    func newDatabase() -> String {
        let name = "t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        _ = Self.run(asPostgres + ["/usr/bin/psql", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-q", "-c", "CREATE DATABASE \(name)"])
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    /// Runs a command and waits for it (posix_spawn + waitpid: Foundation's Process waits for
    /// the daemon pg_ctl leaves behind).
    @discardableResult
    static func run(_ arguments: [String]) -> Int32 {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, arguments[0], &actions, nil, argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }
}
