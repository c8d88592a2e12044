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
        let zi = sosfiltZi(filter)
        return try zeroPhase(x, edge) { y in
            var state = zi.map { $0.map { $0 * y[0] } }
            sosfiltInPlace(filter, y, state: &state, backward: false)
            state = zi.map { $0.map { $0 * y[y.count - 1] } }
            sosfiltInPlace(filter, y, state: &state, backward: true)
        }
    }

    /// `scipy.signal.filtfilt(b, a, x)` (method 'pad'): as `sosfiltfilt` with `lfilter_zi`.
    public static func filtfilt(
        _ tf: TransferFunction, _ x: [Double], padLength: Int? = nil
    ) throws(DSPError) -> [Double] {
        let edge = padLength ?? defaultPadLength(tf)
        return try zeroPhase(x, edge) { y in filtfiltInPlace(tf, y) }
    }

    /// `filtfilt`'s two passes over `y` in place, `y` already extended at both ends.
    static func filtfiltInPlace(_ tf: TransferFunction, _ y: UnsafeMutableBufferPointer<Double>) {
        let zi = lfilterZi(tf)
        var state = zi.map { $0 * y[0] }
        lfilterInPlace(tf, y, state: &state, backward: false)
        state = zi.map { $0 * y[y.count - 1] }
        lfilterInPlace(tf, y, state: &state, backward: true)
    }

    /// `passes` run in place on `x` with `edge` samples of odd extension at each end
    /// (scipy `odd_ext`), the extension dropped from the result.
    static func zeroPhase(
        _ x: [Double], _ edge: Int, _ passes: (UnsafeMutableBufferPointer<Double>) -> Void
    ) throws(DSPError) -> [Double] {
        try checkPadding(x.count, edge)
        var y = Vector.array(count: x.count + 2 * edge) { y in
            x.withUnsafeBufferPointer { y.baseAddress!.advanced(by: edge).update(from: $0.baseAddress!, count: x.count) }
            oddExtend(y, edge)
            passes(y)
        }
        // The signal moved to the front in place and the end dropped: no second array.
        y.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: $0.baseAddress! + edge, count: x.count) }
        y.removeLast(2 * edge)
        return y
    }

    /// Throws `.tooShort` unless a signal of `count` samples is longer than the padding `edge`.
    static func checkPadding(_ count: Int, _ edge: Int) throws(DSPError) {
        guard edge >= 0, count > edge else {
            throw DSPError(.tooShort, "The signal must be longer than the filter's edge padding (\(edge) samples).")
        }
    }

    /// scipy `odd_ext` in place: `y[edge ..< count − edge]` holds the signal `x`; the
    /// first `edge` values become `2x[0] − x[edge…1]`, the last `2x[N−1] − x[N−2…N−1−edge]`.
    static func oddExtend(_ y: UnsafeMutableBufferPointer<Double>, _ edge: Int) {
        let n = y.count - 2 * edge
        guard edge > 0, n > edge else { return }
        let first = y[edge], last = y[edge + n - 1]
        for i in 1...edge {
            y[edge - i] = 2 * first - y[edge + i]
            y[edge + n - 1 + i] = 2 * last - y[edge + n - 1 - i]
        }
    }
}
