import Foundation

extension IIR {
    /// scipy's default `padlen` for `sosfiltfilt`:
    /// `3 * (2 * sections + 1 - min(#sections with b2 == 0, #sections with a2 == 0))`.
    public static func defaultPadLength(_ filter: SOSFilter) -> Int {
        let b2zero = filter.sections.filter { $0[2] == 0 }.count
        let a2zero = filter.sections.filter { $0[5] == 0 }.count
        return 3 * (2 * filter.sections.count + 1 - min(b2zero, a2zero))
    }

    /// scipy's default `padlen` for `filtfilt`: `3 * max(len(a), len(b))`.
    public static func defaultPadLength(_ tf: TransferFunction) -> Int {
        3 * max(tf.a.count, tf.b.count)
    }

    /// `scipy.signal.sosfiltfilt(sos, x)`: odd extension by `padLength` samples at each end,
    /// a forward and a backward pass each started from `sosfilt_zi` times the first sample,
    /// then the padding dropped. Throws `.tooShort` unless `x.count > padLength` (as scipy).
    public static func sosfiltfilt(
        _ filter: SOSFilter, _ x: [Double], padLength: Int? = nil
    ) throws(DSPError) -> [Double] {
        let edge = padLength ?? defaultPadLength(filter)
        var y = try oddExtension(x, edge)
        let zi = sosfiltZi(filter)
        // Both passes in place: the backward one runs from the end instead of reversing.
        y.withUnsafeMutableBufferPointer { y in
            var state = zi.map { $0.map { $0 * y[0] } }
            sosfiltInPlace(filter, y, state: &state, backward: false)
            state = zi.map { $0.map { $0 * y[y.count - 1] } }
            sosfiltInPlace(filter, y, state: &state, backward: true)
        }
        return Array(y[edge..<(y.count - edge)])
    }

    /// `scipy.signal.filtfilt(b, a, x)` (method 'pad'): as `sosfiltfilt` with `lfilter_zi`.
    public static func filtfilt(
        _ tf: TransferFunction, _ x: [Double], padLength: Int? = nil
    ) throws(DSPError) -> [Double] {
        let edge = padLength ?? defaultPadLength(tf)
        var y = try oddExtension(x, edge)
        let zi = lfilterZi(tf)
        y.withUnsafeMutableBufferPointer { y in
            var state = zi.map { $0 * y[0] }
            lfilterInPlace(tf, y, state: &state, backward: false)
            state = zi.map { $0 * y[y.count - 1] }
            lfilterInPlace(tf, y, state: &state, backward: true)
        }
        return Array(y[edge..<(y.count - edge)])
    }

    /// scipy `odd_ext`: `[2x[0] - x[n..1], x, 2x[N-1] - x[N-2..N-1-n]]`.
    static func oddExtension(_ x: [Double], _ n: Int) throws(DSPError) -> [Double] {
        guard n >= 0, x.count > n else {
            throw DSPError(.tooShort, "The signal must be longer than the filter's edge padding (\(n) samples).")
        }
        guard n > 0 else { return x }
        let first = x[0], last = x[x.count - 1]
        var out = [Double]()
        out.reserveCapacity(x.count + 2 * n)
        for i in stride(from: n, through: 1, by: -1) { out.append(2 * first - x[i]) }
        out += x
        for i in 1...n { out.append(2 * last - x[x.count - 1 - i]) }
        return out
    }
}
