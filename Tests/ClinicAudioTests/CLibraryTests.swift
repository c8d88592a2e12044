@testable import ClinicAudio
import Foundation
import Testing

/// The DSP C libraries link and run.
@Suite struct CLibraryTests {
    @Test func fftwTransformsAnImpulse() {
        let spectrum = FFT.forwardReal([1, 0, 0, 0, 0, 0], count: 6)
        #expect(spectrum == [1, 0, 1, 0, 1, 0, 1, 0])
        #expect(FFT.libraryVersion.hasPrefix("fftw-3"))
        let back = FFT.inverseReal(spectrum, count: 6)
        #expect(back == [6, 0, 0, 0, 0, 0])
    }

    @Test func soxrHalvesTheRateWithTheLengthLibrosaGives() throws {
        let x = (0..<4001).map { sin(Double($0) * 0.05) }
        let y = try Resampler.resample(x, from: 4000, to: 2000)
        #expect(y.count == 2001)
        #expect(try Resampler.resample(x, from: 4000, to: 4000) == x)
        #expect(throws: DSPError.self) { try Resampler.resample(x, from: 0, to: 2000) }
    }

    /// Many threads transform at once, with more lengths than the plan cache holds, so plans
    /// are made, shared and evicted concurrently: every result equals the serial one.
    @Test func fftPlansAreSharedSafelyAcrossThreads() {
        let lengths = Array(100..<180)
        let signals = lengths.map { n in (0..<n).map { sin(Double($0) * 0.37) + 0.1 * cos(Double($0) * 1.3) } }
        let serial = signals.map(Envelope.hilbert)
        final class Mismatches: @unchecked Sendable {
            let lock = NSLock()
            var count = 0
        }
        let mismatches = Mismatches()
        DispatchQueue.concurrentPerform(iterations: 800) { i in
            let k = (i * 37) % lengths.count
            let ok = Envelope.hilbert(signals[k]) == serial[k]
            if !ok { mismatches.lock.withLock { mismatches.count += 1 } }
        }
        #expect(mismatches.count == 0)
    }
}
