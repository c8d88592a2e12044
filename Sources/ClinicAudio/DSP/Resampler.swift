internal import CSoxr
import Foundation

/// Sample-rate conversion with libsoxr, matching `librosa.resample(..., res_type='soxr_hq')`
/// (python-soxr's `resample(x, in, out, quality='HQ')`: libsoxr's HQ recipe, linear phase,
/// Double in and out, then the length fixed to `ceil(n · out / in)`).
public enum Resampler {
    /// libsoxr's quality recipes used here.
    public enum Quality: Sendable {
        /// SOXR_HQ (20-bit, librosa's default 'soxr_hq').
        case high
        /// SOXR_VHQ (28-bit).
        case veryHigh
    }

    /// Resamples mono `x` from `inputRate` to `outputRate` Hz. Equal rates return `x`.
    public static func resample(
        _ x: [Double], from inputRate: Double, to outputRate: Double, quality: Quality = .high
    ) throws(DSPError) -> [Double] {
        guard inputRate > 0, outputRate > 0, inputRate.isFinite, outputRate.isFinite else {
            throw DSPError(.invalidParameter, "Sample rates must be positive.")
        }
        if inputRate == outputRate || x.isEmpty { return x }
        let target = Int((Double(x.count) * outputRate / inputRate).rounded(.up))
        var ioSpec = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I)
        let recipe = quality == .high ? clinic_soxr_hq() : clinic_soxr_vhq()
        var qSpec = soxr_quality_spec(recipe, clinic_soxr_linear_phase())
        var runtime = soxr_runtime_spec(1)
        var error: soxr_error_t? = nil
        guard let soxr = soxr_create(inputRate, outputRate, 1, &error, &ioSpec, &qSpec, &runtime), error == nil else {
            throw DSPError(.library, "libsoxr could not start the resampler.")
        }
        defer { soxr_delete(soxr) }
        // Room for the whole output plus libsoxr's rounding of it.
        var out = [Double](repeating: 0, count: target + 16)
        var produced = 0
        try x.withUnsafeBufferPointer { (input) throws(DSPError) in
            try out.withUnsafeMutableBufferPointer { (output) throws(DSPError) in
                var used = 0, done = 0
                error = soxr_process(soxr, input.baseAddress, x.count, &used, output.baseAddress, output.count, &done)
                guard error == nil, used == x.count else { throw DSPError(.library, "libsoxr failed while resampling.") }
                produced = done
                // Flush: no more input.
                while produced < output.count {
                    error = soxr_process(soxr, nil, 0, nil, output.baseAddress! + produced, output.count - produced, &done)
                    guard error == nil else { throw DSPError(.library, "libsoxr failed while flushing.") }
                    if done == 0 { break }
                    produced += done
                }
            }
        }
        // librosa fix_length: pad with zeros or trim to ceil(n · out / in).
        if produced < target { return Array(out[0..<produced]) + Array(repeating: 0, count: target - produced) }
        return Array(out[0..<target])
    }
}
