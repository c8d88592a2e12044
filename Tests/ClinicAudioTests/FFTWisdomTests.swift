import Foundation
import Testing
@testable import ClinicAudio

/// FFTW wisdom kept between processes (`FFT.keepWisdom`): `clinic` keeps it so a one-shot
/// process does not plan its transforms again. Serialized: it resets the shared plan cache.
@Suite(.serialized) struct FFTWisdomTests {
    func temporaryFile() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appending(path: "wisdom-\(UUID().uuidString)")
        return dir.appending(path: "cache/clinic/fftw-wisdom").path
    }

    @Test func aNewProcessTakesItsPlansFromTheFileWithIdenticalFeatures() throws {
        let file = try temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: ((file as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent) }
        FFT.keepWisdom(in: file)
        defer { FFT.keepWisdom(in: nil) }
        // A length no other test uses, so its transforms are planned here.
        let x = heartbeat(seconds: 7.3, rate: 4_000)
        PlanCache.shared.reset()
        let planned = try FeatureSet.assessV1.compute(x, sampleRate: 4_000)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("(fftw-3"), "the file holds FFTW wisdom")
        PlanCache.shared.reset()  // as a new process: no plans, no wisdom in memory
        let fromWisdom = try FeatureSet.assessV1.compute(x, sampleRate: 4_000)
        // STFT and Welch (256), Hilbert (14,600 forward and inverse), autocorrelation (1,024).
        #expect(PlanCache.shared.plansFromWisdom >= 4)
        #expect(fromWisdom == planned, "the same algorithms, so the same bits")
    }

    @Test func aDamagedFileMeansPlanningAsUsual() throws {
        let file = try temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: ((file as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent) }
        let x = heartbeat(seconds: 6.1, rate: 4_000)
        let reference = try FeatureSet.qaqcV1.compute(x, sampleRate: 4_000)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("(fftw-3.3.10 fftw_wisdom #x1234 (fftw_rdft2_rank_geq2_register 0 #x10048 #x1".utf8).write(to: URL(fileURLWithPath: file))
        FFT.keepWisdom(in: file)
        defer { FFT.keepWisdom(in: nil) }
        PlanCache.shared.reset()
        #expect(try FeatureSet.qaqcV1.compute(x, sampleRate: 4_000) == reference)
        #expect(PlanCache.shared.plansFromWisdom == 0)
        // Rewritten with good wisdom.
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasSuffix(")\n"))
    }
}
