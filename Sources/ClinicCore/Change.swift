import Foundation

/// The kinds of record the change log tracks.
public enum EntityKind: String, Sendable, Codable, CaseIterable {
    case patient, recording, assessment
}

/// What a change did to its record.
public enum ChangeOperation: String, Sendable, Codable, CaseIterable {
    case insert, update, delete
}

/// One entry of the change log: what sync pushes. `sequence` is the device's local sequence
/// number (never reused); (deviceID, sequence) identifies an entry everywhere.
public struct Change: Sendable, Equatable, Codable {
    public var sequence: Int64
    public var changeID: UUID
    public var entity: EntityKind
    public var entityID: UUID
    public var operation: ChangeOperation
    /// The fields changed, with their new values. An insert carries every field.
    public var fields: [String: FieldValue]
    public var hlc: HLCTimestamp
    public var deviceID: UUID

    public init(
        sequence: Int64, changeID: UUID, entity: EntityKind, entityID: UUID, operation: ChangeOperation,
        fields: [String: FieldValue], hlc: HLCTimestamp, deviceID: UUID
    ) {
        self.sequence = sequence
        self.changeID = changeID
        self.entity = entity
        self.entityID = entityID
        self.operation = operation
        self.fields = fields
        self.hlc = hlc
        self.deviceID = deviceID
    }

    enum CodingKeys: String, CodingKey {
        case sequence = "seq", changeID = "change_id", entity, entityID = "entity_id"
        case operation = "op", fields, hlc, deviceID = "device_id"
    }
}
