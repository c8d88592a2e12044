import ClinicCore
@testable import ClinicSync
import Foundation
import Testing

/// The server's fast paths in the field checks decide exactly as the slow checks they skip.
struct EntityRulesFastPathTests {
    @Test func canonicalTimestampsAreExactlyTheOnesParsedInThatForm() {
        var texts = ["2026-11-22T10:00:00.000Z", "2024-02-29T23:59:59.999Z", "2000-02-29T00:00:00.000Z", "1999-12-31T12:30:45.123Z",
                     "2023-02-29T00:00:00.000Z", "1900-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-04-31T00:00:00.000Z",
                     "2026-11-22T24:00:00.000Z", "2026-11-22T10:60:00.000Z", "2026-11-22T10:00:60.000Z", "2026-11-22T10:00:00.000+01:00",
                     "2026-11-22T10:00:00Z", "2026-11-22 10:00:00.000Z", "2026-11-22T10:00:00.00aZ", "０２６-11-22T10:00:00.000Z",
                     " 2026-11-22T10:00:00.000Z", "2026-00-10T10:00:00.000Z", "2026-01-00T10:00:00.000Z", "+026-11-22T10:00:00.000Z"]
        texts += (0..<200).map { i in Timestamp.format(Date(timeIntervalSince1970: Double(i) * 7_919_993.117)) }
        for text in texts where EntityRules.isCanonicalTimestamp(text) {
            #expect(Timestamp.parse(text) != nil, "\(text)")
        }
        #expect(texts.suffix(200).allSatisfy(EntityRules.isCanonicalTimestamp))
        #expect(!EntityRules.isCanonicalTimestamp("2023-02-29T00:00:00.000Z") && !EntityRules.isCanonicalTimestamp("2026-11-22T10:00:00Z"))
    }

    @Test func edgeWhitespaceIsWhatTrimmingRemoves() {
        let texts = ["", " ", "a", " a", "a ", "\ta", "a\t", "a b", "\u{00A0}a", "a\u{3000}", "\u{2009}", "\na", "a\n", "ü", "a\u{200B}",
                     "\u{1680}x", "x\u{202F}", "🫀", "e\u{301}", " e\u{301} "]
        for text in texts {
            #expect(TextField.hasEdgeWhitespace(text) == (text != text.trimmingCharacters(in: .whitespaces)), "\(text.unicodeScalars.map(\.value))")
        }
    }

    /// Ids in fields are read strictly: Foundation's `UUID(uuidString:)` on Linux takes these
    /// malformed ids (it reads bytes with sscanf), and the server used to store them as sent.
    @Test func referencedIdsMustBeCanonical() {
        let patient = UUID()
        for malformed in [" " + patient.lowercased.dropFirst(), "aa-" + patient.lowercased.dropFirst(3), patient.lowercased + "\u{0}x"] {
            let change = Change(sequence: 1, changeID: UUID(), entity: .recording, entityID: UUID(), operation: .update,
                                fields: ["patient_id": .text(String(malformed))], hlc: HLCTimestamp(milliseconds: 1, counter: 0), deviceID: UUID())
            #expect(EntityRules.problem(with: change) == "field patient_id must be a lowercase UUID", "\(malformed)")
        }
        let good = Change(sequence: 1, changeID: UUID(), entity: .recording, entityID: UUID(), operation: .update,
                          fields: ["patient_id": .text(patient.lowercased)], hlc: HLCTimestamp(milliseconds: 1, counter: 0), deviceID: UUID())
        #expect(EntityRules.problem(with: good)?.contains("patient_id") != true)  // (an update of a recording is refused for another reason)
    }
}
