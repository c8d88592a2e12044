import ClinicCore
import Foundation

/// What each entity's fields may hold, and how each entity may change: patients are edited
/// field by field; recordings are immutable but for `deleted`; assessments are append-only.
/// The server and the sync client check pushed and pulled changes with the same rules.
public enum EntityRules {
    typealias Kind = EntitySchema.Field.Kind

    /// Bookkeeping fields every edit touches: never reported as conflicts.
    public static let bookkeeping: Set<String> = ["created_at", "updated_at"]

    /// Checks an entry's shape and values against its `EntitySchema`. Returns the reason it
    /// must be rejected, or nil. Reasons name fields, never values.
    public static func problem(with change: Change) -> String? {
        let schema = EntitySchema.of(change.entity)
        let entity = change.entity.rawValue
        for (name, value) in change.fields.sorted(by: { $0.key < $1.key }) {
            guard let field = schema[name] else { return "unknown field \(quotable(name)) for a \(entity)" }
            if value == .null, field.required { return "field \(name) must not be null" }
            if let why = check(value, field.kind) { return "field \(name) \(why)" }
        }
        if let id = change.fields["id"], id.text != change.entityID.lowercased {
            return "field id does not match entity_id"
        }
        if change.operation == .insert {
            let missing = schema.required.subtracting(change.fields.keys)
            if let first = missing.sorted().first { return "an insert needs field \(first)" }
            return nil
        }
        // An update or delete changes only fields that may change after the insert.
        let mutable = schema.fields.filter(\.mutable).map(\.name)
        if mutable.isEmpty { return "\(entity)s are append-only" }
        let fixed = change.fields.keys.sorted().first { schema[$0]?.mutable == false }
        if mutable.count == 1, change.fields.isEmpty || fixed != nil { return "\(entity)s are immutable; only \(mutable[0]) may change" }
        if change.fields.isEmpty { return "an update changes at least one field" }
        if let fixed { return "an update cannot change \(fixed)" }
        if change.operation == .delete, change.fields["deleted"]?.integer != 1 {
            return "a delete sets deleted to 1"
        }
        return nil
    }

    /// A name from a request as a message may show it: itself when it is 1 to 64 of a-z, 0-9
    /// and `_` (as every schema field is), otherwise a placeholder. So no control, format or
    /// right-to-left character a client sent is ever echoed back to it or into a log.
    public static func quotable(_ name: String) -> String {
        let plain = (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
        return plain ? name : "(a name that is not plain a-z, 0-9 and _)"
    }

    static func check(_ value: FieldValue, _ kind: Kind) -> String? {
        if case .null = value {
            switch kind {
            case .uuid, .timestamp, .flag: return "must not be null"
            default: return nil
            }
        }
        switch kind {
        case .uuid:
            guard let t = value.text, UUID(strict: t) != nil, t == t.lowercased() else { return "must be a lowercase UUID" }
        case .text(let max):
            guard let t = value.text else { return "must be text" }
            do { _ = try TextField.singleLine(t, field: "x", maxLength: max) } catch { return "must be plain text of at most \(max) characters (\(TextField.maxBytes(max)) bytes of UTF-8, \(TextField.maxMarksPerCharacter) combining marks a character)" }
            guard !TextField.hasEdgeWhitespace(t) else { return "must not start or end with spaces" }
        case .multiline(let max):
            guard let t = value.text, (try? TextField.multiLine(t, field: "x", maxLength: max)) != nil else {
                return "must be text without control characters, of at most \(max) characters (\(TextField.maxBytes(max)) bytes of UTF-8, \(TextField.maxMarksPerCharacter) combining marks a character)"
            }
        case .timestamp:
            guard let t = value.text, t.count <= 40, isCanonicalTimestamp(t) || Timestamp.parse(t) != nil else { return "must be an ISO 8601 time" }
        case .date:
            guard let t = value.text, (try? CalendarDate.validate(t, field: "x")) != nil else { return "must be a date YYYY-MM-DD" }
        case .integer:
            guard case .integer(let i) = value, i >= 0 else { return "must be a non-negative integer" }
        case .real:
            guard let d = value.real, d.isFinite, d >= 0 else { return "must be a non-negative number" }
        case .flag:
            guard case .integer(let i) = value, i == 0 || i == 1 else { return "must be 0 or 1" }
        case .sha256:
            guard let t = value.text, isSHA256Hex(t) else { return "must be 64 lowercase hexadecimal characters" }
        case .oneOf(let allowed):
            guard let t = value.text, allowed.contains(t) else { return "must be one of \(allowed.joined(separator: ", "))" }
        }
        return nil
    }
}

extension EntityRules {
    /// True for the form `Timestamp.format` writes, `YYYY-MM-DDTHH:MM:SS.mmmZ`, with a real date
    /// and time: a fast path for the check, which `Timestamp.parse` accepts too (anything else
    /// is still decided by `Timestamp.parse`).
    static func isCanonicalTimestamp(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard u.count == 24, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"),
              u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"), u[19] == UInt8(ascii: "."), u[23] == UInt8(ascii: "Z") else { return false }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard (48...57).contains(u[i]) else { return nil }
                n = n * 10 + Int(u[i] - 48)
            }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19), number(20..<23) != nil,
              (1000...9999).contains(year), (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }
}
