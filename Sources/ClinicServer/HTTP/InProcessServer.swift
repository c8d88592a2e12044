import Hummingbird
import Logging
import ServiceLifecycle

/// A server run inside another program (tests, benchmarks), stopped with a graceful shutdown.
/// Cancelling the task that runs an application instead can trap in SwiftNIO when a connection
/// was accepted but not yet served ("Deinited NIOAsyncWriter without calling finish()",
/// apple/swift-nio#3481): a graceful shutdown serves or closes every accepted connection.
public final class InProcessServer: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, Error>

    public init(_ app: some ApplicationProtocol, logger: Logger = Logger(label: "clinic-server")) {
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    /// Stops accepting, finishes what is in flight, and returns when the server has stopped
    /// (after `limit` it is cancelled, so a stuck connection cannot hang the caller).
    public func stop(limit: Duration = .seconds(10)) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        let watchdog = Task {
            try await Task.sleep(for: limit)
            task.cancel()
        }
        _ = try? await task.value
        watchdog.cancel()
    }
}
