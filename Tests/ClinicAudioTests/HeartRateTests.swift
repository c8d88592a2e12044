@testable import ClinicAudio
import Foundation
import Testing

/// The heart rate's parabolic refinement stays within half a lag of the chosen lag.
struct HeartRateTests {
    /// At a real peak the vertex is where the parabola says.
    @Test func aRealPeakIsRefinedByTheParabola() {
        // r = 1 - (k - 40.3)^2 / 100 near k = 40: its vertex is at 40.3.
        let r = (0..<200).map { 1 - pow(Double($0) - 40.3, 2) / 100 }
        #expect(abs(FeatureSet.vertexOffset(r, at: 40) - 0.3) < 1e-12)
        #expect(FeatureSet.vertexOffset(r.map { -$0 }, at: 40) == 0)  // curving up: no refinement
    }

    /// At the end of the search range without a real peak, the three points can describe a
    /// parabola whose vertex is far away; the offset is clamped to ±0.5 (it used to run off,
    /// giving negative heart rates on six recordings of ../shared/data).
    @Test func anEdgeWithoutAPeakIsClampedToHalfALag() {
        var r = [Double](repeating: 0, count: 200)
        r[14] = 1.0; r[15] = 0.9; r[16] = 0.7999        // curvature -0.0001: vertex 999 lags before 15
        #expect(FeatureSet.vertexOffset(r, at: 15) == -0.5)
        r[99] = 0.5; r[100] = 0.6; r[101] = 0.6999      // rising into the range's end: vertex 999 lags after 100
        #expect(FeatureSet.vertexOffset(r, at: 100) == 0.5)
        // Through the whole estimate: an envelope whose autocorrelation only falls over 15...100
        // (no local maximum) still gives a rate within the search range, widened by half a lag.
        let e = (0..<1_500).map { i in exp(-Double(i) / 300) * (1 + 0.001 * sin(Double(i))) }
        let (_, bpm) = try! FeatureSet.periodicity(e, rate: 50)
        #expect(bpm >= 60 * 50 / 100.5 && bpm <= 60 * 50 / 14.5, "\(bpm)")
    }
}
