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

extension FieldRecord {
    /// The record in a row of its table, read through its schema (`FieldRecord.init(fields:)`).
    init(row: Row) throws {
        let schema = Self.schema
        let fields = Dictionary(uniqueKeysWithValues: schema.fields.map { ($0.name, FieldValue(row[$0.name] as DatabaseValue)) })
        do { try self.init(fields: fields) } catch {
            // The message names the column, never its value (patient data stays out of errors).
            let column = (error as? DecodingError).flatMap(\.column) ?? "a column"
            throw ClinicError(.integrity, "A \(schema.entity) row has a malformed \(column). Run `clinic doctor`.")
        }
    }
}

extension DecodingError {
    var column: String? {
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): c.codingPath.last?.stringValue
        @unknown default: nil
        }
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
