@testable import ClinicAudio
import Foundation
import Testing

/// libsoxr HQ resampling against `librosa.resample(res_type='soxr_hq')` (python-soxr).
@Suite struct ResampleParityTests {
    @Test(arguments: DSPFixtures.names)
    func resamplingMatchesLibrosaSoxrHQ(_ name: String) throws {
        let f = try DSPFixture(name)
        let params = f.dict("resample", "params")
        let y = try Resampler.resample(f.x, from: params["orig_sr"] as! Double, to: params["target_sr"] as! Double)
        expectParity(y, f.dict("resample", "output"), DSPFixtures.tolerance("resample_raw"), "resample raw \(name)")

        // The comparison any resampler should pass: both outputs after the 700 Hz lowpass,
        // samples 32 ..< n-32.
        let lp = f.dict("resample", "output_lowpassed", "params")
        let sos = SOSFilter(sections: lp["sos"] as! [[Double]])
        let filtered = try IIR.sosfiltfilt(sos, y)
        let (n, points) = referencePoints(f.dict("resample", "output_lowpassed", "output"))
        #expect(filtered.count == n)
        var report = ParityReport()
        let tol = DSPFixtures.tolerance("resample_lowpassed")
        for (i, want) in points where i >= 32 && i < n - 32 { report.check(filtered[i], want, tol, at: "[\(i)]") }
        report.expectPass("resample lowpassed \(name)", tol)
    }
}
