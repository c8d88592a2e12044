import ClinicCore
import Foundation
import GRDB

extension ClinicStore {
    /// Appends an assessment of a recording (assessments are never changed, only added).
    @discardableResult
    public func addAssessment(recordingID: UUID, kind: String, model: String, modelVersion: String,
                              result: [String: FieldValue]) throws -> Assessment {
        let schema = EntitySchema.assessment
        let kind = try schema.text(kind, "kind")
        let model = try schema.text(model, "model")
        let modelVersion = try schema.text(modelVersion, "model_version")
        let json = String(decoding: try Self.jsonEncoder.encode(result), as: UTF8.self)
        let assessment = Assessment(id: dependencies.uuid(), recordingID: recordingID, kind: kind, model: model,
                                    modelVersion: modelVersion, result: json, createdAt: Timestamp.format(dependencies.now()))
        try writer.write { db in
            _ = try recording(db, id: recordingID)
            try db.insert("assessments", assessment.fields)
            try recordChange(db, entity: .assessment, id: assessment.id, operation: .insert, fields: assessment.fields)
        }
        return assessment
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
