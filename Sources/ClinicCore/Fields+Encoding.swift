/// Records encode to JSON as their fields, with lowercase ids and `deleted` as a boolean,
/// the same shape as the store's columns and the change log.
struct FieldKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Encoder {
    func encode(fields: Fields) throws {
        var container = container(keyedBy: FieldKey.self)
        for (name, value) in fields {
            if name == "deleted" { try container.encode(value.integer == 1, forKey: FieldKey(stringValue: name)) }
            else { try container.encode(value, forKey: FieldKey(stringValue: name)) }
        }
    }
}

extension Patient {
    public func encode(to encoder: Encoder) throws { try encoder.encode(fields: fields) }
}

extension Recording {
    public func encode(to encoder: Encoder) throws { try encoder.encode(fields: fields) }
}

extension Assessment {
    public func encode(to encoder: Encoder) throws { try encoder.encode(fields: fields) }
}

extension Change {
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(changeID.lowercased, forKey: .changeID)
        try container.encode(entity, forKey: .entity)
        try container.encode(entityID.lowercased, forKey: .entityID)
        try container.encode(operation, forKey: .operation)
        try container.encode(fields, forKey: .fields)
        try container.encode(hlc, forKey: .hlc)
        try container.encode(deviceID.lowercased, forKey: .deviceID)
    }
}
