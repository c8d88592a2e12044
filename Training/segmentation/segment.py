"""Reference heart-cycle segmenter (S1 / systole / S2 / diastole): a duration-dependent
hidden semi-Markov model after Springer, Tarassenko & Clifford 2016 ("Logistic
Regression-HSMM-based heart sound segmentation", IEEE TBME 63(4):822-832), adapted to
children (heart rates up to 220 bpm, durations fitted on CirCor 2022 annotations).

This file is the specification the Swift port follows. Everything is float64 numpy;
every step below says exactly what it computes. Indices are 0-based. "frame" = one
sample of the 50 Hz feature sequence; frame ``j`` covers the 2 kHz samples
``40j .. 40j+39``, i.e. the time interval ``[j/50, (j+1)/50)`` s.

Pipeline (``segment(samples, sr, params)``)
-------------------------------------------
1. Front end (``front_end``), identical to qaqc-v1 / assess-v1 up to the band-pass:
   ``x = qaqc_v1.resample_extending_edges(samples, sr, 2000)`` (identity at 2 kHz),
   ``y = sosfiltfilt(butter(4, [20, 720] Hz, 'bandpass', fs=2000, output='sos'), x)``
   (scipy's sosfiltfilt defaults; this is exactly qaqc_v1.analyse's ``y``, so the Swift
   port reuses the qaqc-v1 front end), then Schmidt spike removal
   (``dsp_reference.schmidt_spike_removal(y, 2000)``) -> ``z``.
2. Features (``features``), at 50 Hz, ``T = len(z) // 40`` frames (the ``len(z) % 40``
   trailing samples are dropped; ``T < 150``, i.e. under 3 s, is refused). ``bm(v)`` =
   the mean of each block of 40 samples of ``v``; ``H(v)`` =
   ``dsp_reference.homomorphic_envelope(v, 2000, lpf_hz=8)``.
   - ``env_raw = bm(H(z))``: the 50 Hz homomorphic envelope (kept unstandardised for the
     amplitude features of step 7);
   - ``homomorphic``: ``env_raw``; ``log_homomorphic``: ``log(env_raw)`` (natural log);
   - ``hilbert``: ``bm(dsp_reference.hilbert_envelope(z))`` (one DFT of the whole recording);
   - ``psd``: the 40-60 Hz band power of a short-time spectrum (Springer's
     ``get_PSD_feature_Springer_HMM``, re-derived for a 50 Hz output without resampling):
     for frame ``j`` take the ``L = 80`` samples ``z[40j - 20 + n]``, ``n = 0 .. 79``
     (samples outside ``0 .. len(z)-1`` are 0), multiply by the symmetric Hann window
     ``w[n] = 0.5 - 0.5 cos(2 pi n / (L - 1))``, and
     ``psd[j] = mean over f = 40, 41, ..., 60 Hz (21 values) of
     |sum_n w[n] z[40j-20+n] exp(-2 pi i f n / 2000)|^2`` (a direct DFT at 21 frequencies);
   - ``band_A_B`` for (A, B) in 25-50, 50-100, 100-200, 200-400 Hz (a stand-in for
     Springer's wavelet envelope that needs no wavelet code):
     ``zb = sosfiltfilt(butter(2, [A, B], 'bandpass', fs=2000, output='sos'), z)``
     (2nd-order prototype = 4 poles; scipy's default odd padding, as in step 1), then
     ``log(bm(H(zb)))``.
   Each column is then standardised over the recording: ``(v - mean(v)) / std(v)`` with
   the population std (ddof = 0); ``std == 0`` is refused (``ValueError``).
   The model uses the columns named in ``params["features"]``, in that order. The
   shipped model uses ``log_homomorphic`` and the four ``band_*`` columns only;
   ``homomorphic``, ``hilbert`` and ``psd`` serve the Springer baseline.
3. Emissions (``emission_scores``): per frame ``t`` and state ``j`` a log score
   ``logB[t, j]`` (only differences between states at the same ``t`` matter to the
   decoder, so Springer's common factor P(o) is omitted):
   - ``"kind": "softmax_lr"`` (shipped): multinomial logistic regression on a context
     vector. ``o_t`` = the selected features of frames ``t + c`` for ``c`` in ``context``
     (frame index clamped to ``0 .. T-1``), laid out offset-major: element
     ``i * n_features + f`` is feature ``f`` of frame ``t + context[i]``; standardised
     with the stored ``mean`` / ``scale``; ``zz_j = coef[j] . o_t + intercept[j]``;
     ``logB[t, j] = zz_j - logsumexp(zz) - log(prior[j])`` (the scaled likelihood of
     hybrid HMMs; ``prior`` = the training frames' state frequencies). The posterior
     ``P(j | o_t) = exp(zz_j - logsumexp(zz))`` is also used by step 4.
   - ``"kind": "binary_lr"`` (Springer baseline): one logistic regression per state, "state
     j against the rest", balanced class weights, on the current frame's features only;
     ``logB[t, j] = log(sigmoid(coef[j] . o_t + intercept[j]))``, with
     ``log(sigmoid(v)) = -log1p(exp(-v))`` for ``v >= 0`` and ``v - log1p(exp(v))`` otherwise.
4. Heart rate and systolic interval (``heart_rate``). A periodicity signal ``e``
   (``signal``): ``"post_s1"`` (shipped) = the S1 posterior ``P(S1 | o_t)`` of step 3;
   ``"log"`` = ``log(env_raw)``; ``"z"`` (Springer) = the standardised ``env_raw``.
   Its autocorrelation ``r``: with ``window_frames = W > 0`` (shipped: 150 = 3 s,
   ``hop_frames = H = 25``) the mean of ``dsp_reference.autocorrelation_fft(e[a : a+W])``
   over ``a = 0, H, 2H, ...`` with ``a + W <= T`` (windows with ``std == 0`` skipped; the
   whole ``e`` if ``T <= W``): each window normalised to ``r[0] = 1`` before averaging, so
   that loud stretches (crying, rubbing) do not outweigh quiet ones; with ``W = 0``
   (Springer) ``autocorrelation_fft(e)`` of the whole signal.
   Period search over integer lags ``kmin .. kmax``, ``kmin = ceil(50*60/hr_max)``,
   ``kmax = min(floor(50*60/hr_min), len(r) - 2)`` (children: 220 -> 14, 30 -> 100;
   Springer: 120 -> 25). Candidates: the local maxima ``r[k-1] < r[k] >= r[k+1]`` in the
   range (all lags of the range if there is none), sorted by decreasing ``r`` (stable:
   the smaller lag first on ties), the first ``n_candidates`` kept (shipped 3, Springer 1).
   Each candidate lag ``k`` is refined by the parabola through ``r[k-1], r[k], r[k+1]``
   (``delta = 0.5 (r[k-1] - r[k+1]) / (r[k-1] - 2r[k] + r[k+1])`` if the denominator is
   < 0, clamped to [-0.5, 0.5], else 0): ``period = (k + delta) / 50`` s,
   ``heart_rate_bpm = 60 / period``, ``hr_confidence = r[k]``. Its systolic interval
   (the S1 -> S2 lag): the largest local maximum of ``r`` over lags ``smin .. smax``,
   ``smin = max(1, round_half_up(sys_min_s * 50))``, ``smax = max(smin,
   floor(sys_max_frac * (k + delta)))`` (children: 0.1 s and 0.5; Springer: 0.2 s and 0.5),
   refined by the same parabola; if the range has no local maximum,
   ``sys_found = False`` and the interval is ``sys_fallback_frac * period`` (0.4).
   Harmonics: the autocorrelation of an envelope peaks at the period T, at its
   multiples, and (when S1 ~ S2 and systole ~ diastole, as in fast child hearts) near
   T/2. Rather than a fixed rule, each of the 3 strongest peaks is decoded (step 6) and
   the path with the highest Viterbi log score wins (``decode``); a wrong period forces
   sounds into silent states or silence into sound states and costs emission score.
   The S1 posterior is used rather than the envelope because it should peak once per
   cycle (S2 and noise bursts score low); measured: HR MAE 4.08 -> 2.61 bpm in the CV
   (README, rows D and E).
5. Durations (``duration_table``), per heart-rate candidate: per state ``j`` (0 = S1,
   1 = systole, 2 = S2, 3 = diastole) a mean ``mu_j`` and standard deviation ``sd_j`` in
   frames, from the candidate's period ``RR = period_s`` and ``sys_s =
   systolic_interval_s`` (seconds):
   - ``"kind": "springer"`` (adult constants, Springer's ``get_duration_distributions.m``
     at 50 Hz): mu = [0.122, sys_s - 0.122, 0.094, RR - sys_s - 0.094] * 50,
     sd = [0.022*50, 0.025*50, 0.022*50, 0.07 mu_3 + 0.006*50]; limits
     ``[mu - 3 sd, mu + 3 sd]`` except systole ``mu_1 +- 3 (sd_1 + sd_0)``, S1 and S2 lower
     limits floored at 1 frame.
   - ``"kind": "linear"`` (CirCor fit): ``mu_j = 50 * (a_j[0] + a_j[1] RR + a_j[2] sys_s)``,
     ``sd_j = 50 * (s_j[0] + s_j[1] RR)``, floored at ``sd_floor`` frames;
     limits ``[mu_j - k sd_j, mu_j + k sd_j]``, ``k = params["limit_sd"]``.
   Limits are then rounded (``lo = max(1, ceil(lo - 1e-9))``, ``hi = floor(hi + 1e-9)``,
   then ``lo = min(lo, D)``, ``hi = min(max(hi, lo), D)``), i.e. clipped to ``1 .. D`` with ``D = params["max_duration"]``
   (the window of the decoder; 2 s = 100 frames). Inside the limits
   ``logp_j(d) = -0.5 ((d - mu_j) / sd_j)^2`` (the Gaussian, up to a constant), then
   normalised over ``d = lo .. hi`` to sum to 1 (log-sum-exp); ``-inf`` outside.
   Edge tables, for a segment cut by the start or end of the recording whose observed
   length is ``L`` frames: ``"survival"``: ``logE_j(L) = log sum_{d >= L} p_j(d)``;
   ``"max"`` (Springer's behaviour): ``logE_j(L) = max_{d >= L} logp_j(d)``;
   both ``-inf`` where no ``d >= L`` is allowed.
6. Decoding (``viterbi``): states cycle 0 -> 1 -> 2 -> 3 -> 0 with probability 1
   (``prev(j) = (j + 3) % 4``), uniform initial probabilities. With ``C[t, j] =
   sum_{u < t} logB[u, j]`` (``C[0] = 0``, shape (T+1, 4)):
   ``delta[t, j]`` = best log score of frames ``0 .. t`` ending with a segment of state j
   that ends exactly at frame t:
       delta[t, j] = max( log(1/4) + C[t+1, j] + logE_j(t + 1)      (first segment, t+1 <= D),
                          max_{d = 1 .. min(D, t)} delta[t-d, prev(j)] + C[t+1, j] - C[t+1-d, j]
                                                  + logp_j(d) )
   ``psi[t, j]`` = the arg-max ``d`` (0 for the first-segment term; ties go to the
   first-segment term, then the smallest ``d``). The last segment may run past the end:
   the decoded path ends with state ``j`` observed for the last ``L`` frames,
       final(j, L) = delta[T-1-L, prev(j)] + C[T, j] - C[T-L, j] + logE_j(L)   (L = 1 .. min(D, T-1)),
   and (only if T <= D) the single-segment path ``log(1/4) + C[T, j] + logE_j(T)``.
   The best (j, L) over states and then L (``np.argmax`` over the flattened
   ``[j, L-1]`` table: state-major, first on ties) is traced back through psi.
   The decoder's ``D`` is trimmed to the largest duration any state allows in this
   table (longer durations have p = 0; the result is the same), so the cost is
   O(T * 4 * D) with D <= 100. Springer's code extends delta by D-1 frames past the end
   and lets the first segment start at frame 0 with a full duration d; the two edge
   terms above are that, written out (``"max"``), or with the survival function.
   With ``n_candidates > 1`` steps 5-6 run once per heart-rate candidate and the path
   with the highest score is kept (the earlier candidate on ties).
7. Outputs (``outputs_from_states``): the 50 Hz state sequence, its runs as segments in
   seconds, S1 / S2 onsets (the first frame of each run / 50; runs cut by the start of
   the recording are not reported as onsets), the heart rate (``hr_source``:
   ``decoded`` = 60 / median of the S1-onset differences when there are >= 2 complete
   cycles, otherwise the autocorrelation estimate) and the cycle-timing features of
   ``CYCLE_FEATURES``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import scipy.signal

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from dsp_reference import (autocorrelation_fft, hilbert_envelope,  # noqa: E402
                           homomorphic_envelope, schmidt_spike_removal)
from qaqc_v1 import resample_extending_edges  # noqa: E402

ANALYSIS_RATE = 2000
BAND = (20.0, 720.0)
BANDPASS_ORDER = 4
FRAME = 40                        # 2000 Hz / 40 = 50 Hz
FEATURE_RATE = ANALYSIS_RATE / FRAME
HOMOMORPHIC_LPF_HZ = 8.0
PSD_WINDOW = 80                   # samples (40 ms), centred on the frame
PSD_FREQS = np.arange(40.0, 61.0, 1.0)   # 40, 41, ..., 60 Hz
SUB_BANDS = ((25.0, 50.0), (50.0, 100.0), (100.0, 200.0), (200.0, 400.0))
SUB_BAND_ORDER = 2                # butter(2, band, 'bandpass') = 4 poles, zero phase
ALL_FEATURES = ("homomorphic", "hilbert", "psd", "log_homomorphic") + tuple(
    f"band_{int(a)}_{int(b)}" for a, b in SUB_BANDS)
STATE_NAMES = ("S1", "systole", "S2", "diastole")
MIN_FRAMES = 150                  # 3 s: shorter recordings are refused

#: Heart-rate search settings. ``children`` is the adaptation; ``springer`` reproduces
#: ``getHeartRateSchmidt.m`` (lags 0.5 .. 2 s, systole 0.2 s .. half a period).
HR_SETTINGS = {
    "children": {"signal": "post_s1", "window_frames": 150, "hop_frames": 25, "n_candidates": 3,
                 "hr_min": 30.0, "hr_max": 220.0, "sys_min_s": 0.1, "sys_max_frac": 0.5,
                 "sys_fallback_frac": 0.4},
    "springer": {"signal": "z", "window_frames": 0, "hop_frames": 0, "n_candidates": 1,
                 "hr_min": 30.0, "hr_max": 120.0, "sys_min_s": 0.2, "sys_max_frac": 0.5,
                 "sys_fallback_frac": 0.4},
}

#: Springer's adult duration model (get_duration_distributions.m), in seconds.
SPRINGER_DURATIONS = {"kind": "springer", "mean_s1": 0.122, "sd_s1": 0.022, "mean_s2": 0.094,
                      "sd_s2": 0.022, "sd_systole": 0.025, "diastole_sd_frac": 0.07,
                      "diastole_sd_add": 0.006}

CYCLE_FEATURES = {
    "n_cycles": "number of complete decoded cycles (S1 onset to next S1 onset, all four states in order)",
    "rr_mean_s": "mean of the complete cycles' durations (s)",
    "rr_std_s": "population std of the cycle durations (s)",
    "rr_cv": "rr_std_s / rr_mean_s",
    "rmssd_s": "root mean square of successive cycle-duration differences (s); 0 with < 2 cycles",
    "s1_mean_s": "mean S1 duration over complete cycles (s)",
    "s2_mean_s": "mean S2 duration (s)",
    "systole_mean_s": "mean systole duration (end of S1 to start of S2) (s)",
    "systole_std_s": "population std of systole durations (s)",
    "diastole_mean_s": "mean diastole duration (end of S2 to next S1) (s)",
    "diastole_std_s": "population std of diastole durations (s)",
    "sys_dia_ratio": "systole_mean_s / diastole_mean_s",
    "systolic_interval_mean_s": "mean S1 onset to S2 onset (s)",
    "systolic_fraction": "mean over cycles of (S1 onset to S2 onset) / cycle duration",
    "s1_s2_amp_ratio": "median over cycles of max(homomorphic envelope in S1) / max(in S2), "
                       "on the 50 Hz block-mean envelope before standardisation",
    "s1_amp_cv": "std / mean of the per-cycle S1 envelope maxima",
    "s2_amp_cv": "std / mean of the per-cycle S2 envelope maxima",
    "systole_s1_amp_ratio": "median over cycles of mean(envelope in systole) / max(envelope in S1): "
                            "a crude murmur-energy index",
    "diastole_s1_amp_ratio": "median over cycles of mean(envelope in diastole) / max(envelope in S1)",
}
# Cycle-aligned spectra. In each band, the natural log of the 20 ms block-mean power of
# ``sosfiltfilt(butter(2, band, 'bandpass'), z)`` (floored at 1e-20); per complete cycle the
# mean over the middle 60% of systole and of diastole (a run's first and last fifth, len // 5
# frames each, dropped) and the maxima over S1 and S2; median over cycles of the differences.
CYCLE_BANDS = [(100, 200), (200, 400), (400, 700)]
for _lo, _hi in CYCLE_BANDS:
    CYCLE_FEATURES.update({
        f"sys_dia_logpow_{_lo}_{_hi}": f"{_lo}-{_hi} Hz log power, mid-systole minus mid-diastole (a murmur fills systole)",
        f"sys_s1_logpow_{_lo}_{_hi}": f"{_lo}-{_hi} Hz log power, mid-systole minus the S1 maximum",
        f"dia_s2_logpow_{_lo}_{_hi}": f"{_lo}-{_hi} Hz log power, mid-diastole minus the S2 maximum",
        f"sys_dia_p25_logpow_{_lo}_{_hi}": f"{_lo}-{_hi} Hz, the 25th percentile over cycles (numpy's linear) "
                                           "of mid-systole minus mid-diastole (a murmur is in most cycles)",
        f"sys_dia_frac3db_logpow_{_lo}_{_hi}": f"{_lo}-{_hi} Hz, the fraction of cycles whose mid-systole is "
                                               "more than 3 dB (ln 2) above their mid-diastole",
        f"sys_early_late_logpow_{_lo}_{_hi}": f"{_lo}-{_hi} Hz, median over cycles of the mean over systole's "
                                              "first third minus its last third (max(1, len // 3) frames each): "
                                              "the murmur's shape (decrescendo, plateau, crescendo)",
    })
# mid-systole's tilt (the last band minus the first) against mid-diastole's
TILT_FEATURE = (f"sys_dia_tilt_logpow_{CYCLE_BANDS[-1][0]}_{CYCLE_BANDS[-1][1]}"
                f"_{CYCLE_BANDS[0][0]}_{CYCLE_BANDS[0][1]}")
CYCLE_FEATURES[TILT_FEATURE] = ("median over cycles of (mid-systole 400-700 minus 100-200 Hz) minus "
                                         "(mid-diastole 400-700 minus 100-200 Hz): the pitch of what fills "
                                         "systole against diastole's (on CirCor lower with a murmur: it adds "
                                         "more power below 200 Hz than above 400)")


# --------------------------------------------------------------------------------------
# 1-2. Front end and features
# --------------------------------------------------------------------------------------

def front_end(samples: np.ndarray, sr: int) -> np.ndarray:
    """Step 1: resample to 2 kHz, band-pass 20-720 Hz (order 4, zero phase), Schmidt
    spike removal. Returns ``z`` (2 kHz)."""
    x = resample_extending_edges(np.asarray(samples, dtype=np.float64), int(sr), ANALYSIS_RATE)
    sos = scipy.signal.butter(BANDPASS_ORDER, BAND, btype="bandpass", fs=ANALYSIS_RATE, output="sos")
    y = scipy.signal.sosfiltfilt(sos, x)
    z, _ = schmidt_spike_removal(y, ANALYSIS_RATE)
    return z


def block_mean(v: np.ndarray, n_frames: int) -> np.ndarray:
    return v[: n_frames * FRAME].reshape(n_frames, FRAME).mean(axis=1)


def psd_feature(z: np.ndarray, n_frames: int) -> np.ndarray:
    """40-60 Hz band power per frame (see the module text, step 2)."""
    n = np.arange(PSD_WINDOW)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / (PSD_WINDOW - 1))
    half = (PSD_WINDOW - FRAME) // 2              # 20 samples before the frame's block
    pad = np.concatenate([np.zeros(half), z, np.zeros(PSD_WINDOW)])
    idx = (FRAME * np.arange(n_frames))[:, None] + n[None, :]   # into pad: z[40j-20+n]
    seg = pad[idx] * w[None, :]
    ang = 2 * np.pi * np.outer(n, PSD_FREQS) / ANALYSIS_RATE     # (80, 21)
    re = seg @ np.cos(ang)
    im = seg @ np.sin(ang)
    return (re * re + im * im).mean(axis=1)


def standardise(v: np.ndarray) -> np.ndarray:
    sd = float(v.std())
    if not sd > 0:
        raise ValueError("constant feature")
    return (v - v.mean()) / sd


def features(z: np.ndarray) -> dict:
    """Step 2. Returns a dict with ``F`` (T x 3, columns ``ALL_FEATURES``, standardised)
    and ``env_raw`` (the block-mean homomorphic envelope before standardisation, used for
    the amplitude features)."""
    n_frames = len(z) // FRAME
    if n_frames < MIN_FRAMES:
        raise ValueError("too short")
    homo = block_mean(homomorphic_envelope(z, ANALYSIS_RATE, lpf_hz=HOMOMORPHIC_LPF_HZ), n_frames)
    hilb = block_mean(hilbert_envelope(z), n_frames)
    psd = psd_feature(z, n_frames)
    cols = [standardise(homo), standardise(hilb), standardise(psd), standardise(np.log(homo))]
    for band in SUB_BANDS:
        sos = scipy.signal.butter(SUB_BAND_ORDER, band, btype="bandpass", fs=ANALYSIS_RATE, output="sos")
        zb = scipy.signal.sosfiltfilt(sos, z)
        cols.append(standardise(np.log(block_mean(homomorphic_envelope(zb, ANALYSIS_RATE,
                                                                         lpf_hz=HOMOMORPHIC_LPF_HZ), n_frames))))
    F = np.column_stack(cols)
    band_logpow = []
    for band in CYCLE_BANDS:
        sos = scipy.signal.butter(2, band, btype="bandpass", fs=ANALYSIS_RATE, output="sos")
        band_logpow.append(np.log(np.maximum(block_mean(scipy.signal.sosfiltfilt(sos, z) ** 2, n_frames), 1e-20)))
    return {"F": F, "env_raw": homo, "band_logpow": band_logpow}


# --------------------------------------------------------------------------------------
# 3. Heart rate
# --------------------------------------------------------------------------------------

def _parabola(r: np.ndarray, k: int) -> float:
    if k - 1 < 0 or k + 1 >= len(r):
        return 0.0
    den = r[k - 1] - 2 * r[k] + r[k + 1]
    if not den < 0:
        return 0.0
    return float(min(0.5, max(-0.5, 0.5 * (r[k - 1] - r[k + 1]) / den)))


def _local_max(r: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    lags = np.arange(max(lo, 1), min(hi, len(r) - 2) + 1)
    return lags[(r[lags - 1] < r[lags]) & (r[lags] >= r[lags + 1])], lags


def envelope_autocorrelation(env_raw: np.ndarray, s: dict, post: np.ndarray | None = None) -> np.ndarray:
    """The autocorrelation the heart rate is read from (step 3). ``signal``: ``"z"`` = the
    standardised homomorphic column, ``"log"`` = ``log(env_raw)``. ``window_frames`` = 0:
    ``autocorrelation_fft`` of the whole signal (Springer); otherwise the mean of
    ``autocorrelation_fft(e[a : a + W])`` over the windows ``a = 0, H, 2H, ...`` with
    ``a + W <= T`` (``W = window_frames``, ``H = hop_frames``; the whole signal if
    ``T <= W``), i.e. each window normalised to ``r[0] = 1`` before averaging, so that loud
    stretches (crying, rubbing) do not outweigh quiet ones."""
    sig = s.get("signal", "z")
    if sig == "log":
        e = np.log(env_raw)
    elif sig == "z":
        e = standardise(env_raw)
    elif sig == "post_s1":
        e = post[:, 0]
    else:
        raise ValueError(sig)
    W = int(s.get("window_frames", 0))
    if W == 0 or len(e) <= W:
        return autocorrelation_fft(e)
    H = int(s["hop_frames"])
    acc = np.zeros(W)
    n = 0
    for a in range(0, len(e) - W + 1, H):
        seg = e[a:a + W]
        if not seg.std() > 0:
            continue
        acc += autocorrelation_fft(seg)
        n += 1
    if n == 0:
        raise ValueError("constant envelope")
    return acc / n


def _candidate(r: np.ndarray, k: int, s: dict) -> dict:
    lag = k + _parabola(r, k)
    period = lag / FEATURE_RATE
    smin = max(1, int(math.floor(s["sys_min_s"] * FEATURE_RATE + 0.5)))
    smax = max(smin, int(math.floor(s["sys_max_frac"] * lag)))
    speaks, _ = _local_max(r, smin, smax)
    if len(speaks):
        ks = int(speaks[int(np.argmax(r[speaks]))])
        sys_s = (ks + _parabola(r, ks)) / FEATURE_RATE
        found = True
    else:
        ks = -1
        sys_s = s["sys_fallback_frac"] * period
        found = False
    return {"heart_rate_bpm": 60.0 / period, "period_s": period, "hr_confidence": float(r[k]),
            "lag": k, "systolic_interval_s": sys_s, "sys_lag": ks, "sys_found": found,
            "sys_confidence": float(r[ks]) if found else 0.0}


def heart_rate(env_raw: np.ndarray, s: dict, post: np.ndarray | None = None) -> dict:
    """Step 3 (see the module text). Returns the best candidate's fields plus
    ``candidates``: the ``n_candidates`` largest local maxima of ``r`` in the lag range,
    by decreasing ``r`` (ties: smaller lag first), each with its own systolic interval."""
    r = envelope_autocorrelation(env_raw, s, post)
    kmin = math.ceil(FEATURE_RATE * 60.0 / s["hr_max"] - 1e-9)
    kmax = math.floor(FEATURE_RATE * 60.0 / s["hr_min"] + 1e-9)
    kmax = min(kmax, len(r) - 2)
    peaks, lags = _local_max(r, kmin, kmax)
    cand = peaks if len(peaks) else lags
    order = cand[np.argsort(-r[cand], kind="stable")]
    n = int(s.get("n_candidates", 1))
    cands = [_candidate(r, int(k), s) for k in order[:n]]
    out = dict(cands[0])
    out["candidates"] = cands
    return out


# --------------------------------------------------------------------------------------
# 4. Emissions
# --------------------------------------------------------------------------------------

def log_sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = -np.log1p(np.exp(-z[pos]))
    out[~pos] = z[~pos] - np.log1p(np.exp(z[~pos]))
    return out


def context_matrix(F: np.ndarray, context) -> np.ndarray:
    T = F.shape[0]
    cols = [F[np.clip(np.arange(T) + c, 0, T - 1)] for c in context]
    return np.concatenate(cols, axis=1)


def select(F: np.ndarray, names) -> np.ndarray:
    return F[:, [ALL_FEATURES.index(n) for n in names]]


def emission_scores(F: np.ndarray, em: dict, names) -> np.ndarray:
    """Step 4. ``F``: all feature columns (T x 3)."""
    X = select(F, names)
    if em["kind"] == "binary_lr":
        W = np.asarray(em["coef"])            # (4, n_features)
        b = np.asarray(em["intercept"])       # (4,)
        return log_sigmoid(X @ W.T + b[None, :])
    if em["kind"] == "softmax_lr":
        X = context_matrix(X, em["context"])
        X = (X - np.asarray(em["mean"])) / np.asarray(em["scale"])
        Z = X @ np.asarray(em["coef"]).T + np.asarray(em["intercept"])[None, :]
        m = Z.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))
        return Z - lse[:, None] - np.log(np.asarray(em["prior"]))[None, :]
    raise ValueError(f"unknown emission kind {em['kind']}")


def posterior(logB: np.ndarray, em: dict) -> np.ndarray | None:
    """P(state | o_t) of a softmax emission model (``logB + log(prior)``), else None."""
    if em["kind"] != "softmax_lr":
        return None
    return np.exp(logB + np.log(np.asarray(em["prior"]))[None, :])


# --------------------------------------------------------------------------------------
# 5. Durations
# --------------------------------------------------------------------------------------

def duration_moments(hr: dict, dm: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Means, sds and (unrounded) limits in frames."""
    fs = FEATURE_RATE
    rr, sy = hr["period_s"], hr["systolic_interval_s"]
    if dm["kind"] == "springer":
        mu = np.array([dm["mean_s1"], sy - dm["mean_s1"], dm["mean_s2"], rr - sy - dm["mean_s2"]]) * fs
        sd = np.array([dm["sd_s1"] * fs, dm["sd_systole"] * fs, dm["sd_s2"] * fs, 0.0])
        sd[3] = dm["diastole_sd_frac"] * mu[3] + dm["diastole_sd_add"] * fs
        lo = mu - 3 * sd
        hi = mu + 3 * sd
        lo[1] = mu[1] - 3 * (sd[1] + sd[0])
        hi[1] = mu[1] + 3 * (sd[1] + sd[0])
        lo[0] = max(lo[0], 1.0)
        lo[2] = max(lo[2], 1.0)
        return mu, sd, lo, hi
    if dm["kind"] == "linear":
        a = np.asarray(dm["mean_coef"])      # (4, 3): seconds = a0 + a1 RR + a2 sys
        s = np.asarray(dm["sd_coef"])        # (4, 2): seconds = s0 + s1 RR
        mu = fs * (a[:, 0] + a[:, 1] * rr + a[:, 2] * sy)
        sd = np.maximum(fs * (s[:, 0] + s[:, 1] * rr), dm["sd_floor"])
        k = dm["limit_sd"]
        return mu, sd, mu - k * sd, mu + k * sd
    raise ValueError(f"unknown duration kind {dm['kind']}")


def duration_table(hr: dict, dm: dict, D: int, edge: str) -> dict:
    """Step 5: ``logp`` (4 x D, column d-1 = duration d) and the edge table ``logE``."""
    mu, sd, lo, hi = duration_moments(hr, dm)
    d = np.arange(1, D + 1, dtype=np.float64)
    logp = np.full((4, D), -np.inf)
    lims = []
    for j in range(4):
        a = max(1, math.ceil(lo[j] - 1e-9))
        b = math.floor(hi[j] + 1e-9)
        a = min(a, D)
        b = min(max(b, a), D)
        lims.append((a, b))
        v = -0.5 * ((d[a - 1:b] - mu[j]) / max(sd[j], 1e-6)) ** 2
        m = v.max()
        v = v - (m + math.log(np.exp(v - m).sum()))
        logp[j, a - 1:b] = v
    logE = np.full((4, D), -np.inf)
    for j in range(4):
        if edge == "survival":
            p = np.exp(logp[j])
            tail = np.cumsum(p[::-1])[::-1]
            with np.errstate(divide="ignore"):
                logE[j] = np.log(tail)
        elif edge == "max":
            logE[j] = np.maximum.accumulate(logp[j][::-1])[::-1]
        else:
            raise ValueError(edge)
    return {"logp": logp, "logE": logE, "mu": mu, "sd": sd, "limits": lims}


# --------------------------------------------------------------------------------------
# 6. Viterbi
# --------------------------------------------------------------------------------------

PREV = np.array([3, 0, 1, 2])


def viterbi(logB: np.ndarray, logp: np.ndarray, logE: np.ndarray) -> tuple[np.ndarray, float]:
    """Step 6: the duration-dependent Viterbi. Returns (states (T,), best log score).
    ``D`` is trimmed to the largest duration any state allows (columns of ``logp`` that
    are -inf for every state cannot be chosen; results are the same)."""
    T = logB.shape[0]
    allowed = np.flatnonzero(np.isfinite(logp).any(axis=0))
    D = int(allowed[-1]) + 1
    logp = logp[:, :D]
    logE = logE[:, :D]
    C = np.vstack([np.zeros((1, 4)), np.cumsum(logB, axis=0)])
    log_init = math.log(0.25)
    delta = np.full((T, 4), -np.inf)
    psi = np.zeros((T, 4), dtype=np.int64)
    # G[t, d-1, j] = C[t+1, j] - C[t+1-d, j] + logp_j(d), -inf where t+1-d < 0
    tt = np.arange(T)[:, None]
    dd = np.arange(1, D + 1)[None, :]
    lo = tt + 1 - dd
    G = C[1:][:, None, :] - C[np.maximum(lo, 0)] + logp.T[None, :, :]
    G[lo < 0] = -np.inf
    # dpad[D + u] = delta[u, prev(j)] (u >= 0); rows 0..D-1 are -inf
    dpad = np.full((T + D, 4), -np.inf)
    cols = np.arange(4)
    first_ok = min(D, T)
    first = np.full((T, 4), -np.inf)
    first[:first_ok] = log_init + C[1:first_ok + 1] + logE[:, :first_ok].T
    for t in range(T):
        cand = dpad[t + D - 1:t - 1 if t > 0 else None:-1] + G[t]      # rows d = 1..D
        best_d = np.argmax(cand, axis=0)
        best = cand[best_d, cols]
        f = first[t]
        use_first = f >= best
        delta[t] = np.where(use_first, f, best)
        psi[t] = np.where(use_first, 0, best_d + 1)
        dpad[t + D] = delta[t, PREV]
    # final segment
    Lmax = min(D, T - 1)
    L = np.arange(1, Lmax + 1)
    final = np.full((4, D), -np.inf)
    for j in range(4):
        final[j, :Lmax] = delta[T - 1 - L, PREV[j]] + C[T, j] - C[T - L, j] + logE[j, L - 1]
    single = np.full(4, -np.inf)
    if T <= D:
        single = log_init + C[T] + logE[:, T - 1]
    idx = int(np.argmax(final))
    j, Lbest = divmod(idx, D)
    Lbest += 1
    score = float(final[j, Lbest - 1])
    states = np.empty(T, dtype=np.int64)
    if single.max() > score:
        j = int(np.argmax(single))
        states[:] = j
        return states, float(single[j])
    states[T - Lbest:] = j
    t = T - 1 - Lbest
    j = int(PREV[j])
    while t >= 0:
        d = int(psi[t, j])
        if d == 0:
            states[: t + 1] = j
            break
        states[t - d + 1: t + 1] = j
        t -= d
        j = int(PREV[j])
    return states, score


# --------------------------------------------------------------------------------------
# 7. Outputs
# --------------------------------------------------------------------------------------

def runs(states: np.ndarray) -> list[tuple[int, int, int]]:
    """(state, first frame, last frame) of each run."""
    change = np.flatnonzero(np.diff(states)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change - 1, [len(states) - 1]])
    return [(int(states[a]), int(a), int(b)) for a, b in zip(starts, ends)]


def cycle_features(states: np.ndarray, env_raw: np.ndarray, band_logpow: list) -> dict:
    rs = runs(states)
    fs = FEATURE_RATE
    cyc = []
    # a complete cycle: runs i..i+3 = S1, systole, S2, diastole, followed by an S1 run,
    # none of them cut by the recording's start or end
    for i in range(1, len(rs) - 4):
        if [rs[i + q][0] for q in range(5)] == [0, 1, 2, 3, 0]:
            cyc.append(rs[i:i + 5])
    out = {k: float("nan") for k in CYCLE_FEATURES}
    out["n_cycles"] = float(len(cyc))
    if not cyc:
        return out
    dur = np.array([[(c[q][2] - c[q][1] + 1) / fs for q in range(4)] for c in cyc])
    rr = np.array([(c[4][1] - c[0][1]) / fs for c in cyc])
    si = np.array([(c[2][1] - c[0][1]) / fs for c in cyc])
    a1 = np.array([env_raw[c[0][1]:c[0][2] + 1].max() for c in cyc])
    a2 = np.array([env_raw[c[2][1]:c[2][2] + 1].max() for c in cyc])
    msys = np.array([env_raw[c[1][1]:c[1][2] + 1].mean() for c in cyc])
    mdia = np.array([env_raw[c[3][1]:c[3][2] + 1].mean() for c in cyc])
    out.update({
        "rr_mean_s": rr.mean(), "rr_std_s": rr.std(), "rr_cv": rr.std() / rr.mean(),
        "rmssd_s": float(np.sqrt(np.mean(np.diff(rr) ** 2))) if len(rr) >= 2 else 0.0,
        "s1_mean_s": dur[:, 0].mean(), "s2_mean_s": dur[:, 2].mean(),
        "systole_mean_s": dur[:, 1].mean(), "systole_std_s": dur[:, 1].std(),
        "diastole_mean_s": dur[:, 3].mean(), "diastole_std_s": dur[:, 3].std(),
        "sys_dia_ratio": dur[:, 1].mean() / dur[:, 3].mean(),
        "systolic_interval_mean_s": si.mean(), "systolic_fraction": float(np.mean(si / rr)),
        "s1_s2_amp_ratio": float(np.median(a1 / a2)),
        "s1_amp_cv": a1.std() / a1.mean(), "s2_amp_cv": a2.std() / a2.mean(),
        "systole_s1_amp_ratio": float(np.median(msys / a1)),
        "diastole_s1_amp_ratio": float(np.median(mdia / a1)),
    })

    def mid(r):  # the middle 60% of a run
        trim = (r[2] - r[1] + 1) // 5
        return slice(r[1] + trim, r[2] - trim + 1)
    def third(r):  # frames in a third of a run (at least one)
        return max(1, (r[2] - r[1] + 1) // 3)
    mids = {}
    for (lo, hi), p in zip(CYCLE_BANDS, band_logpow):
        sys_ = np.array([p[mid(c[1])].mean() for c in cyc])
        dia = np.array([p[mid(c[3])].mean() for c in cyc])
        s1 = np.array([p[c[0][1]:c[0][2] + 1].max() for c in cyc])
        s2 = np.array([p[c[2][1]:c[2][2] + 1].max() for c in cyc])
        out[f"sys_dia_logpow_{lo}_{hi}"] = float(np.median(sys_ - dia))
        out[f"sys_s1_logpow_{lo}_{hi}"] = float(np.median(sys_ - s1))
        out[f"dia_s2_logpow_{lo}_{hi}"] = float(np.median(dia - s2))
        out[f"sys_dia_p25_logpow_{lo}_{hi}"] = float(np.percentile(sys_ - dia, 25))
        out[f"sys_dia_frac3db_logpow_{lo}_{hi}"] = float(np.mean(sys_ - dia > np.log(2)))
        early = np.array([p[c[1][1]:c[1][1] + third(c[1])].mean() for c in cyc])
        late = np.array([p[c[1][2] + 1 - third(c[1]):c[1][2] + 1].mean() for c in cyc])
        out[f"sys_early_late_logpow_{lo}_{hi}"] = float(np.median(early - late))
        mids[(lo, hi)] = (sys_, dia)
    (s_lo, d_lo), (s_hi, d_hi) = mids[CYCLE_BANDS[0]], mids[CYCLE_BANDS[-1]]
    out[TILT_FEATURE] = float(np.median((s_hi - s_lo) - (d_hi - d_lo)))
    return {k: float(v) for k, v in out.items()}


def outputs_from_states(states: np.ndarray, hr: dict, env_raw: np.ndarray, band_logpow: list) -> dict:
    fs = FEATURE_RATE
    rs = runs(states)
    segs = [{"state": STATE_NAMES[s], "start_s": a / fs, "end_s": (b + 1) / fs} for s, a, b in rs]
    s1 = [a / fs for s, a, b in rs[1:] if s == 0]
    s2 = [a / fs for s, a, b in rs[1:] if s == 2]
    cf = cycle_features(states, env_raw, band_logpow)
    if cf["n_cycles"] >= 2:
        # 60 / median S1-onset difference over complete cycles
        cyc_rr = []
        for i in range(1, len(rs) - 4):
            if [rs[i + q][0] for q in range(5)] == [0, 1, 2, 3, 0]:
                cyc_rr.append((rs[i + 4][1] - rs[i][1]) / fs)
        hr_bpm, src = 60.0 / float(np.median(cyc_rr)), "decoded"
    else:
        hr_bpm, src = hr["heart_rate_bpm"], "autocorrelation"
    return {"states": states, "segments": segs, "s1_onsets_s": s1, "s2_onsets_s": s2,
            "heart_rate_bpm": hr_bpm, "hr_source": src,
            "heart_rate_autocorr_bpm": hr["heart_rate_bpm"], "hr_confidence": hr["hr_confidence"],
            "systolic_interval_s": hr["systolic_interval_s"], "cycle_features": cf}


# --------------------------------------------------------------------------------------
# Whole pipeline
# --------------------------------------------------------------------------------------

def analyse_features(samples: np.ndarray, sr: int) -> dict:
    """Steps 1-2."""
    return features(front_end(samples, sr))


def decode(feat: dict, params: dict, hr: dict | None = None) -> dict:
    """Steps 3-7 from ``analyse_features``'s output. With ``n_candidates > 1`` the
    decoder runs once per heart-rate candidate and keeps the path with the highest
    Viterbi score (the first candidate on ties)."""
    F = feat["F"]
    logB = emission_scores(F, params["emission"], params["features"])
    if hr is None:
        hr = heart_rate(feat["env_raw"], params["heart_rate"], posterior(logB, params["emission"]))
    cands = hr.get("candidates", [hr])
    D = int(params["max_duration"])
    best = None
    scores = []
    for i, c in enumerate(cands):
        tab = duration_table(c, params["durations"], D, params["edge"])
        states, score = viterbi(logB, tab["logp"], tab["logE"])
        scores.append(score)
        if best is None or score > best[0]:
            best = (score, i, c, tab, states)
    score, i, c, tab, states = best
    out = outputs_from_states(states, c, feat["env_raw"], feat["band_logpow"])
    out.update({"hr": c, "hr_all": hr, "candidate_index": i, "candidate_scores": scores, "logB": logB,
                "durations": tab, "score": score})
    return out


def segment(samples: np.ndarray, sr: int, params: dict) -> dict:
    """The whole segmenter on mono float samples at ``sr`` Hz."""
    return decode(analyse_features(samples, sr), params)


def load_params(path) -> dict:
    import json
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != "clinic-segmentation" or doc.get("format_version") != 1:
        raise ValueError("not a clinic-segmentation v1 file")
    return doc
