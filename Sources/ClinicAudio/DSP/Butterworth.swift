import Foundation

/// The kind of a Butterworth filter, with its cutoff frequencies in Hz.
public enum FilterBand: Sendable, Equatable {
    case lowpass(Double)
    case highpass(Double)
    case bandpass(Double, Double)
}

/// A digital IIR filter as second-order sections, scipy's `sos` layout: each row is
/// `[b0, b1, b2, 1, a1, a2]`, sections run in order.
public struct SOSFilter: Sendable, Equatable {
    /// One row per section: `[b0, b1, b2, a0 (= 1), a1, a2]`.
    public var sections: [[Double]]
    /// A filter from scipy-layout sections.
    public init(sections: [[Double]]) { self.sections = sections }
}

/// A digital IIR filter as transfer-function coefficients (`b`, `a` with `a[0] == 1`).
public struct TransferFunction: Sendable, Equatable {
    /// Numerator coefficients, highest power of z⁻⁰ first.
    public var b: [Double]
    /// Denominator coefficients (`a[0]` normalises the filter).
    public var a: [Double]
    /// A filter from its coefficients.
    public init(b: [Double], a: [Double]) { self.b = b; self.a = a }
}

/// Butterworth filter design, matching `scipy.signal.butter` (digital, `fs` given):
/// analog prototype poles, pre-warping `2·fs'·tan(π·Wn/fs')` with `fs' = 2`, the lowpass /
/// highpass / bandpass transform, the bilinear transform, then `zpk2sos` with scipy's
/// default 'nearest' pairing or `zpk2tf`. Coefficients agree with scipy to ~1e-15.
public enum Butterworth {
    /// Poles, zeros and gain of the digital filter (z-plane).
    struct ZPK {
        var zeros: [Complex]
        var poles: [Complex]
        var gain: Double
    }

    /// `scipy.signal.butter(order, cutoffs, btype, fs=sampleRate, output='sos')`.
    public static func sos(order: Int, _ band: FilterBand, sampleRate: Double) throws(DSPError) -> SOSFilter {
        SOSFilter(sections: zpkToSOS(try design(order: order, band, sampleRate: sampleRate)))
    }

    /// `scipy.signal.butter(order, cutoffs, btype, fs=sampleRate)` (`output='ba'`).
    public static func transferFunction(
        order: Int, _ band: FilterBand, sampleRate: Double
    ) throws(DSPError) -> TransferFunction {
        let zpk = try design(order: order, band, sampleRate: sampleRate)
        return TransferFunction(b: polynomial(roots: zpk.zeros).map { $0 * zpk.gain },
                                a: polynomial(roots: zpk.poles))
    }

    static func design(order n: Int, _ band: FilterBand, sampleRate fs: Double) throws(DSPError) -> ZPK {
        guard n >= 1, n <= 32 else { throw DSPError(.invalidParameter, "The filter order must be 1 to 32.") }
        let cutoffs: [Double] = switch band {
        case let .lowpass(f), let .highpass(f): [f]
        case let .bandpass(lo, hi): [lo, hi]
        }
        let wn = cutoffs.map { 2 * $0 / fs }
        guard wn.allSatisfy({ $0 > 0 && $0 < 1 }), wn.count == 1 || wn[0] < wn[1] else {
            throw DSPError(.invalidParameter, "Filter cutoffs must be between 0 Hz and the Nyquist frequency, in increasing order.")
        }
        // Analog prototype (scipy buttap): poles -exp(iπm/(2n)), m = -n+1, -n+3, ..., n-1.
        let poles = stride(from: -n + 1, to: n, by: 2).map { m -> Complex in
            -Complex.expi(Double.pi * Double(m) / Double(2 * n))
        }
        let warped = wn.map { 2 * 2.0 * tan(Double.pi * $0 / 2.0) }
        var z: [Complex] = [], p = poles, k = 1.0
        switch band {
        case .lowpass:
            p = p.map { warped[0] * $0 }
            k = pow(warped[0], Double(n))
        case .highpass:
            p = p.map { Complex(warped[0]) / $0 }
            z = Array(repeating: .zero, count: n)
            k = 1 / poles.reduce(Complex.one) { $0 * -$1 }.re
        case .bandpass:
            let bw = warped[1] - warped[0], wo = (warped[0] * warped[1]).squareRoot()
            let lp = p.map { (bw / 2) * $0 }
            let root = lp.map { ($0 * $0 - Complex(wo * wo)).squareRoot() }
            p = zip(lp, root).map { $0 + $1 } + zip(lp, root).map { $0 - $1 }
            z = Array(repeating: .zero, count: n)
            k = pow(bw, Double(n))
        }
        // Bilinear transform with fs' = 2 (scipy bilinear_zpk).
        let fs2 = Complex(4.0)
        let degree = p.count - z.count
        let zz = z.map { (fs2 + $0) / (fs2 - $0) } + Array(repeating: Complex(-1), count: degree)
        let pz = p.map { (fs2 + $0) / (fs2 - $0) }
        let num = z.reduce(Complex.one) { $0 * (fs2 - $1) }
        let den = p.reduce(Complex.one) { $0 * (fs2 - $1) }
        return ZPK(zeros: zz, poles: pz, gain: k * (num / den).re)
    }
}
