import ClinicCore
@testable import ClinicServer
import ClinicSync
import Foundation
import NIOCore
import ClinicTestSupport
import Testing

/// The hand-written push body reader against `JSONDecoder`, which it replaces on the push path:
/// the same bodies accepted, the same values, the same bodies refused.
struct PushBodyTests {

    enum Outcome: Equatable {
        case decoded(PushRequest)
        case refused
    }

    static func reference(_ bytes: [UInt8]) -> Outcome {
        (try? JSONDecoder().decode(PushRequest.self, from: Data(bytes))).map(Outcome.decoded) ?? .refused
    }

    static func handWritten(_ bytes: [UInt8]) -> Outcome {
        (try? PushBody.decode(ByteBuffer(bytes: bytes))).map(Outcome.decoded) ?? .refused
    }

    /// A version-4 UUID from the seeded generator, so a failing body can be made again.
    static func uuid(_ g: inout SplitMix) -> UUID {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    static func randomText(_ g: inout SplitMix) -> String {
        let pieces = ["Amina", "O'Brien", "Robert'); DROP TABLE records;--", "é", "中文", "🫀", "\"", "\\", "/", "\n", "\t", "\u{0}",
                      "\u{1B}[2J", "\u{7F}", "\u{2028}", " ", "", "null", "123"]
        return (0..<Int.random(in: 0...4, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()
    }

    static func randomValue(_ g: inout SplitMix) -> FieldValue {
        switch Int.random(in: 0..<6, using: &g) {
        case 0: .null
        case 1, 2: .text(randomText(&g))
        case 3: .integer([0, -1, 1, Int64.max, Int64.min, Int64.random(in: -1_000_000...1_000_000, using: &g)].randomElement(using: &g)!)
        case 4: .real([0.5, -2.25, 1e-300, 1.7e308, 3.141592653589793, Double.random(in: -1e6...1e6, using: &g)].randomElement(using: &g)!)
        default: .text(uuid(&g).lowercased)
        }
    }

    static func randomRequest(_ g: inout SplitMix) -> PushRequest {
        PushRequest(changes: (0..<Int.random(in: 0...4, using: &g)).map { i in
            var fields: [String: FieldValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &g) { fields[["given_name", "family_name", "sex", "weight_kg", "x", randomText(&g)].randomElement(using: &g)!] = randomValue(&g) }
            let device = uuid(&g)
            let change = Change(sequence: Int64.random(in: 1...1_000_000, using: &g), changeID: uuid(&g), entity: EntityKind.allCases.randomElement(using: &g)!,
                                entityID: uuid(&g), operation: ChangeOperation.allCases.randomElement(using: &g)!, fields: fields,
                                hlc: HLCTimestamp(milliseconds: Int64.random(in: 0...1_900_000_000_000, using: &g), counter: Int32(i)), deviceID: device)
            let base: [String: FieldClock]? = Bool.random(using: &g) ? nil
                : Dictionary(uniqueKeysWithValues: fields.keys.sorted().map { ($0, FieldClock(hlc: HLCTimestamp(milliseconds: 5, counter: 1), device: uuid(&g))) })
            return PushEntry(change: change, base: base)
        })
    }

    @Test func decodesWhatJSONEncoderWritesToTheSameValues() throws {
        var g = SplitMix(seed: 20261202)
        for round in 0..<400 {
            let request = Self.randomRequest(&g)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [[], [.sortedKeys], [.prettyPrinted], [.withoutEscapingSlashes]][round % 4]
            let bytes = Array(try encoder.encode(request))
            #expect(Self.handWritten(bytes) == .decoded(request), "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    /// Random mutations of valid bodies: whatever JSONDecoder makes of them, so does PushBody.
    @Test func agreesWithJSONDecoderOnMutatedBodies() throws {
        var g = SplitMix(seed: 42)
        let alphabet = Array("{}[]\",:\\/ u0123456789.eE+-tfnl".utf8) + [0x00, 0x09, 0x0A, 0x7F, 0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80]
        var accepted = 0, refused = 0, tolerated = 0
        for _ in 0..<3_000 {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys  // the same bytes every run, whatever the hash seed
            var bytes = Array(try encoder.encode(Self.randomRequest(&g)))
            for _ in 0..<Int.random(in: 1...3, using: &g) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &g)
                switch Int.random(in: 0..<4, using: &g) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(alphabet.randomElement(using: &g)!, at: at)
                case 2: bytes[at] = alphabet.randomElement(using: &g)!
                default:
                    let end = min(bytes.count, at + Int.random(in: 1...20, using: &g))
                    bytes.insert(contentsOf: bytes[at..<end], at: at)
                }
            }
            let expected = Self.reference(bytes)
            let got = Self.handWritten(bytes)
            if got == .refused, case .decoded(let r) = expected {
                // The two deliberate differences: a non-canonical id, and invalid JSON inside a
                // value JSONDecoder ignores (it does not check escapes in strings it never reads).
                if Self.hasNonCanonicalID(r, bytes) { tolerated += 1; continue }
                if (try? JSONSerialization.jsonObject(with: Data(bytes))) == nil { tolerated += 1; continue }
            }
            #expect(got == expected, "\(String(decoding: bytes, as: UTF8.self))")
            if expected == .refused { refused += 1 } else { accepted += 1 }
        }
        // The mutations reach both sides of the boundary.
        #expect(accepted > 100 && refused > 1_000 && tolerated < 100, "accepted \(accepted), refused \(refused), tolerated \(tolerated)")
    }

    /// Whether JSONDecoder took an id that is not 8-4-4-4-12 hex (the one deliberate difference):
    /// the decoded ids, spelled canonically, do not all appear in the body.
    static func hasNonCanonicalID(_ request: PushRequest, _ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self).lowercased()
        return request.changes.contains { e in
            let ids = [e.change.changeID, e.change.entityID, e.change.deviceID] + (e.base?.values.map(\.device) ?? [])
            return ids.contains { !text.contains("\"" + $0.lowercased) && !text.contains("@" + $0.lowercased + "\"") }
        }
    }

    /// JSONDecoder's quirks, one by one (found by hand on this toolchain), with the values read.
    @Test(arguments: [
        ("\u{FEFF}", "", "5"),          // byte order mark
        ("", "", "5.0"),                // whole number written with a fraction
        ("", "", "1e2"),
        ("", "", "0.1e1"),
        ("", "", "-0"),
        ("", ",", "5"),                 // trailing comma
        ("", ", \"seq\": 7", "5"),      // duplicate key: the first wins
        ("", ", \"x\": [1, {\"a\": [], }, ]", "5"),
        ("", "", "5.5"),                // refused
        ("", "", "05"),
        ("", "", "9223372036854775808"),
        ("", "", "1e400"),
        ("", "", "\"5\""),
        ("", "", "true"),
        ("", "", "null"),
        ("", ", \"x\": nul", "5"),
    ])
    func sameVerdictOnEdgeCases(prefix: String, extra: String, seq: String) throws {
        let body = prefix + """
            {"changes": [{"seq": \(seq), "change_id": "6B1E0F66-2A53-4C58-9D8E-2A0A6F1C9E01", "entity": "patient",
              "entity_id": "7c1e0f66-2a53-4c58-9d8e-2a0a6f1c9e02", "op": "insert",
              "fields": {"a": 5.0, "b": 1e2, "c": 2.5, "d": true, "e": null, "f": "x\\u00e9\\ud83e\\udec0", "a": "dup"},
              "hlc": "0001763779515123-00000", "device_id": "8c1e0f66-2a53-4c58-9d8e-2a0a6f1c9e03"\(extra)}]}
            """
        let bytes = Array(body.utf8)
        let expected = Self.reference(bytes)
        #expect(Self.handWritten(bytes) == expected)
        if case .decoded(let r) = expected {
            #expect(r.changes[0].change.fields["a"] == .integer(5) && r.changes[0].change.fields["d"] == .integer(1))
        }
    }

    @Test(arguments: [
        ("\"\\ud800\"", false), ("\"a\tb\"", false), ("\"\\u0000\"", true), ("\"\\/\"", true), ("\"\u{7F}\"", true), ("\"\\x\"", false),
    ])
    func stringsAsJSONDecoderReadsThem(literal: String, valid: Bool) {
        let body = Array("""
            {"changes": [{"seq": 1, "change_id": "6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e01", "entity": "patient",
              "entity_id": "7c1e0f66-2a53-4c58-9d8e-2a0a6f1c9e02", "op": "insert", "fields": {"given_name": \(literal)},
              "hlc": "0001763779515123-00000", "device_id": "8c1e0f66-2a53-4c58-9d8e-2a0a6f1c9e03"}]}
            """.utf8)
        let expected = Self.reference(body)
        #expect((expected != .refused) == valid)
        #expect(Self.handWritten(body) == expected)
    }

    @Test func errorsSayWhereAndNeverQuoteTheValue() {
        func message(_ text: String) -> String? {
            do { _ = try PushBody.decode(ByteBuffer(string: text)); return nil } catch { return (error as? PushBodyError)?.message }
        }
        #expect(message("{not json") == "the body is not valid JSON")
        #expect(message("[]") == "the body: expected Dictionary<String, Any>")
        #expect(message(#"{"changes": 5}"#) == "changes: expected Array<Any>")
        #expect(message(#"{}"#) == "changes: missing")
        #expect(message(#"{"changes": [{"seq": "Amina Okafor"}]}"#) == "changes[0].seq: expected Int64")
        #expect(message(#"{"changes": [{"seq": 2}]}"#) == "changes[0].change_id: missing")
        #expect(message(#"{"changes": [{"seq": 2, "change_id": "Amina Okafor"}]}"#) == "changes[0].change_id: invalid value")
        #expect(message(#"{"changes": [{"seq": null}]}"#) == "changes[0].seq: expected Int64, found null")
        // Nesting deeper than JSONDecoder follows is refused, not a stack overflow.
        let deep = #"{"changes": [], "x": "# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(message(deep) == "the body is not valid JSON")
        #expect(message(#"{"changes": [], "x": "# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}") == nil)
    }

    @Test func strictUUIDReadsOnlyTheCanonicalFormAndAgreesWithFoundationThere() throws {
        var g = SplitMix(seed: 7)
        let alphabet = Array("0123456789abcdefABCDEFgG-{} +".utf8)
        let canonical = try Regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        var lenientOnly = 0
        for _ in 0..<5_000 {
            let id = Self.uuid(&g)
            #expect(id.lowercased == id.uuidString.lowercased())
            var bytes = Array((Bool.random(using: &g) ? id.uuidString : id.lowercased).utf8)
            for _ in 0..<Int.random(in: 0...2, using: &g) {
                let at = Int.random(in: 0..<bytes.count, using: &g)
                switch Int.random(in: 0..<3, using: &g) {
                case 0: bytes[at] = alphabet.randomElement(using: &g)!
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet.randomElement(using: &g)!, at: at)
                }
            }
            let s = String(decoding: bytes, as: UTF8.self)
            let strict = UUID(strict: s)
            #expect((strict != nil) == (s.wholeMatch(of: canonical) != nil), "\(s)")
            if let strict { #expect(strict == UUID(uuidString: s), "\(s)") }
            else if UUID(uuidString: s) != nil { lenientOnly += 1 }
        }
        // Foundation's parser takes malformed ids (white space, signs) as other ids: what strict refuses.
        #expect(lenientOnly > 0)
        #expect(UUID(uuidString: "AA-91EB1-612F-4793-B6C7-B30D9C4AF670") != nil && UUID(strict: "AA-91EB1-612F-4793-B6C7-B30D9C4AF670") == nil)
    }
}
