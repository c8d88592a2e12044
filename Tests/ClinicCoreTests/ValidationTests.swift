import ClinicCore
import Foundation
import Testing

@Suite struct ValidationTests {
    func patient() -> Patient { Patient(id: UUID(), givenName: "A", familyName: "B", createdAt: "t", updatedAt: "t") }

    @Test(arguments: ["O'Brien", "Robert'); DROP TABLE patients;--", "50% \"quoted\" \\ back", "Nguyễn Thị", "محمد", "李"])
    func hostileButPrintableTextIsKeptAsTyped(_ name: String) throws {
        var p = patient()
        try PatientInput(givenName: name).apply(to: &p)
        #expect(p.givenName == name)
    }

    @Test(arguments: ["a\u{1B}[31mred", "tab\there", "new\nline", "nul\u{0}byte", "bell\u{7}", "rtl\u{202E}override"])
    func controlCharactersAreRefusedNamingTheField(_ name: String) {
        var p = patient()
        #expect {
            try PatientInput(familyName: name).apply(to: &p)
        } throws: { error in
            let e = error as! ClinicError
            return e.reason == .invalidInput && e.message.contains("Family name") && !e.message.contains(name)
        }
        #expect(p.familyName == "B")
    }

    @Test func overlongNameIsRefused() {
        var p = patient()
        #expect(throws: ClinicError.self) { try PatientInput(givenName: String(repeating: "x", count: 10_000)).apply(to: &p) }
        #expect(throws: ClinicError.self) { try PatientInput(givenName: "   ").apply(to: &p) }
    }

    @Test func notesMayHaveNewlinesButNotEscapes() throws {
        var p = patient()
        try PatientInput(notes: "line 1\nline 2\tend").apply(to: &p)
        #expect(p.notes == "line 1\nline 2\tend")
        #expect(throws: ClinicError.self) { try PatientInput(notes: "x\u{1B}]0;title\u{7}").apply(to: &p) }
    }

    @Test func enumsAndDatesAreChecked() throws {
        var p = patient()
        try PatientInput(sex: "FEMALE", birthDate: "2019-02-28", ageGroup: "Child").apply(to: &p)
        #expect(p.sex == .female && p.birthDate == "2019-02-28" && p.ageGroup == .child)
        #expect(throws: ClinicError.self) { try PatientInput(sex: "x").apply(to: &p) }
        #expect(throws: ClinicError.self) { try PatientInput(birthDate: "2019-02-30").apply(to: &p) }
        #expect(throws: ClinicError.self) { try PatientInput(birthDate: "19/02/2019").apply(to: &p) }
        #expect(throws: ClinicError.self) { try PatientInput(ageGroup: "teen").apply(to: &p) }
        try PatientInput(sex: "", birthDate: "").apply(to: &p)
        #expect(p.sex == nil && p.birthDate == nil)
    }

    @Test func locationsAcceptAnyCase() {
        #expect(AuscultationLocation(userText: "av") == .AV)
        #expect(AuscultationLocation(userText: "PHC") == .Phc)
        #expect(AuscultationLocation(userText: "Other") == .other)
        #expect(AuscultationLocation(userText: "apex") == nil)
    }

    @Test func fieldValuesRoundTripThroughJSON() throws {
        let fields: [String: FieldValue] = ["a": .null, "b": .text("x\"y"), "c": .integer(-3), "d": .real(2.5)]
        let decoded = try JSONDecoder().decode([String: FieldValue].self, from: JSONEncoder().encode(fields))
        #expect(decoded == fields)
    }

    @Test func patientJSONUsesLowercaseIdsAndBooleanDeleted() throws {
        let p = patient()
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(p)) as! [String: Any]
        #expect(json["id"] as? String == p.id.uuidString.lowercased())
        #expect(json["deleted"] as? Bool == false)
        #expect(try JSONDecoder().decode(Patient.self, from: JSONEncoder().encode(p)) == p)
    }

    @Test func sha256MatchesKnownVector() {
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var hasher = ContentHasher()
        Array("abc".utf8).withUnsafeBytes { hasher.update($0[0..<2]); hasher.update($0[2..<3]) }
        #expect(hasher.finalize() == sha256Hex(Array("abc".utf8)))
    }
}

/// One length rule for every text field (TextField.checkLength), the CLI's and the server's.
@Suite struct TextLengthRuleTests {
    func patient() -> Patient { Patient(id: UUID(), givenName: "A", familyName: "B", createdAt: "t", updatedAt: "t") }

    @Test func combiningMarksCountTowardsTheLimit() {
        var p = patient()
        let stretched = "A" + String(repeating: "\u{0301}", count: 500_000)  // one character, 1 MB
        #expect(stretched.count == 1)
        for input in [PatientInput(givenName: stretched), PatientInput(externalID: stretched), PatientInput(notes: stretched)] {
            #expect { try input.apply(to: &p) } throws: { error in
                let e = error as! ClinicError
                return e.reason == .invalidInput && e.message.contains("bytes") && e.message.utf8.count < 200
            }
        }
        // Nine marks on one letter: refused in any field, however short.
        #expect(throws: ClinicError.self) { try PatientInput(familyName: "Z" + String(repeating: "\u{0336}", count: 9)).apply(to: &p) }
        #expect(p.givenName == "A" && p.familyName == "B" && p.notes == nil && p.externalID == nil)
    }

    @Test(arguments: ["Nguyễn Thị Ánh", "Nguye\u{0302}\u{0303}n", "क्षत्रिय", "སྒྲུབ་", "שָׁלוֹם", "Zoë", "محمد", "李小龍", "👩🏽‍⚕️"])
    func realNamesInAnyScriptPass(_ name: String) throws {
        var p = patient()
        try PatientInput(givenName: name).apply(to: &p)
        #expect(p.givenName == name)
    }

    @Test func limitsInCharactersAndBytes() throws {
        try TextField.checkLength(String(repeating: "x", count: 200), field: "F", maxLength: 200)
        try TextField.checkLength(String(repeating: "é", count: 200), field: "F", maxLength: 200)   // 400 bytes
        try TextField.checkLength(String(repeating: "😀", count: 200), field: "F", maxLength: 200)  // 800 bytes
        #expect(throws: ClinicError.self) { try TextField.checkLength(String(repeating: "x", count: 201), field: "F", maxLength: 200) }
        #expect(throws: ClinicError.self) { try TextField.checkLength(String(repeating: "é", count: 201), field: "F", maxLength: 200) }
        // 100 characters of 3 scalars (9 bytes) each pass 200 characters but not 800 bytes.
        #expect(throws: ClinicError.self) { try TextField.checkLength(String(repeating: "क्ष", count: 100), field: "F", maxLength: 200) }
    }
}
