import Foundation

/// Frame-wise spectral and time-domain features, matching librosa 0.11's
/// `feature.spectral_centroid`, `spectral_bandwidth`, `spectral_rolloff`,
/// `spectral_flatness`, `zero_crossing_rate` and `rms` with the same STFT settings.
public enum SpectralFeatures {
    /// `Σ f_k S / Σ S` per frame (0 for a silent frame).
    public static func centroid(_ s: FrameMatrix, frequencies f: [Double]) -> [Double] {
        perFrame(s, f).map(\.centroid)
    }

    /// `sqrt(Σ (S/ΣS)(f_k - centroid)²)` per frame (librosa p = 2, norm = True).
    public static func bandwidth(_ s: FrameMatrix, frequencies f: [Double]) -> [Double] {
        perFrame(s, f).map(\.bandwidth)
    }

    /// The smallest bin frequency where the cumulative sum reaches `percent · ΣS`.
    public static func rolloff(_ s: FrameMatrix, frequencies f: [Double], percent: Double = 0.85) -> [Double] {
        perFrame(s, f, percent: percent).map(\.rolloff)
    }

    /// `exp(mean log P) / mean P` with `P = max(amin, S²)` per frame of a magnitude spectrogram.
    public static func flatness(_ s: FrameMatrix, amin: Double = 1e-10) -> [Double] {
        perFrame(s, Array(repeating: 0, count: s.rows), amin: amin).map(\.flatness)
    }

    /// Centroid, bandwidth, roll-off and flatness of one frame.
    public struct Frame: Sendable, Equatable {
        public var centroid, bandwidth, rolloff, flatness: Double
    }

    /// All four frame features of each frame of the magnitude `S = sqrt(power)` on the rows
    /// `rows` of a power spectrogram (`frequencies` those rows' bin frequencies): one pass
    /// over each frame instead of one a feature, and no magnitude matrix.
    public static func frames(
        power: FrameMatrix, rows: ClosedRange<Int>, frequencies f: [Double], percent: Double = 0.85, amin: Double = 1e-10
    ) -> [Frame] {
        precondition(rows.lowerBound >= 0 && rows.upperBound < power.rows && f.count == rows.count, "rows out of range")
        precondition(amin >= .leastNormalMagnitude, "amin must be a positive normal number")
        var magnitude = [Double](repeating: 0, count: rows.count)
        return power.values.withUnsafeBufferPointer { v in
            magnitude.withUnsafeMutableBufferPointer { m in
                f.withUnsafeBufferPointer { f in
                    (0..<power.frames).map { t in
                        let column = v.baseAddress! + t * power.rows + rows.lowerBound
                        // max(0, ·) tells the compiler the root has no error case (power is never
                        // negative), so the loop is vectorised rather than a call per value.
                        for k in 0..<m.count { m[k] = max(0, column[k]).squareRoot() }
                        return frame(UnsafeBufferPointer(m), f, percent: percent, amin: amin)
                    }
                }
            }
        }
    }

    /// The frame features of each column of a magnitude spectrogram.
    private static func perFrame(_ s: FrameMatrix, _ f: [Double], percent: Double = 0.85, amin: Double = 1e-10) -> [Frame] {
        precondition(amin >= .leastNormalMagnitude, "amin must be a positive normal number")
        return s.values.withUnsafeBufferPointer { v in
            f.withUnsafeBufferPointer { f in
                (0..<s.frames).map { t in
                    frame(UnsafeBufferPointer(rebasing: v[(t * s.rows)..<((t + 1) * s.rows)]), f, percent: percent, amin: amin)
                }
            }
        }
    }

    /// One magnitude frame `s` (bin frequencies `f`), in two passes. Each sum runs over the bins
    /// in order, as librosa's: the centroid `Σ s·f / Σ s` (librosa divides each value by the sum
    /// first; dividing once differs in rounding only, about 1e-16), the bandwidth
    /// `sqrt(Σ s·(f − c)² / Σ s)`, the roll-off where the running sum first reaches
    /// `percent · Σ s`, and the flatness `exp(mean log p) / mean p` with `p = max(amin, s²)`.
    /// librosa `normalize(norm=1)` divides by 1 instead when the sum is below the smallest normal.
    @inline(__always)
    private static func frame(_ s: UnsafeBufferPointer<Double>, _ f: UnsafeBufferPointer<Double>, percent: Double, amin: Double) -> Frame {
        // Σ log p as one log per frame: the product of the values' binary mantissas (each in
        // [0.5, 1), read from the bits since p ≥ amin is normal; renormalised every 16 so it
        // cannot underflow) plus their exponents.
        var total = 0.0, weighted = 0.0, powerSum = 0.0, mantissas = 1.0, exponents = 0
        for k in 0..<s.count {
            total += s[k]
            weighted += s[k] * f[k]
            let p = max(amin, s[k] * s[k])
            powerSum += p
            mantissas *= Double(sign: .plus, exponentBitPattern: 1022, significandBitPattern: p.significandBitPattern)
            exponents += Int(p.exponentBitPattern) - 1022
            if k & 15 == 15 {
                exponents += Int(mantissas.exponent)
                mantissas = Double(sign: .plus, exponent: 0, significand: mantissas.significand)
            }
        }
        let norm = total < Double.leastNormalMagnitude ? 1 : total
        let centroid = weighted / norm
        var spread = 0.0
        for k in 0..<s.count {
            let d = f[k] - centroid
            spread += s[k] * d * d
        }
        let threshold = percent * total
        var rolloff = 0.0, running = 0.0
        for k in 0..<s.count {
            running += s[k]
            if running >= threshold { rolloff = f[k]; break }
        }
        let n = Double(s.count)
        let logSum = log(mantissas) + Double(exponents) * M_LN2
        return Frame(centroid: centroid, bandwidth: (spread / norm).squareRoot(), rolloff: rolloff,
                     flatness: exp(logSum / n) / (powerSum / n))
    }

    /// Zero-crossing rate per centred frame: the signal padded with `frameLength / 2`
    /// copies of its edge samples (librosa pads this one with 'edge'), values with
    /// |v| ≤ 1e-10 taken as 0, sign-bit changes counted and divided by `frameLength`.
    public static func zeroCrossingRate(_ x: [Double], frameLength: Int = 256, hopLength: Int = 64) -> [Double] {
        guard !x.isEmpty else { return [] }
        // changes[i]: sign-bit changes among x[0...i] (|v| ≤ 1e-10 counts as +0). The edge
        // padding repeats the end samples, which adds no changes, so a frame's count is a
        // difference of two prefix counts at its first and last samples clamped into x.
        var changes = [Int](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { x in
            changes.withUnsafeMutableBufferPointer { c in
                func negative(_ v: Double) -> Bool { Swift.abs(v) > 1e-10 && v.sign == .minus }
                var previous = negative(x[0]), count = 0
                for i in 1..<x.count {
                    let now = negative(x[i])
                    count += now != previous ? 1 : 0
                    c[i] = count
                    previous = now
                }
            }
        }
        let half = frameLength / 2, last = x.count - 1
        return (0..<(1 + x.count / hopLength)).map { t in
            let first = min(max(t * hopLength - half, 0), last), end = min(max(t * hopLength + frameLength - 1 - half, 0), last)
            return Double(changes[end] - changes[first]) / Double(frameLength)
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
