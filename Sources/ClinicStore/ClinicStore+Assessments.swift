import ClinicCore
import Foundation
import GRDB

/// An assessment to store: what was assessed, by which models, and their output (a JSON object).
public struct NewAssessment: Sendable, Equatable {
    public var kind: String
    public var model: String
    public var modelVersion: String
    public var result: String
    public init(kind: String, model: String, modelVersion: String, result: String) {
        self.kind = kind
        self.model = model
        self.modelVersion = modelVersion
        self.result = result
    }
}

extension ClinicStore {
    /// Appends an assessment of a recording (assessments are never changed, only added).
    @discardableResult
    public func addAssessment(recordingID: UUID, kind: String, model: String, modelVersion: String,
                              result: [String: FieldValue]) throws -> Assessment {
        let json = String(decoding: try Self.jsonEncoder.encode(result), as: UTF8.self)
        return try addAssessment(recordingID: recordingID, NewAssessment(kind: kind, model: model, modelVersion: modelVersion, result: json))
    }

    /// Appends an assessment of a recording, its change logged in the same transaction.
    @discardableResult
    public func addAssessment(recordingID: UUID, _ new: NewAssessment) throws -> Assessment {
        let assessment = try makeAssessment(recordingID: recordingID, new)
        try writer.write { db in
            _ = try recording(db, id: recordingID)
            try insert(db, assessment)
        }
        return assessment
    }

    /// The record for a new assessment, its text checked against the schema (nothing written).
    func makeAssessment(recordingID: UUID, _ new: NewAssessment) throws -> Assessment {
        let schema = EntitySchema.assessment
        guard (try? JSONSerialization.jsonObject(with: Data(new.result.utf8))) is [String: Any] else {
            throw ClinicError.invalid("An assessment's result must be a JSON object.")
        }
        return Assessment(id: dependencies.uuid(), recordingID: recordingID, kind: try schema.text(new.kind, "kind"),
                          model: try schema.text(new.model, "model"), modelVersion: try schema.text(new.modelVersion, "model_version"),
                          result: try schema.text(new.result, "result"), createdAt: Timestamp.format(dependencies.now()))
    }

    func insert(_ db: Database, _ assessment: Assessment) throws {
        try db.insert("assessments", assessment.fields)
        try recordChange(db, entity: .assessment, id: assessment.id, operation: .insert, fields: assessment.fields)
    }

    /// A recording's assessments, oldest first.
    public func assessments(recordingID: UUID) throws -> [Assessment] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM assessments WHERE recording_id = ? ORDER BY created_at, id",
                             arguments: [recordingID.lowercased]).map { row in
                guard let id = UUID(strict: row["id"]), let rid = UUID(strict: row["recording_id"]) else {
                    throw ClinicError(.integrity, "An assessment row is malformed. Run `clinic doctor`.")
                }
                return Assessment(id: id, recordingID: rid, kind: row["kind"], model: row["model"],
                                  modelVersion: row["model_version"], result: row["result"], createdAt: row["created_at"])
            }
        }
    }
}
