import Foundation

extension Resampler {
    /// Resamples with about `seconds` of odd extension (scipy `odd_ext`) at each end, cut
    /// off again afterwards; the output has `ceil(n · out / in)` samples like `resample`.
    ///
    /// libsoxr, like any resampler, treats the signal as silent beyond its ends, so a
    /// recording that starts or ends away from zero (a DC offset, a heart sound cut mid-beat)
    /// rings there. The extension continues the signal smoothly and keeps that ringing
    /// outside it. The padding is a whole number of output samples (`k · in/gcd(in, out)`
    /// input samples), so the kept output is not shifted by a fraction of a sample. Rates
    /// that are not whole numbers, or signals too short to extend, are resampled as they are.
    public static func resampleExtendingEdges(
        _ x: [Double], from inputRate: Double, to outputRate: Double,
        seconds: Double = 0.1, quality: Quality = .high
    ) throws(DSPError) -> [Double] {
        if inputRate == outputRate || x.isEmpty { return x }
        let stream = try EdgeExtendingResampler(count: x.count, from: inputRate, to: outputRate, seconds: seconds, quality: quality)
        try x.withUnsafeBufferPointer { (p) throws(DSPError) in try stream.push(p) }
        return try stream.finish()
    }

    /// The odd extension for `count` input samples: `pad` input samples at each end, which
    /// become `outputPad` output samples.
    static func edgePadding(count: Int, from inputRate: Double, to outputRate: Double, seconds: Double) -> (pad: Int, outputPad: Int) {
        guard inputRate == inputRate.rounded(), outputRate == outputRate.rounded(),
              inputRate > 0, outputRate > 0, inputRate < 1e7, outputRate < 1e7 else { return (0, 0) }
        let r = Int(inputRate), a = Int(outputRate)
        var g = r, h = a
        while h != 0 { (g, h) = (h, g % h) }
        var units = Int((seconds * inputRate / Double(r / g)).rounded(.up))
        while units > 0 && units * (r / g) >= count { units -= 1 }
        return (units * (r / g), units * (a / g))
    }
}

/// `Resampler.resampleExtendingEdges` fed in pieces of known total length (a file being
/// decoded), holding only the output and `pad + 1` input samples: the first `pad + 1`
/// samples make the front extension, the last `pad + 1` are held back to make the end one.
public final class EdgeExtendingResampler {
    private let count: Int
    private let pad: Int, outputPad: Int, target: Int
    private let stream: SoxrStream?
    private var pending: [Double] = []
    private var started = false
    private var received = 0
    /// With equal rates, the samples themselves.
    private var passthrough: [Double] = []

    /// A resampler for `count` samples at `inputRate` to `outputRate` Hz.
    public init(count: Int, from inputRate: Double, to outputRate: Double,
                seconds: Double = 0.1, quality: Resampler.Quality = .high) throws(DSPError) {
        self.count = count
        target = Int((Double(count) * outputRate / inputRate).rounded(.up))
        if inputRate == outputRate {
            (pad, outputPad, stream) = (0, 0, nil)
            passthrough.reserveCapacity(count)
        } else {
            (pad, outputPad) = Resampler.edgePadding(count: count, from: inputRate, to: outputRate, seconds: seconds)
            stream = try SoxrStream(from: inputRate, to: outputRate, quality: quality, expectedInput: count + 2 * pad)
        }
    }

    /// Feeds the next input samples.
    public func push(_ samples: UnsafeBufferPointer<Double>) throws(DSPError) {
        received += samples.count
        guard let stream else { passthrough.append(contentsOf: samples); return }
        var input = samples[...]
        if !started {
            let needed = min(max(pad + 1 - pending.count, 0), input.count)
            pending.append(contentsOf: input.prefix(needed))
            input = input.dropFirst(needed)
            guard pending.count > pad else { return }
            // Front: 2·x[0] − x[pad], …, 2·x[0] − x[1].
            let front = (0..<pad).map { 2 * pending[0] - pending[pad - $0] }
            try front.withUnsafeBufferPointer { (p) throws(DSPError) in try stream.process(p) }
            started = true
        }
        // Keep the last pad + 1 samples back for the end's extension; the rest goes to
        // libsoxr straight from `samples` when there are enough of them (no copy of the bulk).
        let keep = pad + 1
        if input.count >= keep {
            try pending.withUnsafeBufferPointer { (p) throws(DSPError) in try stream.process(p) }
            try stream.process(UnsafeBufferPointer(rebasing: input.dropLast(keep)))
            pending.removeAll(keepingCapacity: true)
            pending.append(contentsOf: input.suffix(keep))
        } else {
            pending.append(contentsOf: input)
            let ready = pending.count - keep
            if ready > 0 {
                try pending.withUnsafeBufferPointer { (p) throws(DSPError) in try stream.process(UnsafeBufferPointer(rebasing: p[0..<ready])) }
                pending.removeFirst(ready)
            }
        }
    }

    /// The resampled signal, `ceil(count · out / in)` samples.
    public func finish() throws(DSPError) -> [Double] {
        guard received == count else {
            throw DSPError(.invalidParameter, "The resampler was given \(received) samples; \(count) were announced.")
        }
        guard let stream else { return passthrough }
        if !started {  // no samples at all
            return try stream.finish(length: target)
        }
        // End: 2·x[N−1] − x[N−2], …, 2·x[N−1] − x[N−1−pad].
        let last = pending[pending.count - 1]
        let back = pad > 0 ? (1...pad).map { 2 * last - pending[pending.count - 1 - $0] } : []
        try (pending + back).withUnsafeBufferPointer { (p) throws(DSPError) in try stream.process(p) }
        var out = try stream.finish(length: outputPad + target)
        out.removeFirst(outputPad)  // in place: no second array
        return out
    }
}
