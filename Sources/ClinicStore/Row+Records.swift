import ClinicCore
import Foundation
import GRDB

extension FieldValue {
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let i): self = .integer(i)
        case .double(let d): self = .real(d)
        case .string(let s): self = .text(s)
        case .blob(let b): self = .text(b.base64EncodedString())
        }
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .text(let s): s.databaseValue
        case .integer(let i): i.databaseValue
        case .real(let d): d.databaseValue
        }
    }
}

extension Patient {
    init(row: Row) throws {
        guard let id = UUID(strict: row["id"]) else {
            throw ClinicError(.integrity, "A patient row has a malformed id. Run `clinic doctor`.")
        }
        self.init(
            id: id, externalID: row["external_id"], givenName: row["given_name"], familyName: row["family_name"],
            sex: (row["sex"] as String?).flatMap(Sex.init(rawValue:)), birthDate: row["birth_date"],
            ageGroup: (row["age_group"] as String?).flatMap(AgeGroup.init(rawValue:)), notes: row["notes"],
            createdAt: row["created_at"], updatedAt: row["updated_at"], deleted: row["deleted"] as Bool)
    }
}

extension Recording {
    init(row: Row) throws {
        guard let id = UUID(strict: row["id"]), let patient = UUID(strict: row["patient_id"]),
              let location = AuscultationLocation(rawValue: row["location"]) else {
            throw ClinicError(.integrity, "A recording row is malformed. Run `clinic doctor`.")
        }
        self.init(
            id: id, patientID: patient, location: location, recordedAt: row["recorded_at"],
            operatorName: row["operator"], device: row["device"], originalFilename: row["original_filename"],
            originalFormat: row["original_format"], originalSHA256: row["original_sha256"],
            originalSize: row["original_size"], storedFormat: row["stored_format"], sampleRate: row["sample_rate"],
            channels: row["channels"], frames: row["frames"], duration: row["duration"],
            audioSHA256: row["audio_sha256"], audioSize: row["audio_size"], samplesSHA256: row["samples_sha256"], createdAt: row["created_at"],
            deleted: row["deleted"] as Bool)
    }
}

extension Database {
    /// INSERT of a record's fields into `table`.
    func insert(_ table: String, _ fields: Fields) throws {
        let columns = fields.map(\.name).joined(separator: ", ")
        let placeholders = Array(repeating: "?", count: fields.count).joined(separator: ", ")
        try execute(sql: "INSERT INTO \(table) (\(columns)) VALUES (\(placeholders))",
                    arguments: StatementArguments(fields.map(\.value.databaseValue)))
    }

    /// UPDATE of some fields of the row `id` in `table`.
    func update(_ table: String, id: UUID, _ fields: Fields) throws {
        let assignments = fields.map { "\($0.name) = ?" }.joined(separator: ", ")
        try execute(sql: "UPDATE \(table) SET \(assignments) WHERE id = ?",
                    arguments: StatementArguments(fields.map(\.value.databaseValue) + [id.lowercased.databaseValue]))
    }
}
