import ClinicCore
import ClinicSync
import Foundation

/// How many pushes one group commit takes at most: up to `maxPushes` pushes, stopping once
/// they carry `maxChanges` entries (measured: see docs/performance.md, "Server").
enum PushGrouping {
    static let maxPushes = 256
    static let maxChanges = 2_000
}

/// The records a push saves, each once with its last state, in first-touched order.
struct OrderedStates {
    private(set) var items: [(RecordKey, RecordState)] = []
    private var index: [RecordKey: Int] = [:]

    mutating func set(_ key: RecordKey, _ state: RecordState) {
        if let i = index[key] { items[i].1 = state } else { index[key] = items.count; items.append((key, state)) }
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

/// One write a push makes, in order, inside its transaction.
enum PushWrite: Sendable {
    case feed(serverSeq: Int64, entry: PreparedPush.Entry, outcome: PushOutcome)
    case record(RecordKey, RecordState, isNew: Bool)
    case conflict(RecordKey, Conflict, changeID: String)
    /// An accepted write of `field` whose writer had seen the value of clock `seen`: it resolves
    /// the field's open conflicts whose winning clock is at or before that.
    case resolve(RecordKey, field: String, seen: FieldClock, changeID: String)
    case receipt(seq: Int64, StoredReceipt)
}

extension Array where Element == PushStep {
    /// The answers and the writes of these steps, numbering accepted entries from `firstServerSeq`.
    /// (The backend holds its push lock, so nobody else takes those numbers.)
    func materialize(firstServerSeq: Int64) -> (results: [PushResult], writes: [PushWrite]) {
        var results: [PushResult] = []
        var writes: [PushWrite] = []
        var next = firstServerSeq
        for step in self {
            switch step {
            case .replay(let result):
                results.append(result)
            case .sameAs(let index):
                results.append(results[index])
            case .reject(let result, let store):
                if store {
                    writes.append(.receipt(seq: result.seq, StoredReceipt(changeID: result.changeID, outcome: .rejected, reason: result.reason, serverSeq: nil)))
                }
                results.append(result)
            case .accept(let entry, let outcome, let key, let state, let isNew, let conflicts):
                let serverSeq = next
                next += 1
                writes.append(.feed(serverSeq: serverSeq, entry: entry, outcome: outcome))
                writes.append(.record(key, state, isNew: isNew))
                let change = entry.entry.change
                for (field, seen) in (entry.entry.base ?? [:]).sorted(by: { $0.key < $1.key }) where change.fields[field] != nil {
                    writes.append(.resolve(key, field: field, seen: seen, changeID: change.changeID.lowercased))
                }
                for conflict in conflicts { writes.append(.conflict(key, conflict, changeID: change.changeID.lowercased)) }
                let receipt = StoredReceipt(changeID: change.changeID.lowercased, outcome: outcome, reason: nil, serverSeq: serverSeq)
                writes.append(.receipt(seq: change.sequence, receipt))
                results.append(receipt.result(seq: change.sequence))
            }
        }
        return (results, writes)
    }
}

extension ConflictRecord {
    init(id: String, key: RecordKey, conflict: Conflict, changeID: String, now: String) {
        self.init(id: id, entity: key.entity, entityID: key.id, field: conflict.field, losingValue: conflict.losingValue,
                  losingClock: conflict.losingClock, winningValue: conflict.winningValue, winningClock: conflict.winningClock,
                  changeID: changeID, createdAt: now)
    }
}
