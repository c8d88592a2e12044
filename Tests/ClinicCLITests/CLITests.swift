import ClinicCore
import Foundation
import Testing

@Suite struct CLITests {
    @Test func everyCommandHasHelp() throws {
        for command in [[], ["init"], ["patient"], ["patient", "add"], ["patient", "list"], ["patient", "show"],
                        ["patient", "update"], ["patient", "delete"], ["add-recording"], ["recording", "list"],
                        ["recording", "show"], ["recording", "export"], ["log"], ["status"], ["doctor"]] {
            let r = try clinic(command + ["--help"], store: nil)
            #expect(r.status == 0, "\(command)")
            #expect(r.stdout.contains("USAGE"), "\(command)")
        }
    }

    @Test func initThenPatientLifecycle() throws {
        let store = try newStore(); defer { cleanup(store) }
        let again = try clinic(["init"], store: store)
        #expect(again.status == 6 && again.stderr.contains("already exists"))

        let add = try clinic(["patient", "add", "--given-name", "Amina", "--family-name", "Okafor", "--sex", "female",
                              "--birth-date", "2019-03-04", "--external-id", "KE-7", "--json"], store: store)
        #expect(add.status == 0)
        let id = try #require((add.json as? [String: Any])?["id"] as? String)
        #expect(UUID(uuidString: id) != nil)
        let plain = try addPatient(store, "Amir", "Haddad")
        #expect(UUID(uuidString: plain) != nil)

        let list = try clinic(["patient", "list", "--json"], store: store)
        let rows = try #require(list.json as? [[String: Any]])
        #expect(Set(rows.compactMap { $0["id"] as? String }) == [id, plain])

        let found = try clinic(["patient", "list", "--search", "oka", "--json"], store: store)
        #expect((found.json as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
        #expect(try clinic(["patient", "list", "--search", "KE-7"], store: store).stdout.contains(id))

        let show = try clinic(["patient", "show", String(id.prefix(8))], store: store)
        #expect(show.status == 0 && show.stdout.contains("Amina Okafor") && show.stdout.contains("KE-7"))

        let update = try clinic(["patient", "update", id, "--family-name", "Bello", "--json"], store: store)
        #expect((update.json as? [String: Any])?["family_name"] as? String == "Bello")

        #expect(try clinic(["patient", "delete", id], store: store).status == 0)
        let after = try clinic(["patient", "list", "--json"], store: store)
        #expect((after.json as? [[String: Any]])?.count == 1)
        let log = try clinic(["log", "--json"], store: store)
        let ops = (log.json as? [[String: Any]])?.compactMap { $0["op"] as? String }
        #expect(ops == ["insert", "insert", "update", "delete"])
        let seqs = (log.json as? [[String: Any]])?.compactMap { $0["seq"] as? Int }
        #expect(seqs == [1, 2, 3, 4])
    }

    @Test func importListShowExportAndStatus() throws {
        let store = try newStore(); defer { cleanup(store) }
        let patient = try addPatient(store)
        let add = try clinic(["add-recording", "--patient", patient, "--location", "av", "--operator", "Nurse Wanjiru",
                              "--recorded-at", "2026-11-20T09:30:00Z", sample("circor2022_13918_AV.flac")], store: store)
        #expect(add.status == 0, "\(add.stderr)")
        let id = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(UUID(uuidString: id) != nil)

        let json = try clinic(["add-recording", "--patient", patient, "--location", "PV", "--json", sample("circor2022_13918_PV.flac")], store: store)
        let second = try #require(json.json as? [String: Any])
        #expect(second["sample_rate"] as? Int == 2000 && second["location"] as? String == "PV")

        let list = try clinic(["recording", "list", "--patient", patient, "--json"], store: store)
        let rows = try #require(list.json as? [[String: Any]])
        #expect(Set(rows.compactMap { $0["id"] as? String }) == [id, second["id"] as! String])

        let show = try clinic(["recording", "show", id, "--json"], store: store)
        let shown = try #require(show.json as? [String: Any])
        #expect(shown["recorded_at"] as? String == "2026-11-20T09:30:00.000Z" && shown["operator"] as? String == "Nurse Wanjiru")

        let out = store.deletingLastPathComponent().appending(path: "\(UUID().uuidString).wav")
        defer { cleanup(out) }
        let export = try clinic(["recording", "export", id, "--out", out.path], store: store)
        #expect(export.status == 0, "\(export.stderr)")
        // The exported WAV holds the same samples: importing it again is a duplicate.
        let again = try clinic(["add-recording", "--patient", patient, "--location", "AV", out.path], store: store)
        #expect(again.status == 5 && again.stderr.contains(id))
        #expect(try clinic(["recording", "export", id, "--out", out.path], store: store).status == 8)

        let status = try #require(try clinic(["status", "--json"], store: store).json as? [String: Any])
        #expect(status["patients"] as? Int == 1 && status["recordings"] as? Int == 2 && status["changes"] as? Int == 5,
                "a patient, two recordings and their assessments")
        let doctor = try clinic(["doctor", "--json"], store: store)
        #expect(doctor.status == 0 && (doctor.json as? [String: Any])?["clean"] as? Bool == true)
    }

    @Test func exitCodesAreTheDocumentedOnes() throws {
        let missing = FileManager.default.temporaryDirectory.appending(path: "no-store-\(UUID().uuidString)")
        let r = try clinic(["status"], store: missing)
        #expect(r.status == 6 && r.stderr.contains("clinic init"))
        let store = try newStore(); defer { cleanup(store) }
        #expect(try clinic(["patient", "add", "--given-name", "A"], store: store).status == 64)
        #expect(try clinic(["no-such-command"], store: store).status == 64)
        #expect(try clinic(["patient", "show", UUID().uuidString], store: store).status == 4)
        #expect(try clinic(["patient", "add", "--given-name", "A", "--family-name", "B", "--sex", "x"], store: store).status == 3)
    }

    @Test func doctorExitsNonZeroAndSaysWhatIsWrong() throws {
        let store = try newStore(); defer { cleanup(store) }
        let patient = try addPatient(store)
        let add = try clinic(["add-recording", "--patient", patient, "--location", "AV", "--json", sample("circor2022_13918_AV.flac")], store: store)
        let sha = try #require((add.json as? [String: Any])?["audio_sha256"] as? String)
        try FileManager.default.removeItem(at: store.appending(path: "audio/\(sha.prefix(2))/\(sha)"))
        let doctor = try clinic(["doctor"], store: store)
        #expect(doctor.status == 7)
        #expect(doctor.stdout.contains("its audio file is missing"))
    }
}
