/// One column value as it travels in the change log and over sync: JSON null, string,
/// integer or real. Dates are ISO 8601 strings, ids lowercase UUID strings.
public enum FieldValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case text(String)
    case integer(Int64)
    case real(Double)

    public init(_ value: String?) { self = value.map(FieldValue.text) ?? .null }
    public init(_ value: Int) { self = .integer(Int64(value)) }
    public init(_ value: Double) { self = .real(value) }
    public init(_ value: Bool) { self = .integer(value ? 1 : 0) }

    public var text: String? { if case .text(let s) = self { s } else { nil } }
    public var integer: Int64? {
        switch self {
        case .integer(let i): i
        case .real(let d) where d == d.rounded() && abs(d) < 9.0e18: Int64(d)
        default: nil
        }
    }
    public var real: Double? {
        switch self {
        case .real(let d): d
        case .integer(let i): Double(i)
        default: nil
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Strings first: most fields are text, and each failed attempt throws (slow on Linux).
        if container.decodeNil() { self = .null }
        else if let s = try? container.decode(String.self) { self = .text(s) }
        else if let i = try? container.decode(Int64.self) { self = .integer(i) }
        else if let d = try? container.decode(Double.self) { self = .real(d) }
        else if let b = try? container.decode(Bool.self) { self = .integer(b ? 1 : 0) }
        else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected null, number or string")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .text(let s): try container.encode(s)
        case .integer(let i): try container.encode(i)
        case .real(let d): try container.encode(d)
        }
    }

    /// Equal as values: an integer and a real with the same number are the same (JSON does not
    /// keep the difference). The one equality rule of the store, the merge rules and the server.
    public func sameValue(as other: FieldValue) -> Bool {
        switch (self, other) {
        case (.integer, .real), (.real, .integer), (.real, .real): real == other.real
        default: self == other
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .text(let s): s
        case .integer(let i): String(i)
        case .real(let d): String(d)
        }
    }
}

/// An ordered set of field values: what a record is made of, and what a change carries.
public typealias Fields = [(name: String, value: FieldValue)]
