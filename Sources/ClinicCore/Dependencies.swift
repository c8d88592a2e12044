import Foundation

/// The injected sources of time and identity, so a test can fix them (GUIDE habit 8).
public struct Dependencies: Sendable {
    /// The wall clock.
    public var now: @Sendable () -> Date
    /// A new random identifier.
    public var uuid: @Sendable () -> UUID

    public init(now: @escaping @Sendable () -> Date, uuid: @escaping @Sendable () -> UUID) {
        self.now = now
        self.uuid = uuid
    }

    /// The real clock and random UUIDs.
    public static let live = Dependencies(now: { Date() }, uuid: { UUID() })
}
