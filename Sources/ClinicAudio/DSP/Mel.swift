import Foundation

/// Mel filter bank, log-mel and MFCC, matching librosa 0.11 (`filters.mel` with
/// `htk=False, norm='slaney'`, `power_to_db`, `feature.mfcc` with DCT-II 'ortho').
public enum Mel {
    /// Hz to mel on the Slaney scale: linear below 1 kHz (`f / (200/3)`), logarithmic above.
    public static func hzToMel(_ f: Double) -> Double {
        let fsp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fsp, logStep = log(6.4) / 27
        return f >= minLogHz ? minLogMel + log(f / minLogHz) / logStep : f / fsp
    }

    /// Mel to Hz on the Slaney scale (inverse of `hzToMel`).
    public static func melToHz(_ m: Double) -> Double {
        let fsp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fsp, logStep = log(6.4) / 27
        return m >= minLogMel ? minLogHz * exp(logStep * (m - minLogMel)) : fsp * m
    }

    /// The `bands + 2` band edges in Hz, equally spaced in mel (numpy `linspace`).
    public static func bandEdges(bands: Int, fmin: Double, fmax: Double) -> [Double] {
        let lo = hzToMel(fmin), hi = hzToMel(fmax), count = bands + 2
        let step = (hi - lo) / Double(count - 1)
        return (0..<count).map { $0 == count - 1 ? melToHz(hi) : melToHz(Double($0) * step + lo) }
    }

    /// `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney')`:
    /// `bands` rows by `n_fft/2 + 1` bins, each a triangle scaled by `2 / (f[i+2] - f[i])`.
    public static func filterBank(
        sampleRate sr: Double, fftLength: Int, bands: Int, fmin: Double = 0, fmax: Double? = nil
    ) -> [[Double]] {
        let edges = bandEdges(bands: bands, fmin: fmin, fmax: fmax ?? sr / 2)
        let freqs = STFTConfig(fftLength: fftLength).binFrequencies(sampleRate: sr)
        return (0..<bands).map { i in
            let d0 = edges[i + 1] - edges[i], d1 = edges[i + 2] - edges[i + 1]
            let norm = 2 / (edges[i + 2] - edges[i])
            return freqs.map { f in
                let lower = -(edges[i] - f) / d0, upper = (edges[i + 2] - f) / d1
                return max(0, min(lower, upper)) * norm
            }
        }
    }

    /// `filterBank · power` for every frame: a `bands` × frames mel spectrogram.
    public static func spectrogram(_ power: FrameMatrix, filterBank: [[Double]]) -> FrameMatrix {
        let bands = filterBank.count, rows = power.rows
        // Each triangle is non-zero over a short run of bins: keep only that run.
        let runs = filterBank.map { row -> (start: Int, weights: [Double]) in
            guard let lo = row.firstIndex(where: { $0 != 0 }), let hi = row.lastIndex(where: { $0 != 0 }) else {
                return (0, [])
            }
            return (lo, Array(row[lo...hi]))
        }
        var out = [Double](repeating: 0, count: bands * power.frames)
        power.values.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for t in 0..<power.frames {
                    let base = t * rows
                    for (m, run) in runs.enumerated() {
                        var s = 0.0
                        for (j, w) in run.weights.enumerated() { s += w * p[base + run.start + j] }
                        o[t * bands + m] = s
                    }
                }
            }
        }
        return FrameMatrix(rows: bands, frames: power.frames, values: out)
    }

    /// `librosa.power_to_db(S, ref, amin, top_db)`: `10 log10(max(amin, S)) - 10 log10(max(amin, ref))`,
    /// floored at the maximum over the whole matrix minus `topDB` (no floor when nil).
    public static func powerToDB(
        _ s: FrameMatrix, ref: Double = 1, amin: Double = 1e-10, topDB: Double? = 80
    ) -> FrameMatrix {
        // 10·log10(v) as (10 / ln 10)·ln(v): glibc's log10 is several times slower than its
        // log, and the two differ by rounding only (about 1e-15 dB here).
        let offset = 10 * log10(max(amin, ref)), dB = 10 / M_LN10
        var db = s.map { max(amin, $0) }
        db.values.withUnsafeMutableBufferPointer { v in
            Vector.log(v)
            for i in 0..<v.count { v[i] = dB * v[i] - offset }
        }
        if let topDB, let peak = db.values.max() {
            let floor = peak - topDB
            db.values.withUnsafeMutableBufferPointer { v in for i in 0..<v.count { v[i] = max(v[i], floor) } }
        }
        return db
    }

    /// DCT-II with orthonormal scaling along each frame, first `count` coefficients
    /// (`scipy.fft.dct(S, type=2, norm='ortho', axis=0)[:count]`).
    public static func dct(_ s: FrameMatrix, count: Int) -> FrameMatrix {
        let m = s.rows, blocks = (count + 7) / 8
        // The basis transposed in blocks of 8 coefficients: block j of input n holds
        // coefficients 8j ..< 8j + 8 (zero past `count`).
        var basis = [SIMD8<Double>](repeating: .zero, count: blocks * m)
        for k in 0..<count {
            let scale = (2 / Double(m)).squareRoot() * (k == 0 ? 1 / 2.0.squareRoot() : 1)
            for n in 0..<m { basis[n * blocks + k / 8][k % 8] = scale * cos(Double.pi * Double(k) * Double(2 * n + 1) / Double(2 * m)) }
        }
        var out = [Double](repeating: 0, count: count * s.frames)
        basis.withUnsafeBufferPointer { b in
            s.values.withUnsafeBufferPointer { v in
                out.withUnsafeMutableBufferPointer { o in
                    // Eight sums side by side in one vector (each still over n in order, a
                    // multiply then an add as before), so they are independent chains.
                    for t in 0..<s.frames {
                        let col = v.baseAddress! + t * m
                        for j in 0..<blocks {
                            var acc = SIMD8<Double>.zero
                            for n in 0..<m { acc += b[n * blocks + j] * col[n] }
                            for k in (8 * j)..<min(8 * j + 8, count) { o[t * count + k] = acc[k - 8 * j] }
                        }
                    }
                }
            }
        }
        return FrameMatrix(rows: count, frames: s.frames, values: out)
    }

    /// MFCC: the DCT of `powerToDB(mel spectrogram)` (librosa `feature.mfcc`, no lifter).
    public static func mfcc(_ melSpectrogram: FrameMatrix, count: Int = 13) -> FrameMatrix {
        dct(powerToDB(melSpectrogram), count: count)
    }
}
