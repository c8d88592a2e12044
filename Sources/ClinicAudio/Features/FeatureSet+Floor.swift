import Foundation

extension FeatureSet {
    /// For `clinic-audio-bench`: only the library calls that computing this feature set on
    /// `samples` (at `sampleRate` Hz) makes, and nothing around them: libsoxr's resampling to
    /// `analysisRate`, the Hilbert envelope's two real transforms of the whole signal, the
    /// STFT's frame transforms and Welch's segment transforms, on the same SIMD plans and
    /// aligned buffers as the features use. No implementation over libsoxr and FFTW, the
    /// libraries the issue names, can take less time than this closure: a floor for the
    /// Python-to-Swift ratio.
    package func libraryCallsOnly(_ samples: [Double], sampleRate: Double) throws -> () throws -> Void {
        let n = try Resampler.resampleExtendingEdges(samples, from: sampleRate, to: analysisRate).count
        let frames = stft.frameCount(n), m = stft.fftLength
        let segments = (n - m) / (m - m / 2) + 1
        let whole = AlignedBuffer(count: n), back = AlignedBuffer(count: n), wholeSpectrum = AlignedBuffer(count: 2 * (n / 2 + 1))
        let frame = AlignedBuffer(count: m), frameSpectrum = AlignedBuffer(count: 2 * (m / 2 + 1))
        for i in 0..<n { whole.pointer[i] = sin(Double(i)) }
        for i in 0..<m { frame.pointer[i] = sin(Double(i)) }
        let forward = FFT.alignedPlan(.realForward, count: n), inverse = FFT.alignedPlan(.realInverse, count: n)
        let short = FFT.alignedPlan(.realForward, count: m)
        return {
            // libsoxr on the bare signal (the features resample 0.1 s more at each end).
            _ = try Resampler.resample(samples, from: sampleRate, to: self.analysisRate)
            FFT.forwardReal(whole, wholeSpectrum, plan: forward)
            FFT.inverseReal(wholeSpectrum, back, plan: inverse)
            for _ in 0..<(frames + segments) { FFT.forwardReal(frame, frameSpectrum, plan: short) }
        }
    }
}
