import ClinicAssessment
import ClinicAudio
import Foundation
import Testing

/// The same heart sound recorded at another rate, as WAV or FLAC, gets the same grade and the
/// same calls: every sample recording upsampled (libsoxr VHQ, edges extended) to 4, 8 and
/// 44.1 kHz and written in both formats.
@Suite struct CrossRateAssessmentTests {
    static let files = ["circor2022_13918_AV.flac", "circor2022_13918_PV.flac", "circor2022_31737_AV.flac",
                        "circor2022_68318_TV.flac", "physionet2016_b0001.flac"]

    @Test(arguments: files)
    func aRecordingAtAnyRateAndFormatGetsTheSameAssessment(_ file: String) throws {
        let assessor = try Assessor.shipped()
        let path = ParityTests.root.appending(path: "Samples/\(file)").path
        let reference = try assessor.assess(file: path)
        let x = Mixdown.mono(try AudioReader.read(path: path))
        var worst = 0.0
        for rate in [4_000, 8_000, 44_100] {
            // Upsampling overshoots full scale by a hair on loud peaks; a device would clip there too.
            let up = try Resampler.resampleExtendingEdges(x, from: 2_000, to: Double(rate), quality: .veryHigh).map { max(-1, min(1, $0)) }
            for format in [AudioFileFormat.wav16, .flac16] {
                let url = FileManager.default.temporaryDirectory.appending(path: "rate-\(UUID().uuidString).\(format == .wav16 ? "wav" : "flac")")
                defer { try? FileManager.default.removeItem(at: url) }
                try AudioWriter.write(samples: up, sampleRate: rate, format: format, to: url.path)
                let got = try assessor.assess(file: url.path)
                #expect(got.quality.grade == reference.quality.grade && got.quality.acceptable == reference.quality.acceptable,
                        "\(file) at \(rate) Hz \(format): \(got.summary) vs \(reference.summary)")
                #expect(got.abnormal.call == reference.abnormal.call && got.murmur.call == reference.murmur.call,
                        "\(file) at \(rate) Hz \(format): \(got.summary) vs \(reference.summary)")
                for (a, b) in [(got.quality.probability, reference.quality.probability), (got.abnormal.probability, reference.abnormal.probability),
                               (got.murmur.probability, reference.murmur.probability)] {
                    if let a, let b { worst = max(worst, abs(a - b)) }
                }
            }
        }
        print("\(file): \(reference.summary); largest probability change over 4, 8, 44.1 kHz as WAV and FLAC: \(String(format: "%.4f", worst))")
        #expect(worst < 0.05)
    }
}
