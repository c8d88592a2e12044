/// Each entity's fields, declared once: name (the column, change-log and wire name), kind and
/// limits, whether an insert must carry it, and whether it may change after the insert.
///
/// Derived from this: the CLI's checks (`PatientInput`), the server's and the sync client's
/// field rules (`EntityRules`), each record's `fields` and its reading from a row or from
/// fields (`FieldRecord`). `SchemaTests` holds the migrations and the records' properties to
/// it: a field added here and not there fails a test.
public struct EntitySchema: Sendable {
    public struct Field: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// A lowercase UUID.
            case uuid
            /// Single-line text of at most `maxLength` characters (`TextField.singleLine`).
            case text(maxLength: Int)
            /// Text with newlines and tabs (`TextField.multiLine`).
            case multiline(maxLength: Int)
            /// An ISO 8601 time.
            case timestamp
            /// A calendar date YYYY-MM-DD.
            case date
            /// A non-negative integer.
            case integer
            /// A finite non-negative number.
            case real
            /// 0 or 1.
            case flag
            /// One of these values.
            case oneOf([String])
            /// 64 lowercase hexadecimal characters.
            case sha256
        }

        public let name: String
        public let kind: Kind
        /// An insert must carry it, and it is never null.
        public let required: Bool
        /// It may change after the insert.
        public let mutable: Bool
        /// How a message to a user names it ("Given name").
        public let label: String

        public init(_ name: String, _ kind: Kind, required: Bool = true, mutable: Bool = false, label: String? = nil) {
            self.name = name
            self.kind = kind
            self.required = required
            self.mutable = mutable
            self.label = label ?? (name.prefix(1).uppercased() + name.dropFirst().replacingOccurrences(of: "_", with: " "))
        }

        /// The limit of a text field, characters.
        public var maxLength: Int? {
            switch kind {
            case .text(let n), .multiline(let n): n
            default: nil
            }
        }
    }

    public let entity: EntityKind
    /// The table in the local store.
    public let table: String
    /// In table order, `id` first.
    public let fields: [Field]
    private let index: [String: Int]

    init(_ entity: EntityKind, table: String, _ fields: [Field]) {
        self.entity = entity
        self.table = table
        self.fields = fields
        index = Dictionary(uniqueKeysWithValues: fields.enumerated().map { ($1.name, $0) })
    }

    public subscript(name: String) -> Field? { index[name].map { fields[$0] } }

    /// A user's value for text field `name`, checked with its label and limit by `TextField`
    /// (trimmed when single-line). Throws `ClinicError.invalidInput` naming the field.
    public func text(_ value: String, _ name: String) throws -> String {
        guard let field = self[name], let max = field.maxLength else { preconditionFailure("\(name) is not a text field of \(entity)") }
        if case .multiline = field.kind { return try TextField.multiLine(value, field: field.label, maxLength: max) }
        return try TextField.singleLine(value, field: field.label, maxLength: max)
    }

    /// Fields an insert must carry.
    public var required: Set<String> { Set(fields.filter(\.required).map(\.name)) }

    public static func of(_ entity: EntityKind) -> EntitySchema {
        switch entity {
        case .patient: patient
        case .recording: recording
        case .assessment: assessment
        }
    }

    /// Patients are edited field by field (all but `id` and `created_at`); deletes are a tombstone.
    public static let patient = EntitySchema(.patient, table: "patients", [
        Field("id", .uuid),
        Field("external_id", .text(maxLength: 64), required: false, mutable: true, label: "External id"),
        Field("given_name", .text(maxLength: 200), mutable: true),
        Field("family_name", .text(maxLength: 200), mutable: true),
        Field("sex", .oneOf(Sex.allCases.map(\.rawValue)), required: false, mutable: true),
        Field("birth_date", .date, required: false, mutable: true),
        Field("age_group", .oneOf(AgeGroup.allCases.map(\.rawValue)), required: false, mutable: true),
        Field("notes", .multiline(maxLength: TextField.multiLineLimit), required: false, mutable: true),
        Field("created_at", .timestamp, mutable: true),
        Field("updated_at", .timestamp, mutable: true),
        Field("deleted", .flag, mutable: true),
    ])

    /// Recordings are immutable once stored; only `deleted` changes.
    public static let recording = EntitySchema(.recording, table: "recordings", [
        Field("id", .uuid),
        Field("patient_id", .uuid),
        Field("location", .oneOf(AuscultationLocation.allCases.map(\.rawValue))),
        Field("recorded_at", .timestamp),
        Field("operator", .text(maxLength: 200), required: false),
        Field("device", .text(maxLength: 200), required: false),
        Field("original_filename", .text(maxLength: 255), label: "File name"),
        Field("original_format", .text(maxLength: 64)),
        Field("original_sha256", .sha256),
        Field("original_size", .integer),
        Field("stored_format", .text(maxLength: 64)),
        Field("sample_rate", .integer),
        Field("channels", .integer),
        Field("frames", .integer),
        Field("duration", .real),
        Field("audio_sha256", .sha256),
        Field("audio_size", .integer),
        Field("samples_sha256", .sha256),
        Field("created_at", .timestamp),
        Field("deleted", .flag, mutable: true),
    ])

    /// Assessments are append-only.
    public static let assessment = EntitySchema(.assessment, table: "assessments", [
        Field("id", .uuid),
        Field("recording_id", .uuid),
        Field("kind", .text(maxLength: 64), label: "Assessment kind"),
        Field("model", .text(maxLength: 128)),
        Field("model_version", .text(maxLength: 64)),
        Field("result", .text(maxLength: 65_536)),
        Field("created_at", .timestamp),
    ])
}
