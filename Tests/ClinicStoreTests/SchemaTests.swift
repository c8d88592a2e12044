import ClinicCore
@testable import ClinicStore
import ClinicSync
import Foundation
import GRDB
import Testing

/// `EntitySchema` is the one declaration of each entity's fields: the migrations' tables, the
/// records' `fields` (what the change log and sync carry) and the field rules must agree with it.
@Suite struct SchemaTests {
    static let schemas = EntityKind.allCases.map(EntitySchema.of)

    func columnType(_ kind: EntitySchema.Field.Kind) -> String {
        switch kind {
        case .integer, .flag: "INTEGER"
        case .real: "REAL"
        default: "TEXT"
        }
    }

    @Test(arguments: EntityKind.allCases)
    func theMigratedTableHasTheSchemasColumns(_ entity: EntityKind) throws {
        let db = try DatabaseQueue()
        try ClinicStore.migrate(db, upTo: ClinicStore.migrationNames.last!)
        let schema = EntitySchema.of(entity)
        let columns = try db.read { db in try db.columns(in: schema.table) }
        #expect(columns.map(\.name) == schema.fields.map(\.name), "\(schema.table): columns and schema differ")
        for (column, field) in zip(columns, schema.fields) {
            #expect(column.type == columnType(field.kind), "\(schema.table).\(column.name) is \(column.type)")
            #expect(column.isNotNull == field.required, "\(schema.table).\(column.name): NOT NULL \(column.isNotNull), required \(field.required)")
        }
    }

    static let now = "2026-11-22T10:00:00.000Z"
    static let hash = String(repeating: "ab", count: 32)
    static let records: [(EntityKind, Fields)] = [
        (.patient, Patient(id: UUID(), externalID: "KE-1", givenName: "Amina", familyName: "Okafor", sex: .female, birthDate: "2019-03-04",
                           ageGroup: .child, notes: "a\nb", createdAt: now, updatedAt: now).fields),
        (.recording, Recording(id: UUID(), patientID: UUID(), location: .AV, recordedAt: now, operatorName: "N", device: "D",
                               originalFilename: "a.wav", originalFormat: "wav/pcm16", originalSHA256: hash, originalSize: 10, storedFormat: "flac/pcm16",
                               sampleRate: 4_000, channels: 1, frames: 40_000, duration: 10, audioSHA256: hash, audioSize: 5,
                               samplesSHA256: hash, createdAt: now).fields),
        (.assessment, Assessment(id: UUID(), recordingID: UUID(), kind: "quality", model: "m", modelVersion: "1", result: "{}", createdAt: now).fields),
    ]

    @Test func recordsCarryTheSchemasFieldsInOrderAndPassItsRules() throws {
        for (entity, fields) in Self.records {
            #expect(fields.map(\.name) == EntitySchema.of(entity).fields.map(\.name), "\(entity)")
            let id = try #require(UUID(strict: fields[0].value.text ?? ""))
            let change = Change(sequence: 1, changeID: UUID(), entity: entity, entityID: id, operation: .insert,
                                fields: Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.value) }),
                                hlc: HLCTimestamp(milliseconds: 1, counter: 0), deviceID: UUID())
            #expect(EntityRules.problem(with: change) == nil, "\(entity): \(EntityRules.problem(with: change) ?? "")")
        }
    }

    @Test func onlyMutableFieldsMayChangeAfterTheInsert() {
        for schema in Self.schemas {
            for field in schema.fields {
                let change = Change(sequence: 1, changeID: UUID(), entity: schema.entity, entityID: UUID(), operation: .update,
                                    fields: [field.name: field.kind == .flag ? .integer(1) : .null], hlc: HLCTimestamp(milliseconds: 1, counter: 0),
                                    deviceID: UUID())
                let problem = EntityRules.problem(with: change)
                if !field.mutable { #expect(problem != nil, "\(schema.entity).\(field.name) changed after the insert") }
                if field.mutable && !field.required { #expect(problem == nil, "\(schema.entity).\(field.name): \(problem ?? "")") }
            }
        }
    }

    /// Ids from outside are read strictly on the pull path too (Change's Decodable).
    @Test func changeDecodingReadsIdsStrictly() throws {
        func json(_ id: String) -> Data {
            Data(#"{"seq":1,"change_id":"\#(id)","entity":"patient","entity_id":"6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e01","op":"insert","fields":{},"hlc":"0001763779515123-00000","device_id":"6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e02"}"#.utf8)
        }
        #expect(try JSONDecoder().decode(Change.self, from: json("6B1E0F66-2A53-4C58-9D8E-2A0A6F1C9E03")).changeID.lowercased == "6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e03")
        for lenient in [" 6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e0", "6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e03 ", "{6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e}",
                        "+b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e03", "6b1e0f662a534c589d8e2a0a6f1c9e03"] {
            #expect(throws: DecodingError.self, "\(lenient)") { try JSONDecoder().decode(Change.self, from: json(lenient)) }
        }
    }

    /// `fields` and `init(fields:)` come from the schema's order and the records' `CodingKeys`:
    /// every value distinct, so a property out of the schema's order or a key misnamed fails.
    @Test func recordsRoundTripThroughTheirFields() throws {
        let h = (0..<3).map { String(repeating: String($0 + 1), count: 64) }
        let patient = Patient(id: UUID(), externalID: "KE-1", givenName: "Amina", familyName: "Okafor", sex: .female, birthDate: "2019-03-04",
                              ageGroup: .child, notes: "a\nb", createdAt: "2026-11-22T10:00:00.000Z", updatedAt: "2026-11-22T10:00:01.000Z", deleted: true)
        let recording = Recording(id: UUID(), patientID: UUID(), location: .MV, recordedAt: "t1", operatorName: "N", device: "D",
                                  originalFilename: "a.wav", originalFormat: "wav/pcm16", originalSHA256: h[0], originalSize: 11, storedFormat: "flac/pcm16",
                                  sampleRate: 4_000, channels: 2, frames: 40_000, duration: 10.5, audioSHA256: h[1], audioSize: 5,
                                  samplesSHA256: h[2], createdAt: "t2", deleted: false)
        let assessment = Assessment(id: UUID(), recordingID: UUID(), kind: "quality", model: "m", modelVersion: "1", result: "{}", createdAt: "t3")
        func dict(_ f: Fields) -> [String: FieldValue] { Dictionary(uniqueKeysWithValues: f.map { ($0.name, $0.value) }) }
        #expect(try Patient(fields: dict(patient.fields)) == patient)
        #expect(try Recording(fields: dict(recording.fields)) == recording)
        #expect(try Assessment(fields: dict(assessment.fields)) == assessment)
        #expect(patient.fields.first { $0.name == "id" }?.value == .text(patient.id.lowercased))
        #expect(patient.fields.first { $0.name == "deleted" }?.value == .integer(1))
        #expect(patient.fields.first { $0.name == "sex" }?.value == .text("female"))
        #expect(Patient(id: UUID(), givenName: "A", familyName: "B", createdAt: "t", updatedAt: "t").fields.first { $0.name == "notes" }?.value == .null)

        var fields = dict(patient.fields)
        fields["id"] = .text("{\(patient.id.lowercased)}")  // Foundation on Linux would read this
        #expect(throws: DecodingError.self) { try Patient(fields: fields) }
        fields = dict(patient.fields); fields["sex"] = .text("f")
        #expect(throws: DecodingError.self) { try Patient(fields: fields) }
        fields = dict(patient.fields); fields["deleted"] = .integer(2)
        #expect(throws: DecodingError.self) { try Patient(fields: fields) }
        fields = dict(patient.fields); fields["given_name"] = .null
        #expect(throws: DecodingError.self) { try Patient(fields: fields) }
        fields = dict(patient.fields); fields["notes"] = nil
        #expect(try Patient(fields: fields).notes == nil)
    }

    /// A damaged row is reported by its column, and the message holds no patient data.
    @Test func aMalformedRowNamesTheColumnNotTheValue() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try ClinicStore.inMemory(audioDirectory: dir)
        let patient = try store.addPatient(PatientInput(givenName: "Zawadi", familyName: "Mwangi"))
        try store.writer.write { db in try db.execute(sql: "UPDATE patients SET sex = 'Zawadi-secret'") }
        do {
            _ = try store.patient(patient.id)
            Issue.record("a malformed row was read")
        } catch {
            let message = "\(error)"
            #expect(message.contains("sex") && message.contains("clinic doctor"), "\(message)")
            #expect(!message.contains("Zawadi"), "\(message)")
        }
    }
}

