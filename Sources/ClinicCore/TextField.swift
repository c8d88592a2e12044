import Foundation

/// Validation of free-text fields: length limits and no control characters, so that what a
/// nurse types is stored as typed and can never smuggle terminal escapes into a listing.
///
/// One length rule for every text field, in the CLI and on the server (`EntityRules`): a
/// field with a limit of N characters holds at most N characters (grapheme clusters, what a
/// person counts), at most 4·N bytes of UTF-8 (what is stored and sent), and no character
/// carries more than `maxMarksPerCharacter` combining marks. Counting characters alone let
/// "A" and 500,000 combining marks pass a 200-character limit as one character (1 MB).
public enum TextField {
    /// Combining marks (Unicode categories Mn, Mc, Me) one character may carry. Real scripts
    /// stack at most four or so (Vietnamese two, Tibetan and Devanagari clusters three or four);
    /// Unicode's stream-safe format (UAX #15) allows 30 in a row. Eight keeps every real name.
    public static let maxMarksPerCharacter = 8

    /// UTF-8 bytes a field limited to `maxLength` characters may hold.
    public static func maxBytes(_ maxLength: Int) -> Int { 4 * maxLength }

    /// Checks the length rule; the error names the field and the limits, never the content.
    public static func checkLength(_ value: String, field: String, maxLength: Int) throws {
        let bytes = value.utf8.count
        guard bytes <= maxBytes(maxLength) else {
            throw ClinicError.invalid("\(field) is \(bytes) bytes long; the limit is \(maxLength) characters and \(maxBytes(maxLength)) bytes.")
        }
        // Pure ASCII has one byte per character and no marks: nothing more to count.
        guard value.utf8.contains(where: { $0 >= 0x80 }) else {
            guard bytes <= maxLength else {
                throw ClinicError.invalid("\(field) is \(bytes) characters long; the limit is \(maxLength).")
            }
            return
        }
        var characters = 0
        for character in value {
            characters += 1
            var marks = 0
            for scalar in character.unicodeScalars {
                switch scalar.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark: marks += 1
                default: break
                }
            }
            guard marks <= maxMarksPerCharacter else {
                throw ClinicError.invalid("\(field) has a character with \(marks) combining marks; at most \(maxMarksPerCharacter) are allowed.")
            }
        }
        guard characters <= maxLength else {
            throw ClinicError.invalid("\(field) is \(characters) characters long; the limit is \(maxLength).")
        }
    }

    /// Checks a single-line field (names, ids, operator). Returns the value trimmed of
    /// surrounding spaces. The error names the field, never its content.
    public static func singleLine(_ value: String, field: String, maxLength: Int = 200) throws -> String {
        let trimmed = hasEdgeWhitespace(value) ? value.trimmingCharacters(in: .whitespaces) : value
        guard !trimmed.isEmpty else {
            throw ClinicError.invalid("\(field) must not be empty.")
        }
        try checkLength(trimmed, field: field, maxLength: maxLength)
        if trimmed.unicodeScalars.contains(where: isForbidden(_:)) {
            throw ClinicError.invalid("\(field) contains a control character (such as a tab, newline or escape); use plain text.")
        }
        return trimmed
    }

    /// Checks a multi-line field (notes): newlines and tabs are allowed, other control characters are not.
    /// The default limit of a multi-line field, characters.
    public static let multiLineLimit = 10_000

    public static func multiLine(_ value: String, field: String, maxLength: Int = multiLineLimit) throws -> String {
        try checkLength(value, field: field, maxLength: maxLength)
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

