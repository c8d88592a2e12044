import Foundation

/// Runs blocking test work (child processes, sleeps) on a thread of its own. Swift's
/// concurrency pool has one thread per core (two here); a test that blocks one for tens of
/// seconds starves the in-process servers of the tests running beside it.
public func offThePool(_ body: @escaping () throws -> Void) async throws {
    let work = UncheckedWork(body)
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, Error>) in
        Thread { done.resume(with: Result { try work.body() }) }.start()
    }
}

private struct UncheckedWork: @unchecked Sendable {
    let body: () throws -> Void
    init(_ body: @escaping () throws -> Void) { self.body = body }
}
