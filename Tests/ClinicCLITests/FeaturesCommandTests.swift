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
