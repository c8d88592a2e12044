import ArgumentParser
import ClinicAssessment
import ClinicCore
import ClinicStore
import Foundation

struct PatientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient",
        abstract: "Register, find, change and delete patients.",
        subcommands: [Add.self, List.self, Show.self, Update.self, Delete.self]
    )

    /// The editable fields, shared by add and update.
    struct Fields: ParsableArguments {
        @Option(help: "Given (first) name.") var givenName: String?
        @Option(help: "Family name.") var familyName: String?
        @Option(help: "female, male, other or unknown.") var sex: String?
        @Option(help: ArgumentHelp("Birth date.", valueName: "YYYY-MM-DD")) var birthDate: String?
        @Option(help: "neonate, infant, child, adolescent, adult or elderly (when the birth date is unknown).") var ageGroup: String?
        @Option(help: "The clinic's own number for the patient.") var externalId: String?
        @Option(help: "Free-text notes.") var notes: String?

        var input: PatientInput {
            PatientInput(externalID: externalId, givenName: givenName, familyName: familyName, sex: sex,
                         birthDate: birthDate, ageGroup: ageGroup, notes: notes)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a patient and print the new id.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var fields: Fields
        @OptionGroup var output: JSONFlag

        func validate() throws {
            guard fields.givenName != nil, fields.familyName != nil else {
                throw ValidationError("A patient needs --given-name and --family-name.")
            }
        }

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let patient = try store.addPatient(fields.input)
            if output.json { try Output.json(patient) } else { print(patient.id.lowercased) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List patients, or find them by name or external id.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "Words to find in names or external id (each matched as a word prefix).") var search: String?
        @Option(help: "Show at most this many (0: all).") var limit = 100
        @Flag(help: "Include deleted patients.") var includeDeleted = false
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let patients = try store.patients(search: search, includeDeleted: includeDeleted, limit: limit == 0 ? nil : limit + 1)
            let shown = limit == 0 ? patients : Array(patients.prefix(limit))
            if output.json { try Output.json(shown); return }
            if shown.isEmpty { Output.note(search == nil ? "No patients yet. Add one with `clinic patient add`." : "No patient matches.") }
            for p in shown { print(PatientCommand.line(p)) }
            if shown.count < patients.count { Output.note("Showing the first \(limit); narrow with --search or raise --limit.") }
        }
    }

    static func line(_ p: Patient) -> String {
        let age = p.birthDate ?? p.ageGroup?.rawValue ?? "-"
        var text = "\(p.id.lowercased)  \(p.familyName), \(p.givenName)  \(p.sex?.rawValue ?? "-")  \(age)"
        if let ext = p.externalID { text += "  [\(ext)]" }
        if p.deleted { text += "  (deleted)" }
        return text
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one patient and their recordings.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The patient id (or its first 8 or more characters).") var id: String
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let patient = try store.patient(try store.resolvePatientID(id))
            let recordings = try store.recordings(patientID: patient.id, includeDeleted: true)
            // Each recording's latest assessment, and the patient's murmur call across the live ones.
            var latest: [UUID: Assessment] = [:]
            for r in recordings { latest[r.id] = try store.assessments(recordingID: r.id).last }
            let calls = recordings.filter { !$0.deleted }.map { r -> (call: String, acceptable: Bool, grade: QualityGrade) in
                let stored = latest[r.id].flatMap(AssessmentCLI.Stored.init)
                return (stored?.murmur.call ?? "unknown", stored?.quality.acceptable ?? false,
                        QualityGrade.allCases.first { $0.label == stored?.quality.grade } ?? .veryBad)
            }
            let murmur = try ((try? AssessmentCLI.assessor()) ?? Assessor.shipped()).patientMurmur(calls)
            if output.json {
                struct Shown: Encodable {
                    var patient: Patient; var recordings: [Recording]; var assessments: [String: Assessment]; var murmur: String
                }
                try Output.json(Shown(patient: patient, recordings: recordings,
                                      assessments: Dictionary(uniqueKeysWithValues: latest.map { ($0.key.lowercased, $0.value) }), murmur: murmur))
                return
            }
            print("Patient     \(patient.id.lowercased)\(patient.deleted ? "  (deleted)" : "")")
            print("Name        \(patient.givenName) \(patient.familyName)")
            print("Sex         \(patient.sex?.rawValue ?? "-")")
            print("Birth date  \(patient.birthDate ?? "-")")
            print("Age group   \(patient.ageGroup?.rawValue ?? "-")")
            print("External id \(patient.externalID ?? "-")")
            if let notes = patient.notes { print("Notes       \(notes)") }
            print("Registered  \(patient.createdAt)   Updated \(patient.updatedAt)")
            print("Recordings  \(recordings.count)")
            for r in recordings {
                print("  " + RecordingCommand.line(r))
                if let a = latest[r.id] { print("      " + (AssessmentCLI.Stored(a)?.line ?? "assessment unreadable (\(a.model) \(a.modelVersion))")) }
            }
            print("Murmur      \(murmur) (from \(calls.count) recording(s); present if any recording's is)")
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a patient's details.",
            discussion: "Only the options given change. An empty value (--notes \"\") clears an optional field."
        )
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The patient id (or its first 8 or more characters).") var id: String
        @OptionGroup var fields: Fields
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let patient = try store.updatePatient(try store.resolvePatientID(id), fields.input)
            if output.json { try Output.json(patient) } else { print(PatientCommand.line(patient)) }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a patient.",
            discussion: "The patient is marked deleted (so sync can tell the server); their recordings are kept."
        )
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The patient id (or its first 8 or more characters).") var id: String
        @OptionGroup var output: JSONFlag

        func run() throws {
            let store = try ClinicStore.open(at: storeOptions.url)
            let patientID = try store.resolvePatientID(id)
            try store.deletePatient(patientID)
            if output.json { try Output.json(["id": patientID.lowercased, "deleted": "true"]) } else { print("Deleted patient \(patientID.lowercased)") }
        }
    }
}
