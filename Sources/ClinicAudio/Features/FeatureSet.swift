import Foundation

/// A named, versioned set of heart-sound signal features. Every feature is computed at a
/// fixed analysis rate after resampling, so the same heart sound recorded at 2, 4, 8 or
/// 44.1 kHz gives the same values (within the tolerances in docs/audio-front-end.md).
///
/// A feature set's definition never changes once shipped: a different computation gets a
/// new name (`qaqc-v2`), so stored values stay comparable.
public struct FeatureSet: Sendable, Equatable {
    /// The name stored next to the values, e.g. "qaqc-v1".
    public let name: String
    /// The analysis rate in Hz. 2000 Hz: the training copies of the data sets are 2 kHz, so
    /// nothing above 1 kHz may be used.
    public let analysisRate: Double
    /// The heart-sound band in Hz (Butterworth band-pass, zero-phase).
    public let band: ClosedRange<Double>
    /// Order of the Butterworth band-pass (scipy `butter(order, band, 'bandpass')`).
    public let bandpassOrder: Int
    /// STFT settings at the analysis rate.
    public let stft: STFTConfig
    /// Mel bands (Slaney) over `band`.
    public let melBands: Int
    /// MFCCs kept (mean and std of each).
    public let mfccCount: Int
    /// The highest frequency (Hz) any feature looks at: libsoxr HQ's passband ends at
    /// 0.913 × the output Nyquist frequency (913 Hz at 2 kHz), so a recording made at 2 kHz
    /// and one downsampled to 2 kHz differ above it. 880 Hz leaves a margin.
    public var resamplerBandLimit: Double { 0.88 * analysisRate / 2 }
    /// Shortest accepted signal, in seconds.
    public let minimumDuration: Double
    /// Whether the set adds the assessment models' features (kurtosis, band powers, envelope
    /// periodicity, heart rate, sample entropy) after the signal-quality ones.
    public let assessment: Bool

    /// qaqc-v1: signal-quality features at 2000 Hz in a 20–720 Hz band (see `compute`).
    public static let qaqcV1 = FeatureSet(
        name: "qaqc-v1", analysisRate: 2000, band: 20...720, bandpassOrder: 4,
        stft: STFTConfig(fftLength: 256, hopLength: 64), melBands: 32, mfccCount: 13, minimumDuration: 1,
        assessment: false
    )

    /// assess-v1: qaqc-v1 followed by the assessment models' features, and log-mel patches
    /// (`FeatureSet.analyze`); at least 3 s (the periodicity search needs lags up to 2 s).
    public static let assessV1 = FeatureSet(
        name: "assess-v1", analysisRate: 2000, band: 20...720, bandpassOrder: 4,
        stft: STFTConfig(fftLength: 256, hopLength: 64), melBands: 32, mfccCount: 13, minimumDuration: 3,
        assessment: true
    )

    /// Every shipped feature set.
    public static let all = [qaqcV1, assessV1]

    /// The band-power bands of assess-v1, Hz: `lo ≤ f < hi`, the last one closed.
    public static let powerBands: [(Double, Double)] = [(20, 100), (100, 200), (200, 400), (400, 720)]
    /// Rate of the envelope the periodicity and sample entropy use, Hz (Springer's 50 Hz).
    public static let envelopeRate = 50.0
    /// Heart-rate search range, beats per minute.
    public static let heartRateRange = 30.0...200.0
    /// Log-mel patch width and hop, in STFT frames (96 frames = 3.07 s at 2000 Hz, hop 64).
    public static let patchFrames = 96, patchHop = 48

    /// The feature names, in the order `Features.values` holds them.
    public var featureNames: [String] {
        ["signal_mean", "signal_std", "rms", "peak", "snr_db", "envelope_variance",
         "spectral_centroid", "spectral_bandwidth", "spectral_rolloff", "spectral_flatness", "zero_crossing_rate"]
            + (0..<mfccCount).map { "mfcc\($0)_mean" } + (0..<mfccCount).map { "mfcc\($0)_std" }
            + (assessment
               ? ["kurtosis"] + Self.powerBands.map { "band_power_\(Int($0.0))_\(Int($0.1))" }
                 + ["periodicity", "heart_rate_bpm", "sample_entropy"]
               : [])
    }
}

/// The values of one feature set for one recording.
public struct Features: Sendable, Equatable, Codable {
    /// The feature set's name, e.g. "qaqc-v1".
    public var featureSet: String
    /// The analysis rate the features were computed at, Hz.
    public var analysisRate: Double
    /// Feature names, in the feature set's order.
    public var names: [String]
    /// The values, one per name.
    public var values: [Double]

    public init(featureSet: String, analysisRate: Double, names: [String], values: [Double]) {
        self.featureSet = featureSet
        self.analysisRate = analysisRate
        self.names = names
        self.values = values
    }

    /// The value of the named feature, if the set has it.
    public subscript(name: String) -> Double? {
        names.firstIndex(of: name).map { values[$0] }
    }
}

/// Features with the dB mel spectrogram they came from, for the log-mel patches.
public struct FeatureAnalysis: Sendable {
    /// The scalar features.
    public var features: Features
    /// `power_to_db` of the mel spectrogram of the band-passed signal (bands × frames).
    public var logMel: FrameMatrix
    /// The band-passed signal at the analysis rate (step 2), which the heart-cycle segmenter reads.
    public var bandPassed: [Double]

    /// The dB mel spectrogram cut into patches of `FeatureSet.patchFrames` frames every
    /// `FeatureSet.patchHop` frames (only whole patches), each `bands × patchFrames`.
    public var logMelPatches: [FrameMatrix] {
        let width = FeatureSet.patchFrames, hop = FeatureSet.patchHop, rows = logMel.rows
        guard logMel.frames >= width else { return [] }
        return stride(from: 0, through: logMel.frames - width, by: hop).map { start in
            FrameMatrix(rows: rows, frames: width, values: Array(logMel.values[(start * rows)..<((start + width) * rows)]))
        }
    }
}
