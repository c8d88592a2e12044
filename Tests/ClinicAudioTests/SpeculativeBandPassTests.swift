internal import CClinicDSP
@testable import ClinicAudio
import Foundation
import Testing

/// The band-pass computed in four speculative AVX2 lanes (`clinic_sos4_speculative_avx2`)
/// against the one-sample-at-a-time loop (`clinic_sos4`, scipy's arithmetic): the same bits,
/// outputs and final state, whatever the signal, direction, length and warm-up. A warm-up of 0
/// or 64 makes lanes start far from the true trajectory, so the recompute-until-met path runs;
/// a huge one leaves everything to the plain loop.
@Suite(.enabled(if: Vector.avx2FMA, "this CPU has no AVX2")) struct SpeculativeBandPassTests {
    static let bandpass = try! Butterworth.sos(order: 4, .bandpass(20, 720), sampleRate: 2000)

    /// Runs the filter both ways from the same state; returns the speculative run's count of
    /// samples computed one at a time.
    @discardableResult
    func expectSameBits(_ x: [Double], backward: Bool, warmup: Int?, _ label: String) -> Int {
        let filter = Self.bandpass
        let start = IIR.sosfiltZi(filter).map { $0.map { $0 * (x.first ?? 0) } }
        var (fast, plain) = (x, x)
        var (fastState, plainState) = (start, start)
        let scalar = fast.withUnsafeMutableBufferPointer {
            IIR.sosfiltInPlace(filter, $0, state: &fastState, backward: backward, speculative: true, warmup: warmup)
        }
        _ = plain.withUnsafeMutableBufferPointer {
            IIR.sosfiltInPlace(filter, $0, state: &plainState, backward: backward, speculative: false)
        }
        let differing = zip(fast, plain).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "\(label), backward \(backward), warm-up \(warmup.map(String.init) ?? "default"): \(differing) of \(x.count) outputs differ")
        #expect(fastState.joined().map(\.bitPattern) == plainState.joined().map(\.bitPattern), "\(label): final states differ")
        return scalar
    }

    static func noise(_ count: Int, seed: UInt64, scale: Double = 1) -> [Double] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return scale * (Double(state >> 11) / Double(1 << 53) - 0.5)
        }
    }

    /// Signals where rounding behaves differently: real recordings, digital silence with a
    /// burst, a constant (band-passed to rounding noise: the case that needs scipy's bits),
    /// subnormal values, impulses.
    static let signals: [(String, [Double])] = {
        var list = DSPFixtures.twoKilohertzNames.map { name in (name, try! DSPFixture(name).x) }
        list.append(("heartbeat 20 s", heartbeat(seconds: 20, rate: 2000)))
        list.append(("noise 40,054", noise(40_054, seed: 7)))
        list.append(("silence then burst", [Double](repeating: 0, count: 20_000) + noise(20_000, seed: 3)))
        list.append(("constant", [Double](repeating: 0.25, count: 40_000)))
        list.append(("subnormal noise", noise(30_000, seed: 5, scale: 0x1p-1030)))
        list.append(("impulses", (0..<30_000).map { $0 % 5_000 == 17 ? 1 : 0 }))
        return list
    }()

    @Test(arguments: [nil, 0, 64, 1_000, 1_000_000] as [Int?])
    func sameBitsAsOneSampleAtATime(_ warmup: Int?) {
        for (label, x) in Self.signals {
            for backward in [false, true] { expectSameBits(x, backward: backward, warmup: warmup, label) }
        }
    }

    @Test func lengthsAroundTheSplitThreshold() {
        // Four lanes need warm-up + 4 × 64 samples; below that it is all one loop.
        let x = Self.noise(2_000, seed: 11)
        for count in [0, 1, 2, 355, 356, 357, 420, 612, 613, 2_000] {
            let scalar = expectSameBits(Array(x.prefix(count)), backward: count % 2 == 1, warmup: 100, "noise \(count)")
            if count < 356 { #expect(scalar == count) }
        }
    }

    @Test func lanesAreUsedAndRecomputedWhenTheyStartFarOff() throws {
        let x = heartbeat(seconds: 20, rate: 2000)
        // The default warm-up: most samples go four at a time.
        let normal = expectSameBits(x, backward: false, warmup: nil, "heartbeat")
        #expect(normal < x.count / 2)
        // No warm-up: lanes 1–3 start from zero exactly where their part begins, so they are
        // wrong at first and get recomputed until they meet the true trajectory: more than
        // the last few samples (under 4 × 64) go one at a time, but not all.
        let cold = expectSameBits(x, backward: false, warmup: 0, "heartbeat")
        #expect(cold > 4 * 64)
        #expect(cold < x.count)
    }

    @Test func aNaNAnywhereMeansOneSampleAtATime() {
        // Two different NaNs meeting in an addition keep the first operand's bits, and vector
        // and scalar code may order operands differently: lanes are not used for NaNs.
        var x = heartbeat(seconds: 20, rate: 2000)
        x[31_000] = .infinity
        x[31_001] = .nan
        let scalar = expectSameBits(x, backward: false, warmup: 1, "heartbeat with Inf and NaN")
        #expect(scalar == x.count)
        // The review's case: an infinity then a NaN, the shortest lanes possible.
        let short: [Double] = [0, 0, .infinity, .nan, 0, 0, 0, 0]
        for backward in [false, true] {
            var (lanes, plain) = (short, short)
            var (a, b) = ([Double](repeating: 0, count: 8), [Double](repeating: 0, count: 8))
            let c = IIR.sectionCoefficients(Self.bandpass)
            _ = lanes.withUnsafeMutableBufferPointer {
                clinic_sos4_speculative_avx2($0.baseAddress!, 8, backward ? 7 : 0, backward ? -1 : 1, c, &a, 1, 1)
            }
            plain.withUnsafeMutableBufferPointer { clinic_sos4($0.baseAddress!, 8, backward ? 7 : 0, backward ? -1 : 1, c, &b) }
            #expect(lanes.map(\.bitPattern) == plain.map(\.bitPattern))
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        }
    }

    @Test func nonsenseSizesGoOneSampleAtATime() {
        // Sizes that would overflow `warmup + 4 × period` are caught before any lane runs.
        var x = Self.noise(1_000, seed: 9), z = [Double](repeating: 0, count: 8)
        let c = IIR.sectionCoefficients(Self.bandpass)
        let scalar = x.withUnsafeMutableBufferPointer {
            clinic_sos4_speculative_avx2($0.baseAddress!, 1_000, 0, 1, c, &z, Int.max, 1 << 62)
        }
        #expect(scalar == 1_000)
        expectSameBits(x, backward: true, warmup: -1, "warm-up -1")
    }

    @Test func warmupFollowsTheSlowestPole() throws {
        let c = IIR.sectionCoefficients(Self.bandpass)
        let w = try #require(IIR.speculationWarmup(c))
        // The slowest pole of the 20–720 Hz band-pass at 2 kHz has radius 0.97675.
        #expect(abs(Double(w) - 2 * log(0x1p-53) / log(0.9767510045018771)) < 2)
        // An integrator (a pole on the unit circle) never forgets its start: no speculation.
        let integrator = SOSFilter(sections: [[1, 0, 0, 1, -1, 0]])
        #expect(IIR.speculationWarmup(IIR.sectionCoefficients(integrator)) == nil)
    }
}
