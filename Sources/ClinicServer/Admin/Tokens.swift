import Crypto
import Foundation

/// Device bearer tokens: 32 random bytes, base64url, prefixed `clk_`. The server keeps only
/// their SHA-256; the token is shown once at enrolment.
enum Tokens {
    static func generate() -> String {
        var rng = SystemRandomNumberGenerator() // getrandom(2) on Linux: a CSPRNG
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return "clk_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares without an early exit, so timing tells nothing about where two values differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }

    /// A plausible token: checked before any database lookup.
    static func isWellFormed(_ token: String) -> Bool {
        token.hasPrefix("clk_") && token.utf8.count == 47
            && token.utf8.dropFirst(4).allSatisfy { c in (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || c == 45 || c == 95 }
    }
}
