import ClinicCore
import ClinicSync
import Foundation

/// A record a push touches, as the backend loaded it.
struct RecordKey: Hashable, Sendable {
    var entity: EntityKind
    var id: String
}

struct StoredRecord: Sendable {
    var siteID: String
    var state: RecordState
}

struct StoredReceipt: Sendable {
    var changeID: String
    var outcome: PushOutcome
    var reason: String?
    var serverSeq: Int64?

    func result(seq: Int64) -> PushResult {
        PushResult(seq: seq, changeID: changeID, outcome: outcome, reason: reason, serverSeq: serverSeq)
    }
}

/// What the backend does for one pushed entry, in order, inside one transaction.
enum PushStep: Sendable {
    /// Answer as before (a replayed entry).
    case replay(PushResult)
    /// The same entry twice in one batch: answer as the step at `index` was answered.
    case sameAs(index: Int)
    /// Refuse, remembering the answer for replays when `store` is true.
    case reject(PushResult, store: Bool)
    /// Append to the site's feed, save the merged record and any conflicts, remember the answer.
    case accept(entry: PreparedPush.Entry, outcome: PushOutcome, record: RecordKey, state: RecordState, isNew: Bool, conflicts: [Conflict])
}

/// Plans a push from what the backend loaded. Pure: the same on every backend, so SQLite and
/// PostgreSQL behave alike.
enum PushPlanner {
    /// The records to load for `entries`: each entry's record and the parent it points to.
    static func recordKeys(_ entries: [PushEntry]) -> Set<RecordKey> {
        var keys = Set<RecordKey>()
        for entry in entries {
            let c = entry.change
            keys.insert(RecordKey(entity: c.entity, id: c.entityID.lowercased))
            if let parent = parent(of: c) { keys.insert(parent) }
        }
        return keys
    }

    /// The audio a push's new recordings need the site to hold: their `audio_sha256`.
    static func audioHashes(_ entries: [PushEntry]) -> [String] {
        Array(Set(entries.compactMap { e in
            e.change.entity == .recording && e.change.operation == .insert ? e.change.fields["audio_sha256"]?.text.flatMap { isSHA256Hex($0) ? $0 : nil } : nil
        })).sorted()
    }

    static func parent(of change: Change) -> RecordKey? {
        switch change.entity {
        case .recording: change.fields["patient_id"]?.text.map { RecordKey(entity: .patient, id: $0) }
        case .assessment: change.fields["recording_id"]?.text.map { RecordKey(entity: .recording, id: $0) }
        case .patient: nil
        }
    }

    /// `heldAudio`: which of `audioHashes` the device's site holds complete.
    static func plan(_ entries: [PreparedPush.Entry], device: DeviceRecord, receipts: [Int64: StoredReceipt],
                     records loaded: [RecordKey: StoredRecord], heldAudio: Set<String>, latestClock: Int64 = .max) -> [PushStep] {
        var records = loaded
        var seen: [Int64: (changeID: String, index: Int)] = [:]
        var steps: [PushStep] = []
        for (index, prepared) in entries.enumerated() {
            let c = prepared.entry.change
            let changeID = c.changeID.lowercased
            func reject(_ reason: String, store: Bool = true, code: String? = nil) -> PushStep {
                .reject(PushResult(seq: c.sequence, changeID: changeID, outcome: .rejected, reason: reason, code: code), store: store)
            }
            if let earlier = receipts[c.sequence] {
                steps.append(earlier.changeID == changeID
                    ? .replay(earlier.result(seq: c.sequence))
                    : reject("sequence number \(c.sequence) was already used by another change", store: false))
                continue
            }
            if let earlier = seen[c.sequence] {
                steps.append(earlier.changeID == changeID ? .sameAs(index: earlier.index)
                    : reject("sequence number \(c.sequence) appears twice in this batch", store: false))
                continue
            }
            seen[c.sequence] = (changeID, index)
            guard c.sequence > 0 else { steps.append(reject("seq must be positive", store: false)); continue }
            guard c.deviceID == device.id else {
                steps.append(reject("a device pushes only its own changes (device_id differs from the token's device)", store: false))
                continue
            }
            // Not stored: the entry is accepted once the server's clock has caught up.
            guard c.hlc.milliseconds <= latestClock else {
                let hours = (c.hlc.milliseconds - latestClock) / 3_600_000 + 1
                steps.append(reject("its clock is more than \(hours) hour(s) past what this server accepts; correct the laptop's date and time",
                                    store: false, code: PushResult.clockAhead))
                continue
            }
            let key = RecordKey(entity: c.entity, id: c.entityID.lowercased)
            let current = records[key]
            if let current, current.siteID != device.siteID {
                steps.append(reject("this \(c.entity.rawValue) belongs to another site"))
                continue
            }
            if current == nil, let parentKey = parent(of: c) {
                guard let parent = records[parentKey], parent.siteID == device.siteID else {
                    steps.append(reject("its \(parentKey.entity.rawValue) is not known at this site; push that first"))
                    continue
                }
            }
            // A new recording needs its audio here first, so every device that pulls it can fetch it.
            // Not stored: once the audio is uploaded, the same entry is accepted.
            if current == nil, c.entity == .recording, c.operation == .insert, prepared.problem == nil,
               let sha = c.fields["audio_sha256"]?.text, !heldAudio.contains(sha) {
                steps.append(reject("the recording's audio is not uploaded at this site yet; upload it, then push the recording again",
                                    store: false, code: PushResult.audioMissing))
                continue
            }
            do {
                let merged = try MergeRules.merge(prepared.entry, into: current?.state, problem: prepared.problem)
                records[key] = StoredRecord(siteID: device.siteID, state: merged.state)
                steps.append(.accept(entry: prepared, outcome: merged.outcome, record: key, state: merged.state,
                                     isNew: current == nil, conflicts: merged.conflicts))
            } catch {
                steps.append(reject(error.reason))
            }
        }
        return steps
    }
}
