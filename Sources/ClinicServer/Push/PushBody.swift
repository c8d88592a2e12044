import ClinicCore
import ClinicSync
import Foundation
import NIOCore

/// Decodes a push body (`PushRequest`) straight from its bytes, without `JSONDecoder`.
///
/// Push bodies are the server's hottest input: `JSONDecoder`'s `Codable` path (a JSON map, then
/// a keyed container per entry and a `try?` cascade per field value) was a fifth of the server's
/// CPU under load. This reader walks the bytes once and builds the values directly. It accepts
/// and refuses what `JSONDecoder` does and yields the same values (PushBodyTests compares the
/// two on generated and mutated bodies), including `JSONDecoder`'s leniencies: a leading byte
/// order mark, trailing commas, the first of duplicate keys, integers written as `5.0` or `1e2`.
/// Two deliberate differences: ids must be exactly 8-4-4-4-12 hex digits (`UUID(strict:)`),
/// where `JSONDecoder` takes what Linux's lenient `UUID(uuidString:)` takes; and the whole body
/// must be JSON, where `JSONDecoder` does not check escapes inside strings it never reads. When a body has
/// several problems, the one named may differ. Errors name where and what was expected, never
/// the offending value.
enum PushBody {
    static func decode(_ buffer: ByteBuffer) throws -> PushRequest {
        try buffer.withUnsafeReadableBytes { raw in
            var reader = JSONBytes(raw)
            reader.skipByteOrderMark()
            reader.skipWhitespace()
            let request = try reader.pushRequest()
            reader.skipWhitespace()
            guard reader.atEnd else { throw PushBodyError.notJSON }
            return request
        }
    }
}

/// Why a body was refused: where, and what was expected there (never the value found).
enum PushBodyError: Error, Equatable {
    case notJSON
    case typeMismatch(path: String, expected: String)
    case null(path: String, expected: String)
    case missing(path: String)
    case invalid(path: String)

    var message: String {
        switch self {
        case .notJSON: "the body is not valid JSON"
        case .typeMismatch(let path, let expected): "\(path): expected \(expected)"
        case .null(let path, let expected): "\(path): expected \(expected), found null"
        case .missing(let path): "\(path): missing"
        case .invalid(let path): "\(path): invalid value"
        }
    }
}

/// A cursor over JSON bytes. Structure errors (anything that is not JSON) throw `.notJSON`;
/// the typed readers throw the error for the path they are given.
struct JSONBytes {
    private let bytes: UnsafeRawBufferPointer
    private var i = 0
    /// Deepest nesting `skipValue` follows (JSONDecoder refuses deeper documents too).
    static let maxDepth = 512

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { i == bytes.count }

    private func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    mutating func skipByteOrderMark() {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
    }

    mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else { throw PushBodyError.notJSON }
        i += 1
    }

    private mutating func literal(_ text: StaticString) throws {
        let n = text.utf8CodeUnitCount
        guard bytes.count - i >= n else { throw PushBodyError.notJSON }
        for k in 0..<n where bytes[i + k] != text.utf8Start[k] { throw PushBodyError.notJSON }
        i += n
    }

    // MARK: Kinds of value

    enum Kind { case object, array, string, number, bool, null }

    /// The kind of the value at the cursor (after white space), or `.notJSON`.
    mutating func kind() throws -> Kind {
        skipWhitespace()
        guard let b = peek() else { throw PushBodyError.notJSON }
        switch b {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw PushBodyError.notJSON
        }
    }

    /// Skips one value, checking that it is well-formed JSON.
    mutating func skipValue(depth: Int = 0) throws {
        guard depth < Self.maxDepth else { throw PushBodyError.notJSON }
        switch try kind() {
        case .object: try object { _, reader in try reader.skipValue(depth: depth + 1) }
        case .array: try array { _, reader in try reader.skipValue(depth: depth + 1) }
        case .string: _ = try string()
        case .number: _ = try number()
        case .bool: _ = try bool()
        case .null: try literal("null")
        }
    }

    /// Reads an object, calling `member` for each key with the cursor on its value; `member`
    /// must read or skip that value. Duplicate keys are passed on as they come.
    mutating func object(_ member: (String, inout JSONBytes) throws -> Void) throws {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        while peek() != UInt8(ascii: "}") {
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try member(key, &self)
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                i += 1
                skipWhitespace()  // a trailing comma is allowed, as JSONDecoder allows it
            } else if peek() != UInt8(ascii: "}") {
                throw PushBodyError.notJSON
            }
        }
        i += 1
    }

    /// Reads an array, calling `element` with each index and the cursor on the element.
    mutating func array(_ element: (Int, inout JSONBytes) throws -> Void) throws {
        skipWhitespace()
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        var index = 0
        while peek() != UInt8(ascii: "]") {
            try element(index, &self)
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                i += 1
                skipWhitespace()
            } else if peek() != UInt8(ascii: "]") {
                throw PushBodyError.notJSON
            }
        }
        i += 1
    }

    mutating func bool() throws -> Bool {
        if peek() == UInt8(ascii: "t") { try literal("true"); return true }
        try literal("false")
        return false
    }

    mutating func null() throws { try literal("null") }

    /// A string: escapes decoded, UTF-8 validated; control characters and lone surrogates refused.
    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = i
        // Fast path: no escapes.
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                guard let s = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self) else { throw PushBodyError.notJSON }
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            guard b >= 0x20 else { throw PushBodyError.notJSON }
            i += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw PushBodyError.notJSON }
                return s
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw PushBodyError.notJSON }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        try literal("\\u")
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw PushBodyError.notJSON }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw PushBodyError.notJSON
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default: throw PushBodyError.notJSON
                }
            default:
                guard b >= 0x20 else { throw PushBodyError.notJSON }
                out.append(b)
            }
        }
        throw PushBodyError.notJSON
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - i >= 4 else { throw PushBodyError.notJSON }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexDigitValue(bytes[i]) else { throw PushBodyError.notJSON }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    /// A number as JSON writes it. `integer` is its value when it is a whole number that fits
    /// Int64 (JSONDecoder decodes `5.0` and `1e2` as Int64 too); `double` is nil when it
    /// overflows a Double.
    struct Number { var integer: Int64?; var double: Double? }

    mutating func number() throws -> Number {
        let start = i
        if peek() == UInt8(ascii: "-") { i += 1 }
        guard let first = peek(), isDigit(first) else { throw PushBodyError.notJSON }
        i += 1
        if first != UInt8(ascii: "0") { while let d = peek(), isDigit(d) { i += 1 } }
        var plain = true
        if peek() == UInt8(ascii: ".") {
            plain = false
            i += 1
            guard let d = peek(), isDigit(d) else { throw PushBodyError.notJSON }
            while let d = peek(), isDigit(d) { i += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            plain = false
            i += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { i += 1 }
            guard let d = peek(), isDigit(d) else { throw PushBodyError.notJSON }
            while let d = peek(), isDigit(d) { i += 1 }
        }
        // JSON numbers never start with a digit after "0" (05 is not JSON).
        if let d = peek(), isDigit(d) { throw PushBodyError.notJSON }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        let double = Double(text).flatMap { $0.isFinite ? $0 : nil }
        var integer: Int64?
        if plain {
            integer = Int64(text)
        } else if let d = double, d == d.rounded(), d >= -0x1p63, d < 0x1p63 {
            integer = Int64(d)
        }
        return Number(integer: integer, double: double)
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}


// MARK: The push body's shape

extension JSONBytes {
    mutating func pushRequest() throws -> PushRequest {
        guard try kind() == .object else { throw PushBodyError.typeMismatch(path: "the body", expected: "Dictionary<String, Any>") }
        var changes: [PushEntry]?
        try object { key, reader in
            guard key == "changes", changes == nil else { return try reader.skipValue(depth: 1) }
            switch try reader.kind() {
            case .array: break
            case .null: throw PushBodyError.null(path: "changes", expected: "Array<Any>")
            default: throw PushBodyError.typeMismatch(path: "changes", expected: "Array<Any>")
            }
            var entries: [PushEntry] = []
            try reader.array { index, reader in
                entries.append(try reader.pushEntry(path: BodyPath(index: index)))
            }
            changes = entries
        }
        guard let changes else { throw PushBodyError.missing(path: "changes") }
        return PushRequest(changes: changes)
    }

    /// One entry: a `Change`'s keys and an optional `base`, in `Change`'s decoding order for errors.
    mutating func pushEntry(path: BodyPath) throws -> PushEntry {
        switch try kind() {
        case .object: break
        case .null: throw PushBodyError.null(path: path.text, expected: "Dictionary<String, Any>")
        default: throw PushBodyError.typeMismatch(path: path.text, expected: "Dictionary<String, Any>")
        }
        var seq: Int64??, changeID: UUID??, entity: EntityKind??, entityID: UUID??, op: ChangeOperation??
        var fields: [String: FieldValue]??, hlc: HLCTimestamp??, deviceID: UUID??, base: [String: FieldClock]??
        // Each key's value is read once (the first time: JSONDecoder keeps the first of
        // duplicates); a null is remembered as .some(nil) and reported in decoding order below.
        try object { key, reader in
            let p = path.appending(key)
            switch key {
            case "seq" where seq == nil: seq = .some(try reader.int64(path: p))
            case "change_id" where changeID == nil: changeID = .some(try reader.uuid(path: p))
            case "entity" where entity == nil: entity = .some(try reader.enumeration(EntityKind.self, path: p))
            case "entity_id" where entityID == nil: entityID = .some(try reader.uuid(path: p))
            case "op" where op == nil: op = .some(try reader.enumeration(ChangeOperation.self, path: p))
            case "fields" where fields == nil: fields = .some(try reader.fields(path: p))
            case "hlc" where hlc == nil:
                hlc = .some(try reader.text(path: p, expected: "String").map { s in
                    guard let v = HLCTimestamp(s) else { throw PushBodyError.invalid(path: p.text) }
                    return v
                })
            case "device_id" where deviceID == nil: deviceID = .some(try reader.uuid(path: p))
            case "base" where base == nil: base = .some(try reader.base(path: p))
            default: try reader.skipValue(depth: 2)
            }
        }
        func required<T>(_ value: T??, _ key: String, _ type: String) throws -> T {
            switch value {
            case .none: throw PushBodyError.missing(path: path.appending(key).text)
            case .some(.none): throw PushBodyError.null(path: path.appending(key).text, expected: type)
            case .some(.some(let v)): return v
            }
        }
        let change = Change(
            sequence: try required(seq, "seq", "Int64"), changeID: try required(changeID, "change_id", "String"),
            entity: try required(entity, "entity", "String"), entityID: try required(entityID, "entity_id", "String"),
            operation: try required(op, "op", "String"), fields: try required(fields, "fields", "Dictionary<String, Any>"),
            hlc: try required(hlc, "hlc", "String"), deviceID: try required(deviceID, "device_id", "String"))
        return PushEntry(change: change, base: base ?? nil)
    }

    /// A string, or nil for null; anything else is a type mismatch.
    mutating func text(path: BodyPath, expected: String) throws -> String? {
        switch try kind() {
        case .string: return try string()
        case .null: try null(); return nil
        default: throw PushBodyError.typeMismatch(path: path.text, expected: expected)
        }
    }

    mutating func int64(path: BodyPath) throws -> Int64? {
        switch try kind() {
        case .number:
            guard let v = try number().integer else { throw PushBodyError.invalid(path: path.text) }
            return v
        case .null: try null(); return nil
        default: throw PushBodyError.typeMismatch(path: path.text, expected: "Int64")
        }
    }

    mutating func uuid(path: BodyPath) throws -> UUID? {
        try text(path: path, expected: "String").map { s in
            guard let id = UUID(strict: s) else { throw PushBodyError.invalid(path: path.text) }
            return id
        }
    }

    mutating func enumeration<T: RawRepresentable>(_: T.Type, path: BodyPath) throws -> T? where T.RawValue == String {
        try text(path: path, expected: "String").map { s in
            guard let v = T(rawValue: s) else { throw PushBodyError.invalid(path: path.text) }
            return v
        }
    }

    /// `fields`: an object of null, string, number or bool (as `FieldValue` decodes them).
    mutating func fields(path: BodyPath) throws -> [String: FieldValue]? {
        try dictionary(path: path) { reader, p in
            switch try reader.kind() {
            case .null: try reader.null(); return .null
            case .string: return .text(try reader.string())
            case .number:
                let n = try reader.number()
                if let i = n.integer { return .integer(i) }
                if let d = n.double { return .real(d) }
                throw PushBodyError.invalid(path: p.text)
            case .bool: return .integer(try reader.bool() ? 1 : 0)
            case .object, .array: throw PushBodyError.invalid(path: p.text)
            }
        }
    }

    /// `base`: absent or null, or an object of `HLC@device` strings.
    mutating func base(path: BodyPath) throws -> [String: FieldClock]? {
        try dictionary(path: path) { reader, p in
            guard let text = try reader.text(path: p, expected: "String") else { throw PushBodyError.null(path: p.text, expected: "String") }
            guard let clock = FieldClock(text) else { throw PushBodyError.invalid(path: p.text) }
            return clock
        }
    }

    /// An object read into a dictionary by `value` (given the reader and the member's path), or
    /// nil for null. The first of duplicate keys wins, as with JSONDecoder.
    private mutating func dictionary<V>(path: BodyPath, _ value: (inout JSONBytes, BodyPath) throws -> V) throws -> [String: V]? {
        switch try kind() {
        case .object: break
        case .null: try null(); return nil
        default: throw PushBodyError.typeMismatch(path: path.text, expected: "Dictionary<String, Any>")
        }
        var out: [String: V] = [:]
        try object { key, reader in
            guard out[key] == nil else { return try reader.skipValue(depth: 3) }
            out[key] = try value(&reader, path.appending(key))
        }
        return out
    }
}

/// Where a value sits in a push body: `changes[i]`, then up to two keys. Spelled out only when
/// an error names it, so reading a valid body builds no path strings.
struct BodyPath {
    var index: Int
    var key: String?
    var member: String?

    init(index: Int) { self.index = index }

    func appending(_ name: String) -> BodyPath {
        var p = self
        if p.key == nil { p.key = name } else { p.member = name }
        return p
    }

    /// Keys come from the request: a message shows only plain ones (`EntityRules.quotable`).
    var text: String {
        "changes[\(index)]" + (key.map { "." + EntityRules.quotable($0) } ?? "") + (member.map { "." + EntityRules.quotable($0) } ?? "")
    }
}
