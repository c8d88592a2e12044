import Foundation

/// Envelopes and autocorrelation on FFTW, matching `scipy.signal.hilbert` and
/// `Training/dsp_reference.py` (Springer 2016's homomorphic envelope and autocorrelation).
public enum Envelope {
    /// `|scipy.signal.hilbert(x)|`: the magnitude of the analytic signal `x + i·H(x)`, from
    /// length-N real DFTs (any N, no zero padding). `H(x)`, the Hilbert transform, is the
    /// inverse real DFT of `−i·sgn(k)·X[k]` (DC and, for even N, the Nyquist bin set to 0),
    /// which is the imaginary part of scipy's `ifft(h·X)`; the real part is `x` itself. Two
    /// real transforms need a third of the memory of scipy's complex one.
    public static func hilbert(_ x: [Double]) -> [Double] {
        Vector.array(count: x.count) { analytic(x, into: $0) { re, im in (re * re + im * im).squareRoot() } }
    }

    /// `out[i] = f(x[i], H(x)[i])` for each sample, from the analytic signal `x + i·H(x)`
    /// (see `hilbert`). `out` holds `x.count` values.
    static func analytic(_ x: [Double], into out: UnsafeMutableBufferPointer<Double>, _ f: (Double, Double) -> Double) {
        let n = x.count
        guard n > 0 else { return }
        let buffer = AlignedBuffer(x), half = AlignedBuffer(count: 2 * (n / 2 + 1))
        FFT.forwardReal(buffer, half, plan: FFT.alignedPlan(.realForward, count: n))
        let h = half.pointer
        h[0] = 0; h[1] = 0
        for k in 1..<((n + 1) / 2) {
            let re = h[2 * k], im = h[2 * k + 1]
            h[2 * k] = im
            h[2 * k + 1] = -re
        }
        if n % 2 == 0 { h[n] = 0; h[n + 1] = 0 }
        FFT.inverseReal(half, buffer, plan: FFT.alignedPlan(.realInverse, count: n))
        let scale = 1 / Double(n), b = buffer.pointer
        x.withUnsafeBufferPointer { x in
            for i in 0..<n { out[i] = f(x[i], b[i] * scale) }
        }
    }

    /// Springer's homomorphic envelope: `exp(filtfilt(b, a, log|hilbert(x)|))` with a
    /// first-order Butterworth lowpass at `cutoff` Hz (scipy filtfilt defaults, padlen 6),
    /// then `env[0] = env[1]`. Throws `.tooShort` for fewer than 7 samples.
    public static func homomorphic(_ x: [Double], sampleRate: Double, cutoff: Double = 8) throws(DSPError) -> [Double] {
        let lowpass = try Butterworth.transferFunction(order: 1, .lowpass(cutoff), sampleRate: sampleRate)
        let n = x.count, edge = IIR.defaultPadLength(lowpass)
        try IIR.checkPadding(n, edge)
        // log|z| = ½·log(x² + H²) (no square root), written straight into the middle of the
        // filter's padded buffer and filtered there; exp taken in the output. log and exp
        // over whole buffers, so they can run four at a time (`Vector`).
        let padded = Vector.array(count: n + 2 * edge) { y in
            let signal = UnsafeMutableBufferPointer(rebasing: y[edge..<(edge + n)])
            analytic(x, into: signal) { re, im in re * re + im * im }
            Vector.log(signal)
            for i in signal.indices { signal[i] *= 0.5 }
            IIR.oddExtend(y, edge)
            IIR.filtfiltInPlace(lowpass, y)
        }
        var env = Array(padded[edge..<(edge + n)])
        env.withUnsafeMutableBufferPointer { Vector.exp($0) }
        if n > 1 { env[0] = env[1] }
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
        let input = AlignedBuffer(count: size), spectrum = AlignedBuffer(count: 2 * (size / 2 + 1))
        y.withUnsafeBufferPointer { input.pointer.update(from: $0.baseAddress!, count: n) }
        FFT.forwardReal(input, spectrum, plan: FFT.alignedPlan(.realForward, count: size))
        let sp = spectrum.pointer
        for k in 0..<(size / 2 + 1) {
            let re = sp[2 * k], im = sp[2 * k + 1]
            sp[2 * k] = re * re + im * im
            sp[2 * k + 1] = 0
        }
        let output = AlignedBuffer(count: size)
        FFT.inverseReal(spectrum, output, plan: FFT.alignedPlan(.realInverse, count: size))
        let r = output.array(n)
        guard r[0] > 0 else { throw DSPError(.degenerate, "The autocorrelation of a constant signal is undefined.") }
        return r.map { $0 / r[0] }
    }
}
