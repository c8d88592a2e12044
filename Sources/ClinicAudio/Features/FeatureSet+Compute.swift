import Foundation

extension FeatureSet {
    /// Computes the features of decoded audio (channels mixed down to mono first).
    public func compute(_ audio: DecodedAudio) throws(DSPError) -> Features {
        try compute(Mixdown.mono(audio), sampleRate: Double(audio.sampleRate))
    }

    /// Computes the features of mono samples at `sampleRate` Hz.
    ///
    /// 1. Resample to `analysisRate` with libsoxr HQ, edges extended
    ///    (`Resampler.resampleExtendingEdges`), giving `x`; `signal_mean` is the mean of `x`
    ///    (the DC offset, which the band-pass removes).
    /// 2. Band-pass `x` (Butterworth, zero-phase `sosfiltfilt`) to `y`. `signal_std`
    ///    (population), `rms` and `peak` (max |y|) are of `y`.
    /// 3. `snr_db`: Welch PSD of `x` (256-sample segments), `10 log10(power in band /
    ///    power outside it)` up to `resamplerBandLimit` (880 Hz), capped at 120 dB.
    /// 4. `envelope_variance`: variance of the homomorphic envelope of `y` divided by its
    ///    mean (so it does not depend on loudness).
    /// 5. Spectral centroid, bandwidth, roll-off (0.85) and flatness: means over the STFT
    ///    frames of `y`'s magnitude, using only the bins inside the band.
    /// 6. `zero_crossing_rate`: mean over frames of `y`.
    /// 7. MFCC means and standard deviations over frames: Slaney mel bank over the band,
    ///    `power_to_db` (ref 1, amin 1e-10, top_db 80), DCT-II ortho.
    ///
    /// Throws `.tooShort` under `minimumDuration`, `.degenerate` when the band-passed signal's
    /// RMS is at most 1e-6 (-120 dB full scale: nothing but rounding, e.g. a DC-only file).
    public func compute(_ samples: [Double], sampleRate: Double) throws(DSPError) -> Features {
        guard sampleRate > 0, Double(samples.count) / sampleRate >= minimumDuration else {
            throw DSPError(.tooShort, "The recording is too short for features: at least \(minimumDuration) s is needed.")
        }
        guard samples.allSatisfy(\.isFinite) else {
            throw DSPError(.invalidParameter, "The recording has samples that are not finite numbers.")
        }
        let x = try Resampler.resampleExtendingEdges(samples, from: sampleRate, to: analysisRate)
        let bandpass = try Butterworth.sos(order: bandpassOrder, .bandpass(band.lowerBound, band.upperBound),
                                           sampleRate: analysisRate)
        let y = try IIR.sosfiltfilt(bandpass, x)
        // Below -120 dB full scale (under 16-bit quantisation noise) the band holds only the
        // resampler's and filter's rounding, e.g. for a constant (DC-only) recording.
        guard Stats.rms(y) > 1e-6 else {
            throw DSPError(.degenerate, "The recording has no sound in the heart-sound band (20–720 Hz).")
        }
        var out: [Double] = []
        out.append(Stats.mean(x))
        out.append(Stats.std(y))
        out.append(Stats.rms(y))
        out.append(y.reduce(0) { max($0, abs($1)) })
        out.append(try snr(x))
        let envelope = try Envelope.homomorphic(y, sampleRate: analysisRate)
        out.append(Stats.variance(envelope) / Stats.mean(envelope))

        let magnitude = STFT.magnitude(y, config: stft)
        let inBand = stft.binFrequencies(sampleRate: analysisRate).enumerated().filter { band.contains($0.element) }
        let rows = inBand.map(\.offset), freqs = inBand.map(\.element)
        var sliced = [Double]()
        sliced.reserveCapacity(rows.count * magnitude.frames)
        for t in 0..<magnitude.frames { for r in rows { sliced.append(magnitude[r, t]) } }
        let s = FrameMatrix(rows: rows.count, frames: magnitude.frames, values: sliced)
        out.append(Stats.mean(SpectralFeatures.centroid(s, frequencies: freqs)))
        out.append(Stats.mean(SpectralFeatures.bandwidth(s, frequencies: freqs)))
        out.append(Stats.mean(SpectralFeatures.rolloff(s, frequencies: freqs, percent: 0.85)))
        out.append(Stats.mean(SpectralFeatures.flatness(s)))
        out.append(Stats.mean(SpectralFeatures.zeroCrossingRate(y, frameLength: stft.fftLength, hopLength: stft.hopLength)))

        let bank = Mel.filterBank(sampleRate: analysisRate, fftLength: stft.fftLength, bands: melBands,
                                  fmin: band.lowerBound, fmax: band.upperBound)
        let mfcc = Mel.mfcc(Mel.spectrogram(magnitude.map { $0 * $0 }, filterBank: bank), count: mfccCount)
        let coefficients = (0..<mfccCount).map { k in (0..<mfcc.frames).map { mfcc[k, $0] } }
        out += coefficients.map(Stats.mean)
        out += coefficients.map(Stats.std)
        guard out.allSatisfy(\.isFinite) else {
            throw DSPError(.degenerate, "The recording gives features that are not finite (digital silence in the band?).")
        }
        return Features(featureSet: name, analysisRate: analysisRate, names: featureNames, values: out)
    }

    /// In-band over out-of-band power of `x` from its Welch PSD, in dB (at most 120).
    private func snr(_ x: [Double]) throws(DSPError) -> Double {
        let (freqs, psd) = try Welch.psd(x, sampleRate: analysisRate, segmentLength: stft.fftLength)
        var inside = 0.0, outside = 0.0
        for (f, p) in zip(freqs, psd) where f <= resamplerBandLimit {
            if band.contains(f) { inside += p } else { outside += p }
        }
        guard inside > 0 else { return -120 }
        return min(120, 10 * log10(inside / max(outside, inside * 1e-12)))
    }
}

/// Plain statistics (population variance, as numpy's defaults).
enum Stats {
    static func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
    static func variance(_ v: [Double]) -> Double {
        let m = mean(v)
        return v.isEmpty ? 0 : v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)
    }
    static func std(_ v: [Double]) -> Double { variance(v).squareRoot() }
    static func rms(_ v: [Double]) -> Double { v.isEmpty ? 0 : (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot() }
}
