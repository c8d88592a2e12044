import Foundation

/// A record made of its entity's schema fields: its stored properties are the schema's fields in
/// the same order, so its `fields` (what the store writes and the change log carries) and its
/// reading back from fields (a store row, a row merged from a pull) both come from the schema,
/// with no list of columns per type. `SchemaTests` holds each record to this.
public protocol FieldRecord: Decodable, Sendable {
    static var schema: EntitySchema { get }
}

extension FieldRecord {
    /// The columns of this record, in table order (`id` first): ids lowercase, flags 0/1,
    /// enumerations as their raw values.
    public var fields: Fields {
        let values = Mirror(reflecting: self).children.map(\.value)
        let schema = Self.schema
        precondition(values.count == schema.fields.count, "\(Self.self) has \(values.count) properties and \(schema.fields.count) schema fields")
        return zip(schema.fields, values).map { ($0.name, FieldValue(any: $1)) }
    }

    /// The record these fields describe. Ids are read strictly (`UUID(strict:)`), flags from
    /// 0/1, enumerations from their raw values; a missing required field or a wrong type throws
    /// `DecodingError`.
    public init(fields: [String: FieldValue]) throws {
        try self.init(from: FieldsDecoder(fields: fields))
    }
}

extension FieldValue {
    /// A stored property's value as a column value.
    init(any value: Any) {
        switch value {
        case let v as UUID: self = .text(v.lowercased)
        case let v as String: self = .text(v)
        case let v as Bool: self = .integer(v ? 1 : 0)
        case let v as Int: self = .integer(Int64(v))
        case let v as Int64: self = .integer(v)
        case let v as Double: self = .real(v)
        case let v as any RawRepresentable<String>: self = .text(v.rawValue)
        default:
            // Optional: Mirror shows the wrapped value, or no children for nil.
            let mirror = Mirror(reflecting: value)
            guard mirror.displayStyle == .optional else { preconditionFailure("no column type for \(type(of: value))") }
            self = mirror.children.first.map { FieldValue(any: $0.value) } ?? .null
        }
    }
}

/// Reads a record from its column values.
private struct FieldsDecoder: Decoder {
    let fields: [String: FieldValue]
    var codingPath: [CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(fields: fields))
    }
    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a record's fields are not a list"))
    }
    func singleValueContainer() throws -> SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "a record is not a single value"))
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let fields: [String: FieldValue]
        var codingPath: [CodingKey] { [] }
        var allKeys: [Key] { fields.keys.compactMap(Key.init(stringValue:)) }

        func contains(_ key: Key) -> Bool { fields[key.stringValue] != nil }
        func decodeNil(forKey key: Key) throws -> Bool { (fields[key.stringValue] ?? .null) == .null }

        func value(_ key: Key) throws -> FieldValue {
            guard let value = fields[key.stringValue], value != .null else {
                throw DecodingError.valueNotFound(FieldValue.self, .init(codingPath: [key], debugDescription: "\(key.stringValue) is missing"))
            }
            return value
        }
        func mismatch(_ key: Key, _ expected: String) -> DecodingError {
            .typeMismatch(FieldValue.self, .init(codingPath: [key], debugDescription: "\(key.stringValue) is not \(expected)"))
        }

        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            guard let s = try value(key).text else { throw mismatch(key, "text") }
            return s
        }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
            switch try value(key).integer {
            case 0: return false
            case 1: return true
            default: throw mismatch(key, "0 or 1")
            }
        }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
            guard let d = try value(key).real else { throw mismatch(key, "a number") }
            return d
        }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
            guard let i = try value(key).integer else { throw mismatch(key, "an integer") }
            return i
        }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
            guard let i = Int(exactly: try decode(Int64.self, forKey: key)) else { throw mismatch(key, "an Int") }
            return i
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            if T.self == UUID.self {
                guard let id = UUID(strict: try decode(String.self, forKey: key)) else { throw mismatch(key, "a UUID") }
                return id as! T
            }
            if let raw = T.self as? any (RawRepresentable<String> & Decodable).Type {
                guard let v = raw.init(rawValue: try decode(String.self, forKey: key)) else { throw mismatch(key, "one of its values") }
                return v as! T
            }
            throw mismatch(key, "a column type (\(T.self))")
        }

        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try decode(Double.self, forKey: key)) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { throw mismatch(key, "Int8") }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { throw mismatch(key, "Int16") }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { throw mismatch(key, "Int32") }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { throw mismatch(key, "UInt") }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { throw mismatch(key, "UInt8") }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { throw mismatch(key, "UInt16") }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { throw mismatch(key, "UInt32") }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { throw mismatch(key, "UInt64") }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            throw mismatch(key, "a nested record")
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { throw mismatch(key, "a list") }
        func superDecoder() throws -> Decoder { FieldsDecoder(fields: fields) }
        func superDecoder(forKey key: Key) throws -> Decoder { FieldsDecoder(fields: fields) }
    }
}
