import Foundation

/// Frame-wise spectral and time-domain features, matching librosa 0.11's
/// `feature.spectral_centroid`, `spectral_bandwidth`, `spectral_rolloff`,
/// `spectral_flatness`, `zero_crossing_rate` and `rms` with the same STFT settings.
public enum SpectralFeatures {
    /// `Σ f_k S / Σ S` per frame of a magnitude spectrogram (0 for a silent frame).
    public static func centroid(_ s: FrameMatrix, frequencies f: [Double]) -> [Double] {
        (0..<s.frames).map { t in
            let col = s.column(t), total = col.reduce(0, +)
            let norm = total < Double.leastNormalMagnitude ? 1 : total
            return zip(col, f).reduce(0) { $0 + $1.0 / norm * $1.1 }
        }
    }

    /// `sqrt(Σ (S/ΣS)(f_k - centroid)²)` per frame (librosa p = 2, norm = True).
    public static func bandwidth(_ s: FrameMatrix, frequencies f: [Double]) -> [Double] {
        let c = centroid(s, frequencies: f)
        return (0..<s.frames).map { t in
            let col = s.column(t), total = col.reduce(0, +)
            let norm = total < Double.leastNormalMagnitude ? 1 : total
            let v = zip(col, f).reduce(0) { acc, e in
                let d = e.1 - c[t]
                return acc + e.0 / norm * d * d
            }
            return v.squareRoot()
        }
    }

    /// The smallest bin frequency where the cumulative sum reaches `percent · ΣS`.
    public static func rolloff(_ s: FrameMatrix, frequencies f: [Double], percent: Double = 0.85) -> [Double] {
        (0..<s.frames).map { t in
            let col = Array(s.column(t))
            var cumulative = [Double](repeating: 0, count: col.count), acc = 0.0
            for (k, v) in col.enumerated() { acc += v; cumulative[k] = acc }
            let threshold = percent * acc
            return cumulative.indices.first { cumulative[$0] >= threshold }.map { f[$0] } ?? 0
        }
    }

    /// `exp(mean log P) / mean P` with `P = max(amin, S²)` per frame of a magnitude spectrogram.
    public static func flatness(_ s: FrameMatrix, amin: Double = 1e-10) -> [Double] {
        (0..<s.frames).map { t in
            let p = s.column(t).map { max(amin, $0 * $0) }
            let n = Double(p.count)
            return exp(p.reduce(0) { $0 + log($1) } / n) / (p.reduce(0, +) / n)
        }
    }

    /// Zero-crossing rate per centred frame: the signal padded with `frameLength / 2`
    /// copies of its edge samples (librosa pads this one with 'edge'), values with
    /// |v| ≤ 1e-10 taken as 0, sign-bit changes counted and divided by `frameLength`.
    public static func zeroCrossingRate(_ x: [Double], frameLength: Int = 256, hopLength: Int = 64) -> [Double] {
        guard !x.isEmpty else { return [] }
        let half = frameLength / 2
        let clipped = x.map { Swift.abs($0) <= 1e-10 ? 0 : $0 }
        let padded = Array(repeating: clipped[0], count: half) + clipped
            + Array(repeating: clipped[clipped.count - 1], count: half)
        return (0..<(1 + x.count / hopLength)).map { t in
            let start = t * hopLength
            var count = 0
            for i in (start + 1)..<(start + frameLength) where padded[i].sign != padded[i - 1].sign { count += 1 }
            return Double(count) / Double(frameLength)
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
