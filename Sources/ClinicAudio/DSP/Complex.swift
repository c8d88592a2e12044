import Foundation

/// A minimal complex double, enough for filter design (poles and zeros).
struct Complex: Equatable, Sendable {
    var re: Double
    var im: Double

    init(_ re: Double, _ im: Double = 0) {
        self.re = re
        self.im = im
    }

    static let zero = Complex(0)
    static let one = Complex(1)

    var conj: Complex { Complex(re, -im) }
    var abs: Double { hypot(re, im) }
    var isReal: Bool { im == 0 }

    static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    static prefix func - (a: Complex) -> Complex { Complex(-a.re, -a.im) }
    static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    static func * (s: Double, a: Complex) -> Complex { Complex(s * a.re, s * a.im) }

    /// Division by Smith's method (as numpy), which avoids needless overflow.
    static func / (a: Complex, b: Complex) -> Complex {
        if Swift.abs(b.re) >= Swift.abs(b.im) {
            let r = b.im / b.re, d = b.re + b.im * r
            return Complex((a.re + a.im * r) / d, (a.im - a.re * r) / d)
        } else {
            let r = b.re / b.im, d = b.im + b.re * r
            return Complex((a.re * r + a.im) / d, (a.im * r - a.re) / d)
        }
    }

    /// Principal square root.
    func squareRoot() -> Complex {
        if re == 0 && im == 0 { return Complex(0, im) }
        let t = ((Swift.abs(re) + hypot(re, im)) / 2).squareRoot()
        if re >= 0 { return Complex(t, im / (2 * t)) }
        return Complex(Swift.abs(im) / (2 * t), im >= 0 ? t : -t)
    }

    /// e^(i·theta).
    static func expi(_ theta: Double) -> Complex { Complex(cos(theta), sin(theta)) }
}

/// Coefficients of the monic polynomial with the given roots, highest power first
/// (numpy.poly): the real parts, since every caller passes conjugate-closed root sets.
func polynomial(roots: [Complex]) -> [Double] {
    var c: [Complex] = [.one]
    for r in roots {
        var next = c + [.zero]
        for i in 1..<next.count { next[i] = next[i] - r * c[i - 1] }
        c = next
    }
    return c.map(\.re)
}
