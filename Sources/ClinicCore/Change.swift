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

    /// Ids are read strictly (`UUID(strict:)`), as everywhere ids come from outside: the pull
    /// path reads the server's entries with this, the push path reads the same shape (`PushBody`).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try c.decode(Int64.self, forKey: .sequence)
        changeID = try c.decode(StrictUUID.self, forKey: .changeID).value
        entity = try c.decode(EntityKind.self, forKey: .entity)
        entityID = try c.decode(StrictUUID.self, forKey: .entityID).value
        operation = try c.decode(ChangeOperation.self, forKey: .operation)
        fields = try c.decode([String: FieldValue].self, forKey: .fields)
        hlc = try c.decode(HLCTimestamp.self, forKey: .hlc)
        deviceID = try c.decode(StrictUUID.self, forKey: .deviceID).value
    }
}

/// A UUID decoded from exactly 8-4-4-4-12 hex digits (`UUID(strict:)`), for `Codable` types
/// that read ids from outside.
public struct StrictUUID: Decodable, Sendable {
    public let value: UUID

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = UUID(strict: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a UUID (8-4-4-4-12 hex digits)"))
        }
        value = id
    }
}
