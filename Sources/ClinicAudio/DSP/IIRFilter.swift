internal import CClinicDSP
import Foundation

/// Causal and zero-phase IIR filtering in Double, matching `scipy.signal.sosfilt`,
/// `lfilter`, `sosfiltfilt` and `filtfilt` (default `padtype='odd'` and `padlen`).
public enum IIR {
    /// `scipy.signal.sosfilt(sos, x, zi=state)`: sections in order, each a transposed
    /// direct form II biquad. `state` (2 values per section) is updated in place.
    public static func sosfilt(_ filter: SOSFilter, _ x: [Double], state: inout [[Double]]) -> [Double] {
        var y = x
        _ = y.withUnsafeMutableBufferPointer { sosfiltInPlace(filter, $0, state: &state, backward: false) }
        return y
    }

    /// `sosfilt` over `y` in place, first sample to last, or last to first when `backward`
    /// (a time-reversed signal filtered without reversing it in memory).
    ///
    /// `speculative` (where the CPU has AVX2): each group of four sections through
    /// `clinic_sos4_speculative_avx2`, four quarters of the signal at once, bit for bit the
    /// same result (docs/audio-front-end.md, "The band-pass in four lanes"). `warmup`
    /// overrides `speculationWarmup` (tests). Returns how many samples went one at a time.
    @discardableResult
    static func sosfiltInPlace(_ filter: SOSFilter, _ y: UnsafeMutableBufferPointer<Double>, state: inout [[Double]], backward: Bool,
                               speculative: Bool = Vector.avx2FMA, warmup: Int? = nil) -> Int {
        // Four sections per sample at a time (not one section over the whole signal), in C
        // (`clinic_sos4`): the sections' recursions are independent chains the CPU overlaps,
        // and their states stay in registers. A group short of four is padded with
        // pass-through sections (b0 = 1, all else 0: `out = v + 0`, exact). Exactly scipy's arithmetic, operation
        // for operation, and it must stay so: where a recording is digitally silent the
        // band-passed signal is rounding noise, and the spectral features of those frames
        // are the noise's (scale-invariant), so a different rounding (FMA, reassociation)
        // moved spectral_centroid by up to 37% on real recordings (docs/audio-front-end.md).
        let sections = filter.sections
        var scalar = 0
        for group in stride(from: 0, to: sections.count, by: 4) {
            let count = min(4, sections.count - group)
            let c = sectionCoefficients(filter, group: group)
            var z = [Double](repeating: 0, count: 8)
            for j in 0..<count { z[2 * j] = state[group + j][0]; z[2 * j + 1] = state[group + j][1] }
            guard let base = y.baseAddress else { break }
            let first = backward ? y.count - 1 : 0, step = backward ? -1 : 1
            if speculative, let lead = warmup ?? speculationWarmup(c) {
                scalar += clinic_sos4_speculative_avx2(base, y.count, first, step, c, &z, lead, 64)
            } else {
                clinic_sos4(base, y.count, first, step, c, &z)
                scalar += y.count
            }
            for j in 0..<count { state[group + j] = [z[2 * j], z[2 * j + 1]] }
        }
        return scalar
    }

    /// Sections `group ..< group + 4` as the C kernels take them: b0, b1, b2, a1, a2 each, a
    /// group short of four padded with pass-through sections.
    static func sectionCoefficients(_ filter: SOSFilter, group: Int = 0) -> [Double] {
        (group..<(group + 4)).flatMap { i in
            guard i < filter.sections.count else { return [1.0, 0, 0, 0, 0] }
            let s = filter.sections[i]
            return [s[0], s[1], s[2], s[4], s[5]]
        }
    }

    /// How many samples a speculative lane runs before its part of the signal: twice as many
    /// as the slowest pole (radius r) takes to shrink a difference in the state below Double's
    /// resolution, 2 ln(2⁻⁵³) / ln(r): 3,124 for the 20–720 Hz band-pass at 2 kHz. By
    /// then the lane's rounding has usually met the true trajectory's exactly (measured:
    /// docs/audio-front-end.md). Only speed depends on it; nil (no speculation) for a pole on
    /// or outside the unit circle, which never forgets.
    static func speculationWarmup(_ c: [Double]) -> Int? {
        var r = 0.0
        for j in 0..<4 {
            let a1 = c[5 * j + 3], a2 = c[5 * j + 4], disc = a1 * a1 - 4 * a2
            if disc < 0 {
                r = max(r, a2.squareRoot())
            } else {
                r = max(r, Swift.abs(-a1 + disc.squareRoot()) / 2, Swift.abs(-a1 - disc.squareRoot()) / 2)
            }
        }
        guard r.isFinite, r < 1 else { return nil }
        return r == 0 ? 0 : Int((2 * Foundation.log(0x1p-53) / Foundation.log(r)).rounded(.up))
    }

    /// `scipy.signal.sosfilt(sos, x)` from a zero state.
    public static func sosfilt(_ filter: SOSFilter, _ x: [Double]) -> [Double] {
        var state = Array(repeating: [0.0, 0.0], count: filter.sections.count)
        return sosfilt(filter, x, state: &state)
    }

    /// `scipy.signal.lfilter(b, a, x, zi=state)`, transposed direct form II, `a` normalised
    /// by `a[0]`. `state` has `max(len(a), len(b)) - 1` values and is updated in place.
    public static func lfilter(_ tf: TransferFunction, _ x: [Double], state: inout [Double]) -> [Double] {
        var y = x
        y.withUnsafeMutableBufferPointer { lfilterInPlace(tf, $0, state: &state, backward: false) }
        return y
    }

    /// `lfilter` over `y` in place, first sample to last, or last to first when `backward`.
    /// `fast`: a first-order filter with FMA (`clinic_lfilter1_fma`), where the CPU has it.
    static func lfilterInPlace(_ tf: TransferFunction, _ y: UnsafeMutableBufferPointer<Double>, state: inout [Double], backward: Bool,
                               fast: Bool = Vector.avx2FMA) {
        let (b, a) = normalised(tf)
        let m = b.count
        guard let p = y.baseAddress else { return }
        let first = backward ? y.count - 1 : 0, step = backward ? -1 : 1
        guard m > 1 else {
            for i in 0..<y.count { p[i] *= b[0] }
            return
        }
        if m == 2 && fast {
            // First order (the homomorphic envelope's lowpass) reassociated: each output one
            // FMA on the last (4 cycles a sample instead of 12).
            clinic_lfilter1_fma(p, y.count, first, step, b[0], b[1], a[1], &state[0])
            return
        }
        if m == 2 {
            // First order (the homomorphic envelope's lowpass): the state in a register.
            let b0 = b[0], b1 = b[1], a1 = a[1]
            var z = state[0], i = first
            for _ in 0..<y.count {
                let xi = p[i]
                let yi = z + b0 * xi
                z = xi * b1 - yi * a1
                p[i] = yi
                i += step
            }
            state = [z]
            return
        }
        var z = state, i = first
        z.withUnsafeMutableBufferPointer { zp in
            for _ in 0..<y.count {
                let xi = p[i]
                let yi = zp[0] + b[0] * xi
                for j in 0..<(m - 2) { zp[j] = zp[j + 1] + xi * b[j + 1] - yi * a[j + 1] }
                zp[m - 2] = xi * b[m - 1] - yi * a[m - 1]
                p[i] = yi
                i += step
            }
        }
        state = z
    }

    /// `scipy.signal.lfilter_zi(b, a)`: the state of a step response's steady state.
    public static func lfilterZi(_ tf: TransferFunction) -> [Double] {
        let (b, a) = normalised(tf)
        let n = b.count
        guard n > 1 else { return [] }
        // Solve (I - companion(a)^T) zi = b[1:] - a[1:] b[0].
        var m = Array(repeating: [Double](repeating: 0, count: n - 1), count: n - 1)
        for i in 0..<(n - 1) {
            m[i][0] += a[i + 1]  // -(companion^T)[i][0] = a[i+1]
            m[i][i] += 1
            if i + 1 < n - 1 { m[i][i + 1] -= 1 }
        }
        let rhs = (1..<n).map { b[$0] - a[$0] * b[0] }
        return solve(m, rhs)
    }

    /// `scipy.signal.sosfilt_zi(sos)`: each section's `lfilter_zi`, scaled by the DC gain
    /// of the sections before it.
    public static func sosfiltZi(_ filter: SOSFilter) -> [[Double]] {
        var scale = 1.0
        return filter.sections.map { c in
            let tf = TransferFunction(b: Array(c[0..<3]), a: Array(c[3..<6]))
            let zi = lfilterZi(tf).map { $0 * scale }
            scale *= (c[0] + c[1] + c[2]) / (c[3] + c[4] + c[5])
            return zi
        }
    }

    /// Coefficients padded to one length and divided by `a[0]`.
    static func normalised(_ tf: TransferFunction) -> (b: [Double], a: [Double]) {
        let n = max(tf.a.count, tf.b.count)
        let a0 = tf.a[0]
        let b = (tf.b + Array(repeating: 0, count: n - tf.b.count)).map { $0 / a0 }
        let a = (tf.a + Array(repeating: 0, count: n - tf.a.count)).map { $0 / a0 }
        return (b, a)
    }

    /// Gaussian elimination with partial pivoting for the small systems of `lfilterZi`.
    static func solve(_ matrix: [[Double]], _ rhs: [Double]) -> [Double] {
        var m = matrix, v = rhs
        let n = v.count
        for c in 0..<n {
            let p = (c..<n).max { Swift.abs(m[$0][c]) < Swift.abs(m[$1][c]) }!
            m.swapAt(c, p); v.swapAt(c, p)
            for r in (c + 1)..<max(n, c + 1) where m[c][c] != 0 {
                let f = m[r][c] / m[c][c]
                for k in c..<n { m[r][k] -= f * m[c][k] }
                v[r] -= f * v[c]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = v[r]
            for k in (r + 1)..<max(n, r + 1) { s -= m[r][k] * x[k] }
            x[r] = s / m[r][r]
        }
        return x
    }
}
