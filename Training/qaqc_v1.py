"""The qaqc-v1 feature set in Python: the twin of Sources/ClinicAudio/Features
(``FeatureSet.qaqcV1``), so that models trained here see the numbers the Swift code
computes on the laptop. docs/audio-front-end.md defines each feature.

    python3 Training/qaqc_v1.py            # writes Tests/Fixtures/features/qaqc_v1.json

The fixture holds the features of the sample recordings in Samples/ and of the 4 kHz
synthetic inputs in Tests/Fixtures/dsp/inputs/; the Swift test
(Tests/ClinicAudioTests/FeatureSetParityTests.swift) recomputes them and compares.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import librosa
import numpy as np
import scipy
import scipy.fft
import scipy.signal
import soundfile
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dsp_reference import homomorphic_envelope  # noqa: E402

NAME = "qaqc-v1"
ANALYSIS_RATE = 2000
BAND = (20.0, 720.0)
BANDPASS_ORDER = 4
N_FFT, HOP = 256, 64
N_MELS, N_MFCC = 32, 13
BAND_LIMIT = 0.88 * ANALYSIS_RATE / 2  # libsoxr HQ's passband ends at 0.913 x Nyquist
MIN_DURATION = 1.0

FEATURE_NAMES = (["signal_mean", "signal_std", "rms", "peak", "snr_db", "envelope_variance",
                  "spectral_centroid", "spectral_bandwidth", "spectral_rolloff", "spectral_flatness",
                  "zero_crossing_rate"]
                 + [f"mfcc{k}_mean" for k in range(N_MFCC)] + [f"mfcc{k}_std" for k in range(N_MFCC)])


def odd_ext(x: np.ndarray, n: int) -> np.ndarray:
    """scipy's odd extension by n samples at each end."""
    return np.concatenate([2 * x[0] - x[n:0:-1], x, 2 * x[-1] - x[-2:-(n + 2):-1]])


def resample_extending_edges(x: np.ndarray, sr_in: int, sr_out: int, seconds: float = 0.1) -> np.ndarray:
    """``Resampler.resampleExtendingEdges``: odd-extend by a whole number of output samples
    (about ``seconds``), resample with soxr HQ (length fixed as librosa does), cut the
    extension off. Output length ``ceil(n * out / in)``."""
    if sr_in == sr_out:
        return x.copy()
    target = math.ceil(len(x) * sr_out / sr_in)
    g = math.gcd(int(sr_in), int(sr_out))
    unit_in, unit_out = int(sr_in) // g, int(sr_out) // g
    units = math.ceil(seconds * sr_in / unit_in)
    while units > 0 and units * unit_in >= len(x):
        units -= 1
    ext = odd_ext(x, units * unit_in) if units > 0 else x
    y = librosa.resample(ext, orig_sr=sr_in, target_sr=sr_out, res_type="soxr_hq")
    start = units * unit_out
    return y[start:start + target]


def analyse(samples: np.ndarray, sr: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The 37 qaqc-v1 features of mono float64 ``samples`` at ``sr`` Hz, and the
    intermediate signals they come from (for feature sets built on qaqc-v1, such as
    assess-v1 in ``assess_v1.py``):

    - ``x``: the resampled signal at ``ANALYSIS_RATE``; ``y``: it band-passed;
    - ``env``: the homomorphic envelope of ``y`` (``envelope_variance`` uses it);
    - ``welch_f``, ``psd``: the Welch PSD of ``x`` (``snr_db`` uses it);
    - ``S``: the STFT magnitude of ``y`` (all 129 bins); ``db``: the dB mel spectrogram
      (32 bands over ``BAND``, top_db 80 over the whole recording) the MFCCs come from.
    """
    if len(samples) / sr < MIN_DURATION:
        raise ValueError("too short")
    x = resample_extending_edges(np.asarray(samples, dtype=np.float64), sr, ANALYSIS_RATE)
    sos = scipy.signal.butter(BANDPASS_ORDER, BAND, btype="bandpass", fs=ANALYSIS_RATE, output="sos")
    y = scipy.signal.sosfiltfilt(sos, x)
    if math.sqrt(np.mean(y * y)) <= 1e-6:
        raise ValueError("no sound in the heart-sound band")
    out = [x.mean(), y.std(), math.sqrt(np.mean(y * y)), np.abs(y).max()]

    f, psd = scipy.signal.welch(x, fs=ANALYSIS_RATE, nperseg=N_FFT)
    keep = f <= BAND_LIMIT
    in_band = (f >= BAND[0]) & (f <= BAND[1])
    inside, outside = psd[keep & in_band].sum(), psd[keep & ~in_band].sum()
    out.append(-120.0 if inside <= 0 else min(120.0, 10 * math.log10(inside / max(outside, inside * 1e-12))))

    env = homomorphic_envelope(y, ANALYSIS_RATE)
    out.append(env.var() / env.mean())

    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann", center=True, pad_mode="constant"))
    freqs = np.arange(N_FFT // 2 + 1) * ANALYSIS_RATE / N_FFT
    rows = (freqs >= BAND[0]) & (freqs <= BAND[1])
    Sb, fb = S[rows], freqs[rows]
    out.append(librosa.feature.spectral_centroid(S=Sb, freq=fb)[0].mean())
    out.append(librosa.feature.spectral_bandwidth(S=Sb, freq=fb)[0].mean())
    out.append(librosa.feature.spectral_rolloff(S=Sb, freq=fb, roll_percent=0.85)[0].mean())
    out.append(librosa.feature.spectral_flatness(S=Sb)[0].mean())
    out.append(librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP, center=True)[0].mean())

    bank = librosa.filters.mel(sr=ANALYSIS_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=BAND[0], fmax=BAND[1],
                               htk=False, norm="slaney", dtype=np.float64)
    db = librosa.power_to_db(bank @ (S ** 2), ref=1.0, amin=1e-10, top_db=80.0)
    mfcc = scipy.fft.dct(db, type=2, norm="ortho", axis=0)[:N_MFCC]
    out += list(mfcc.mean(axis=1)) + list(mfcc.std(axis=1))
    features = dict(zip(FEATURE_NAMES, (float(v) for v in out)))
    return features, {"x": x, "y": y, "env": env, "welch_f": f, "psd": psd, "S": S, "db": db}


def qaqc_v1(samples: np.ndarray, sr: int) -> dict[str, float]:
    """The 37 qaqc-v1 features of mono float64 ``samples`` at ``sr`` Hz."""
    return analyse(samples, sr)[0]


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    inputs = sorted((root / "Samples").glob("*.flac")) + [
        root / "Tests/Fixtures/dsp/inputs" / f"{n}_4k.wav" for n in ("sines", "chirp", "noise", "heartbeat")]
    cases = []
    for path in inputs:
        x, sr = soundfile.read(path, dtype="float64", always_2d=True)
        mono = x.mean(axis=1)
        cases.append({"file": str(path.relative_to(root)), "sample_rate": sr, "n_samples": len(mono),
                      "features": qaqc_v1(mono, sr)})
        print(f"{path.name}: {sr} Hz, {len(mono)} samples")
    doc = {
        "generated_by": "Training/qaqc_v1.py", "feature_set": NAME, "analysis_rate": ANALYSIS_RATE,
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                     "librosa": librosa.__version__, "soxr": soxr.__version__},
        "feature_names": FEATURE_NAMES,
        "numbers": "full float64 precision (shortest repr)",
        "cases": cases,
    }
    out = root / "Tests/Fixtures/features/qaqc_v1.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out.relative_to(root)}")


if __name__ == "__main__":
    main()
