import Foundation

extension FeatureSet {
    /// Computes the features of decoded audio (channels mixed down to mono first).
    public func compute(_ audio: DecodedAudio) throws(DSPError) -> Features {
        try analyze(Mixdown.mono(audio), sampleRate: Double(audio.sampleRate)).features
    }

    /// The features and the dB mel spectrogram of decoded audio (for the log-mel patches).
    public func analyze(_ audio: DecodedAudio) throws(DSPError) -> FeatureAnalysis {
        try analyze(Mixdown.mono(audio), sampleRate: Double(audio.sampleRate))
    }

    /// Computes the features of mono samples at `sampleRate` Hz (see `analyze`).
    public func compute(_ samples: [Double], sampleRate: Double) throws(DSPError) -> Features {
        try analyze(samples, sampleRate: sampleRate).features
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
    /// 8. assess-v1 only: kurtosis, band powers, periodicity, heart rate and sample entropy
    ///    (docs/audio-front-end.md, "Feature set assess-v1").
    ///
    /// Throws `.tooShort` under `minimumDuration`, `.degenerate` when the band-passed signal's
    /// RMS is at most 1e-6 (-120 dB full scale: nothing but rounding, e.g. a DC-only file).
    public func analyze(_ samples: [Double], sampleRate: Double) throws(DSPError) -> FeatureAnalysis {
        guard sampleRate > 0, Double(samples.count) / sampleRate >= minimumDuration else {
            throw DSPError(.tooShort, "The recording is too short for features: at least \(minimumDuration) s is needed.")
        }
        guard samples.allSatisfy(\.isFinite) else {
            throw DSPError(.invalidParameter, "The recording has samples that are not finite numbers.")
        }
        return try analyze(analysisSignal: try Resampler.resampleExtendingEdges(samples, from: sampleRate, to: analysisRate))
    }

    /// The features of an audio file, decoded, mixed down and resampled piece by piece
    /// (`AudioReader.readMono`), so memory does not grow with the file's rate or channels.
    /// Throws `AudioError` for the file, `DSPError` for the signal.
    public func analyze(file path: String, limits: ImportLimits = ImportLimits()) throws -> (analysis: FeatureAnalysis, audio: ResampledAudio) {
        let audio = try AudioReader.readMono(path: path, resampledTo: analysisRate, limits: limits)
        return (try analyze(resampled: audio), ResampledAudio(samples: [], rate: audio.rate, sourceRate: audio.sourceRate, channels: audio.channels, frames: audio.frames))
    }

    /// The features of audio already read at `analysisRate` (`AudioReader.readMono`), as
    /// `analyze(file:)` computes them; `.tooShort` when the file is under `minimumDuration`.
    public func analyze(resampled audio: ResampledAudio) throws(DSPError) -> FeatureAnalysis {
        guard audio.rate == analysisRate else {
            throw DSPError(.invalidParameter, "The audio is at \(audio.rate) Hz, not the analysis rate \(analysisRate) Hz.")
        }
        guard audio.duration >= minimumDuration else {
            throw DSPError(.tooShort, "The recording is too short for features: at least \(minimumDuration) s is needed.")
        }
        return try analyze(analysisSignal: audio.samples)
    }

    /// Steps 2 to 8 on the signal already at `analysisRate`.
    func analyze(analysisSignal x: [Double]) throws(DSPError) -> FeatureAnalysis {
        let bandpass = try Butterworth.sos(order: bandpassOrder, .bandpass(band.lowerBound, band.upperBound),
                                           sampleRate: analysisRate)
        let y = try IIR.sosfiltfilt(bandpass, x)
        // Below -120 dB full scale (under 16-bit quantisation noise) the band holds only the
        // resampler's and filter's rounding, e.g. for a constant (DC-only) recording.
        let rms = Stats.rms(y)
        guard rms > 1e-6 else {
            throw DSPError(.degenerate, "The recording has no sound in the heart-sound band (20–720 Hz).")
        }
        var out: [Double] = []
        out.append(Stats.mean(x))
        out.append(Stats.std(y))
        out.append(rms)
        out.append(Stats.peak(y))
        let (welchFreqs, psd) = try Welch.psd(x, sampleRate: analysisRate, segmentLength: stft.fftLength)
        out.append(snr(welchFreqs, psd))
        let envelope = try Envelope.homomorphic(y, sampleRate: analysisRate)
        out.append(Stats.variance(envelope) / Stats.mean(envelope))

        // The power spectrogram feeds the mel bank; the in-band magnitude (its square root on
        // the band's rows only, taken frame by frame) feeds the spectral features.
        let power = STFT.power(y, config: stft)
        let inBand = stft.binFrequencies(sampleRate: analysisRate).enumerated().filter { band.contains($0.element) }
        let frames = SpectralFeatures.frames(power: power, rows: inBand.first!.offset...inBand.last!.offset,
                                             frequencies: inBand.map(\.element), percent: 0.85)
        out.append(Stats.mean(frames.map(\.centroid)))
        out.append(Stats.mean(frames.map(\.bandwidth)))
        out.append(Stats.mean(frames.map(\.rolloff)))
        out.append(Stats.mean(frames.map(\.flatness)))
        out.append(Stats.mean(SpectralFeatures.zeroCrossingRate(y, frameLength: stft.fftLength, hopLength: stft.hopLength)))

        let bank = Mel.filterBank(sampleRate: analysisRate, fftLength: stft.fftLength, bands: melBands,
                                  fmin: band.lowerBound, fmax: band.upperBound)
        let logMel = Mel.powerToDB(Mel.spectrogram(power, filterBank: bank))
        let mfcc = Mel.dct(logMel, count: mfccCount)
        let coefficients = (0..<mfccCount).map { k in stride(from: k, to: mfcc.values.count, by: mfccCount).map { mfcc.values[$0] } }
        out += coefficients.map(Stats.mean)
        out += coefficients.map(Stats.std)
        if assessment {
            out.append(Stats.kurtosis(y))
            out += bandPowers(welchFreqs, psd)
            let e = Stats.blockMeans(envelope, Int((analysisRate / Self.envelopeRate).rounded()))
            let (periodicity, bpm) = try Self.periodicity(e, rate: Self.envelopeRate)
            out.append(periodicity)
            out.append(bpm)
            out.append(Stats.sampleEntropy(e, tolerance: 0.2 * Stats.std(e)))
        }
        guard out.allSatisfy(\.isFinite) else {
            throw DSPError(.degenerate, "The recording gives features that are not finite (digital silence in the band?).")
        }
        return FeatureAnalysis(
            features: Features(featureSet: name, analysisRate: analysisRate, names: featureNames, values: out),
            logMel: logMel, bandPassed: y)
    }

    /// Each power band's share of the Welch PSD's power in `band`.
    private func bandPowers(_ freqs: [Double], _ psd: [Double]) -> [Double] {
        var total = 0.0
        var parts = [Double](repeating: 0, count: Self.powerBands.count)
        for (f, p) in zip(freqs, psd) where band.contains(f) {
            total += p
            for (i, (lo, hi)) in Self.powerBands.enumerated() where f >= lo && (f < hi || (i == Self.powerBands.count - 1 && f <= hi)) {
                parts[i] += p
            }
        }
        return parts.map { $0 / total }
    }

    /// The highest autocorrelation peak of the envelope `e` (sampled at `rate` Hz) over the
    /// lags of `heartRateRange`, and the heart rate at that lag refined by a parabola through
    /// its neighbours.
    public static func periodicity(_ e: [Double], rate: Double) throws(DSPError) -> (peak: Double, bpm: Double) {
        let r = try Envelope.autocorrelation(e)
        let first = Int((60 / heartRateRange.upperBound * rate).rounded())
        let last = Int((60 / heartRateRange.lowerBound * rate).rounded())
        guard r.count > last + 1 else {
            throw DSPError(.tooShort, "The recording is too short to find its heart rate.")
        }
        // The highest local maximum (a real peak), else the highest lag: a plain maximum
        // lands on the range's ends when r is still falling from lag 0 at 0.3 s.
        let peaks = (first...last).filter { r[$0 - 1] < r[$0] && r[$0] >= r[$0 + 1] }
        let candidates = peaks.isEmpty ? Array(first...last) : peaks
        var best = candidates[0]
        for k in candidates where r[k] > r[best] { best = k }
        return (r[best], 60 * rate / (Double(best) + vertexOffset(r, at: best)))
    }

    /// Where the parabola through `r[k-1], r[k], r[k+1]` peaks, relative to `k`, within ±0.5
    /// (0 when the three do not curve down). At a real peak the vertex already lies within
    /// half a lag; at a range end with no real peak the unbounded offset ran off to any value
    /// (six negative heart rates on ../shared/data, down to −2,518 bpm), hence the clamp.
    static func vertexOffset(_ r: [Double], at k: Int) -> Double {
        let curvature = r[k - 1] - 2 * r[k] + r[k + 1]
        guard curvature < 0 else { return 0 }
        return min(0.5, max(-0.5, 0.5 * (r[k - 1] - r[k + 1]) / curvature))
    }

    /// In-band over out-of-band power from the Welch PSD of `x`, in dB (at most 120).
    private func snr(_ freqs: [Double], _ psd: [Double]) -> Double {
        var inside = 0.0, outside = 0.0
        for (f, p) in zip(freqs, psd) where f <= resamplerBandLimit {
            if band.contains(f) { inside += p } else { outside += p }
        }
        guard inside > 0 else { return -120 }
        return min(120, 10 * log10(inside / max(outside, inside * 1e-12)))
    }
}

/// Plain statistics (population variance, as numpy's defaults).
public enum Stats {
    public static func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : sum(v) { $0 } / Double(v.count) }
    public static func variance(_ v: [Double]) -> Double {
        let m = mean(v)
        return v.isEmpty ? 0 : sum(v) { ($0 - m) * ($0 - m) } / Double(v.count)
    }
    public static func std(_ v: [Double]) -> Double { variance(v).squareRoot() }
    /// numpy's median: the mean of the two middle values for an even count (nan for none).
    public static func median(_ v: [Double]) -> Double {
        let s = v.sorted(), n = s.count
        guard n > 0 else { return .nan }
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
    public static func rms(_ v: [Double]) -> Double { v.isEmpty ? 0 : (sum(v) { $0 * $0 } / Double(v.count)).squareRoot() }
    /// The largest magnitude (0 for no values).
    public static func peak(_ v: [Double]) -> Double {
        v.withUnsafeBufferPointer { p in
            var m = (0.0, 0.0, 0.0, 0.0), i = 0
            while i + 4 <= p.count {
                m = (max(m.0, Swift.abs(p[i])), max(m.1, Swift.abs(p[i + 1])), max(m.2, Swift.abs(p[i + 2])), max(m.3, Swift.abs(p[i + 3])))
                i += 4
            }
            while i < p.count { m.0 = max(m.0, Swift.abs(p[i])); i += 1 }
            return max(max(m.0, m.1), max(m.2, m.3))
        }
    }

    /// `Σ f(v[i])` in four interleaved partial sums (four independent chains of additions,
    /// four times as fast as one; numpy's own pairwise sum rounds differently from both).
    @inline(__always)
    static func sum(_ v: [Double], _ f: (Double) -> Double) -> Double {
        v.withUnsafeBufferPointer { sum($0, f) }
    }

    @inline(__always)
    static func sum(_ p: UnsafeBufferPointer<Double>, _ f: (Double) -> Double) -> Double {
        var s = (0.0, 0.0, 0.0, 0.0), i = 0
        while i + 4 <= p.count {
            s = (s.0 + f(p[i]), s.1 + f(p[i + 1]), s.2 + f(p[i + 2]), s.3 + f(p[i + 3]))
            i += 4
        }
        while i < p.count { s.0 += f(p[i]); i += 1 }
        return (s.0 + s.1) + (s.2 + s.3)
    }

    /// Excess (Fisher) kurtosis with population moments, `m4 / m2² − 3` (scipy.stats.kurtosis).
    public static func kurtosis(_ v: [Double]) -> Double {
        let m = mean(v)
        var m2 = 0.0, m4 = 0.0
        for x in v {
            let d = (x - m) * (x - m)
            m2 += d
            m4 += d * d
        }
        m2 /= Double(v.count); m4 /= Double(v.count)
        return m4 / (m2 * m2) - 3
    }

    /// Means of consecutive blocks of `size` samples; a trailing part block is dropped.
    public static func blockMeans(_ v: [Double], _ size: Int) -> [Double] {
        (0..<(v.count / size)).map { j in v[(j * size)..<((j + 1) * size)].reduce(0, +) / Double(size) }
    }

    /// Sample entropy SampEn(2, r) (Richman and Moorman 2000): templates start at
    /// `0 ..< N − 2` for both lengths (2 and 3), Chebyshev distance `≤ tolerance`,
    /// `−ln(A / B)`; the upper bound `ln((N − 2)(N − 3) / 2)` when there are no matches.
    public static func sampleEntropy(_ v: [Double], tolerance r: Double) -> Double {
        let n = v.count - 2
        guard n > 1 else { return 0 }
        // Only pairs whose first samples are within r can match: visit the templates in order
        // of their first sample and, for each, the run after it up to r away (the same pairs
        // and counts as the plain double loop, far fewer visits). The run's end only moves
        // forward; inside a run the test has no branches, so it vectorises.
        let order = (0..<n).sorted { v[$0] < v[$1] }
        let c0 = order.map { v[$0] }, c1 = order.map { v[$0 + 1] }, c2 = order.map { v[$0 + 2] }
        var a = 0, b = 0, end = 0
        c0.withUnsafeBufferPointer { c0 in
            c1.withUnsafeBufferPointer { c1 in
                c2.withUnsafeBufferPointer { c2 in
                    for x in 0..<n {
                        end = max(end, x + 1)
                        // c0[j] − c0[x] ≥ 0 here: the plain loop's |v[j] − v[i]|, same rounding.
                        while end < n && c0[end] - c0[x] <= r { end += 1 }
                        let p1 = c1[x], p2 = c2[x]
                        var runB = 0, runA = 0
                        for j in (x + 1)..<max(end, x + 1) {
                            let two = Swift.abs(c1[j] - p1) <= r ? 1 : 0
                            let third = Swift.abs(c2[j] - p2) <= r ? 1 : 0
                            runB &+= two
                            runA &+= two & third
                        }
                        b += runB; a += runA
                    }
                }
            }
        }
        guard a > 0, b > 0 else { return log(Double(n) * Double(n - 1) / 2) }
        return -log(Double(a) / Double(b))
    }
}
