import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// `clinic assess`, and the assessment `add-recording` stores, as a nurse runs them.
@Suite struct AssessCommandTests {
    @Test func filesAreAssessedWithoutAStoreAndABadOneIsNamed() throws {
        let work = FileManager.default.temporaryDirectory.appending(path: "assess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { cleanup(work) }
        let text = work.appending(path: "notes.wav")
        try Data("not audio".utf8).write(to: text)
        let files = [sample("physionet2016_b0001.flac"), sample("circor2022_31737_AV.flac")]
        let r = try clinic(["assess", "--json"] + files, store: nil)
        #expect(r.status == 0, "\(r.stderr)")
        let shown = try #require(r.json as? [[String: Any]])
        #expect(shown.count == 2)
        for s in shown {
            let report = try #require(s["report"] as? [String: Any])
            let quality = try #require(report["quality"] as? [String: Any])
            #expect(["very bad", "bad", "ok", "good", "very good"].contains(quality["grade"] as? String ?? ""))
            let p = try #require(quality["probability"] as? Double)
            #expect(p > 0 && p < 1)
            #expect(["normal", "abnormal", "unsure"].contains((report["abnormal"] as? [String: Any])?["call"] as? String ?? ""))
            #expect(["present", "absent", "unknown"].contains((report["murmur"] as? [String: Any])?["call"] as? String ?? ""))
            #expect((report["models"] as? [String: String])?.keys.sorted() == ["abnormal", "heart_sound", "murmur", "quality", "segmentation", "valve"])
            // The class models: every class's probability, and a call that is one of them (valve: or N, or unsure).
            let sound = try #require(report["heart_sound"] as? [String: Any])
            #expect((sound["probabilities"] as? [String: Double])?.keys.sorted() == ["artifact", "murmur", "normal"])
            #expect(["artifact", "murmur", "normal"].contains(sound["call"] as? String ?? ""))
            let valve = try #require(report["valve"] as? [String: Any])
            #expect((valve["probabilities"] as? [String: Double])?.keys.sorted() == ["AR", "AS", "MR", "MS"])
            let call = valve["call"] as? String ?? ""
            #expect(call == "N" || call == "unsure" || call.split(separator: "+").allSatisfy { ["AR", "AS", "MR", "MS"].contains(String($0)) }, "\(call)")
            // Above very bad, the heart cycle: a heart rate in the searched range and S1 onsets in order.
            if quality["grade"] as? String != "very bad" {
                let cycle = try #require(report["cycle"] as? [String: Any])
                let bpm = try #require(cycle["heart_rate_bpm"] as? Double)
                let onsets = try #require(cycle["s1_onsets_s"] as? [Double])
                #expect((30...220).contains(bpm) && onsets.count >= 3 && onsets == onsets.sorted(), "\(cycle)")
            }
        }
        let human = try clinic(["assess", files[0], text.path], store: nil)
        #expect(human.status == 3 && human.stdout.contains("quality ") && human.stderr.contains("notes.wav") && human.stderr.contains("1 of 2"),
                "\(human.stdout)\(human.stderr)")
        #expect(try clinic(["assess"], store: nil).status == 64, "nothing to assess is a usage error")
    }

    @Test func aNewRecordingIsAssessedAndStoredWithItsAssessmentEvenWhenTooShort() throws {
        let store = try newStore(); defer { cleanup(store) }
        let patient = try addPatient(store)
        let added = try clinic(["add-recording", "--patient", patient, "--location", "AV", sample("circor2022_31737_AV.flac")], store: store)
        #expect(added.status == 0 && added.stderr.contains("Assessment: quality "), "\(added.stderr)")
        let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        // 1.2 s: too short for the models, still stored, with an assessment that says why.
        let short = FileManager.default.temporaryDirectory.appending(path: "short-\(UUID().uuidString).wav")
        defer { cleanup(short) }
        try AudioWriter.write(samples: (0..<2_400).map { sin(Double($0) / 7) * 0.3 }, sampleRate: 2_000, format: .wav16, to: short.path)
        let brief = try clinic(["add-recording", "--patient", patient, "--location", "PV", "--json", short.path], store: store)
        #expect(brief.status == 0, "\(brief.stderr)")
        let assessment = try #require((brief.json as? [String: Any])?["assessment"] as? [String: Any])
        #expect((assessment["quality"] as? [String: Any])?["grade"] as? String == "very bad")
        #expect((assessment["reason"] as? String)?.hasPrefix("1.2 s, too short to assess") == true, "\(assessment)")
        #expect((assessment["abnormal"] as? [String: Any])?["call"] as? String == "unsure")

        // Assessed again with the current models: a new assessment; the old one is kept.
        let again = try clinic(["assess", "--recording", id, "--json"], store: store)
        #expect(again.status == 0, "\(again.stderr)")
        let status = try #require(try clinic(["status", "--json"], store: store).json as? [String: Any])
        #expect(status["changes"] as? Int == 6, "patient, 2 recordings, 3 assessments: \(status)")
        let show = try clinic(["patient", "show", patient], store: store)
        let shown = try #require(try clinic(["patient", "show", patient, "--json"], store: store).json as? [String: Any])
        let latest = try #require(shown["assessments"] as? [String: [String: Any]])
        #expect(latest.count == 2)
        // The patient's call is the shipped rule applied to each recording's latest assessment.
        let calls = latest.values.map { a -> (call: String, acceptable: Bool, grade: QualityGrade) in
            let text = a["result"] as? String ?? "{}"
            let result = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
            let quality = result["quality"] as? [String: Any] ?? [:]
            return ((result["murmur"] as? [String: Any])?["call"] as? String ?? "missing", quality["acceptable"] as? Bool ?? false,
                    QualityGrade.allCases.first { $0.label == quality["grade"] as? String } ?? .veryBad)
        }
        let expected = try Assessor.shipped().patientMurmur(calls)
        #expect(calls.contains { $0.call == "unknown" && !$0.acceptable }, "the short recording is unknown")
        #expect(shown["murmur"] as? String == expected)
        #expect(show.stdout.contains("quality very bad (unacceptable)") && show.stdout.contains("Murmur      \(expected)"), "\(show.stdout)")
        #expect(try clinic(["doctor"], store: store).status == 0)
    }

    @Test func evaluateScoresALabelledManifestAndSkipsTasksWithoutLabels() throws {
        let work = FileManager.default.temporaryDirectory.appending(path: "evaluate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { cleanup(work) }
        let root = URL(fileURLWithPath: sample("physionet2016_b0001.flac")).deletingLastPathComponent().path
        let manifest = work.appending(path: "manifest.csv")
        try """
            path,dataset,record_id,patient_id,quality,abnormal,murmur,murmur_at_location
            physionet2016_b0001.flac,physionet2016,b0001,,acceptable,0,,
            circor2022_13918_AV.flac,circor2022,13918_AV,13918,,,present,present
            circor2022_13918_PV.flac,circor2022,13918_PV,13918,,,present,present
            circor2022_31737_AV.flac,circor2022,31737_AV,31737,,,absent,absent
            missing.flac,circor2022,1_AV,1,,,absent,absent

            """.write(to: manifest, atomically: true, encoding: .utf8)
        let r = try clinic(["evaluate", "--manifest", manifest.path, "--root", root, "--jobs", "2", "--json"], store: nil)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(r.json as? [String: Any])
        #expect(json["recordings"] as? Int == 5 && json["assessed"] as? Int == 4 && json["failed"] as? Int == 1)
        let quality = try #require(json["quality"] as? [String: Any])
        #expect(quality["n"] as? Int == 1 && quality["auc"] is NSNull == false)
        #expect((quality["physionet"] as? [String: Any])?["n"] as? Int == 1)
        let abnormal = try #require(json["abnormal"] as? [String: Any])
        #expect(abnormal["n"] as? Int == 1)
        let murmur = try #require(json["murmur"] as? [String: Any])
        #expect(murmur["n"] as? Int == 2 && murmur["recordings"] as? Int == 3, "two patients, three recordings: \(murmur)")
        let wa = try #require(murmur["weighted_accuracy"] as? Double)
        #expect(wa >= 0 && wa <= 1)
        // No labels at all: every task skipped.
        let bare = work.appending(path: "bare.csv")
        try "path\nphysionet2016_b0001.flac\n".write(to: bare, atomically: true, encoding: .utf8)
        let none = try clinic(["evaluate", "--manifest", bare.path, "--root", root], store: nil)
        #expect(none.status == 0 && none.stdout.contains("no labels"), "\(none.stdout)")
        #expect(try clinic(["evaluate", "--manifest", bare.path, "--root", "/nonexistent"], store: nil).status == 3)
    }

    /// Models that cannot be used (here: a folder with a damaged file) never stop a recording
    /// from being stored: it is kept, without an assessment, and the nurse is told.
    @Test func aRecordingIsStoredEvenWhenTheModelsCannotRun() throws {
        let store = try newStore(); defer { cleanup(store) }
        let broken = FileManager.default.temporaryDirectory.appending(path: "models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        defer { cleanup(broken) }
        try "0000000000000000000000000000000000000000000000000000000000000000  quality.json\n".write(
            to: broken.appending(path: "SHA256SUMS"), atomically: true, encoding: .utf8)
        try "{".write(to: broken.appending(path: "quality.json"), atomically: true, encoding: .utf8)
        let patient = try addPatient(store)
        let added = try clinic(["add-recording", "--patient", patient, "--location", "AV", sample("circor2022_31737_AV.flac")], store: store,
                               environment: ["CLINIC_MODELS": broken.path])
        #expect(added.status == 0 && added.stderr.contains("could not be assessed") && added.stderr.contains("quality.json"), "\(added.stderr)")
        let status = try #require(try clinic(["status", "--json"], store: store).json as? [String: Any])
        #expect(status["recordings"] as? Int == 1 && status["changes"] as? Int == 2, "patient and recording, no assessment: \(status)")
        let assess = try clinic(["assess", "--models", broken.path, sample("circor2022_31737_AV.flac")], store: nil)
        #expect(assess.status == 3 && assess.stderr.contains("cannot be used") && assess.stderr.contains("does not match its checksum"), "\(assess.stderr)")
    }
}
