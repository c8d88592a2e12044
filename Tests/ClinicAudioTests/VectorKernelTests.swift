@testable import ClinicAudio
import Foundation
import Testing

/// The FMA and AVX2 loops (`CClinicDSP`, used where the CPU has them) against the plain Swift
/// ones every other CPU runs: the parity tests check whichever this machine uses, these that
/// the two agree to rounding. (The band-pass has no FMA path: see `IIR.sosfiltInPlace`.)
@Suite(.enabled(if: Vector.avx2FMA, "this CPU has no AVX2 and FMA")) struct VectorKernelTests {
    /// Worst |fast − portable| over the largest |portable|, for a filter run both ways.
    func worstDifference(_ x: [Double], _ run: (UnsafeMutableBufferPointer<Double>, Bool) -> Void) -> Double {
        var fast = x, portable = x
        fast.withUnsafeMutableBufferPointer { run($0, true) }
        portable.withUnsafeMutableBufferPointer { run($0, false) }
        let scale = portable.map(abs).max()!
        return zip(fast, portable).map { abs($0 - $1) }.max()! / scale
    }

    @Test(arguments: DSPFixtures.names)
    func firstOrderFilterWithFMAAgreesWithThePlainOne(_ name: String) throws {
        let f = try DSPFixture(name)
        let lowpass = try Butterworth.transferFunction(order: 1, .lowpass(8), sampleRate: f.sampleRate)
        for backward in [false, true] {
            let first = worstDifference(f.x) { y, fast in
                var state = IIR.lfilterZi(lowpass).map { $0 * 0.3 }
                IIR.lfilterInPlace(lowpass, y, state: &state, backward: backward, fast: fast)
            }
            print("FMA vs plain, \(name) backward \(backward): first-order \(first) of full scale")
            #expect(first <= 1e-12)
        }
    }

    @Test func vectorLogAndExpAreWithinFourUlps() {
        let values = (0..<1001).map { pow(10, Double($0 - 500) / 25) } + [1, 0.5, 2, .leastNormalMagnitude]
        func ulps(_ a: Double, _ b: Double) -> Int64 { abs(Int64(bitPattern: a.bitPattern) &- Int64(bitPattern: b.bitPattern)) }
        var logs = values, exps = values.map { log($0) }
        logs.withUnsafeMutableBufferPointer { Vector.log($0) }
        let worstLog = zip(logs, values).map { ulps($0, log($1)) }.max()!
        exps.withUnsafeMutableBufferPointer { Vector.exp($0) }
        let worstExp = zip(exps, values).map { ulps($0, exp(log($1))) }.max()!
        print("libmvec vs glibc scalar: log \(worstLog) ulp, exp \(worstExp) ulp")
        #expect(worstLog <= 4 && worstExp <= 4)
    }
}
