import Foundation

/// Validation of free-text fields: length limits and no control characters, so that what a
/// nurse types is stored as typed and can never smuggle terminal escapes into a listing.
public enum TextField {
    /// Checks a single-line field (names, ids, operator). Returns the value trimmed of
    /// surrounding spaces. The error names the field, never its content.
    public static func singleLine(_ value: String, field: String, maxLength: Int = 200) throws -> String {
        let trimmed = hasEdgeWhitespace(value) ? value.trimmingCharacters(in: .whitespaces) : value
        guard !trimmed.isEmpty else {
            throw ClinicError.invalid("\(field) must not be empty.")
        }
        guard trimmed.count <= maxLength else {
            throw ClinicError.invalid("\(field) is \(trimmed.count) characters long; the limit is \(maxLength).")
        }
        if trimmed.unicodeScalars.contains(where: isForbidden(_:)) {
            throw ClinicError.invalid("\(field) contains a control character (such as a tab, newline or escape); use plain text.")
        }
        return trimmed
    }

    /// Checks a multi-line field (notes): newlines and tabs are allowed, other control characters are not.
    public static func multiLine(_ value: String, field: String, maxLength: Int = 10_000) throws -> String {
        guard value.count <= maxLength else {
            throw ClinicError.invalid("\(field) is \(value.count) characters long; the limit is \(maxLength).")
        }
        if value.unicodeScalars.contains(where: { $0 != "\n" && $0 != "\t" && isForbidden($0) }) {
            throw ClinicError.invalid("\(field) contains a control character; only text, newlines and tabs are allowed.")
        }
        return value
    }

    /// True when `value` starts or ends with a character `trimmingCharacters(in: .whitespaces)`
    /// would remove (checked without building the trimmed copy).
    public static func hasEdgeWhitespace(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else { return false }
        return CharacterSet.whitespaces.contains(first) || CharacterSet.whitespaces.contains(last)
    }

    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned:
            // Zero-width joiner is a format character used in real names' scripts; keep it.
            return scalar.value != 0x200D && scalar.value != 0x200C
        default:
            return false
        }
    }
}

