/// A hybrid logical clock timestamp (Kulkarni et al. 2014): wall-clock milliseconds plus a
/// counter that orders events within one millisecond or when the wall clock steps back.
/// Ordered by (milliseconds, counter); ties between devices are broken by device id in the
/// merge rules. Text form `0001763779515123-00000`: fixed width, so it sorts as text.
public struct HLCTimestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var milliseconds: Int64
    public var counter: Int32

    public init(milliseconds: Int64, counter: Int32) {
        self.milliseconds = milliseconds
        self.counter = counter
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.milliseconds, a.counter) < (b.milliseconds, b.counter)
    }

    public var description: String {
        let ms = String(milliseconds)
        let c = String(counter)
        return String(repeating: "0", count: max(0, 16 - ms.count)) + ms + "-"
            + String(repeating: "0", count: max(0, 5 - c.count)) + c
    }

    /// The largest counter the text form holds (five digits). A clock that would count past it
    /// moves on to the next millisecond instead, so every timestamp it issues can be written and read back.
    public static let maxCounter: Int32 = 99_999

    /// Parses exactly 16 digits, `-`, 5 digits (no signs or spaces).
    public init?(_ text: String) {
        let u = text.utf8
        guard u.count == 22, u.enumerated().allSatisfy({ i, c in i == 16 ? c == UInt8(ascii: "-") : (48...57).contains(c) }) else { return nil }
        let parts = text.split(separator: "-")
        guard let ms = Int64(parts[0]), let c = Int32(parts[1]) else { return nil }
        self.init(milliseconds: ms, counter: c)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = HLCTimestamp(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an HLC timestamp"))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The next timestamp for a local event, given the last one issued and the wall clock now.
    public static func next(after last: HLCTimestamp?, wallMilliseconds now: Int64) -> HLCTimestamp {
        guard let last, last.milliseconds >= now else { return HLCTimestamp(milliseconds: now, counter: 0) }
        return bounded(milliseconds: last.milliseconds, counter: Int64(last.counter) + 1)
    }

    /// The next timestamp after receiving a remote one (used by sync).
    public static func receive(_ remote: HLCTimestamp, last: HLCTimestamp?, wallMilliseconds now: Int64) -> HLCTimestamp {
        let local = last ?? HLCTimestamp(milliseconds: 0, counter: 0)
        let ms = max(local.milliseconds, remote.milliseconds, now)
        let counter: Int64
        if ms == local.milliseconds && ms == remote.milliseconds { counter = Int64(max(local.counter, remote.counter)) + 1 }
        else if ms == local.milliseconds { counter = Int64(local.counter) + 1 }
        else if ms == remote.milliseconds { counter = Int64(remote.counter) + 1 }
        else { counter = 0 }
        return bounded(milliseconds: ms, counter: counter)
    }

    /// `(milliseconds, counter)`, or the next millisecond's first timestamp when the counter
    /// would pass `maxCounter` (still later than every timestamp before it).
    private static func bounded(milliseconds: Int64, counter: Int64) -> HLCTimestamp {
        counter > Int64(maxCounter) ? HLCTimestamp(milliseconds: milliseconds + 1, counter: 0)
            : HLCTimestamp(milliseconds: milliseconds, counter: Int32(counter))
    }
}
