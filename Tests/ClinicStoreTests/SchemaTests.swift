import ClinicCore
import ClinicStore
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
}
