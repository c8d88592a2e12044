import ClinicAudio
import Foundation
internal import COpenBLAS

/// A `clinic-model` cnn (`ModelFile.CNN`), checked and laid out for inference: Float32, as the
/// network was trained; every convolution is one OpenBLAS `sgemm` per patch (im2col),
/// single-threaded (the matrices are small: threads cost more than they give, and
/// `clinic evaluate --jobs` already uses the cores).
struct PatchNetwork: Sendable {
    struct Layer: Sendable {
        var inChannels: Int, outChannels: Int, kernel: Int
        /// `[out][in · kernel · kernel]`, row-major.
        var weight: [Float]
        var bias: [Float]
    }

    let bands: Int
    let frames: Int
    let bandMean: [Float]
    let bandScale: [Float]
    let layers: [Layer]
    let denseWeight: [Float]
    let denseBias: Float
    let sgemm: clinic_cblas_sgemm_fn

    init(_ c: ModelFile.CNN, task: String) throws(ModelError) {
        func fail(_ why: String) -> ModelError { ModelError("\(task): \(why)") }
        guard c.bands == FeatureSet.assessV1.melBands, c.frames == FeatureSet.patchFrames else {
            throw fail("the network reads \(c.bands) × \(c.frames) patches; assess-v1 makes \(FeatureSet.assessV1.melBands) × \(FeatureSet.patchFrames)")
        }
        guard c.bandMean.count == c.bands, c.bandScale.count == c.bands,
              (c.bandMean + c.bandScale).allSatisfy(\.isFinite), c.bandScale.allSatisfy({ $0 > 0 }) else {
            throw fail("band_mean and band_scale must be \(c.bands) finite numbers, scales positive")
        }
        guard !c.conv.isEmpty, c.conv.count <= 6 else { throw fail("a cnn needs 1 to 6 conv layers") }
        var channels = 1, h = c.bands, w = c.frames
        for (i, l) in c.conv.enumerated() {
            guard l.inChannels == channels, (1...256).contains(l.outChannels), l.kernel % 2 == 1, (1...7).contains(l.kernel),
                  l.weight.count == l.outChannels * l.inChannels * l.kernel * l.kernel, l.bias.count == l.outChannels,
                  (l.weight + l.bias).allSatisfy(\.isFinite) else {
                throw fail("conv layer \(i) does not fit: in \(l.inChannels) (needs \(channels)), out \(l.outChannels), kernel \(l.kernel), \(l.weight.count) weights, \(l.bias.count) biases")
            }
            channels = l.outChannels
            h /= 2
            w /= 2
            guard h >= 1, w >= 1 else { throw fail("conv layer \(i) pools the patch away") }
        }
        guard c.dense.weight.count == channels, (c.dense.weight + [c.dense.bias]).allSatisfy(\.isFinite) else {
            throw fail("dense needs \(channels) finite weights and a bias")
        }
        bands = c.bands
        frames = c.frames
        bandMean = c.bandMean.map(Float.init)
        bandScale = c.bandScale.map(Float.init)
        layers = c.conv.map { Layer(inChannels: $0.inChannels, outChannels: $0.outChannels, kernel: $0.kernel,
                                    weight: $0.weight.map(Float.init), bias: $0.bias.map(Float.init)) }
        denseWeight = c.dense.weight.map(Float.init)
        denseBias = Float(c.dense.bias)
        sgemm = try OpenBLAS.sgemm.get()
    }

    /// Each patch's sigmoid output, in order. Every patch must be `bands × frames`.
    ///
    /// One patch at a time through every layer (its im2col matrix, at most 221 KB, stays in
    /// the core's cache), in buffers allocated once per call.
    func probabilities(_ patches: [FrameMatrix]) -> [Double] {
        guard !patches.isEmpty else { return [] }
        // Largest activation (before pooling) and im2col matrix over the layers.
        var actSize = bands * frames, colSize = 0, h = bands, w = frames
        for l in layers {
            actSize = max(actSize, l.outChannels * h * w)
            colSize = max(colSize, l.inChannels * l.kernel * l.kernel * h * w)
            h /= 2
            w /= 2
        }
        let act = UnsafeMutablePointer<Float>.allocate(capacity: actSize)
        let conv = UnsafeMutablePointer<Float>.allocate(capacity: actSize)
        let col = UnsafeMutablePointer<Float>.allocate(capacity: colSize)
        defer { act.deallocate(); conv.deallocate(); col.deallocate() }
        return patches.map { patch in
            precondition(patch.rows == bands && patch.frames == frames, "a patch is not \(bands) × \(frames)")
            // Input: one channel, rows = mel bands, columns = frames (the patch is frame by frame).
            patch.values.withUnsafeBufferPointer { v in
                for f in 0..<frames {
                    for b in 0..<bands { act[b * frames + f] = (Float(v[f * bands + b]) - bandMean[b]) / bandScale[b] }
                }
            }
            var h = bands, w = frames
            for layer in layers {
                Self.im2col(act, height: h, width: w, layer, into: col)
                let rows = layer.inChannels * layer.kernel * layer.kernel, cols = h * w
                layer.weight.withUnsafeBufferPointer { weight in
                    sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(layer.outChannels), Int32(cols), Int32(rows),
                          1, weight.baseAddress, Int32(rows), col, Int32(cols), 0, conv, Int32(cols))
                }
                Self.biasReluPool(conv, layer.bias, height: h, width: w, into: act)
                h /= 2
                w /= 2
            }
            // Mean over positions, the dense layer, the sigmoid.
            let area = h * w
            var z = denseBias
            for c in 0..<layers.last!.outChannels {
                var sum: Float = 0
                for i in 0..<area { sum += act[c * area + i] }
                z += denseWeight[c] * (sum / Float(area))
            }
            return 1 / (1 + exp(-Double(z)))
        }
    }

    /// The `k × k` zero-padded neighbourhoods of `x` (`[in][h][w]`) as the columns of a
    /// `[in · k · k][h · w]` matrix.
    private static func im2col(_ x: UnsafeMutablePointer<Float>, height h: Int, width w: Int, _ l: Layer,
                               into col: UnsafeMutablePointer<Float>) {
        let k = l.kernel, pad = k / 2, cols = h * w
        col.update(repeating: 0, count: l.inChannels * k * k * cols)
        for c in 0..<l.inChannels {
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = col + ((c * k + ky) * k + kx) * cols, dy = ky - pad, dx = kx - pad
                    let x0 = max(0, -dx), n = min(w, w - dx) - x0
                    for y in max(0, -dy)..<min(h, h - dy) {
                        (row + y * w + x0).update(from: x + (c * h + y + dy) * w + x0 + dx, count: n)
                    }
                }
            }
        }
    }

    /// Bias, ReLU and 2 × 2 max pooling (odd edges dropped, as PyTorch's MaxPool2d(2)) of
    /// `[out][h][w]` into `[out][h/2][w/2]`.
    private static func biasReluPool(_ x: UnsafeMutablePointer<Float>, _ bias: [Float], height h: Int, width w: Int,
                                     into out: UnsafeMutablePointer<Float>) {
        let oh = h / 2, ow = w / 2
        for c in 0..<bias.count {
            let src = x + c * h * w, dst = out + c * oh * ow, b = bias[c]
            for y in 0..<oh {
                for xx in 0..<ow {
                    let i = src + 2 * y * w + 2 * xx
                    dst[y * ow + xx] = max(0, max(max(i[0], i[1]), max(i[w], i[w + 1])) + b)
                }
            }
        }
    }
}

/// OpenBLAS, opened the first time a cnn is loaded, with one thread: `OPENBLAS_NUM_THREADS` is
/// set before the library loads, so it starts no worker threads (linked at start-up, it started
/// one per core, spinning on `sched_yield` for a while: about 50 ms of CPU in every clinic
/// process, network or not).
enum OpenBLAS {
    static let sgemm: Result<clinic_cblas_sgemm_fn, ModelError> = {
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        for name in ["libopenblas.so.0", "libopenblas.so"] {
            guard let library = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            if let setThreads = dlsym(library, "openblas_set_num_threads") {
                unsafeBitCast(setThreads, to: (@convention(c) (Int32) -> Void).self)(1)
            }
            if let symbol = dlsym(library, "cblas_sgemm") { return .success(unsafeBitCast(symbol, to: clinic_cblas_sgemm_fn.self)) }
        }
        return .failure(ModelError("OpenBLAS (libopenblas.so.0), which a cnn model runs on, could not be loaded: apt-get install libopenblas0"))
    }()
}
