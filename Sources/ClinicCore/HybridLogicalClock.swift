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

    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts[0].count == 16, parts[1].count == 5,
              let ms = Int64(parts[0]), let c = Int32(parts[1]), ms >= 0, c >= 0 else { return nil }
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
        return HLCTimestamp(milliseconds: last.milliseconds, counter: last.counter + 1)
    }

    /// The next timestamp after receiving a remote one (used by sync).
    public static func receive(_ remote: HLCTimestamp, last: HLCTimestamp?, wallMilliseconds now: Int64) -> HLCTimestamp {
        let local = last ?? HLCTimestamp(milliseconds: 0, counter: 0)
        let ms = max(local.milliseconds, remote.milliseconds, now)
        let counter: Int32
        if ms == local.milliseconds && ms == remote.milliseconds { counter = max(local.counter, remote.counter) + 1 }
        else if ms == local.milliseconds { counter = local.counter + 1 }
        else if ms == remote.milliseconds { counter = remote.counter + 1 }
        else { counter = 0 }
        return HLCTimestamp(milliseconds: ms, counter: counter)
    }
}
