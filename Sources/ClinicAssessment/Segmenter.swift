import ClinicAudio
import Foundation

/// The heart-cycle segmenter's parameters as stored in `Models/segmentation.json` (format
/// `clinic-segmentation`, version 1; written by Training/segmentation/train_segmentation.py,
/// whose `segment.py` is the specification followed here step by step).
public struct SegmentationModelFile: Sendable, Decodable {
    public var format: String
    public var formatVersion: Int
    public var modelVersion: String
    public var frameRate: Double
    public var analysisRate: Double
    public var frontEnd: FrontEnd
    public var states: [String]
    public var features: [String]
    public var heartRate: HeartRate
    public var emission: Emission
    public var durations: Durations
    public var edge: String
    public var maxDuration: Int

    public struct FrontEnd: Sendable, Decodable {
        public var bandpassHz: [Double]
        public var bandpassOrder: Int
        public var spikeRemoval: String
        public var homomorphicLpfHz: Double
        public var subBandOrder: Int
        public var block: Int
        public var minFrames: Int
        enum CodingKeys: String, CodingKey {
            case bandpassHz = "bandpass_hz", bandpassOrder = "bandpass_order", spikeRemoval = "spike_removal"
            case homomorphicLpfHz = "homomorphic_lpf_hz", subBandOrder = "sub_band_order", block, minFrames = "min_frames"
        }
    }

    public struct HeartRate: Sendable, Decodable {
        public var signal: String
        public var windowFrames: Int
        public var hopFrames: Int
        public var nCandidates: Int
        public var hrMin: Double
        public var hrMax: Double
        public var sysMinS: Double
        public var sysMaxFrac: Double
        public var sysFallbackFrac: Double
        enum CodingKeys: String, CodingKey {
            case signal, windowFrames = "window_frames", hopFrames = "hop_frames", nCandidates = "n_candidates"
            case hrMin = "hr_min", hrMax = "hr_max", sysMinS = "sys_min_s", sysMaxFrac = "sys_max_frac", sysFallbackFrac = "sys_fallback_frac"
        }
    }

    public struct Emission: Sendable, Decodable {
        public var kind: String
        public var context: [Int]
        public var mean: [Double]
        public var scale: [Double]
        public var coef: [[Double]]
        public var intercept: [Double]
        public var prior: [Double]
    }

    public struct Durations: Sendable, Decodable {
        public var kind: String
        public var meanCoef: [[Double]]
        public var sdCoef: [[Double]]
        public var sdFloor: Double
        public var limitSd: Double
        enum CodingKeys: String, CodingKey { case kind, meanCoef = "mean_coef", sdCoef = "sd_coef", sdFloor = "sd_floor", limitSd = "limit_sd" }
    }

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", modelVersion = "model_version", frameRate = "frame_rate_hz"
        case analysisRate = "analysis_rate_hz", frontEnd = "front_end", states, features, heartRate = "heart_rate"
        case emission, durations, edge, maxDuration = "max_duration"
    }
}

/// One recording's heart cycle: the state of every 20 ms frame (S1, systole, S2, diastole),
/// the S1 and S2 onsets, the heart rate, and the cycle-timing features.
public struct Segmentation: Sendable, Equatable {
    public enum State: UInt8, Sendable, CaseIterable { case s1, systole, s2, diastole }
    /// Frames per second of `states` (50).
    public var frameRate: Double
    public var states: [State]
    /// Onset times (s) of the S1s and S2s (a run cut by the recording's start is not an onset).
    public var s1Onsets: [Double]
    public var s2Onsets: [Double]
    /// 60 / the median complete cycle when there are at least two, else the autocorrelation's.
    public var heartRate: Double
    /// `decoded` or `autocorrelation`.
    public var heartRateSource: String
    /// The autocorrelation's estimate, its peak height (0–1: how periodic the S1s are) and the systolic interval (s).
    public var autocorrelationHeartRate: Double
    public var heartRateConfidence: Double
    public var systolicInterval: Double
    /// `n_cycles`, `rr_mean_s`, … (Training/segmentation/segment.py `CYCLE_FEATURES`); nil where undefined (no cycle).
    public var cycleFeatures: [String: Double?]
    /// The chosen heart-rate candidate and every candidate's Viterbi score (for checking).
    public var candidateIndex: Int
    public var candidateScores: [Double]

    /// Runs of one state: (state, first frame, last frame).
    public var runs: [(state: State, first: Int, last: Int)] {
        var out: [(State, Int, Int)] = []
        guard !states.isEmpty else { return out }
        var start = 0
        for t in 1...states.count where t == states.count || states[t] != states[start] {
            out.append((states[start], start, t - 1))
            start = t
        }
        return out
    }

    /// Centres (s) of the decoded runs of `state` (the sounds' positions, for scoring against annotations).
    public func centres(of state: State) -> [Double] {
        runs.filter { $0.state == state }.map { Double($0.first + $0.last + 1) / 2 / frameRate }
    }
}

/// A heart-cycle segmenter (Springer et al. 2016's duration-dependent HSMM, adapted to
/// children's heart rates: docs/segmentation.md). Pure: the band-passed 2 kHz signal in, a
/// `Segmentation` out.
public struct Segmenter: Sendable {
    public let file: SegmentationModelFile
    /// Each selected feature's sub-band filter (nil: the log homomorphic envelope itself).
    private let bandFilters: [SOSFilter?]
    /// The filters of `cycleBands`.
    private let cycleBandFilters: [SOSFilter]

    public static let cycleFeatureNames = [
        "n_cycles", "rr_mean_s", "rr_std_s", "rr_cv", "rmssd_s", "s1_mean_s", "s2_mean_s", "systole_mean_s", "systole_std_s",
        "diastole_mean_s", "diastole_std_s", "sys_dia_ratio", "systolic_interval_mean_s", "systolic_fraction",
        "s1_s2_amp_ratio", "s1_amp_cv", "s2_amp_cv", "systole_s1_amp_ratio", "diastole_s1_amp_ratio",
    ] + cycleBands.flatMap { b in cycleContrasts.map { spectrumFeature($0, b) } } + [tiltFeature]

    /// The per-band cycle-aligned contrasts (Training/segmentation/segment.py `CYCLE_FEATURES`
    /// says what each is), in the order of `cycleFeatureNames`.
    public static let cycleContrasts = ["sys_dia", "sys_s1", "dia_s2", "sys_dia_p25", "sys_dia_frac3db", "sys_early_late"]

    /// Mid-systole's tilt (the last band's log power minus the first's) minus mid-diastole's.
    public static let tiltFeature = "sys_dia_tilt_logpow_\(Int(cycleBands.last!.lo))_\(Int(cycleBands.last!.hi))_\(Int(cycleBands[0].lo))_\(Int(cycleBands[0].hi))"

    /// The name of a cycle-aligned spectral feature: `<contrast>_logpow_<lo>_<hi>`.
    public static func spectrumFeature(_ contrast: String, _ band: (lo: Double, hi: Double)) -> String {
        "\(contrast)_logpow_\(Int(band.lo))_\(Int(band.hi))"
    }

    /// The bands (Hz) of the cycle-aligned spectral features: in each, the 20 ms log power of
    /// the spike-removed signal through an order-2 Butterworth band-pass (zero phase), and per
    /// complete cycle the mean over the middle 60% of systole and of diastole against each
    /// other and against the S1 and S2 peaks (`<a>_<b>_logpow_<lo>_<hi>`: median over cycles
    /// of a − b, natural log). A murmur fills systole or diastole with sound above ~100 Hz.
    public static let cycleBands: [(lo: Double, hi: Double)] = [(100, 200), (200, 400), (400, 700)]

    public init(json: Data) throws(ModelError) {
        try self.init(ModelError.decode(SegmentationModelFile.self, json, format: "clinic-segmentation"))
    }

    public init(_ f: SegmentationModelFile) throws(ModelError) {
        func fail(_ why: String) -> ModelError { ModelError("segmentation: \(why)") }
        guard f.format == "clinic-segmentation", f.formatVersion == 1 else {
            throw fail("format \(f.format) version \(f.formatVersion) is not clinic-segmentation version 1 (a newer clinic reads it)")
        }
        let set = Assessor.featureSet
        guard f.analysisRate == set.analysisRate, f.frontEnd.block > 0, f.frameRate == f.analysisRate / Double(f.frontEnd.block),
              f.frontEnd.bandpassHz == [set.band.lowerBound, set.band.upperBound], f.frontEnd.bandpassOrder == set.bandpassOrder,
              f.frontEnd.spikeRemoval == "schmidt", f.frontEnd.homomorphicLpfHz > 0, f.frontEnd.minFrames > 0 else {
            throw fail("the front end does not match assess-v1's (2 kHz, 20–720 Hz order 4, Schmidt spike removal)")
        }
        guard f.states == ["S1", "systole", "S2", "diastole"] else { throw fail("states must be S1, systole, S2, diastole") }
        var filters: [SOSFilter?] = []
        for name in f.features {
            if name == "log_homomorphic" { filters.append(nil); continue }
            let parts = name.split(separator: "_")
            guard parts.count == 3, parts[0] == "band", let lo = Double(parts[1]), let hi = Double(parts[2]), 0 < lo, lo < hi,
                  hi < f.analysisRate / 2, let sos = try? Butterworth.sos(order: f.frontEnd.subBandOrder, .bandpass(lo, hi), sampleRate: f.analysisRate) else {
                throw fail("unknown feature \(name) (log_homomorphic or band_LO_HI)")
            }
            filters.append(sos)
        }
        let e = f.emission, n = f.features.count * e.context.count
        guard !f.features.isEmpty, e.kind == "softmax_lr", !e.context.isEmpty, e.mean.count == n, e.scale.count == n,
              e.scale.allSatisfy({ $0 > 0 && $0.isFinite }), e.coef.count == 4, e.coef.allSatisfy({ $0.count == n }),
              e.intercept.count == 4, e.prior.count == 4, e.prior.allSatisfy({ $0 > 0 }),
              (e.mean + e.coef.flatMap { $0 } + e.intercept + e.prior).allSatisfy(\.isFinite) else {
            throw fail("the emission model (softmax_lr: 4 × \(n) coefficients, mean, scale, intercept, prior) does not fit")
        }
        let h = f.heartRate, d = f.durations
        guard h.signal == "post_s1", h.windowFrames >= 0, h.hopFrames > 0 || h.windowFrames == 0, h.nCandidates >= 1,
              0 < h.hrMin, h.hrMin < h.hrMax, h.sysMinS > 0, h.sysMaxFrac > 0, h.sysFallbackFrac > 0 else {
            throw fail("the heart-rate settings do not fit (signal post_s1, hr_min < hr_max, …)")
        }
        guard d.kind == "linear", d.meanCoef.count == 4, d.meanCoef.allSatisfy({ $0.count == 3 }), d.sdCoef.count == 4,
              d.sdCoef.allSatisfy({ $0.count == 2 }), d.sdFloor > 0, d.limitSd > 0,
              (d.meanCoef.flatMap { $0 } + d.sdCoef.flatMap { $0 }).allSatisfy(\.isFinite) else {
            throw fail("the duration model (linear: 4 × 3 mean and 4 × 2 sd coefficients) does not fit")
        }
        guard f.edge == "survival" || f.edge == "max", (1...1000).contains(f.maxDuration) else {
            throw fail("edge must be survival or max, max_duration 1 to 1000 frames")
        }
        var cycleFilters: [SOSFilter] = []
        for b in Self.cycleBands {
            guard b.hi < f.analysisRate / 2, let sos = try? Butterworth.sos(order: 2, .bandpass(b.lo, b.hi), sampleRate: f.analysisRate) else {
                throw fail("the cycle band \(b.lo)–\(b.hi) Hz does not fit the \(f.analysisRate) Hz analysis rate")
            }
            cycleFilters.append(sos)
        }
        file = f
        bandFilters = filters
        cycleBandFilters = cycleFilters
    }

    /// The segmenter built into this binary (Models/segmentation.json).
    public static func shipped() throws(ModelError) -> Segmenter {
        guard let json = embeddedModels.first(where: { $0.name == "segmentation" })?.json else {
            throw ModelError("this build has no segmentation model")
        }
        do { return try Segmenter(json: Data(json.utf8)) } catch { throw ModelError("Models/segmentation.json (built in): \(error)") }
    }

    // MARK: steps 1–3: features and emissions

    /// The 50 Hz features (steps 1 and 2) of the band-passed 2 kHz signal: the standardised
    /// columns `file.features` (frame-major rows) and the raw block-mean homomorphic envelope.
    public func features(bandPassed y: [Double]) throws(DSPError) -> (columns: [[Double]], envelope: [Double]) {
        let f = try frontEnd(bandPassed: y)
        return (f.columns, f.envelope)
    }

    /// `features` and the spike-removed signal they came from.
    private func frontEnd(bandPassed y: [Double]) throws(DSPError) -> (columns: [[Double]], envelope: [Double], spikeRemoved: [Double]) {
        let z = SpikeRemoval.apply(y, sampleRate: file.analysisRate).output
        let block = file.frontEnd.block, frames = z.count / block
        guard frames >= file.frontEnd.minFrames else {
            throw DSPError(.tooShort, "The recording is too short to segment: at least \(Double(file.frontEnd.minFrames) / file.frameRate) s is needed.")
        }
        func envelope(_ v: [Double]) throws(DSPError) -> [Double] {
            Array(Stats.blockMeans(try Envelope.homomorphic(v, sampleRate: file.analysisRate, cutoff: file.frontEnd.homomorphicLpfHz), block).prefix(frames))
        }
        func standardised(_ v: [Double]) throws(DSPError) -> [Double] {
            let m = Stats.mean(v), s = Stats.std(v)
            guard s > 0, s.isFinite else { throw DSPError(.degenerate, "The recording's envelope is flat: there is no heart cycle to segment.") }
            return v.map { ($0 - m) / s }
        }
        let raw = try envelope(z)
        var columns: [[Double]] = []
        for filter in bandFilters {
            let e = filter == nil ? raw : try envelope(try IIR.sosfiltfilt(filter!, z))
            columns.append(try standardised(e.map { log($0) }))
        }
        return (columns, raw, z)
    }

    /// Per `cycleBands` band, the natural log of each 20 ms frame's mean power (floored at 1e-20).
    public func bandLogPower(spikeRemoved z: [Double], frames: Int) throws(DSPError) -> [[Double]] {
        var out: [[Double]] = []
        for filter in cycleBandFilters {
            let v = try IIR.sosfiltfilt(filter, z)
            out.append(Stats.blockMeans(v.map { $0 * $0 }, file.frontEnd.block).prefix(frames).map { log(max($0, 1e-20)) })
        }
        return out
    }

    /// Emission log scores `logB[t · 4 + j]` (step 3: the softmax regression on the context
    /// window, minus log prior) and the S1 posterior per frame.
    public func emissions(_ columns: [[Double]]) -> (logB: [Double], s1Posterior: [Double]) {
        let e = file.emission, nf = columns.count, frames = columns[0].count, n = nf * e.context.count
        var logB = [Double](repeating: 0, count: frames * 4), post = [Double](repeating: 0, count: frames)
        let logPrior = e.prior.map { log($0) }
        var o = [Double](repeating: 0, count: n)
        for t in 0..<frames {
            for (i, c) in e.context.enumerated() {
                let u = min(max(t + c, 0), frames - 1)
                for f in 0..<nf { o[i * nf + f] = (columns[f][u] - e.mean[i * nf + f]) / e.scale[i * nf + f] }
            }
            var zz = [0.0, 0, 0, 0]
            for j in 0..<4 {
                var s = e.intercept[j]
                for k in 0..<n { s += e.coef[j][k] * o[k] }
                zz[j] = s
            }
            let m = zz.max()!
            let lse = m + log(zz.reduce(0) { $0 + exp($1 - m) })
            for j in 0..<4 { logB[t * 4 + j] = zz[j] - lse - logPrior[j] }
            post[t] = exp(zz[0] - lse)
        }
        return (logB, post)
    }

    // MARK: step 4: heart rate

    /// A heart-rate candidate: a lag of the periodicity signal's autocorrelation and the
    /// systolic interval found under it.
    public struct Candidate: Sendable, Equatable {
        public var lag: Int
        public var period: Double
        public var heartRate: Double
        public var confidence: Double
        public var systolicLag: Int
        public var systolicInterval: Double
        public var systolicFound: Bool
    }

    /// The averaged windowed autocorrelation of the S1 posterior (each window normalised to r[0] = 1).
    public func autocorrelation(_ e: [Double]) throws(DSPError) -> [Double] {
        let w = file.heartRate.windowFrames
        if w == 0 || e.count <= w { return try Envelope.autocorrelation(e) }
        var acc = [Double](repeating: 0, count: w), n = 0
        for a in stride(from: 0, through: e.count - w, by: file.heartRate.hopFrames) {
            let seg = Array(e[a..<(a + w)])
            guard Stats.std(seg) > 0 else { continue }
            let r = try Envelope.autocorrelation(seg)
            for i in 0..<w { acc[i] += r[i] }
            n += 1
        }
        guard n > 0 else { throw DSPError(.degenerate, "The recording has no heart cycle to segment (a flat S1 signal).") }
        return acc.map { $0 / Double(n) }
    }

    private static func parabola(_ r: [Double], _ k: Int) -> Double {
        guard k - 1 >= 0, k + 1 < r.count else { return 0 }
        let den = r[k - 1] - 2 * r[k] + r[k + 1]
        guard den < 0 else { return 0 }
        return min(0.5, max(-0.5, 0.5 * (r[k - 1] - r[k + 1]) / den))
    }

    /// Lags `max(lo, 1) … min(hi, r.count − 2)` and those that are local maxima (`r[k−1] < r[k] ≥ r[k+1]`).
    private static func localMaxima(_ r: [Double], _ lo: Int, _ hi: Int) -> (peaks: [Int], lags: [Int]) {
        let a = max(lo, 1), b = min(hi, r.count - 2)
        guard a <= b else { return ([], []) }
        let lags = Array(a...b)
        return (lags.filter { r[$0 - 1] < r[$0] && r[$0] >= r[$0 + 1] }, lags)
    }

    /// The `n_candidates` strongest periods in the heart-rate range, strongest first.
    public func candidates(_ r: [Double]) -> [Candidate] {
        let h = file.heartRate, fs = file.frameRate
        let kmin = Int((fs * 60 / h.hrMax - 1e-9).rounded(.up))
        let kmax = min(Int((fs * 60 / h.hrMin + 1e-9).rounded(.down)), r.count - 2)
        let (peaks, lags) = Self.localMaxima(r, kmin, kmax)
        let ordered = (peaks.isEmpty ? lags : peaks).enumerated().sorted { a, b in
            r[a.element] != r[b.element] ? r[a.element] > r[b.element] : a.offset < b.offset
        }.map(\.element)
        return ordered.prefix(h.nCandidates).map { k in
            let lag = Double(k) + Self.parabola(r, k), period = lag / fs
            let smin = max(1, Int((h.sysMinS * fs + 0.5).rounded(.down)))
            let smax = max(smin, Int((h.sysMaxFrac * lag).rounded(.down)))
            let speaks = Self.localMaxima(r, smin, smax).peaks
            var ks = -1, sys = h.sysFallbackFrac * period
            if let best = speaks.max(by: { r[$0] < r[$1] || (r[$0] == r[$1] && $0 > $1) }) {
                ks = best
                sys = (Double(best) + Self.parabola(r, best)) / fs
            }
            return Candidate(lag: k, period: period, heartRate: 60 / period, confidence: r[k], systolicLag: ks,
                             systolicInterval: sys, systolicFound: ks >= 0)
        }
    }

    // MARK: step 5: durations

    /// Duration log probabilities `logp[j][d − 1]` for d = 1 … max_duration, the edge table
    /// `logE` (a segment cut by the recording's start or end), and the limits.
    public func durationTable(_ c: Candidate) -> (logp: [[Double]], logE: [[Double]], limits: [(Int, Int)]) {
        let d = file.durations, fs = file.frameRate, dmax = file.maxDuration
        var logp = [[Double]](repeating: [Double](repeating: -.infinity, count: dmax), count: 4)
        var logE = logp, limits: [(Int, Int)] = []
        for j in 0..<4 {
            let a3 = d.meanCoef[j], s2 = d.sdCoef[j]
            let mu = fs * (a3[0] + a3[1] * c.period + a3[2] * c.systolicInterval)
            let sd = max(fs * (s2[0] + s2[1] * c.period), d.sdFloor)
            var a = max(1, Int((mu - d.limitSd * sd - 1e-9).rounded(.up)))
            var b = Int((mu + d.limitSd * sd + 1e-9).rounded(.down))
            a = min(a, dmax)
            b = min(max(b, a), dmax)
            limits.append((a, b))
            let v = (a...b).map { -0.5 * pow((Double($0) - mu) / max(sd, 1e-6), 2) }
            let m = v.max()!
            let lse = m + log(v.reduce(0) { $0 + exp($1 - m) })
            for (i, x) in v.enumerated() { logp[j][a - 1 + i] = x - lse }
            if file.edge == "survival" {
                var tail = 0.0
                for i in stride(from: dmax - 1, through: 0, by: -1) {
                    tail += exp(logp[j][i])
                    logE[j][i] = log(tail)
                }
            } else {
                var best = -Double.infinity
                for i in stride(from: dmax - 1, through: 0, by: -1) {
                    best = max(best, logp[j][i])
                    logE[j][i] = best
                }
            }
        }
        return (logp, logE, limits)
    }

    // MARK: step 6: the duration-dependent Viterbi

    /// The best state path (0 S1, 1 systole, 2 S2, 3 diastole; states cycle in that order)
    /// and its log score.
    public static func viterbi(logB: [Double], frames T: Int, logp: [[Double]], logE: [[Double]]) -> (states: [Int], score: Double) {
        // D: the largest duration any state allows.
        var D = 0
        for j in 0..<4 { if let last = logp[j].lastIndex(where: { $0.isFinite }) { D = max(D, last + 1) } }
        let prev = [3, 0, 1, 2], logInit = log(0.25)
        // C[(t) · 4 + j] = Σ_{u < t} logB[u, j].
        var C = [Double](repeating: 0, count: (T + 1) * 4)
        for t in 0..<T { for j in 0..<4 { C[(t + 1) * 4 + j] = C[t * 4 + j] + logB[t * 4 + j] } }
        var delta = [Double](repeating: -.infinity, count: T * 4), psi = [Int](repeating: 0, count: T * 4)
        // Only the durations a state allows (a finite logp) can win: a duration of probability 0
        // scores −∞ and never beats the running best, so skipping them changes nothing. The
        // limits are a few frames wide for S1 and S2 against D = max_duration (100).
        let lo = (0..<4).map { j in (logp[j].firstIndex(where: { $0.isFinite }) ?? logp[j].count) + 1 }
        let hi = (0..<4).map { j in (logp[j].lastIndex(where: { $0.isFinite }) ?? -1) + 1 }
        let flat = logp.flatMap { $0 }, offset = logp.indices.map { j in logp[..<j].reduce(0) { $0 + $1.count } }
        delta.withUnsafeMutableBufferPointer { delta in
            psi.withUnsafeMutableBufferPointer { psi in
                C.withUnsafeBufferPointer { C in
                    flat.withUnsafeBufferPointer { lp in
                        for t in 0..<T {
                            for j in 0..<4 {
                                let p = prev[j], ct = C[(t + 1) * 4 + j], row = offset[j]
                                var best = -Double.infinity, bestD = 0
                                let last = min(hi[j], t)
                                if lo[j] <= last {
                                    for d in lo[j]...last {
                                        let s = delta[(t - d) * 4 + p] + ct - C[(t + 1 - d) * 4 + j] + lp[row + d - 1]
                                        if s > best { best = s; bestD = d }
                                    }
                                }
                                let first = t < min(D, T) ? logInit + ct + logE[j][t] : -Double.infinity
                                if first >= best { delta[t * 4 + j] = first; psi[t * 4 + j] = 0 } else { delta[t * 4 + j] = best; psi[t * 4 + j] = bestD }
                            }
                        }
                    }
                }
            }
        }
        // The last segment may run past the end.
        var bestJ = 0, bestL = 1, score = -Double.infinity
        for j in 0..<4 {
            for L in stride(from: 1, through: min(D, T - 1), by: 1) {
                let s = delta[(T - 1 - L) * 4 + prev[j]] + C[T * 4 + j] - C[(T - L) * 4 + j] + logE[j][L - 1]
                if s > score { score = s; bestJ = j; bestL = L }
            }
        }
        if T <= D {
            var single = -Double.infinity, singleJ = 0
            for j in 0..<4 {
                let s = logInit + C[T * 4 + j] + logE[j][T - 1]
                if s > single { single = s; singleJ = j }
            }
            if single > score { return ([Int](repeating: singleJ, count: T), single) }
        }
        var states = [Int](repeating: 0, count: T)
        for t in (T - bestL)..<T { states[t] = bestJ }
        var t = T - 1 - bestL, j = prev[bestJ]
        while t >= 0 {
            let d = psi[t * 4 + j]
            if d == 0 {
                for u in 0...t { states[u] = j }
                break
            }
            for u in (t - d + 1)...t { states[u] = j }
            t -= d
            j = prev[j]
        }
        return (states, score)
    }

    // MARK: the whole segmenter

    /// Segments the band-passed 2 kHz signal (`FeatureAnalysis.bandPassed`). Throws
    /// `.tooShort` under `min_frames` (3 s) and `.degenerate` for a flat envelope.
    public func segment(bandPassed y: [Double]) throws(DSPError) -> Segmentation {
        let (columns, envelope, z) = try frontEnd(bandPassed: y)
        let frames = envelope.count
        let (logB, post) = emissions(columns)
        let cands = candidates(try autocorrelation(post))
        guard !cands.isEmpty else { throw DSPError(.degenerate, "The recording has no heart-rate candidate.") }
        var best: (score: Double, index: Int, states: [Int])? = nil
        var scores: [Double] = []
        for (i, c) in cands.enumerated() {
            let table = durationTable(c)
            let (states, score) = Self.viterbi(logB: logB, frames: frames, logp: table.logp, logE: table.logE)
            scores.append(score)
            if best == nil || score > best!.score { best = (score, i, states) }
        }
        let chosen = cands[best!.index]
        var out = Segmentation(frameRate: file.frameRate, states: best!.states.map { Segmentation.State(rawValue: UInt8($0))! },
                               s1Onsets: [], s2Onsets: [], heartRate: chosen.heartRate, heartRateSource: "autocorrelation",
                               autocorrelationHeartRate: chosen.heartRate, heartRateConfidence: chosen.confidence,
                               systolicInterval: chosen.systolicInterval, cycleFeatures: [:], candidateIndex: best!.index,
                               candidateScores: scores)
        let runs = out.runs, fs = file.frameRate
        out.s1Onsets = runs.dropFirst().filter { $0.state == .s1 }.map { Double($0.first) / fs }
        out.s2Onsets = runs.dropFirst().filter { $0.state == .s2 }.map { Double($0.first) / fs }
        // Complete cycles: S1, systole, S2, diastole, then an S1, none cut by the recording's ends.
        var cycles: [ArraySlice<(state: Segmentation.State, first: Int, last: Int)>] = []
        if runs.count >= 6 {
            for i in 1..<(runs.count - 4) where (0..<5).map({ runs[i + $0].state.rawValue }) == [0, 1, 2, 3, 0] {
                cycles.append(runs[i..<(i + 5)])
            }
        }
        out.cycleFeatures = Self.cycleFeatures(cycles, envelope: envelope, bandLogPower: cycles.isEmpty ? [] : try bandLogPower(spikeRemoved: z, frames: frames), rate: fs)
        if cycles.count >= 2 {
            out.heartRate = 60 / Stats.median(cycles.map { Double($0[$0.startIndex + 4].first - $0[$0.startIndex].first) / fs })
            out.heartRateSource = "decoded"
        }
        return out
    }

    static func cycleFeatures(_ cycles: [ArraySlice<(state: Segmentation.State, first: Int, last: Int)>], envelope e: [Double],
                              bandLogPower: [[Double]], rate fs: Double) -> [String: Double?] {
        var out = Dictionary(uniqueKeysWithValues: cycleFeatureNames.map { ($0, Double?.none) })
        out["n_cycles"] = Double(cycles.count)
        guard !cycles.isEmpty else { return out }
        let mean = Stats.mean, std = Stats.std
        let c = cycles.map { Array($0) }
        let dur = { (q: Int) in c.map { Double($0[q].last - $0[q].first + 1) / fs } }
        let rr = c.map { Double($0[4].first - $0[0].first) / fs }
        let si = c.map { Double($0[2].first - $0[0].first) / fs }
        let a1 = c.map { e[$0[0].first...$0[0].last].max()! }, a2 = c.map { e[$0[2].first...$0[2].last].max()! }
        let msys = c.map { mean(Array(e[$0[1].first...$0[1].last])) }, mdia = c.map { mean(Array(e[$0[3].first...$0[3].last])) }
        out["rr_mean_s"] = mean(rr)
        out["rr_std_s"] = std(rr)
        out["rr_cv"] = std(rr) / mean(rr)
        out["rmssd_s"] = rr.count >= 2 ? mean(zip(rr.dropFirst(), rr).map { ($0 - $1) * ($0 - $1) }).squareRoot() : 0
        out["s1_mean_s"] = mean(dur(0))
        out["s2_mean_s"] = mean(dur(2))
        out["systole_mean_s"] = mean(dur(1))
        out["systole_std_s"] = std(dur(1))
        out["diastole_mean_s"] = mean(dur(3))
        out["diastole_std_s"] = std(dur(3))
        out["sys_dia_ratio"] = mean(dur(1)) / mean(dur(3))
        out["systolic_interval_mean_s"] = mean(si)
        out["systolic_fraction"] = mean(zip(si, rr).map { $0 / $1 })
        out["s1_s2_amp_ratio"] = Stats.median(zip(a1, a2).map { $0 / $1 })
        out["s1_amp_cv"] = std(a1) / mean(a1)
        out["s2_amp_cv"] = std(a2) / mean(a2)
        out["systole_s1_amp_ratio"] = Stats.median(zip(msys, a1).map { $0 / $1 })
        out["diastole_s1_amp_ratio"] = Stats.median(zip(mdia, a1).map { $0 / $1 })
        // Cycle-aligned spectra: the middle 60% of a run (its first and last fifth dropped).
        func middle(_ r: (state: Segmentation.State, first: Int, last: Int)) -> ClosedRange<Int> {
            let trim = (r.last - r.first + 1) / 5
            return (r.first + trim)...(r.last - trim)
        }
        // A third of a run, at least one frame.
        func third(_ r: (state: Segmentation.State, first: Int, last: Int)) -> Int { max(1, (r.last - r.first + 1) / 3) }
        var mids: [(sys: [Double], dia: [Double])] = []
        for (b, p) in zip(cycleBands, bandLogPower) {
            let sys = c.map { mean(Array(p[middle($0[1])])) }, dia = c.map { mean(Array(p[middle($0[3])])) }
            let s1 = c.map { p[$0[0].first...$0[0].last].max()! }, s2 = c.map { p[$0[2].first...$0[2].last].max()! }
            let contrast = zip(sys, dia).map { $0 - $1 }
            out[spectrumFeature("sys_dia", b)] = Stats.median(contrast)
            out[spectrumFeature("sys_s1", b)] = Stats.median(zip(sys, s1).map { $0 - $1 })
            out[spectrumFeature("dia_s2", b)] = Stats.median(zip(dia, s2).map { $0 - $1 })
            out[spectrumFeature("sys_dia_p25", b)] = percentile(contrast, 0.25)
            out[spectrumFeature("sys_dia_frac3db", b)] = Double(contrast.filter { $0 > log(2.0) }.count) / Double(contrast.count)
            let early = c.map { mean(Array(p[$0[1].first..<($0[1].first + third($0[1]))])) }
            let late = c.map { mean(Array(p[($0[1].last + 1 - third($0[1]))...$0[1].last])) }
            out[spectrumFeature("sys_early_late", b)] = Stats.median(zip(early, late).map { $0 - $1 })
            mids.append((sys, dia))
        }
        if let low = mids.first, let high = mids.last {
            out[tiltFeature] = Stats.median(c.indices.map { (high.sys[$0] - low.sys[$0]) - (high.dia[$0] - low.dia[$0]) })
        }
        return out
    }

    /// numpy's default percentile (linear between the closest ranks) of a non-empty array, q in 0…1.
    public static func percentile(_ v: [Double], _ q: Double) -> Double {
        let s = v.sorted(), pos = q * Double(s.count - 1), i = Int(pos.rounded(.down)), t = pos - Double(i)
        guard i + 1 < s.count else { return s[i] }
        // numpy's _lerp: a + (b − a)·t, or b − (b − a)·(1 − t) from t = 0.5 on.
        return t >= 0.5 ? s[i + 1] - (s[i + 1] - s[i]) * (1 - t) : s[i] + (s[i + 1] - s[i]) * t
    }
}
