import ClinicCore
import Foundation
import GRDB

extension ClinicStore {
    /// Registers a patient. Given and family name are required.
    @discardableResult
    public func addPatient(_ input: PatientInput) throws -> Patient {
        try addPatients([input])[0]
    }

    /// Registers several patients in one transaction (imports, benchmarks).
    @discardableResult
    public func addPatients(_ inputs: [PatientInput]) throws -> [Patient] {
        let patients = try inputs.map { input -> Patient in
            guard input.givenName != nil, input.familyName != nil else {
                throw ClinicError.invalid("A patient needs a given name and a family name.")
            }
            let now = Timestamp.format(dependencies.now())
            var patient = Patient(id: dependencies.uuid(), givenName: "", familyName: "", createdAt: now, updatedAt: now)
            try input.apply(to: &patient)
            return patient
        }
        try writer.write { db in
            for patient in patients {
                try db.insert("patients", patient.fields)
                try recordChange(db, entity: .patient, id: patient.id, operation: .insert, fields: patient.fields)
            }
        }
        return patients
    }

    /// Changes the given fields of a patient. Only fields that really change are written and logged.
    @discardableResult
    public func updatePatient(_ id: UUID, _ input: PatientInput) throws -> Patient {
        try writer.write { db in
            let old = try Self.patient(db, id: id)
            guard !old.deleted else {
                throw ClinicError(.notFound, "Patient \(id.lowercased) was deleted and cannot be changed.")
            }
            var new = old
            try input.apply(to: &new)
            let oldFields = Dictionary(uniqueKeysWithValues: old.fields.map { ($0.name, $0.value) })
            var changed = new.fields.filter { $0.value != oldFields[$0.name] }
            guard !changed.isEmpty else { return old }
            new.updatedAt = Timestamp.format(dependencies.now())
            changed.append(("updated_at", .text(new.updatedAt)))
            try db.update("patients", id: id, changed)
            try recordChange(db, entity: .patient, id: id, operation: .update, fields: changed)
            return new
        }
    }

    /// Marks a patient deleted (a tombstone: the row and their recordings are kept).
    public func deletePatient(_ id: UUID) throws {
        try writer.write { db in
            let patient = try Self.patient(db, id: id)
            guard !patient.deleted else { return }
            let fields: Fields = [("deleted", .integer(1)), ("updated_at", .text(Timestamp.format(dependencies.now())))]
            try db.update("patients", id: id, fields)
            try recordChange(db, entity: .patient, id: id, operation: .delete, fields: fields)
        }
    }

    public func patient(_ id: UUID) throws -> Patient {
        try writer.read { db in try Self.patient(db, id: id) }
    }

    static func patient(_ db: Database, id: UUID) throws -> Patient {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM patients WHERE id = ?", arguments: [id.lowercased]) else {
            throw ClinicError(.notFound, "No patient with id \(id.lowercased). Find the id with `clinic patient list --search NAME`.")
        }
        return try Patient(row: row)
    }

    /// Finds the patient whose id is `text` or starts with it (at least 8 characters).
    public func resolvePatientID(_ text: String) throws -> UUID {
        try resolveID(text, table: "patients", noun: "patient", hint: "clinic patient list --search NAME")
    }

    func resolveID(_ text: String, table: String, noun: String, hint: String) throws -> UUID {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let id = UUID(strict: t) { return id }
        guard t.count >= 8, t.count < 36, t.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw ClinicError.invalid("That is not a \(noun) id. Give the full id or its first 8 or more characters (see `\(hint)`).")
        }
        let ids = try writer.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM \(table) WHERE id >= ? AND id < ? LIMIT 2",
                                arguments: [t, t + "~"])
        }
        guard let first = ids.first, let id = UUID(strict: first) else {
            throw ClinicError(.notFound, "No \(noun) has an id starting with \(t). See `\(hint)`.")
        }
        guard ids.count == 1 else {
            throw ClinicError.invalid("More than one \(noun) id starts with \(t); give more characters.")
        }
        return id
    }

    /// Patients, ordered by family then given name. With `search`, those whose names or external
    /// id contain words starting with each of the search words (full-text index).
    public func patients(search: String? = nil, includeDeleted: Bool = false, limit: Int? = nil) throws -> [Patient] {
        try writer.read { db in
            var sql: String
            var arguments: StatementArguments = []
            if let query = search.map(Self.ftsQuery), !query.isEmpty {
                sql = "SELECT p.* FROM patients_fts JOIN patients p ON p.rowid = patients_fts.rowid WHERE patients_fts MATCH ?"
                arguments += [query]
                if !includeDeleted { sql += " AND p.deleted = 0" }
            } else {
                sql = "SELECT p.* FROM patients p"
                if !includeDeleted { sql += " WHERE p.deleted = 0" }
            }
            sql += " ORDER BY p.family_name COLLATE NOCASE, p.given_name COLLATE NOCASE, p.id"
            if let limit, limit > 0 { sql += " LIMIT \(limit)" }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Patient.init(row:))
        }
    }

    /// Turns typed text into an FTS5 query: each word quoted (so no FTS syntax or SQL can be
    /// injected) and matched as a prefix, all words required.
    static func ftsQuery(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation && $0 != "-" })
            .prefix(10)
            .map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"*" }
            .joined(separator: " ")
    }
}

extension ClinicStore {
    /// Patients whose names or external id contain `text` anywhere, by scanning the table:
    /// the baseline the benchmark compares the full-text search with.
    public func patientsByScan(containing text: String, limit: Int) throws -> [Patient] {
        try writer.read { db in
            let pattern = "%" + text.replacingOccurrences(of: "%", with: "") + "%"
            return try Row.fetchAll(db, sql: """
                SELECT * FROM patients WHERE deleted = 0
                AND (given_name LIKE ? OR family_name LIKE ? OR external_id LIKE ?)
                ORDER BY family_name COLLATE NOCASE, given_name COLLATE NOCASE, id LIMIT ?
                """, arguments: [pattern, pattern, pattern, limit]).map(Patient.init(row:))
        }
    }
}
