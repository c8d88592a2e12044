import Foundation

/// Welch power spectral density, matching `scipy.signal.welch(x, fs, nperseg)` with its
/// defaults: periodic Hann window, 50% overlap, `nfft = nperseg`, each segment minus its
/// mean, density scaling, one-sided, mean over segments.
public enum Welch {
    /// The frequencies (Hz) and PSD (units²/Hz) of `x`. Throws `.tooShort` if `x` is
    /// shorter than one segment (scipy would shrink the segment instead).
    public static func psd(
        _ x: [Double], sampleRate fs: Double, segmentLength n: Int = 256
    ) throws(DSPError) -> (frequencies: [Double], psd: [Double]) {
        guard n >= 2, x.count >= n else {
            throw DSPError(.tooShort, "The signal is shorter than one Welch segment (\(n) samples).")
        }
        let hop = n - n / 2
        let window = STFTConfig(fftLength: n).window
        let scale = 1 / (fs * window.reduce(0) { $0 + $1 * $1 })
        let bins = n / 2 + 1
        let segments = (x.count - n) / hop + 1
        var acc = [Double](repeating: 0, count: bins)
        let frame = AlignedBuffer(count: n), spectrum = AlignedBuffer(count: 2 * bins)
        let f = frame.pointer, sp = spectrum.pointer
        let plan = FFT.alignedPlan(.realForward, count: n)
        x.withUnsafeBufferPointer { xp in
            window.withUnsafeBufferPointer { w in
                acc.withUnsafeMutableBufferPointer { a in
                    for s in 0..<segments {
                        // From the segment's own base pointer: no index arithmetic to check
                        // for overflow, so the loops vectorise.
                        let segment = UnsafeBufferPointer(start: xp.baseAddress! + s * hop, count: n)
                        let mean = Stats.sum(segment) { $0 } / Double(n)
                        for m in 0..<n { f[m] = (segment[m] - mean) * w[m] }
                        FFT.forwardReal(frame, spectrum, plan: plan)
                        for k in 0..<bins {
                            var p = (sp[2 * k] * sp[2 * k] + sp[2 * k + 1] * sp[2 * k + 1]) * scale
                            if k > 0 && !(n % 2 == 0 && k == bins - 1) { p *= 2 }
                            a[k] += p
                        }
                    }
                }
            }
        }
        let frequencies = (0..<bins).map { Double($0) * fs / Double(n) }
        return (frequencies, acc.map { $0 / Double(segments) })
    }
}
