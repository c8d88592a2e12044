import Foundation

/// Timestamps are stored and exchanged as ISO 8601 text in UTC with milliseconds,
/// e.g. `2026-11-22T02:45:15.123Z`, which sorts as text in time order.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        date.formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!)
        )
    }

    /// Parses ISO 8601 with or without fractional seconds and a time zone offset.
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(trimmed) {
            return date
        }
        if let date = try? Date.ISO8601FormatStyle().parse(trimmed) { return date }
        return nil
    }
}

/// A calendar date without time, `YYYY-MM-DD`, validated.
public enum CalendarDate {
    public static func validate(_ text: String, field: String) throws -> String {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1900...2200).contains(year), (1...12).contains(month), (1...31).contains(day)
        else {
            throw ClinicError.invalid("\(field) must be a date as YYYY-MM-DD.")
        }
        var components = DateComponents(year: year, month: month, day: day)
        components.calendar = Calendar(identifier: .gregorian)
        guard components.isValidDate else {
            throw ClinicError.invalid("\(field) is not a real calendar date.")
        }
        return text
    }
}
