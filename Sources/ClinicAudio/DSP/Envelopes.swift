import Foundation

/// Envelopes and autocorrelation on FFTW, matching `scipy.signal.hilbert` and
/// `Training/dsp_reference.py` (Springer 2016's homomorphic envelope and autocorrelation).
public enum Envelope {
    /// `|scipy.signal.hilbert(x)|`: the magnitude of the analytic signal, from a
    /// length-N DFT (any N, no zero padding).
    public static func hilbert(_ x: [Double]) -> [Double] {
        let n = x.count
        guard n > 0 else { return [] }
        let half = FFT.forwardReal(x, count: n)
        // Analytic spectrum: X[0], 2·X[1 ..< (n+1)/2], X[n/2] when n is even, zeros above.
        var full = [Double](repeating: 0, count: 2 * n)
        full[0] = half[0]; full[1] = half[1]
        for k in 1..<((n + 1) / 2) { full[2 * k] = 2 * half[2 * k]; full[2 * k + 1] = 2 * half[2 * k + 1] }
        if n % 2 == 0 { full[n] = half[n]; full[n + 1] = half[n + 1] }
        let analytic = FFT.complex(full, inverse: true)
        let scale = 1 / Double(n)
        return analytic.withUnsafeBufferPointer { a in
            (0..<n).map { (i: Int) -> Double in
                let re = a[2 * i], im = a[2 * i + 1]
                return (re * re + im * im).squareRoot() * scale
            }
        }
    }

    /// Springer's homomorphic envelope: `exp(filtfilt(b, a, log|hilbert(x)|))` with a
    /// first-order Butterworth lowpass at `cutoff` Hz (scipy filtfilt defaults, padlen 6),
    /// then `env[0] = env[1]`. Throws `.tooShort` for fewer than 7 samples.
    public static func homomorphic(_ x: [Double], sampleRate: Double, cutoff: Double = 8) throws(DSPError) -> [Double] {
        let lowpass = try Butterworth.transferFunction(order: 1, .lowpass(cutoff), sampleRate: sampleRate)
        var env = try IIR.filtfilt(lowpass, hilbert(x).map { log($0) }).map { exp($0) }
        if env.count > 1 { env[0] = env[1] }
        return env
    }

    /// Normalised autocorrelation for lags 0 ..< N of `x - mean(x)` (`r[0] == 1`), by a
    /// zero-padded FFT of the next power of two ≥ 2N - 1. Throws `.degenerate` for a constant signal.
    public static func autocorrelation(_ x: [Double]) throws(DSPError) -> [Double] {
        let n = x.count
        guard n > 0 else { return [] }
        let mean = x.reduce(0, +) / Double(n)
        let y = x.map { $0 - mean }
        var size = 1
        while size < 2 * n - 1 { size <<= 1 }
        var spectrum = FFT.forwardReal(y, count: size)
        for k in 0..<(size / 2 + 1) {
            let re = spectrum[2 * k], im = spectrum[2 * k + 1]
            spectrum[2 * k] = re * re + im * im
            spectrum[2 * k + 1] = 0
        }
        let r = FFT.inverseReal(spectrum, count: size)
        guard r[0] > 0 else { throw DSPError(.degenerate, "The autocorrelation of a constant signal is undefined.") }
        return (0..<n).map { r[$0] / r[0] }
    }
}
