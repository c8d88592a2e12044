import Foundation

/// Sex as recorded at registration.
public enum Sex: String, Sendable, Codable, CaseIterable {
    case female, male, other, unknown
}

/// Age groups as the CirCor and PhysioNet datasets use them, for patients without a birth date.
public enum AgeGroup: String, Sendable, Codable, CaseIterable {
    case neonate, infant, child, adolescent, adult, elderly
}

/// A registered patient. Deleting a patient sets `deleted` (a tombstone); rows are never removed.
public struct Patient: Sendable, Equatable, Codable, FieldRecord {
    public static var schema: EntitySchema { .patient }

    public var id: UUID
    public var externalID: String?
    public var givenName: String
    public var familyName: String
    public var sex: Sex?
    public var birthDate: String?
    public var ageGroup: AgeGroup?
    public var notes: String?
    public var createdAt: String
    public var updatedAt: String
    public var deleted: Bool

    public init(
        id: UUID, externalID: String? = nil, givenName: String, familyName: String,
        sex: Sex? = nil, birthDate: String? = nil, ageGroup: AgeGroup? = nil, notes: String? = nil,
        createdAt: String, updatedAt: String, deleted: Bool = false
    ) {
        self.id = id
        self.externalID = externalID
        self.givenName = givenName
        self.familyName = familyName
        self.sex = sex
        self.birthDate = birthDate
        self.ageGroup = ageGroup
        self.notes = notes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deleted = deleted
    }

    enum CodingKeys: String, CodingKey {
        case id, externalID = "external_id", givenName = "given_name", familyName = "family_name"
        case sex, birthDate = "birth_date", ageGroup = "age_group", notes
        case createdAt = "created_at", updatedAt = "updated_at", deleted
    }
}

/// The editable fields of a patient, as typed by a user; `validated()` checks every one.
public struct PatientInput: Sendable, Equatable {
    public var externalID: String?
    public var givenName: String?
    public var familyName: String?
    public var sex: String?
    public var birthDate: String?
    public var ageGroup: String?
    public var notes: String?

    public init(
        externalID: String? = nil, givenName: String? = nil, familyName: String? = nil,
        sex: String? = nil, birthDate: String? = nil, ageGroup: String? = nil, notes: String? = nil
    ) {
        self.externalID = externalID
        self.givenName = givenName
        self.familyName = familyName
        self.sex = sex
        self.birthDate = birthDate
        self.ageGroup = ageGroup
        self.notes = notes
    }

    /// The input that sets one field (by its schema name) to `text`; nil for a field a user does not edit.
    public static func setting(_ field: String, to text: String) throws -> PatientInput {
        var input = PatientInput()
        switch field {
        case "external_id": input.externalID = text
        case "given_name": input.givenName = text
        case "family_name": input.familyName = text
        case "sex": input.sex = text
        case "birth_date": input.birthDate = text
        case "age_group": input.ageGroup = text
        case "notes": input.notes = text
        default: throw ClinicError.invalid("Field \(field) is not edited by hand.")
        }
        return input
    }

    /// Applies these inputs to `patient`. A nil input leaves a field as it is; an empty string
    /// clears an optional field. Throws `ClinicError.invalidInput` naming the field.
    /// Labels and limits come from `EntitySchema.patient`.
    public func apply(to patient: inout Patient) throws {
        let schema = EntitySchema.patient
        if let v = givenName { patient.givenName = try schema.text(v, "given_name") }
        if let v = familyName { patient.familyName = try schema.text(v, "family_name") }
        if let v = externalID { patient.externalID = v.isEmpty ? nil : try schema.text(v, "external_id") }
        if let v = sex {
            if v.isEmpty { patient.sex = nil } else {
                guard let s = Sex(rawValue: v.lowercased()) else {
                    throw ClinicError.invalid("Sex must be one of: \(Sex.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                patient.sex = s
            }
        }
        if let v = birthDate {
            patient.birthDate = v.isEmpty ? nil : try CalendarDate.validate(v, field: "Birth date")
        }
        if let v = ageGroup {
            if v.isEmpty { patient.ageGroup = nil } else {
                guard let g = AgeGroup(rawValue: v.lowercased()) else {
                    throw ClinicError.invalid("Age group must be one of: \(AgeGroup.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                patient.ageGroup = g
            }
        }
        if let v = notes { patient.notes = v.isEmpty ? nil : try schema.text(v, "notes") }
    }
}
