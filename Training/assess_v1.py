"""The assess-v1 feature set in Python: the twin of Swift's ``FeatureSet.assessV1``, for
training the assessment models on the numbers the laptop computes.
docs/audio-front-end.md ("Feature set `assess-v1`") defines it; this file follows that text.

    python3 Training/assess_v1.py          # writes Tests/Fixtures/features/assess_v1.json

assess-v1 = the 37 qaqc-v1 values (``qaqc_v1.analyse``, same resampling, band-pass, STFT
and mel bank), then 8 more, plus a log-mel patch tensor. Notation: ``x`` the signal
resampled to 2000 Hz, ``y`` it band-passed 20-720 Hz, ``env`` the homomorphic envelope
of ``y``, ``psd`` the Welch PSD of ``x`` (nperseg 256, bins ``f_k = k * 2000 / 256``).

1. ``kurtosis`` = ``m4 / m2**2 - 3``, ``m_p = mean((y - mean(y))**p)``
   (= ``scipy.stats.kurtosis(y)``, Fisher, biased; checked below).
2. ``band_power_LO_HI`` = ``sum(psd[k] for LO <= f_k < HI)`` (the last band
   ``400 <= f_k <= 720``) over ``sum(psd[k] for 20 <= f_k <= 720)``. At 7.8125 Hz bins no
   bin falls on an edge: the bands are bins 3-12, 13-25, 26-51, 52-92.
3. ``e[j] = mean(env[40j : 40j+40])``, ``j < len(env) // 40`` (the 50 Hz envelope).
4. ``r = dsp_reference.autocorrelation_fft(e)``; the candidate lags are the local maxima
   in 15..100 (``r[k-1] < r[k] >= r[k+1]``), or all of 15..100 when there is none;
   ``k*`` = the first candidate with the largest ``r`` (``np.argmax``), ``periodicity = r[k*]``.
   (A plain maximum over 15..100 lands on the range's ends for 12% of ../shared/data:
   r is still falling from lag 0 at 0.3 s.)
5. ``heart_rate_bpm = 60 * 50 / (k* + delta)``; ``den = r[k*-1] - 2 r[k*] + r[k*+1]``;
   ``delta = 0.5 * (r[k*-1] - r[k*+1]) / den`` if ``den < 0`` else 0. ``r[14]`` and
   ``r[101]`` are used at the ends of the search range (len(e) >= 150, so they exist).
   delta is clamped to [-0.5, 0.5]: at an interior maximum it already lies there, but when
   ``k*`` is a range end without a real peak, ``r[k*-1]`` or ``r[k*+1]`` can exceed ``r[k*]``
   and an unclamped delta ran off without bound (six negative rates on ../shared/data, down
   to -2,518 bpm). Clamping was added on 2026-12-02, before any model used assess-v1.
6. ``sample_entropy``: SampEn(m=2, r=0.2 * e.std()) (population std), ``N = len(e)``,
   templates start at ``i = 0 .. N-3`` for both lengths. ``B`` = #pairs ``i < j`` with
   ``max(|e[i]-e[j]|, |e[i+1]-e[j+1]|) <= r``, ``A`` = #pairs with also
   ``|e[i+2]-e[j+2]| <= r``. ``-ln(A/B)``, or ``ln((N-2)(N-3)/2)`` if ``A == 0`` or ``B == 0``.
   Computed lag by lag (``sample_entropy_counts``) and checked against a plain double loop.
7. Log-mel patches: ``db`` (qaqc-v1's dB mel spectrogram, 32 x frames, frames = 1 + n//64,
   floored at its maximum over the WHOLE recording - 80 dB) cut into
   ``db[:, 48p : 48p+96]`` for every ``p`` with ``48p + 96 <= frames``; shape
   ``(patches, 32, 96)``.
   Interpretation: 96 frames need ``n // 64 >= 95``, i.e. at least 6080 samples at 2 kHz
   (3.04 s), while the minimum duration is 3 s. A recording of 3.00-3.04 s (such as the
   fixture's ``heartbeat_4k``, 3.0 s, 94 frames) is accepted and gets ZERO patches,
   shape ``(0, 32, 96)``, exactly as the spec's rule says; it is not refused.

Refused: shorter than 3 s (``ValueError("too short")``, checked on the input's own
``len / sr`` before anything else), and everything qaqc-v1 refuses.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import scipy
import scipy.stats
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qaqc_v1  # noqa: E402
from dsp_reference import autocorrelation_fft  # noqa: E402

NAME = "assess-v1"
ANALYSIS_RATE = qaqc_v1.ANALYSIS_RATE
MIN_DURATION = 3.0
BANDS = ((20.0, 100.0), (100.0, 200.0), (200.0, 400.0), (400.0, 720.0))
BLOCK = 40                      # 2000 Hz / 40 = 50 Hz envelope
ENVELOPE_RATE = ANALYSIS_RATE / BLOCK
MIN_LAG, MAX_LAG = 15, 100      # 0.3 s .. 2.0 s = 200 .. 30 bpm
SAMPEN_M, SAMPEN_R = 2, 0.2
PATCH_FRAMES, PATCH_HOP = 96, 48

EXTRA_NAMES = (["kurtosis"] + [f"band_power_{int(lo)}_{int(hi)}" for lo, hi in BANDS]
               + ["periodicity", "heart_rate_bpm", "sample_entropy"])
FEATURE_NAMES = list(qaqc_v1.FEATURE_NAMES) + EXTRA_NAMES


def sample_entropy_counts(e: np.ndarray, r: float) -> tuple[int, int]:
    """``(B, A)`` for SampEn with m = 2: pairs ``i < j`` (both ``< N-2``) of length-2 and
    length-3 templates within ``r`` (Chebyshev, ``<=``).

    Lag by lag: for ``d = j - i``, ``D = |e[d:] - e[:-d]|`` holds ``|e[i+k] - e[j+k]|`` at
    index ``i + k``, so the pairs with that lag are ``i = 0 .. N-3-d`` and their distances
    ``max(D[i], D[i+1])`` (m = 2) and ``max(D[i], D[i+1], D[i+2])`` (m + 1 = 3)."""
    e = np.asarray(e, dtype=np.float64)
    n = len(e)
    b = a = 0
    for d in range(1, n - 2):
        dist = np.abs(e[d:] - e[:-d])
        pairs = n - 2 - d
        d2 = np.maximum(dist[:pairs], dist[1:pairs + 1])
        d3 = np.maximum(d2, dist[2:pairs + 2])
        b += int(np.count_nonzero(d2 <= r))
        a += int(np.count_nonzero(d3 <= r))
    return b, a


def sample_entropy_counts_brute_force(e, r: float) -> tuple[int, int]:
    """The same counts with a plain double loop, to check ``sample_entropy_counts``."""
    n = len(e)
    b = a = 0
    for i in range(n - 2):
        for j in range(i + 1, n - 2):
            if max(abs(e[i] - e[j]), abs(e[i + 1] - e[j + 1])) <= r:
                b += 1
                if abs(e[i + 2] - e[j + 2]) <= r:
                    a += 1
    return b, a


def sample_entropy(e: np.ndarray, debug: dict | None = None) -> float:
    n = len(e)
    r = SAMPEN_R * float(np.std(e))
    b, a = sample_entropy_counts(e, r)
    if debug is not None:
        debug.update({"sampen_r": r, "sampen_B": b, "sampen_A": a})
    if a == 0 or b == 0:
        return math.log((n - 2) * (n - 3) / 2)
    return -math.log(a / b)


def log_mel_patches_from_db(db: np.ndarray) -> np.ndarray:
    frames = db.shape[1]
    count = 0 if frames < PATCH_FRAMES else (frames - PATCH_FRAMES) // PATCH_HOP + 1
    out = np.empty((count, db.shape[0], PATCH_FRAMES))
    for p in range(count):
        out[p] = db[:, PATCH_HOP * p: PATCH_HOP * p + PATCH_FRAMES]
    return out


def analyse(samples: np.ndarray, sr: int, debug: dict | None = None) -> tuple[dict[str, float], np.ndarray]:
    """The 45 assess-v1 features and the log-mel patches. If ``debug`` is a dict, it gets
    the intermediate values that help a twin find a mismatch (``len(e)``, ``k*``, delta,
    SampEn's r and counts)."""
    if len(samples) / sr < MIN_DURATION:
        raise ValueError("too short")
    base, sig = qaqc_v1.analyse(samples, sr)
    y, env, f, psd = sig["y"], sig["env"], sig["welch_f"], sig["psd"]

    c = y - y.mean()
    m2, m4 = np.mean(c ** 2), np.mean(c ** 4)
    out = [m4 / m2 ** 2 - 3.0]

    total = psd[(f >= BANDS[0][0]) & (f <= BANDS[-1][1])].sum()
    for i, (lo, hi) in enumerate(BANDS):
        upper = (f <= hi) if i == len(BANDS) - 1 else (f < hi)
        out.append(psd[(f >= lo) & upper].sum() / total)

    blocks = len(env) // BLOCK
    e = env[:blocks * BLOCK].reshape(blocks, BLOCK).mean(axis=1)
    r = autocorrelation_fft(e)
    lags = np.arange(MIN_LAG, MAX_LAG + 1)
    peaks = lags[(r[lags - 1] < r[lags]) & (r[lags] >= r[lags + 1])]
    candidates = peaks if len(peaks) else lags
    k = int(candidates[int(np.argmax(r[candidates]))])
    periodicity = r[k]
    den = r[k - 1] - 2 * r[k] + r[k + 1]
    delta = min(0.5, max(-0.5, 0.5 * (r[k - 1] - r[k + 1]) / den)) if den < 0 else 0.0
    if debug is not None:
        debug.update({"envelope_50hz_length": blocks, "k_star": k, "delta": float(delta)})
    out += [periodicity, 60.0 * ENVELOPE_RATE / (k + delta), sample_entropy(e, debug)]

    extra = dict(zip(EXTRA_NAMES, (float(v) for v in out)))
    bad = [name for name, v in extra.items() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"non-finite features: {', '.join(bad)}")
    return {**base, **extra}, log_mel_patches_from_db(sig["db"])


def assess_v1(samples: np.ndarray, sr: int) -> dict[str, float]:
    """The 45 assess-v1 features (names in ``FEATURE_NAMES``, in that order)."""
    return analyse(samples, sr)[0]


def log_mel_patches(samples: np.ndarray, sr: int) -> np.ndarray:
    """The log-mel patches, shape ``(patches, 32, 96)``."""
    return analyse(samples, sr)[1]


def self_checks() -> None:
    rng = np.random.default_rng(2000)
    for n in (5, 40, 173):
        e = rng.standard_normal(n).cumsum()   # a wandering signal: plenty of matches and misses
        r = SAMPEN_R * float(np.std(e))
        fast, slow = sample_entropy_counts(e, r), sample_entropy_counts_brute_force(list(e), r)
        assert fast == slow, (n, fast, slow)
        assert fast[0] > 0 and fast[1] > 0 or n == 5, (n, fast)
    e = np.round(rng.standard_normal(120), 1)  # ties: distances exactly equal to r count
    for r in (0.0, 0.1, 0.2, 0.5):
        assert sample_entropy_counts(e, r) == sample_entropy_counts_brute_force(list(e), r), r
    y = rng.standard_normal(1000) ** 3
    c = y - y.mean()
    assert math.isclose(np.mean(c ** 4) / np.mean(c ** 2) ** 2 - 3, scipy.stats.kurtosis(y), rel_tol=1e-12)
    db = rng.standard_normal((32, 250))
    p = log_mel_patches_from_db(db)
    assert p.shape == (4, 32, 96) and np.array_equal(p[3], db[:, 144:240])
    assert log_mel_patches_from_db(db[:, :95]).shape == (0, 32, 96)
    assert log_mel_patches_from_db(db[:, :96]).shape == (1, 32, 96)


FULL_PATCH_CASES = ("Samples/circor2022_13918_AV.flac", "Samples/physionet2016_b0001.flac")


def main() -> None:
    self_checks()
    root = Path(__file__).resolve().parent.parent
    inputs = sorted((root / "Samples").glob("*.flac")) + [
        root / "Tests/Fixtures/dsp/inputs" / f"{n}_4k.wav" for n in ("sines", "chirp", "noise", "heartbeat")]
    cases = []
    for path in inputs:
        x, sr = soundfile.read(path, dtype="float64", always_2d=True)
        mono = x.mean(axis=1)
        rel = str(path.relative_to(root))
        case = {"file": rel, "sample_rate": sr, "n_samples": len(mono)}
        try:
            debug: dict = {}
            features, patches = analyse(mono, sr, debug)
        except ValueError as err:
            case["error"] = str(err)
            print(f"{path.name}: {sr} Hz, {len(mono)} samples: {err}")
            cases.append(case)
            continue
        case["features"] = features
        case["intermediates"] = debug
        case["patches_shape"] = list(patches.shape)
        case["patch_stats"] = [{"min": float(p.min()), "max": float(p.max()), "mean": float(p.mean())}
                               for p in patches]
        case["patch_first_column"] = patches[:, :, 0].tolist()
        case["patch_last_column"] = patches[:, :, -1].tolist()
        if rel in FULL_PATCH_CASES and len(patches):
            case["first_patch"] = patches[0].tolist()
        cases.append(case)
        print(f"{path.name}: {sr} Hz, {len(mono)} samples, {len(patches)} patches")
        if rel.startswith("Samples/"):
            hr = features["heart_rate_bpm"]
            print(f"  heart_rate_bpm {hr:.2f} ({'physiological' if 30 <= hr <= 200 else 'OUTSIDE 30-200'})"
                  f"  periodicity {features['periodicity']:.4f}  sample_entropy {features['sample_entropy']:.4f}")
    doc = {
        "generated_by": "Training/assess_v1.py", "feature_set": NAME, "analysis_rate": ANALYSIS_RATE,
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                     "librosa": qaqc_v1.librosa.__version__, "soxr": qaqc_v1.soxr.__version__},
        "feature_names": FEATURE_NAMES,
        "numbers": "full float64 precision (shortest repr), features and patch values alike (not rounded)",
        "intermediates": "not features, for finding a mismatch: envelope_50hz_length = len(e), k_star, delta "
                         "(heart_rate_bpm = 3000 / (k_star + delta)), sampen_r = 0.2 * std(e), sampen_B and "
                         "sampen_A = the pair counts for template lengths 2 and 3",
        "patches": {
            "layout": "patches_shape = [patches, 32 mel bands, 96 frames]; patch p = dB mel columns 48p ..< 48p+96",
            "patch_stats": "min, max, mean over each whole 32x96 patch",
            "patch_first_column": "per patch, its column 0 (32 bands)",
            "patch_last_column": "per patch, its column 95 (32 bands)",
            "first_patch": "patch 0 complete, [32][96] band-major; only for " + " and ".join(FULL_PATCH_CASES),
        },
        "cases": cases,
    }
    out = root / "Tests/Fixtures/features/assess_v1.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1) + "\n"
    if len(text) > 400_000:
        raise SystemExit(f"assess_v1.json would be {len(text)} bytes, over 400 KB")
    out.write_text(text)
    print(f"wrote {out.relative_to(root)} ({len(text) / 1000:.0f} KB)")


if __name__ == "__main__":
    main()
