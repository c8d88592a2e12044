@testable import ClinicAudio
import Foundation
import Testing

/// STFT, mel, power_to_db, MFCC and frame features against librosa 0.11
/// (fixtures in Tests/Fixtures/dsp, Double tolerances from index.json).
@Suite struct SpectralParityTests {
    @Test(arguments: ["2000", "4000"])
    func melFilterBankMatchesLibrosa(_ rate: String) {
        let want = (DSPFixtures.filters["mel_filterbank"] as! [String: Any])[rate] as! [String: Any]
        let sr = Double(rate)!
        let tol = DSPFixtures.tolerance("mel_filterbank")
        var edges = ParityReport()
        for (got, w) in zip(Mel.bandEdges(bands: 32, fmin: 0, fmax: sr / 2), want["band_edges_hz"] as! [Double]) {
            edges.check(got, w, tol, at: "edge")
        }
        edges.expectPass("mel band edges @\(rate)", tol)
        let bank = Mel.filterBank(sampleRate: sr, fftLength: 256, bands: 32)
        var report = ParityReport()
        for (r, row) in (want["weights"] as! [[Double]]).enumerated() {
            for (k, w) in row.enumerated() { report.check(bank[r][k], w, tol, at: "[\(r), \(k)]") }
        }
        report.expectPass("mel filterbank @\(rate)", tol)
    }

    @Test(arguments: DSPFixtures.names)
    func stftMelAndMFCCMatchLibrosa(_ name: String) throws {
        let f = try DSPFixture(name)
        let power = STFT.power(f.x)
        expectParity(STFT.magnitude(f.x), f.dict("stft", "magnitude"), DSPFixtures.tolerance("stft_magnitude_power"),
                     "stft magnitude \(name)")
        expectParity(power, f.dict("stft", "power"), DSPFixtures.tolerance("stft_magnitude_power"), "stft power \(name)")

        let bank = Mel.filterBank(sampleRate: f.sampleRate, fftLength: 256, bands: 32)
        let mel = Mel.spectrogram(power, filterBank: bank)
        expectParity(mel, f.dict("mel", "melspectrogram"), DSPFixtures.tolerance("melspectrogram"), "melspectrogram \(name)")
        let db = Mel.powerToDB(mel)
        let maxDB = f.dict("mel", "power_to_db", "params")["max_db_over_all_frames"] as! Double
        #expect(abs(db.values.max()! - maxDB) <= 1e-6)
        expectParity(db, f.dict("mel", "power_to_db", "output"), DSPFixtures.tolerance("power_to_db"), "power_to_db \(name)")
        expectParity(Mel.mfcc(mel, count: 13), f.dict("mel", "mfcc", "output"), DSPFixtures.tolerance("mfcc"), "mfcc \(name)")
    }

    @Test(arguments: DSPFixtures.names)
    func frameFeaturesMatchLibrosa(_ name: String) throws {
        let f = try DSPFixture(name)
        let s = STFT.magnitude(f.x)
        let freqs = STFTConfig().binFrequencies(sampleRate: f.sampleRate)
        func ref(_ key: String) -> [String: Any] { f.dict("features", key, "output") }
        expectParity(SpectralFeatures.centroid(s, frequencies: freqs), ref("spectral_centroid"),
                     DSPFixtures.tolerance("spectral_centroid_bandwidth"), "spectral centroid \(name)")
        expectParity(SpectralFeatures.bandwidth(s, frequencies: freqs), ref("spectral_bandwidth"),
                     DSPFixtures.tolerance("spectral_centroid_bandwidth"), "spectral bandwidth \(name)")
        expectParity(SpectralFeatures.rolloff(s, frequencies: freqs, percent: 0.85), ref("spectral_rolloff"),
                     DSPFixtures.tolerance("spectral_rolloff"), "spectral rolloff \(name)")
        expectParity(SpectralFeatures.flatness(s), ref("spectral_flatness"),
                     DSPFixtures.tolerance("spectral_flatness"), "spectral flatness \(name)")
        expectParity(SpectralFeatures.zeroCrossingRate(f.x), ref("zero_crossing_rate"),
                     DSPFixtures.tolerance("zero_crossing_rate"), "zero-crossing rate \(name)")
        expectParity(SpectralFeatures.rms(f.x), ref("rms"), DSPFixtures.tolerance("rms"), "rms \(name)")
    }
}
