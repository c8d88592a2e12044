import Foundation

extension Butterworth {
    /// `scipy.signal.zpk2sos(z, p, k)` for a digital filter with the default 'nearest'
    /// pairing: poles closest to the unit circle go last, each paired with its nearest zero.
    static func zpkToSOS(_ zpk: ZPK) -> [[Double]] {
        var z = zpk.zeros, p = zpk.poles
        if z.count < p.count { z += Array(repeating: .zero, count: p.count - z.count) }
        if p.count < z.count { p += Array(repeating: .zero, count: z.count - p.count) }
        let nSections = (max(p.count, z.count) + 1) / 2
        if p.count % 2 == 1 { p.append(.zero); z.append(.zero) }
        // One of each conjugate pair (positive imaginary part), then the real ones.
        z = conjugatePairsAndReals(z)
        p = conjugatePairsAndReals(p)

        func worst(_ values: [Complex]) -> Int {
            values.indices.min { Swift.abs(1 - values[$0].abs) < Swift.abs(1 - values[$1].abs) }!
        }
        var sos = Array(repeating: [Double](repeating: 0, count: 6), count: nSections)
        for si in stride(from: nSections - 1, through: 0, by: -1) {
            let p1 = p.remove(at: worst(p))
            if p1.isReal && !p.contains(where: \.isReal) {
                // Last remaining real pole: a first-order section.
                let z1 = z.remove(at: nearest(z, to: p1, .real))
                sos[si] = section(zeros: [z1, .zero], poles: [p1, .zero])
            } else if p.count + 1 == z.count && !p1.isReal
                        && p.filter(\.isReal).count == 1 && z.filter(\.isReal).count == 1 {
                // One real pole and one real zero left: this pole must take a complex zero.
                let z1 = z.remove(at: nearest(z, to: p1, .complex))
                sos[si] = section(zeros: [z1, z1.conj], poles: [p1, p1.conj])
            } else {
                let p2: Complex
                if p1.isReal {
                    let reals = p.indices.filter { p[$0].isReal }
                    p2 = p.remove(at: reals[worst(reals.map { p[$0] })])
                } else {
                    p2 = p1.conj
                }
                if z.isEmpty {
                    sos[si] = section(zeros: [], poles: [p1, p2])
                } else {
                    let z1 = z.remove(at: nearest(z, to: p1, .any))
                    if !z1.isReal {
                        sos[si] = section(zeros: [z1, z1.conj], poles: [p1, p2])
                    } else if !z.isEmpty {
                        let z2 = z.remove(at: nearest(z, to: p1, .real))
                        sos[si] = section(zeros: [z1, z2], poles: [p1, p2])
                    } else {
                        sos[si] = section(zeros: [z1], poles: [p1, p2])
                    }
                }
            }
        }
        for i in 0..<3 { sos[0][i] *= zpk.gain }
        return sos
    }

    private enum Which { case real, complex, any }

    /// scipy `_nearest_real_complex_idx`: the closest value of the wanted kind (stable order).
    private static func nearest(_ from: [Complex], to target: Complex, _ which: Which) -> Int {
        let order = from.indices.sorted { a, b in
            let da = (from[a] - target).abs, db = (from[b] - target).abs
            return da < db || (da == db && a < b)
        }
        switch which {
        case .any: return order[0]
        case .real: return order.first { from[$0].isReal }!
        case .complex: return order.first { !from[$0].isReal }!
        }
    }

    /// scipy `_single_zpksos`: b and a of one section, right-aligned in `[b0 b1 b2 a0 a1 a2]`.
    private static func section(zeros: [Complex], poles: [Complex]) -> [Double] {
        let b = polynomial(roots: zeros), a = polynomial(roots: poles)
        var row = [Double](repeating: 0, count: 6)
        for (i, v) in b.enumerated() { row[3 - b.count + i] = v }
        for (i, v) in a.enumerated() { row[6 - a.count + i] = v }
        return row
    }

    /// scipy `_cplxreal`, then concatenated: complex values with positive imaginary part
    /// (averaged with their conjugates), sorted by real part then |imag|, then the reals, sorted.
    static func conjugatePairsAndReals(_ values: [Complex]) -> [Complex] {
        let tol = 100 * Double.ulpOfOne
        let sorted = values.sorted { ($0.re, Swift.abs($0.im)) < ($1.re, Swift.abs($1.im)) }
        let isReal = { (v: Complex) in Swift.abs(v.im) <= tol * v.abs }
        let reals = sorted.filter(isReal).map { Complex($0.re) }
        let complex = sorted.filter { !isReal($0) }
        let pos = complex.filter { $0.im > 0 }, neg = complex.filter { $0.im < 0 }
        precondition(pos.count == neg.count, "complex values must come in conjugate pairs")
        // Within runs of equal real part, order by |imag| (both halves alike).
        let byImag = { (run: [Complex]) in run.sorted { Swift.abs($0.im) < Swift.abs($1.im) } }
        func runs(_ half: [Complex]) -> [Complex] {
            var out: [Complex] = [], i = 0
            while i < half.count {
                var j = i
                while j + 1 < pos.count && pos[j + 1].re - pos[j].re <= tol * pos[j].abs { j += 1 }
                out += byImag(Array(half[i...j]))
                i = j + 1
            }
            return out
        }
        let zp = runs(pos), zn = runs(neg)
        return zip(zp, zn).map { Complex(($0.re + $1.re) / 2, ($0.im - $1.im) / 2) } + reals
    }
}
