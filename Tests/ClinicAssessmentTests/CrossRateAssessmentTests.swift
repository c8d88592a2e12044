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
        // A call can only be the same at every rate when the probability is not on the model's
        // cut point: resampling moves p by up to a few thousandths (measured below), so a
        // recording within `margin` of a cut is checked by its probability alone (and the test says so).
        let margin = 0.01
        func onCut(_ p: Double?, _ cuts: [Double]) -> Bool { p.map { p in cuts.contains { abs($0 - p) < margin } } ?? false }
        let q = assessor.quality.file, a = assessor.abnormal.file, m = assessor.murmur.file
        let qualityOnCut = onCut(reference.quality.probability, (q.grades ?? []) + [q.threshold])
        let abnormalOnCut = onCut(reference.abnormal.probability, [a.threshold]), murmurOnCut = onCut(reference.murmur.probability, [m.threshold] + (m.uncertain ?? []))
        for (task, on) in [("quality", qualityOnCut), ("abnormal", abnormalOnCut), ("murmur", murmurOnCut)] where on {
            print("\(file): \(task) p is within \(margin) of a cut point: its call is checked by p alone")
        }
        for rate in [4_000, 8_000, 44_100] {
            // Upsampling overshoots full scale by a hair on loud peaks; a device would clip there too.
            let up = try Resampler.resampleExtendingEdges(x, from: 2_000, to: Double(rate), quality: .veryHigh).map { max(-1, min(1, $0)) }
            for format in [AudioFileFormat.wav16, .flac16] {
                let url = FileManager.default.temporaryDirectory.appending(path: "rate-\(UUID().uuidString).\(format == .wav16 ? "wav" : "flac")")
                defer { try? FileManager.default.removeItem(at: url) }
                try AudioWriter.write(samples: up, sampleRate: rate, format: format, to: url.path)
                let got = try assessor.assess(file: url.path)
                #expect(qualityOnCut || (got.quality.grade == reference.quality.grade && got.quality.acceptable == reference.quality.acceptable),
                        "\(file) at \(rate) Hz \(format): \(got.summary) vs \(reference.summary)")
                // (the quality decision gates both calls: unsure when unacceptable, no murmur call when very bad)
                #expect(qualityOnCut || ((abnormalOnCut || got.abnormal.call == reference.abnormal.call) && (murmurOnCut || got.murmur.call == reference.murmur.call)),
                        "\(file) at \(rate) Hz \(format): \(got.summary) vs \(reference.summary)")
                for (a, b) in [(got.quality.probability, reference.quality.probability), (got.abnormal.probability, reference.abnormal.probability),
                               (got.murmur.probability, reference.murmur.probability)] {
                    if let a, let b { worst = max(worst, abs(a - b)) }
                }
            }
        }
        print("\(file): \(reference.summary); largest probability change over 4, 8, 44.1 kHz as WAV and FLAC: \(String(format: "%.4f", worst))")
        #expect(worst < 0.05)
        #expect(worst < margin || !(qualityOnCut || abnormalOnCut || murmurOnCut), "p moved \(worst), more than the cut margin \(margin)")
    }
}
