import ClinicCore
import Foundation

/// A record as a replica holds it for merging: each field's value, the clock of the write that
/// set it, and the base that write declared (the clock of the value its writer had seen).
public struct RecordState: Codable, Sendable, Equatable {
    public var fields: [String: FieldValue]
    public var clocks: [String: FieldClock]
    public var bases: [String: FieldClock]
    /// The clock of the record's insert: values it set are not edits another device could race.
    public var origin: FieldClock?

    public init(fields: [String: FieldValue] = [:], clocks: [String: FieldClock] = [:], bases: [String: FieldClock] = [:],
                origin: FieldClock? = nil) {
        self.fields = fields
        self.clocks = clocks
        self.bases = bases
        self.origin = origin
    }
}

/// A field edit that lost to a concurrent edit with a different value.
public struct Conflict: Sendable, Equatable {
    public var field: String
    public var losingValue: FieldValue
    public var losingClock: FieldClock
    public var winningValue: FieldValue
    public var winningClock: FieldClock
}

/// The merge rules, the same on every replica so that all converge (docs/sync-protocol.md):
/// per-field last-writer-wins by (HLC, device id); a concurrent edit of the same field to a
/// different value keeps the losing value as a conflict record; deletes are a tombstone field;
/// recordings are immutable (but for `deleted`); assessments are append-only.
public enum MergeRules {
    public struct Merged: Sendable, Equatable {
        public var state: RecordState
        public var outcome: PushOutcome
        public var conflicts: [Conflict]
    }

    /// Merges `entry` into `current` (nil: the record is unknown here). Throws `Rejection`
    /// with a reason when the entry may not be applied; nothing changes then.
    public static func merge(_ entry: PushEntry, into current: RecordState?) throws(Rejection) -> Merged {
        try merge(entry, into: current, problem: EntityRules.problem(with: entry.change))
    }

    /// `merge(_:into:)` with the entry's `EntityRules.problem(with:)` verdict computed
    /// beforehand (the server checks entries before they reach its single writer).
    public static func merge(_ entry: PushEntry, into current: RecordState?, problem: String?) throws(Rejection) -> Merged {
        let change = entry.change
        if let problem { throw Rejection(problem) }
        let clock = FieldClock(hlc: change.hlc, device: change.deviceID)
        guard var state = current else {
            guard change.operation == .insert else { throw Rejection("\(change.entity.rawValue) is not known here; push its insert first") }
            return Merged(state: RecordState(fields: change.fields, clocks: change.fields.mapValues { _ in clock },
                                             bases: entry.base ?? [:], origin: clock), outcome: .applied, conflicts: [])
        }
        if change.operation == .insert && change.entity != .patient {
            // Immutable records: the same insert again changes nothing; different content is refused.
            let identical = change.fields.allSatisfy { name, value in state.fields[name].map { value.sameValue(as: $0) } ?? (value == .null) }
            guard identical else { throw Rejection("this \(change.entity.rawValue) already exists with different content") }
            return Merged(state: state, outcome: .superseded, conflicts: [])
        }
        var applied = false
        var conflicts: [Conflict] = []
        for (name, value) in change.fields.sorted(by: { $0.key < $1.key }) {
            let base = entry.base?[name]
            guard let currentClock = state.clocks[name], let currentValue = state.fields[name] else {
                state.fields[name] = value
                state.clocks[name] = clock
                state.bases[name] = base
                applied = true
                continue
            }
            // A conflict is two edits (not inserts) of one field by different devices, neither
            // made after seeing the other. Without a declared base, an edit is taken as unseen.
            let reportable = !EntityRules.bookkeeping.contains(name) && currentClock.device != clock.device
                && change.operation != .insert && currentClock != state.origin
            if value.sameValue(as: currentValue) {
                if clock > currentClock {
                    state.clocks[name] = clock
                    state.bases[name] = base
                    applied = true
                }
            } else if clock > currentClock {
                if reportable && base != currentClock {
                    conflicts.append(Conflict(field: name, losingValue: currentValue, losingClock: currentClock,
                                              winningValue: value, winningClock: clock))
                }
                state.fields[name] = value
                state.clocks[name] = clock
                state.bases[name] = base
                applied = true
            } else if clock < currentClock, reportable && state.bases[name] != clock {
                conflicts.append(Conflict(field: name, losingValue: value, losingClock: clock,
                                          winningValue: currentValue, winningClock: currentClock))
            }
        }
        let outcome: PushOutcome = !conflicts.isEmpty ? .conflict : applied ? .applied : .superseded
        return Merged(state: state, outcome: outcome, conflicts: conflicts)
    }
}

/// Why a change was refused.
public struct Rejection: Error, Sendable, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}
