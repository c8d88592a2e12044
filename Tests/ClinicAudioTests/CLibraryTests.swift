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
}
