import Foundation

extension UUID {
    /// The canonical text form used in the store and over sync: lowercase, 8-4-4-4-12.
    /// Formatted here from the bytes (`uuidString` goes through `sprintf`, and the server spells
    /// several ids per pushed change).
    public var lowercased: String {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                var j = 0
                for (k, byte) in bytes.enumerated() {
                    if k == 4 || k == 6 || k == 8 || k == 10 { out[j] = UInt8(ascii: "-"); j += 1 }
                    out[j] = digits.utf8Start[Int(byte >> 4)]
                    out[j + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    j += 2
                }
                return j
            }
        }
    }

    /// Parses exactly 8-4-4-4-12 hex digits (either case) and nothing else.
    ///
    /// Use this, not `UUID(uuidString:)`, for ids that arrive from outside: on Linux that
    /// initialiser reads each byte with `sscanf("%2hhx")`, which skips white space and takes a
    /// sign, so `" 06b7238-…"` or `"aa-91eb1-…"` come back as some other, valid id.
    public init?(strict text: String) {
        var text = text
        let parsed: uuid_t? = text.withUTF8 { b in
            guard b.count == 36 else { return nil }
            var out: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let ok = withUnsafeMutableBytes(of: &out) { bytes -> Bool in
                var j = 0
                for k in 0..<16 {
                    if k == 4 || k == 6 || k == 8 || k == 10 {
                        guard b[j] == UInt8(ascii: "-") else { return false }
                        j += 1
                    }
                    guard let hi = hexDigitValue(b[j]), let lo = hexDigitValue(b[j + 1]) else { return false }
                    bytes[k] = hi << 4 | lo
                    j += 2
                }
                return true
            }
            return ok ? out : nil
        }
        guard let parsed else { return nil }
        self.init(uuid: parsed)
    }
}

/// The value of one ASCII hex digit, or nil.
@inline(__always)
public func hexDigitValue(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
    default: nil
    }
}
