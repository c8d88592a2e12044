import Foundation

/// Schmidt spike removal (Schmidt et al. 2010, as in Springer's `schmidt_spike_removal.m`),
/// matching `Training/dsp_reference.py`.
public enum SpikeRemoval {
    /// One removed spike: the 500 ms window, the peak and the span set to 0.0001
    /// (indices within the window, both ends inclusive).
    public struct Removal: Sendable, Equatable {
        /// Index of the 500 ms window.
        public var window: Int
        /// The spike's largest |sample|, within the window.
        public var peak: Int
        /// First and last sample set to `fillValue`, within the window (inclusive).
        public var start: Int
        public var end: Int
    }

    /// The value written over a removed spike (Springer's constant, not 0).
    public static let fillValue = 0.0001

    /// Removes spikes: in windows of `round(fs/2)` samples (trailing samples untouched),
    /// while a window's maximum absolute amplitude exceeds 3 × the median of all windows',
    /// the largest window's peak is set to 0.0001 from the zero crossing before it to the
    /// one after it. Stops early if an iteration changes nothing (a mostly silent signal).
    public static func apply(_ x: [Double], sampleRate fs: Double) -> (output: [Double], removals: [Removal]) {
        let w = Int((fs / 2).rounded(.toNearestOrAwayFromZero))
        guard w > 0 else { return (x, []) }
        let nWindows = x.count / w
        guard nWindows > 0 else { return (x, []) }
        var y = x
        var removals: [Removal] = []
        func maa(_ j: Int) -> Double { y[(j * w)..<((j + 1) * w)].reduce(0) { max($0, Swift.abs($1)) } }
        var amplitudes = (0..<nWindows).map(maa)
        let limit = x.count + 10
        while removals.count < limit {
            let median = Stats.median(amplitudes)
            guard amplitudes.contains(where: { $0 > median * 3 }) else { break }
            let j = amplitudes.indices.max { amplitudes[$0] < amplitudes[$1] || (amplitudes[$0] == amplitudes[$1] && $0 > $1) }!
            let base = j * w
            var p = 0
            for i in 0..<w where Swift.abs(y[base + i]) > Swift.abs(y[base + p]) { p = i }
            func crossing(_ i: Int) -> Bool {
                i < w - 1 && Swift.abs(sign(y[base + i + 1]) - sign(y[base + i])) > 1
            }
            var start = 0
            for i in stride(from: p, through: 0, by: -1) where crossing(i) { start = i; break }
            var end = w - 1
            for i in (p + 1)..<max(w, p + 1) where crossing(i) { end = i; break }
            var changed = false
            for i in start...end where y[base + i] != fillValue { y[base + i] = fillValue; changed = true }
            removals.append(Removal(window: j, peak: p, start: start, end: end))
            if !changed { break }
            amplitudes[j] = maa(j)
        }
        return (y, removals)
    }

    private static func sign(_ v: Double) -> Double { v > 0 ? 1 : (v < 0 ? -1 : 0) }
}
