import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// The cnn kind of model file (format version 2) on small hand-made networks: what it computes,
/// what it refuses, and what the assessor does without a patch. The shipped network is checked
/// against PyTorch in `ParityTests`.
@Suite struct PatchNetworkTests {
    /// One 3 × 3 conv (1 → 1 channel) whose only weight is at (`ky`, `kx`), then the dense layer.
    static func file(task: String = "murmur", version: Int = 2, ky: Int = 1, kx: Int = 1, bands: Int = 32, weights: Int = 9,
                     dense: Double = 1, denseBias: Double = 0) -> String {
        var w = Array(repeating: "0.0", count: weights)
        if ky * 3 + kx < weights { w[ky * 3 + kx] = "1.0" }
        return """
            {"format": "clinic-model", "format_version": \(version), "task": "\(task)", "name": "\(task)-cnn-test", "version": "t1",
             "feature_set": "assess-v1", "features": [], "impute": [], "mean": [], "scale": [], "kind": "cnn",
             "cnn": {"bands": \(bands), "frames": 96, "band_mean": [\(Array(repeating: "0.0", count: bands).joined(separator: ","))],
                     "band_scale": [\(Array(repeating: "1.0", count: bands).joined(separator: ","))],
                     "conv": [{"in": 1, "out": 1, "kernel": 3, "weight": [\(w.joined(separator: ","))], "bias": [0.0]}],
                     "dense": {"weight": [\(dense)], "bias": \(denseBias)}},
             "platt": {"a": 1.0, "b": 0.0}, "threshold": 0.5, "positive": "present", "negative": "absent"}
            """
    }

    /// A 32 × 96 patch, zero but for `value` at (band, frame).
    static func patch(band: Int, frame: Int, value: Double = 1) -> FrameMatrix {
        var v = [Double](repeating: 0, count: 32 * 96)
        v[frame * 32 + band] = value
        return FrameMatrix(rows: 32, frames: 96, values: v)
    }

    @Test func theConvolutionIsZeroPaddedAndReadsBandsAsRowsAndFramesAsColumns() throws {
        // The kernel's (0, 0) weight reads x[row - 1][col - 1]: a one at band 31 lands in row 32,
        // outside the 32 rows; the (2, 0) weight reads x[row + 1][col - 1]: it lands in row 30.
        // After ReLU, 2 × 2 max pool (16 × 48) and the mean, one cell of 768 holds 1.
        let p = Self.patch(band: 31, frame: 0)
        let outside = try Model(json: Data(Self.file(ky: 0, kx: 0).utf8))
        let inside = try Model(json: Data(Self.file(ky: 2, kx: 0).utf8))
        #expect(outside.readsPatches && inside.readsPatches)
        #expect(try #require(outside.patchProbabilities([p])) == [0.5])
        #expect(try abs(#require(inside.patchProbabilities([p]))[0] - 1 / (1 + exp(-1.0 / 768))) < 1e-7)
        // Frames run along the columns: a one at frame 95 seen through (1, 0) (x[row][col - 1])
        // lands in column 96, off the edge; through (1, 2) (x[row][col + 1]) in column 94.
        let edge = Self.patch(band: 4, frame: 95)
        #expect(try #require(try Model(json: Data(Self.file(ky: 1, kx: 0).utf8)).patchProbabilities([edge])) == [0.5])
        #expect(try abs(#require(try Model(json: Data(Self.file(ky: 1, kx: 2).utf8)).patchProbabilities([edge]))[0] - 1 / (1 + exp(-1.0 / 768))) < 1e-7)
    }

    @Test func aRecordingsMarginIsTheLogitOfItsPatchesMeanSigmoid() throws {
        // Centre weight only, dense 2, bias -1: a patch of all 0.5 gives z 0, all -1 gives -1 (ReLU).
        let m = try Model(json: Data(Self.file(dense: 2, denseBias: -1).utf8))
        let half = FrameMatrix(rows: 32, frames: 96, values: Array(repeating: 0.5, count: 32 * 96))
        let negative = FrameMatrix(rows: 32, frames: 96, values: Array(repeating: -1, count: 32 * 96))
        let mean = (0.5 + 1 / (1 + exp(1.0))) / 2
        let z = try #require(m.margin(patches: [half, negative]))
        #expect(abs(z - log(mean / (1 - mean))) < 1e-6)
        #expect(m.margin(patches: []) == nil)
    }

    @Test(arguments: [
        (PatchNetworkTests.file(version: 1), "needs format version 2"),
        (PatchNetworkTests.file(version: 4), "version 1, 2 or 3"),
        (PatchNetworkTests.file(weights: 8), "conv layer 0 does not fit"),
        (PatchNetworkTests.file(bands: 16), "32 × 96"),
        (PatchNetworkTests.file().replacingOccurrences(of: #""weight": [1.0], "bias": 0.0"#, with: #""weight": [1.0, 2.0], "bias": 0.0"#), "dense needs 1"),
        (PatchNetworkTests.file().replacingOccurrences(of: #""cnn": {"#, with: #""cnx": {"#), "without a cnn section"),
    ] as [(String, String)])
    func aMalformedNetworkIsRefusedSayingWhy(json: String, says: String) throws {
        let error = #expect(throws: ModelError.self) { try Model(json: Data(json.utf8)) }
        #expect(error?.description.contains(says) == true, "\(error?.description ?? "")")
    }

    @Test func onlyTheMurmurModelMayBeANetwork() throws {
        let grades = #", "grades": [0.2, 0.4, 0.6, 0.8]"#
        let quality = try ModelTests.model(ModelTests.file(task: "quality", extra: grades))
        let abnormal = try ModelTests.model(ModelTests.file(task: "abnormal"))
        let cnnQuality = try Model(json: Data(Self.file(task: "quality").utf8))
        let error = #expect(throws: ModelError.self) {
            try Assessor(quality: cnnQuality, abnormal: abnormal, murmur: Model(json: Data(Self.file().utf8)))
        }
        #expect(error?.description.contains("cnn only for murmur") == true)
        #expect(throws: Never.self) { try Assessor(quality: quality, abnormal: abnormal, murmur: Model(json: Data(Self.file().utf8))) }
    }

    @Test func withoutAPatchTheMurmurCallIsUnknownAndTheRestStands() throws {
        let grades = #", "grades": [0.2, 0.4, 0.6, 0.8]"#
        let a = try Assessor(quality: ModelTests.model(ModelTests.file(task: "quality", extra: grades)),
                             abnormal: ModelTests.model(ModelTests.file(task: "abnormal")),
                             murmur: Model(json: Data(Self.file(dense: 40).utf8)))
        let good = ModelTests().features(rms: 5, snr: 5)
        let none = a.assess(good, patches: [], duration: 3.02)
        #expect(none.quality.acceptable && none.abnormal.call != "unsure")
        #expect(none.murmur.call == "unknown" && none.murmur.probability == nil && none.murmur.confidence == nil)
        // With a loud patch the same network calls present.
        let loud = FrameMatrix(rows: 32, frames: 96, values: Array(repeating: 1, count: 32 * 96))
        let some = a.assess(good, patches: [loud], duration: 20)
        #expect(some.murmur.call == "present" && (some.murmur.probability ?? 0) > 0.99)
    }
}
