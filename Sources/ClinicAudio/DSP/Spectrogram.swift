import Foundation

/// A real matrix in librosa's orientation: `rows` (frequency bins, mel bands or
/// coefficients) by `frames`, stored frame by frame (`values[frame * rows + row]`).
public struct FrameMatrix: Sendable, Equatable {
    /// Values per frame (bins, bands or coefficients).
    public var rows: Int
    /// Number of frames.
    public var frames: Int
    /// `rows × frames` values, frame by frame.
    public var values: [Double]

    /// A matrix from frame-major values.
    public init(rows: Int, frames: Int, values: [Double]) {
        precondition(values.count == rows * frames, "values must hold rows × frames numbers")
        self.rows = rows
        self.frames = frames
        self.values = values
    }

    /// The value at `row` in `frame`.
    public subscript(row: Int, frame: Int) -> Double { values[frame * rows + row] }

    /// One frame (column): all its rows.
    public func column(_ frame: Int) -> ArraySlice<Double> { values[(frame * rows)..<((frame + 1) * rows)] }

    /// The same matrix with `f` applied to every value.
    public func map(_ f: (Double) -> Double) -> FrameMatrix {
        FrameMatrix(rows: rows, frames: frames, values: values.map(f))
    }
}

/// Short-time Fourier transform settings, librosa's defaults for heart sounds here:
/// periodic Hann window of `fftLength`, centred frames, the signal padded with
/// `fftLength / 2` zeros at each end (librosa 0.11 `pad_mode='constant'`).
public struct STFTConfig: Sendable, Equatable {
    /// DFT and window length in samples.
    public var fftLength: Int
    /// Samples between frame starts.
    public var hopLength: Int

    /// Settings; the defaults are the fixtures' (256 / 64).
    public init(fftLength: Int = 256, hopLength: Int = 64) {
        self.fftLength = fftLength
        self.hopLength = hopLength
    }

    /// Frames for `n` samples when centred: `1 + n / hop`.
    public func frameCount(_ n: Int) -> Int { 1 + n / hopLength }
    /// Frequency bins: `fftLength / 2 + 1`.
    public var binCount: Int { fftLength / 2 + 1 }
    /// Bin centre frequencies `k · sr / n_fft`.
    public func binFrequencies(sampleRate: Double) -> [Double] {
        (0..<binCount).map { Double($0) * sampleRate / Double(fftLength) }
    }
    /// Periodic Hann: `0.5 - 0.5 cos(2πm / n)`.
    public var window: [Double] {
        (0..<fftLength).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(fftLength)) }
    }
}

/// STFT spectrograms on FFTW, matching `librosa.stft(x, n_fft, hop_length, window='hann',
/// center=True, pad_mode='constant')`.
public enum STFT {
    /// |X|^power for every bin and frame (power 1: magnitude, power 2: power).
    public static func spectrogram(_ x: [Double], config: STFTConfig = STFTConfig(), power: Double = 2) -> FrameMatrix {
        let n = config.fftLength, bins = config.binCount, hop = config.hopLength
        let frames = config.frameCount(x.count)
        let window = config.window
        let plan = FFT.alignedPlan(.realForward, count: n)
        // Zero-padded signal: n/2 zeros on each side.
        let padded = Vector.array(count: x.count + n) { p in
            p.baseAddress!.initialize(repeating: 0, count: n / 2)
            x.withUnsafeBufferPointer { p.baseAddress!.advanced(by: n / 2).update(from: $0.baseAddress!, count: x.count) }
            p.baseAddress!.advanced(by: n / 2 + x.count).initialize(repeating: 0, count: n - n / 2)
        }
        var out = Vector.array(count: bins * frames) { _ in }  // every value written below
        let frame = AlignedBuffer(count: n), spectrum = AlignedBuffer(count: 2 * bins)
        let f = frame.pointer, sp = spectrum.pointer
        padded.withUnsafeBufferPointer { xp in
            window.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    for t in 0..<frames {
                        // From the frame's own base pointer, so the loop vectorises.
                        let frameStart = xp.baseAddress! + t * hop
                        for m in 0..<n { f[m] = frameStart[m] * w[m] }
                        FFT.forwardReal(frame, spectrum, plan: plan)
                        let base = t * bins
                        for k in 0..<bins {
                            let re = sp[2 * k], im = sp[2 * k + 1]
                            o[base + k] = re * re + im * im
                        }
                    }
                }
            }
        }
        if power == 1 {
            out.withUnsafeMutableBufferPointer { o in for i in 0..<o.count { o[i] = o[i].squareRoot() } }
        } else if power != 2 {
            out.withUnsafeMutableBufferPointer { o in for i in 0..<o.count { o[i] = Foundation.pow(o[i], power / 2) } }
        }
        return FrameMatrix(rows: bins, frames: frames, values: out)
    }

    /// Magnitude spectrogram |X|.
    public static func magnitude(_ x: [Double], config: STFTConfig = STFTConfig()) -> FrameMatrix {
        spectrogram(x, config: config, power: 1)
    }

    /// Power spectrogram |X|².
    public static func power(_ x: [Double], config: STFTConfig = STFTConfig()) -> FrameMatrix {
        spectrogram(x, config: config, power: 2)
    }
}
