import Foundation

/// Causal and zero-phase IIR filtering in Double, matching `scipy.signal.sosfilt`,
/// `lfilter`, `sosfiltfilt` and `filtfilt` (default `padtype='odd'` and `padlen`).
public enum IIR {
    /// `scipy.signal.sosfilt(sos, x, zi=state)`: sections in order, each a transposed
    /// direct form II biquad. `state` (2 values per section) is updated in place.
    public static func sosfilt(_ filter: SOSFilter, _ x: [Double], state: inout [[Double]]) -> [Double] {
        // All sections per sample (not one section over the whole signal): the sections'
        // recursions are independent chains the CPU can overlap. Same arithmetic as scipy.
        let n = filter.sections.count
        var coefficients = [Double](), z = [Double]()
        for (s, c) in filter.sections.enumerated() {
            coefficients += [c[0], c[1], c[2], c[4], c[5]]
            z += [state[s][0], state[s][1]]
        }
        var y = x
        y.withUnsafeMutableBufferPointer { yp in
            coefficients.withUnsafeBufferPointer { c in
                z.withUnsafeMutableBufferPointer { zp in
                    for i in 0..<yp.count {
                        var v = yp[i]
                        for s in 0..<n {
                            let b0 = c[5 * s], b1 = c[5 * s + 1], b2 = c[5 * s + 2], a1 = c[5 * s + 3], a2 = c[5 * s + 4]
                            let out = b0 * v + zp[2 * s]
                            zp[2 * s] = b1 * v - a1 * out + zp[2 * s + 1]
                            zp[2 * s + 1] = b2 * v - a2 * out
                            v = out
                        }
                        yp[i] = v
                    }
                }
            }
        }
        state = (0..<n).map { [z[2 * $0], z[2 * $0 + 1]] }
        return y
    }

    /// `scipy.signal.sosfilt(sos, x)` from a zero state.
    public static func sosfilt(_ filter: SOSFilter, _ x: [Double]) -> [Double] {
        var state = Array(repeating: [0.0, 0.0], count: filter.sections.count)
        return sosfilt(filter, x, state: &state)
    }

    /// `scipy.signal.lfilter(b, a, x, zi=state)`, transposed direct form II, `a` normalised
    /// by `a[0]`. `state` has `max(len(a), len(b)) - 1` values and is updated in place.
    public static func lfilter(_ tf: TransferFunction, _ x: [Double], state: inout [Double]) -> [Double] {
        let (b, a) = normalised(tf)
        let m = b.count
        guard m > 1 else { return x.map { $0 * b[0] } }
        if m == 2 { return firstOrder(b, a, x, state: &state) }
        var z = state
        var y = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                z.withUnsafeMutableBufferPointer { zp in
                    for i in 0..<xp.count {
                        let xi = xp[i]
                        let yi = zp[0] + b[0] * xi
                        for j in 0..<(m - 2) { zp[j] = zp[j + 1] + xi * b[j + 1] - yi * a[j + 1] }
                        zp[m - 2] = xi * b[m - 1] - yi * a[m - 1]
                        yp[i] = yi
                    }
                }
            }
        }
        state = z
        return y
    }

    /// `lfilter` for a first-order filter (the homomorphic envelope's lowpass), same arithmetic.
    private static func firstOrder(_ b: [Double], _ a: [Double], _ x: [Double], state: inout [Double]) -> [Double] {
        let b0 = b[0], b1 = b[1], a1 = a[1]
        var z = state[0]
        var y = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for i in 0..<xp.count {
                    let xi = xp[i]
                    let yi = z + b0 * xi
                    z = xi * b1 - yi * a1
                    yp[i] = yi
                }
            }
        }
        state = [z]
        return y
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
