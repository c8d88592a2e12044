import Synchronization

/// Group commit: callers submit jobs and await their own answer; one writer task takes the
/// jobs waiting (in arrival order, up to `maxJobs` and about `maxCost`) and applies them
/// together, so one transaction, and one fsync, serves many pushes. The backend applies each job
/// inside its own savepoint, so a job that fails fails alone.
final class GroupCommit<Job: Sendable, Output: Sendable>: Sendable {
    typealias Apply = @Sendable ([Job]) async -> [Result<Output, any Error>]

    private struct Pending {
        let job: Job
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var writer: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    private let maxJobs: Int
    private let maxCost: Int
    private let cost: @Sendable (Job) -> Int

    /// - Parameters:
    ///   - maxJobs: most jobs applied together.
    ///   - maxCost: a group stops growing once its jobs' cost reaches this (a single larger job still goes alone).
    init(maxJobs: Int, maxCost: Int, cost: @escaping @Sendable (Job) -> Int) {
        self.maxJobs = maxJobs
        self.maxCost = maxCost
        self.cost = cost
    }

    /// Queues `job` and waits until the writer has applied it (and its transaction committed).
    func submit(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let (writer, refused) = state.withLock { s -> (CheckedContinuation<Void, Never>?, Bool) in
                if s.closed { return (nil, true) }
                s.queue.append(Pending(job: job, continuation: continuation))
                defer { s.writer = nil }
                return (s.writer, false)
            }
            if refused { continuation.resume(throwing: ServerError.internalError("the server is shutting down")) }
            writer?.resume()
        }
    }

    /// The writer loop: runs until `close()`, applying one group at a time.
    func run(_ apply: Apply) async {
        while let group = await nextGroup() {
            let results = await apply(group.map(\.job))
            for (pending, result) in zip(group, results) { pending.continuation.resume(with: result) }
        }
    }

    /// Refuses new jobs and fails those still waiting; the writer stops after its current group.
    func close() {
        let (waiting, writer) = state.withLock { s in
            s.closed = true
            defer { s.queue = []; s.writer = nil }
            return (s.queue, s.writer)
        }
        for pending in waiting { pending.continuation.resume(throwing: ServerError.internalError("the server is shutting down")) }
        writer?.resume()
    }

    private func nextGroup() async -> [Pending]? {
        while true {
            let (group, closed) = state.withLock { s -> ([Pending], Bool) in
                var total = 0
                var count = 0
                while count < s.queue.count, count < maxJobs, count == 0 || total < maxCost {
                    total += cost(s.queue[count].job)
                    count += 1
                }
                defer { s.queue.removeFirst(count) }
                return (Array(s.queue.prefix(count)), s.closed)
            }
            if !group.isEmpty { return group }
            if closed { return nil }
            await withCheckedContinuation { (writer: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s in
                    if !s.queue.isEmpty || s.closed { return true }
                    s.writer = writer
                    return false
                }
                if ready { writer.resume() }
            }
        }
    }
}
