extension FeatureSet {
    /// How far a feature may move when the same heart sound is recorded at another sample
    /// rate (2, 4, 8 or 44.1 kHz), as `|a - b| <= atol + rtol·|b|`.
    ///
    /// - `bandLimited: true`: a sound with no energy above `resamplerBandLimit` (what a
    ///   heart sound is): rtol 1e-3; atol 0.01 for dB features (`snr_db`, `mfcc*`), else 1e-6.
    /// - `bandLimited: false`: a real recording with energy up to the Nyquist frequency of
    ///   2 kHz (clipping, hiss), which a resampler to 2 kHz removes above ~913 Hz: rtol 1e-2;
    ///   atol 0.1 dB for dB features, 1e-5 for `signal_mean`, else 1e-4.
    ///
    /// Measured worst cases are in docs/audio-front-end.md (Tests/ClinicAudioTests/FeatureSetTests.swift).
    public static func crossRateTolerance(_ feature: String, bandLimited: Bool = true) -> (rtol: Double, atol: Double) {
        let decibels = feature == "snr_db" || feature.hasPrefix("mfcc")
        if bandLimited { return (1e-3, decibels ? 0.01 : 1e-6) }
        return (1e-2, decibels ? 0.1 : (feature == "signal_mean" ? 1e-5 : 1e-4))
    }
}
