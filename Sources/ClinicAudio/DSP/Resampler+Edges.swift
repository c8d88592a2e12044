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
        let target = Int((Double(x.count) * outputRate / inputRate).rounded(.up))
        var pad = 0, outPad = 0
        if inputRate == inputRate.rounded(), outputRate == outputRate.rounded(),
           inputRate > 0, outputRate > 0, inputRate < 1e7, outputRate < 1e7 {
            let r = Int(inputRate), a = Int(outputRate)
            var g = r, h = a
            while h != 0 { (g, h) = (h, g % h) }
            var units = Int((seconds * inputRate / Double(r / g)).rounded(.up))
            while units > 0 && units * (r / g) >= x.count { units -= 1 }
            pad = units * (r / g)
            outPad = units * (a / g)
        }
        let y = try resample(try IIR.oddExtension(x, pad), from: inputRate, to: outputRate, quality: quality)
        return Array(y[outPad..<(outPad + target)])
    }
}
