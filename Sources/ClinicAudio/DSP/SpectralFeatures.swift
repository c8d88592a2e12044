import Foundation

/// Frame-wise spectral and time-domain features, matching librosa 0.11's
/// `feature.spectral_centroid`, `spectral_bandwidth`, `spectral_rolloff`,
/// `spectral_flatness`, `zero_crossing_rate` and `rms` with the same STFT settings.
public enum SpectralFeatures {
    /// `Σ f_k S / Σ S` per frame (0 for a silent frame).
    public static func centroid(_ s: FrameMatrix, frequencies f: [Double]) -> [Double] {
        f.withUnsafeBufferPointer { f in perFrame(s) { col in centroid(col, f) } }
    }

    /// `sqrt(Σ (S/ΣS)(f_k - centroid)²)` per frame (librosa p = 2, norm = True).
    public static func bandwidth(_ s: FrameMatrix, frequencies f: [Double]) -> [Double] {
        f.withUnsafeBufferPointer { f in
            perFrame(s) { col in
                let c = centroid(col, f)
                var v = 0.0
                for k in 0..<col.count {
                    let d = f[k] - c
                    v += col[k] * d * d
                }
                return (v / normaliser(col)).squareRoot()
            }
        }
    }

    /// One frame's centroid. librosa divides each value by the column sum first; dividing the
    /// sum once instead differs only in rounding (about 1e-16 relative).
    private static func centroid(_ col: UnsafeBufferPointer<Double>, _ f: UnsafeBufferPointer<Double>) -> Double {
        var c = 0.0
        for k in 0..<col.count { c += col[k] * f[k] }
        return c / normaliser(col)
    }

    /// The smallest bin frequency where the cumulative sum reaches `percent · ΣS`.
    public static func rolloff(_ s: FrameMatrix, frequencies f: [Double], percent: Double = 0.85) -> [Double] {
        perFrame(s) { col in
            var total = 0.0
            for k in 0..<col.count { total += col[k] }
            let threshold = percent * total
            var acc = 0.0
            for k in 0..<col.count {
                acc += col[k]
                if acc >= threshold { return f[k] }
            }
            return 0
        }
    }

    /// `exp(mean log P) / mean P` with `P = max(amin, S²)` per frame of a magnitude spectrogram.
    public static func flatness(_ s: FrameMatrix, amin: Double = 1e-10) -> [Double] {
        perFrame(s) { col in
            // Σ log p as one log per frame: the product of the values' binary mantissas (each
            // in [0.5, 1), renormalised every 16 so it cannot underflow) plus their exponents.
            var mantissas = 1.0, exponents = 0, sum = 0.0
            for k in 0..<col.count {
                let p = max(amin, col[k] * col[k])
                sum += p
                mantissas *= p.significand / 2
                exponents += Int(p.exponent) + 1
                if k & 15 == 15 {
                    exponents += Int(mantissas.exponent)
                    mantissas = Double(sign: .plus, exponent: 0, significand: mantissas.significand)
                }
            }
            let logSum = log(mantissas) + Double(exponents) * M_LN2
            let n = Double(col.count)
            return exp(logSum / n) / (sum / n)
        }
    }

    /// `body` applied to each frame (column) of `s`.
    private static func perFrame(_ s: FrameMatrix, _ body: (UnsafeBufferPointer<Double>) -> Double) -> [Double] {
        s.values.withUnsafeBufferPointer { v in
            (0..<s.frames).map { t in body(UnsafeBufferPointer(rebasing: v[(t * s.rows)..<((t + 1) * s.rows)])) }
        }
    }

    /// librosa `normalize(norm=1)`: the column sum, or 1 when it is below the smallest normal.
    private static func normaliser(_ col: UnsafeBufferPointer<Double>) -> Double {
        var total = 0.0
        for k in 0..<col.count { total += col[k] }
        return total < Double.leastNormalMagnitude ? 1 : total
    }

    /// Zero-crossing rate per centred frame: the signal padded with `frameLength / 2`
    /// copies of its edge samples (librosa pads this one with 'edge'), values with
    /// |v| ≤ 1e-10 taken as 0, sign-bit changes counted and divided by `frameLength`.
    public static func zeroCrossingRate(_ x: [Double], frameLength: Int = 256, hopLength: Int = 64) -> [Double] {
        guard !x.isEmpty else { return [] }
        let half = frameLength / 2
        // Sign bits of the padded signal (|v| <= 1e-10 counts as +0), then a running count
        // of changes, so each frame's count is a difference of two prefix sums.
        let negative = x.map { Swift.abs($0) > 1e-10 && $0.sign == .minus }
        let padded = Array(repeating: negative[0], count: half) + negative
            + Array(repeating: negative[negative.count - 1], count: half)
        var changes = [Int](repeating: 0, count: padded.count)
        for i in 1..<padded.count { changes[i] = changes[i - 1] + (padded[i] != padded[i - 1] ? 1 : 0) }
        return (0..<(1 + x.count / hopLength)).map { t in
            let start = t * hopLength
            return Double(changes[start + frameLength - 1] - changes[start]) / Double(frameLength)
        }
    }

    /// `sqrt(mean(frame²))` over centred, zero-padded, unwindowed frames.
    public static func rms(_ x: [Double], frameLength: Int = 256, hopLength: Int = 64) -> [Double] {
        let half = frameLength / 2
        var padded = [Double](repeating: 0, count: x.count + frameLength)
        for i in x.indices { padded[i + half] = x[i] }
        return (0..<(1 + x.count / hopLength)).map { t in
            var s = 0.0
            for i in (t * hopLength)..<(t * hopLength + frameLength) { s += padded[i] * padded[i] }
            return (s / Double(frameLength)).squareRoot()
        }
    }
}
