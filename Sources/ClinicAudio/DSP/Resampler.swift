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
        let stream = try SoxrStream(from: inputRate, to: outputRate, quality: quality)
        try x.withUnsafeBufferPointer { (p) throws(DSPError) in try stream.process(p) }
        return try stream.finish(length: Int((Double(x.count) * outputRate / inputRate).rounded(.up)))
    }
}

/// One libsoxr resampler fed in pieces: the output is the same whatever the pieces' sizes
/// (libsoxr is a streaming FIR/FFT filter; `ResamplerTests` checks it sample for sample).
final class SoxrStream {
    private let soxr: soxr_t
    private let ratio: Double
    private(set) var output: [Double] = []

    init(from inputRate: Double, to outputRate: Double, quality: Resampler.Quality, expectedInput: Int = 0) throws(DSPError) {
        guard inputRate > 0, outputRate > 0, inputRate.isFinite, outputRate.isFinite else {
            throw DSPError(.invalidParameter, "Sample rates must be positive.")
        }
        var ioSpec = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I)
        let recipe = quality == .high ? clinic_soxr_hq() : clinic_soxr_vhq()
        var qSpec = soxr_quality_spec(recipe, clinic_soxr_linear_phase())
        var runtime = soxr_runtime_spec(1)
        var error: soxr_error_t? = nil
        guard let soxr = soxr_create(inputRate, outputRate, 1, &error, &ioSpec, &qSpec, &runtime), error == nil else {
            throw DSPError(.library, "libsoxr could not start the resampler.")
        }
        self.soxr = soxr
        ratio = outputRate / inputRate
        output.reserveCapacity(Int(Double(expectedInput) * ratio) + 64)
    }

    deinit { soxr_delete(soxr) }

    /// Feeds input samples; what libsoxr produces is appended to `output`.
    func process(_ input: UnsafeBufferPointer<Double>) throws(DSPError) {
        var offset = 0
        var scratch = [Double](repeating: 0, count: Int(Double(min(input.count, 65_536)) * ratio) + 64)
        while offset < input.count {
            var used = 0, done = 0
            let count = min(input.count - offset, 65_536)
            let error = scratch.withUnsafeMutableBufferPointer { out in
                soxr_process(soxr, input.baseAddress! + offset, count, &used, out.baseAddress, out.count, &done)
            }
            guard error == nil else { throw DSPError(.library, "libsoxr failed while resampling.") }
            output.append(contentsOf: scratch[0..<done])
            offset += used
        }
    }

    /// Flushes libsoxr and returns the output fixed to `length` samples (librosa `fix_length`:
    /// zero-padded or trimmed).
    func finish(length: Int) throws(DSPError) -> [Double] {
        var scratch = [Double](repeating: 0, count: 4096)
        while output.count < length + 16 {
            var done = 0
            let error = scratch.withUnsafeMutableBufferPointer { out in
                soxr_process(soxr, nil, 0, nil, out.baseAddress, out.count, &done)
            }
            guard error == nil else { throw DSPError(.library, "libsoxr failed while flushing.") }
            if done == 0 { break }
            output.append(contentsOf: scratch[0..<done])
        }
        if output.count < length { output += [Double](repeating: 0, count: length - output.count) }
        output.removeLast(output.count - length)
        var result: [Double] = []
        swap(&result, &output)  // handed over, not copied
        return result
    }
}
