import ClinicCore
import ClinicSync
import Foundation

/// A push checked and encoded before it reaches the writer, so the single writer does only
/// the database work: each entry's field-rule verdict (`EntityRules`) and the start of its
/// wire form (`WireJSON.changePrefix`) are computed on the request's own task.
public struct PreparedPush: Sendable {
    struct Entry: Sendable {
        var entry: PushEntry
        /// Why `EntityRules` refuse the entry, or nil.
        var problem: String?
        var prefix: [UInt8]
    }

    var entries: [Entry]
    var device: DeviceRecord
    var now: String
    /// Ids for the conflict records the push may create (injected: `Dependencies.uuid`).
    var newID: @Sendable () -> UUID
    /// The latest HLC milliseconds accepted: the server's clock plus the allowed skew.
    var latestClock: Int64

    init(_ entries: [PushEntry], device: DeviceRecord, now: String, newID: @escaping @Sendable () -> UUID, latestClock: Int64 = .max) {
        self.entries = entries.map { Entry(entry: $0, problem: EntityRules.problem(with: $0.change), prefix: WireJSON.changePrefix($0.change)) }
        self.device = device
        self.now = now
        self.newID = newID
        self.latestClock = latestClock
    }
}
