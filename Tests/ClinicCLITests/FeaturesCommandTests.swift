import Foundation
import Testing

/// `clinic features`: output, JSON and exit codes.
@Suite struct FeaturesCommandTests {
    @Test func printsTheQAQCFeaturesOfASample() throws {
        let r = try clinic(["features", sample("physionet2016_b0001.flac"), "--json"], store: nil)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(r.json as? [String: Any])
        #expect(json["feature_set"] as? String == "qaqc-v1")
        #expect(json["analysis_rate"] as? Double == 2000)
        #expect(json["sample_rate"] as? Int == 2000)
        let features = try #require(json["features"] as? [String: Double])
        #expect(features.count == 37)
        #expect(features["mfcc12_std"] != nil && features["snr_db"] != nil)
        let text = try clinic(["features", sample("physionet2016_b0001.flac")], store: nil)
        #expect(text.status == 0 && text.stdout.contains("spectral_centroid"))
    }

    @Test func badInputExitsWithTheDocumentedCodes() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "clinic-features-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appending(path: "notes.wav")
        try Data("not audio".utf8).write(to: text)
        #expect(try clinic(["features", text.path], store: nil).status == 3)
        #expect(try clinic(["features", dir.appending(path: "missing.wav").path], store: nil).status == 3)
        #expect(try clinic(["features", "--set", "qaqc-v9", sample("physionet2016_b0001.flac")], store: nil).status == 64)
    }
}

/// `clinic features --manifest CSV --root DIR --out OUT.csv`: one row per manifest row, a
/// per-row error column, the batch goes on, the output is whole or absent.
@Suite struct FeaturesBatchTests {
    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appending(path: "clinic-batch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appending(path: "audio"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sample("physionet2016_b0001.flac"), toPath: dir.appending(path: "audio/good.flac").path)
        try FileManager.default.copyItem(atPath: sample("circor2022_13918_AV.flac"), toPath: dir.appending(path: "audio/good2.flac").path)
        try Data("not audio".utf8).write(to: dir.appending(path: "audio/notes.wav"))
        return dir
    }

    @Test func writesOneRowPerManifestRowWithErrorsInTheirColumn() throws {
        let dir = try folder(); defer { try? FileManager.default.removeItem(at: dir) }
        // CRLF line ends and a quoted field with a comma, as spreadsheets write them.
        let manifest = "path,dataset,diagnosis\r\naudio/good.flac,physionet2016,\"N, checked\"\r\naudio/notes.wav,x,\r\naudio/missing.flac,x,\r\naudio/good2.flac,circor2022,\r\n"
        try Data(manifest.utf8).write(to: dir.appending(path: "manifest.csv"))
        let out = dir.appending(path: "features.csv")
        let r = try clinic(["features", "--manifest", dir.appending(path: "manifest.csv").path, "--out", out.path,
                            "--set", "assess-v1", "--json"], store: nil)
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(r.json as? [String: Any])
        #expect(summary["rows"] as? Int == 4 && summary["succeeded"] as? Int == 2 && summary["failed"] as? Int == 2)
        let text = try String(contentsOf: out, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 5)
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(Array(header.prefix(5)) == ["path", "dataset", "diagnosis", "feature_set", "error"])
        #expect(header.count == 5 + 45 && header.last == "sample_entropy")
        #expect(lines[1].hasPrefix("audio/good.flac,physionet2016,\"N, checked\",assess-v1,,"))
        #expect(lines[2].contains("not audio") && lines[2].hasSuffix(String(repeating: ",", count: 44)))
        #expect(lines[3].contains("No file at the path given"))
        // The features equal the single-file command's.
        let single = try clinic(["features", dir.appending(path: "audio/good2.flac").path, "--set", "assess-v1", "--json"], store: nil)
        // Read the numbers from the text: JSONSerialization on Linux can be off by an ulp.
        var features: [String: Double] = [:]
        for line in single.stdout.split(separator: "\n") {
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \",")) }
            if parts.count == 2, let v = Double(parts[1]) { features[parts[0]] = v }
        }
        let values = lines[4].split(separator: ",", omittingEmptySubsequences: false).suffix(45).map { Double($0)! }
        for (name, value) in zip(header.suffix(45), values) { #expect(features[name] == value, "\(name)") }
    }

    @Test func withCycleTheSegmentersTimingFeaturesFollowAndEqualWhatAssessReports() throws {
        let dir = try folder(); defer { try? FileManager.default.removeItem(at: dir) }
        try Data("path\naudio/good2.flac\naudio/notes.wav\n".utf8).write(to: dir.appending(path: "manifest.csv"))
        let out = dir.appending(path: "features.csv")
        let r = try clinic(["features", "--manifest", dir.appending(path: "manifest.csv").path, "--out", out.path, "--set", "assess-v1", "--cycle"], store: nil)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        // 19 timing and amplitude features, then 6 cycle-aligned spectral ones per band of 100–200, 200–400, 400–700 Hz and the tilt.
        let nCycle = 19 + 6 * 3 + 1
        #expect(header.count == 3 + 45 + nCycle && header[3 + 45] == "cycle.n_cycles" && header.last == "cycle.sys_dia_tilt_logpow_400_700_100_200", "\(header)")
        #expect(lines[2].count == header.count && lines[2].suffix(nCycle).allSatisfy(\.isEmpty), "a failed row has empty cycle cells")
        // The same numbers clinic assess --json shows as the cycle's timing.
        let assess = try clinic(["assess", "--json", dir.appending(path: "audio/good2.flac").path], store: nil)
        let shown = try #require(assess.json as? [[String: Any]])
        let timing = try #require(((shown[0]["report"] as? [String: Any])?["cycle"] as? [String: Any])?["timing"] as? [String: Any])
        var compared = 0
        for (name, cell) in zip(header.suffix(nCycle), lines[1].suffix(nCycle)) {
            let key = String(name.dropFirst("cycle.".count))
            if let v = timing[key] as? Double {
                #expect(abs((Double(cell) ?? .nan) - v) <= 1e-12 * max(1, abs(v)), "\(name): \(cell) vs \(v)")
                compared += 1
            } else {
                #expect(cell.isEmpty, "\(name) is undefined in the report but \(cell) in the CSV")
            }
        }
        #expect(compared >= nCycle - 4)
        let refused = try clinic(["features", "--manifest", dir.appending(path: "manifest.csv").path, "--out", out.path, "--cycle"], store: nil)
        #expect(refused.status == 64 && refused.stderr.contains("--cycle needs --set assess-v1"), "\(refused.stderr)")
    }

    @Test func refusesBadManifestsAndWritesNothingWhenNoRowWorks() throws {
        let dir = try folder(); defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appending(path: "features.csv")
        try Data("file,label\naudio/good.flac,1\n".utf8).write(to: dir.appending(path: "nopath.csv"))
        let noPath = try clinic(["features", "--manifest", dir.appending(path: "nopath.csv").path, "--out", out.path], store: nil)
        #expect(noPath.status == 3 && noPath.stderr.contains("`path` column"))
        try Data("path\naudio/good.flac\n".utf8).write(to: dir.appending(path: "m.csv"))
        let wrongRoot = try clinic(["features", "--manifest", dir.appending(path: "m.csv").path, "--root", dir.appending(path: "nowhere").path, "--out", out.path], store: nil)
        #expect(wrongRoot.status == 3 && wrongRoot.stderr.contains("--root"))
        let missing = try clinic(["features", "--manifest", dir.appending(path: "none.csv").path, "--out", out.path], store: nil)
        #expect(missing.status == 3)
        #expect(!FileManager.default.fileExists(atPath: out.path))
        // Every row failing: the file is written (it says why) and the exit code is 3.
        try Data("path\naudio/notes.wav\n".utf8).write(to: dir.appending(path: "bad.csv"))
        let none = try clinic(["features", "--manifest", dir.appending(path: "bad.csv").path, "--out", out.path], store: nil)
        #expect(none.status == 3 && none.stderr.contains("No recording"))
        // An output folder that does not exist: exit 8, nothing left behind.
        let nowhere = try clinic(["features", "--manifest", dir.appending(path: "m.csv").path, "--out", dir.appending(path: "no/such/out.csv").path], store: nil)
        #expect(nowhere.status == 8)
        // Usage errors.
        #expect(try clinic(["features", "--manifest", dir.appending(path: "m.csv").path], store: nil).status == 64)
        #expect(try clinic(["features", sample("physionet2016_b0001.flac"), "--manifest", dir.appending(path: "m.csv").path, "--out", out.path], store: nil).status == 64)
        #expect(try clinic(["features"], store: nil).status == 64)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }
}
