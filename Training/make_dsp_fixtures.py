#!/usr/bin/env python3
"""Generate the reference outputs the Swift audio front end (issue 3) is tested against.

Run from the repository root:

    python3 Training/make_dsp_fixtures.py

It writes Tests/Fixtures/dsp/ (inputs as 16-bit PCM WAV / FLAC under inputs/, one JSON
of reference outputs per input, plus index.json and filters.json). Everything is
deterministic: synthetic inputs use fixed seeds, the two real recordings are fixed
CirCor 2022 files, and files whose bytes did not change are not rewritten.

All reference computations are float64 on ``x = int16_samples / 32768``. See
Training/README.md for what each output is and the tolerances to test with.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import sys
import wave
from pathlib import Path

import numpy as np
import scipy
import scipy.fft
import scipy.signal

import librosa
import numba
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dsp_reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "dsp"
INPUT_DIR = OUT / "inputs"
# Where the shared data set lives (a checkout of main has shared/ beside it).
DATA_DIR = Path(os.environ.get("CLINIC_DATA_DIR", ROOT.parent / "shared" / "data"))

SCALE = 32768.0  # x = int16 / 32768
SIG_DIGITS = 9  # significant digits kept for output values in the JSON
SIZE_LIMIT = 1_500_000  # bytes, whole fixture folder

# Summaries for long arrays: first HEAD, last TAIL and every STRIDE-th value.
FULL_LIMIT = 1500  # 1-D arrays with at most this many values are stored in full
HEAD = TAIL = 50
STRIDE = 10
# 2-D (bins x frames) arrays with more than FRAMES_FULL_LIMIT frames keep only the
# first 3, the last 3 and every FRAME_STRIDE-th frame.
FRAMES_FULL_LIMIT = 40
FRAME_STRIDE = 24

# Analysis parameters (shared by every input).
N_FFT = 256
HOP = 64
WINDOW = "hann"  # periodic Hann (scipy get_window(..., fftbins=True))
CENTER = True
STFT_PAD_MODE = "constant"  # librosa 0.11 default for stft and the spectral features
N_MELS = 32
MEL_FMIN = 0.0
N_MFCC = 13
TOP_DB = 80.0
AMIN = 1e-10
ROLL_PERCENT = 0.85
BANDPASS = (4, (25.0, 400.0))
HIGHPASS = (2, 25.0)
LOWPASS = (2, 400.0)
HOMOMORPHIC_LPF_HZ = 8.0
WELCH_NPERSEG = 256
RESAMPLE_TYPE = "soxr_hq"
ANALYSIS_RATE = 2000
FILTER_DESIGN_RATES = [1000, 2000, 4000, 8000, 44100]

SEED = 20220  # base seed for the synthetic inputs

CIRCOR_FILES = [
    # (fixture name, file under shared/data, patient-level murmur label)
    ("circor_68269_PV", "circor2022/68269_PV.flac", "absent"),
    ("circor_13918_TV", "circor2022/13918_TV.flac", "present"),
]
CIRCOR_SECONDS = 3.0


# --------------------------------------------------------------------------- helpers


def rounded(a) -> list:
    a = np.asarray(a, dtype=np.float64).ravel()
    assert np.all(np.isfinite(a)), "non-finite value in an output"
    return [float(f"{v:.{SIG_DIGITS}g}") for v in a]


def exact(a) -> list:
    a = np.asarray(a, dtype=np.float64)
    assert np.all(np.isfinite(a)), "non-finite value in an output"
    return a.tolist()


def rnum(v: float) -> float:
    assert np.isfinite(v)
    return float(f"{float(v):.{SIG_DIGITS}g}")


def array1d(a, *, force_full: bool = False) -> dict:
    a = np.asarray(a, dtype=np.float64)
    assert a.ndim == 1
    assert np.all(np.isfinite(a)), "non-finite value in an output"
    n = int(a.shape[0])
    stats = {"min": rnum(a.min()), "max": rnum(a.max()), "mean": rnum(a.mean()),
             "rms": rnum(np.sqrt(np.mean(a * a)))}
    if force_full or n <= FULL_LIMIT:
        return {"layout": "full", "n": n, "values": rounded(a), "stats": stats}
    return {"layout": "summary", "n": n, "head": rounded(a[:HEAD]), "tail": rounded(a[-TAIL:]),
            "stride": STRIDE, "strided": rounded(a[::STRIDE]), "stats": stats}


def array2d(m, *, sparse: bool = False) -> dict:
    """m has librosa's layout (rows = frequency/mel/coefficient, columns = frames).

    Long arrays keep frames 0, 1, 2, every FRAME_STRIDE-th and the last 3; with
    ``sparse`` (any length) only frames 0, 1, 2, n_frames // 2 and the last 3."""
    m = np.asarray(m, dtype=np.float64)
    assert m.ndim == 2
    assert np.all(np.isfinite(m)), "non-finite value in an output"
    rows, n_frames = m.shape
    if sparse:  # power = magnitude^2: a few frames are enough
        idx = sorted({0, 1, 2, n_frames // 2, n_frames - 3, n_frames - 2, n_frames - 1} & set(range(n_frames)))
    elif n_frames <= FRAMES_FULL_LIMIT:
        idx = list(range(n_frames))
    else:
        idx = sorted({0, 1, 2, n_frames - 3, n_frames - 2, n_frames - 1,
                      *range(0, n_frames, FRAME_STRIDE)})
    return {"layout": "frames", "n_rows": int(rows), "n_frames": int(n_frames),
            "frame_indices": idx, "frames": [rounded(m[:, t]) for t in idx],
            "stats": {"min": rnum(m.min()), "max": rnum(m.max()), "mean": rnum(m.mean())}}


def to_json(obj, indent: int = 0) -> str:
    """JSON with one key per line but every list of numbers on a single line."""
    pad = " " * indent
    inner = " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return json.dumps(list(obj), separators=(",", ":"), allow_nan=False)
        items = [inner + to_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(obj, (np.integer,)):
        return str(int(obj))
    if isinstance(obj, (np.floating,)):
        return json.dumps(float(obj), allow_nan=False)
    return json.dumps(obj, allow_nan=False)


WRITTEN: list[Path] = []


def write_if_changed(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    WRITTEN.append(path)


def wav_bytes(samples: np.ndarray, fs: int) -> bytes:
    """Canonical 44-byte-header RIFF/WAVE, PCM 16-bit little-endian, mono."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(fs))
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def flac_bytes(samples: np.ndarray, fs: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples.astype(np.int16), int(fs), format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def quantize(sig: np.ndarray) -> np.ndarray:
    q = np.round(np.asarray(sig, dtype=np.float64) * SCALE)
    return np.clip(q, -32768, 32767).astype(np.int16)


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "librosa": librosa.__version__,
        "soundfile": sf.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "soxr": soxr.__version__,
        "numba": numba.__version__,
    }


# --------------------------------------------------------------------------- inputs


def synthetic_inputs() -> list[dict]:
    fs = 4000
    out = []

    # (a) sum of sines, 2 s. 1200 and 1900 Hz lie above the 1000 Hz Nyquist of the
    # 2 kHz analysis rate, so resampling must remove them.
    n = 2 * fs
    t = np.arange(n) / fs
    sig = (0.30 * np.sin(2 * np.pi * 50 * t + 0.3) + 0.20 * np.sin(2 * np.pi * 150 * t + 0.5)
           + 0.15 * np.sin(2 * np.pi * 440 * t + 1.0) + 0.10 * np.sin(2 * np.pi * 1200 * t + 2.0)
           + 0.05 * np.sin(2 * np.pi * 1900 * t + 2.5))
    out.append({"name": "sines_4k", "fs": fs, "samples": quantize(sig),
                "description": "2 s at 4 kHz: 0.30 sin(2*pi*50t+0.3) + 0.20 sin(2*pi*150t+0.5) + "
                               "0.15 sin(2*pi*440t+1.0) + 0.10 sin(2*pi*1200t+2.0) + 0.05 sin(2*pi*1900t+2.5)"})

    # (b) logarithmic chirp 20 Hz -> 1800 Hz over 2 s, amplitude 0.5.
    sig = 0.5 * scipy.signal.chirp(t, f0=20.0, t1=2.0, f1=1800.0, method="logarithmic")
    out.append({"name": "chirp_4k", "fs": fs, "samples": quantize(sig),
                "description": "2 s at 4 kHz: 0.5 * scipy.signal.chirp(t, f0=20, t1=2, f1=1800, "
                               "method='logarithmic')"})

    # (c) white Gaussian noise, sigma 0.2, fixed seed.
    rng = np.random.default_rng(SEED)
    sig = np.clip(0.2 * rng.standard_normal(n), -0.99, 0.99)
    out.append({"name": "noise_4k", "fs": fs, "samples": quantize(sig),
                "description": f"2 s at 4 kHz: white Gaussian noise, sigma 0.2, "
                               f"numpy default_rng({SEED}).standard_normal, clipped to +-0.99"})

    # (d) heart-sound-like impulse train, 70 bpm, 3 s (six 500 ms spike-removal
    # windows), with two artificial biphasic spikes in diastole.
    n = 3 * fs
    t = np.arange(n) / fs
    rng = np.random.default_rng(SEED + 3)
    sig = 0.004 * rng.standard_normal(n)
    period = 60.0 / 70.0
    for onset in np.arange(0.08, 3.0, period):
        c1 = onset + 0.05  # S1: 45 + 85 Hz, Gaussian envelope
        e1 = np.exp(-0.5 * ((t - c1) / 0.018) ** 2)
        sig += 0.22 * e1 * (0.7 * np.sin(2 * np.pi * 45 * (t - c1)) + 0.3 * np.sin(2 * np.pi * 85 * (t - c1)))
        c2 = onset + 0.33  # S2: 60 + 120 Hz, shorter
        e2 = np.exp(-0.5 * ((t - c2) / 0.012) ** 2)
        sig += 0.16 * e2 * (0.6 * np.sin(2 * np.pi * 60 * (t - c2)) + 0.4 * np.sin(2 * np.pi * 120 * (t - c2)))
    lobe = np.sin(np.pi * np.arange(1, 8) / 8.0)  # 7-sample half sine

    def add_spike(at_s, pos, neg):
        i = int(round(at_s * fs))
        sig[i:i + 7] += pos * lobe
        sig[i + 8:i + 15] -= neg * lobe

    add_spike(0.70, 0.90, 0.50)
    add_spike(2.30, 0.85, 0.80)
    out.append({"name": "heartbeat_4k", "fs": fs, "samples": quantize(sig),
                "description": "3 s at 4 kHz: 70 bpm S1 (45+85 Hz, amp 0.22, Gaussian sigma 18 ms) and "
                               "S2 (60+120 Hz, amp 0.16, sigma 12 ms, 330 ms after S1) bursts over "
                               f"0.004-sigma noise (default_rng({SEED + 3})), plus two biphasic "
                               "7-sample spikes at 0.70 s (+0.90/-0.50) and 2.30 s (+0.85/-0.80) "
                               "for spike removal"})

    # (e) short 0.3 s signal (edges dominate), starts away from zero.
    n = int(0.3 * fs)
    t = np.arange(n) / fs
    rng = np.random.default_rng(SEED + 5)
    sig = (0.5 * np.exp(-t / 0.08) * np.sin(2 * np.pi * 90 * t + 0.7)
           + 0.15 * np.sin(2 * np.pi * 700 * t + 0.3) + 0.01 * rng.standard_normal(n))
    out.append({"name": "short_4k", "fs": fs, "samples": quantize(sig),
                "description": "0.3 s at 4 kHz: 0.5 exp(-t/0.08) sin(2*pi*90t+0.7) + 0.15 sin(2*pi*700t+0.3) "
                               f"+ 0.01-sigma noise (default_rng({SEED + 5}))"})

    for item in out:
        item["file"] = f"inputs/{item['name']}.wav"
        item["format"] = "WAV, PCM 16-bit little-endian, mono, 44-byte header"
        item["source"] = "synthetic, generated by Training/make_dsp_fixtures.py"
        write_if_changed(OUT / item["file"], wav_bytes(item["samples"], item["fs"]))
    return out


def circor_inputs() -> list[dict]:
    out = []
    for name, rel, murmur in CIRCOR_FILES:
        dest = INPUT_DIR / f"{name}.flac"
        src = DATA_DIR / rel
        if src.exists():
            full, fs = sf.read(str(src), dtype="int16", always_2d=False)
            assert full.ndim == 1
            samples = full[: int(round(CIRCOR_SECONDS * fs))].copy()
            write_if_changed(dest, flac_bytes(samples, fs))
        elif dest.exists():  # data set not present: reuse the committed cut
            samples, fs = sf.read(str(dest), dtype="int16", always_2d=False)
            WRITTEN.append(dest)
        else:
            raise SystemExit(f"neither {src} nor {dest} exists")
        out.append({
            "name": name, "fs": int(fs), "samples": samples,
            "file": f"inputs/{name}.flac",
            "format": "FLAC, 16-bit, mono",
            "source": f"CirCor DigiScope 2022 (PhysioNet Challenge 2022 training set), "
                      f"file {Path(rel).name} as distributed in shared/data/{rel} "
                      f"(2 kHz, resampled by the data set's provider from 4 kHz), first "
                      f"{CIRCOR_SECONDS:g} s; licence ODC-By 1.0; cite Oliveira et al. 2022, "
                      f"IEEE JBHI 26:2524",
            "description": f"real phonocardiogram, murmur {murmur} (patient level)",
        })
    return out


# --------------------------------------------------------------------------- filters


def filter_design(fs: float) -> dict:
    bo, (lo, hi) = BANDPASS
    bp = scipy.signal.butter(bo, [lo, hi], btype="bandpass", fs=fs, output="sos")
    ho, hc = HIGHPASS
    hp_sos = scipy.signal.butter(ho, hc, btype="highpass", fs=fs, output="sos")
    hp_b, hp_a = scipy.signal.butter(ho, hc, btype="highpass", fs=fs)
    lo_, lc = LOWPASS
    lp_sos = scipy.signal.butter(lo_, lc, btype="lowpass", fs=fs, output="sos")
    lp_b, lp_a = scipy.signal.butter(lo_, lc, btype="lowpass", fs=fs)
    hm_b, hm_a = scipy.signal.butter(1, HOMOMORPHIC_LPF_HZ, btype="low", fs=fs)

    def sos_padlen(sos):
        ntaps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
        return 3 * ntaps

    return {
        "fs": fs,
        "bandpass": {"design": f"scipy.signal.butter({bo}, [{lo:g}, {hi:g}], btype='bandpass', fs={fs:g}, output='sos')",
                     "order": bo, "cutoffs_hz": [lo, hi], "sos": exact(bp),
                     "sosfilt_zi": exact(scipy.signal.sosfilt_zi(bp)),
                     "sosfiltfilt_default_padlen": sos_padlen(bp)},
        "highpass": {"design": f"scipy.signal.butter({ho}, {hc:g}, btype='highpass', fs={fs:g})",
                     "order": ho, "cutoff_hz": hc, "sos": exact(hp_sos), "b": exact(hp_b), "a": exact(hp_a),
                     "lfilter_zi": exact(scipy.signal.lfilter_zi(hp_b, hp_a)),
                     "sosfiltfilt_default_padlen": sos_padlen(hp_sos)},
        "lowpass": {"design": f"scipy.signal.butter({lo_}, {lc:g}, btype='lowpass', fs={fs:g})",
                    "order": lo_, "cutoff_hz": lc, "sos": exact(lp_sos), "b": exact(lp_b), "a": exact(lp_a),
                    "lfilter_zi": exact(scipy.signal.lfilter_zi(lp_b, lp_a)),
                    "filtfilt_default_padlen": 3 * max(len(lp_a), len(lp_b))},
        "homomorphic_lowpass": {"design": f"scipy.signal.butter(1, {HOMOMORPHIC_LPF_HZ:g}, btype='low', fs={fs:g})",
                                "order": 1, "cutoff_hz": HOMOMORPHIC_LPF_HZ,
                                "b": exact(hm_b), "a": exact(hm_a),
                                "lfilter_zi": exact(scipy.signal.lfilter_zi(hm_b, hm_a)),
                                "filtfilt_default_padlen": 3 * max(len(hm_a), len(hm_b))},
    }


def mel_filterbank(sr: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS, fmin=MEL_FMIN, fmax=sr / 2.0,
                               htk=False, norm="slaney", dtype=np.float64)


# --------------------------------------------------------------------------- self checks
# The README documents each output as a formula; these checks make sure the formulas
# (what the Swift side will implement) reproduce the library calls.


def check(name: str, got, want, rtol=1e-10, atol=1e-12) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        err = np.max(np.abs(got - want))
        raise AssertionError(f"self-check {name} failed: max abs err {err:g}")


def manual_stft(x: np.ndarray) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    xp = np.pad(x, N_FFT // 2, mode="constant")
    n_frames = 1 + len(x) // HOP
    frames = np.stack([xp[t * HOP: t * HOP + N_FFT] * w for t in range(n_frames)], axis=1)
    return np.fft.rfft(frames, axis=0)


def manual_welch(x: np.ndarray, fs: float):
    nper = min(WELCH_NPERSEG, len(x))
    step = nper - nper // 2
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nper) / nper)
    n_seg = (len(x) - nper) // step + 1
    acc = np.zeros(nper // 2 + 1)
    for s in range(n_seg):
        seg = x[s * step: s * step + nper]
        seg = seg - seg.mean()
        acc += np.abs(np.fft.rfft(seg * w)) ** 2
    p = acc / n_seg / (fs * np.sum(w * w))
    p[1:-1 if nper % 2 == 0 else None] *= 2
    return np.fft.rfftfreq(nper, 1.0 / fs), p


def manual_zcr(x: np.ndarray) -> np.ndarray:
    xp = np.pad(x, N_FFT // 2, mode="edge")
    q = np.where(np.abs(xp) <= 1e-10, 0.0, xp)
    neg = np.signbit(q)
    n_frames = 1 + len(x) // HOP
    return np.array([np.count_nonzero(neg[t * HOP + 1: t * HOP + N_FFT] != neg[t * HOP: t * HOP + N_FFT - 1])
                     for t in range(n_frames)]) / N_FFT


def manual_rms(x: np.ndarray) -> np.ndarray:
    xp = np.pad(x, N_FFT // 2, mode="constant")
    n_frames = 1 + len(x) // HOP
    return np.array([np.sqrt(np.mean(xp[t * HOP: t * HOP + N_FFT] ** 2)) for t in range(n_frames)])


def manual_mel_fb(sr: int) -> np.ndarray:
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) / (np.log(6.4) / 27.0),
                        f / (200.0 / 3.0))

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3.0))

    mel_f = mel_to_hz(np.linspace(hz_to_mel(MEL_FMIN), hz_to_mel(sr / 2.0), N_MELS + 2))
    fft_f = np.arange(N_FFT // 2 + 1) * sr / N_FFT
    fb = np.zeros((N_MELS, N_FFT // 2 + 1))
    for i in range(N_MELS):
        lower = (fft_f - mel_f[i]) / (mel_f[i + 1] - mel_f[i])
        upper = (mel_f[i + 2] - fft_f) / (mel_f[i + 2] - mel_f[i + 1])
        fb[i] = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (mel_f[i + 2] - mel_f[i]))
    return fb


# --------------------------------------------------------------------------- per input


def sha256_int16(samples: np.ndarray) -> str:
    return hashlib.sha256(samples.astype("<i2").tobytes()).hexdigest()


def compute(inp: dict, designs: dict) -> dict:
    fs = inp["fs"]
    s16 = inp["samples"]
    x = s16.astype(np.float64) / SCALE
    n = len(x)
    design = designs[fs]
    result: dict = {
        "fixture": inp["name"],
        "generated_by": "Training/make_dsp_fixtures.py",
        "versions": versions(),
        "input": {
            "file": inp["file"], "format": inp["format"], "sample_rate": fs, "n_samples": n,
            "duration_s": n / fs, "source": inp["source"], "description": inp["description"],
            "to_float": "x[i] = int16[i] / 32768.0 (float64)",
            "int16_sha256_le": sha256_int16(s16), "int16_sum": int(s16.astype(np.int64).sum()),
            "int16_first": s16[:8].astype(int).tolist(), "int16_last": s16[-8:].astype(int).tolist(),
        },
    }

    # ---- resampling -------------------------------------------------------------
    target = ANALYSIS_RATE if fs != ANALYSIS_RATE else 4000
    y_rs = librosa.resample(x, orig_sr=fs, target_sr=target, res_type=RESAMPLE_TYPE)
    want_len = int(np.ceil(n * target / fs))
    assert len(y_rs) == want_len
    up, down = target // np.gcd(target, fs), fs // np.gcd(target, fs)
    poly = scipy.signal.resample_poly(x, up, down)
    vhq = librosa.resample(x, orig_sr=fs, target_sr=target, res_type="soxr_vhq")
    edge = 32
    interior = slice(edge, len(y_rs) - edge)
    # Resamplers differ most in their transition band (near min(fs, target)/2), so the
    # output is also given after a zero-phase lowpass at 70% of the lower Nyquist: there
    # any good resampler agrees with soxr HQ to < 1e-3 (see crosscheck).
    cmp_cut = 0.7 * min(fs, target) / 2.0
    cmp_sos = scipy.signal.butter(8, cmp_cut, btype="lowpass", fs=target, output="sos")
    lp_ref = scipy.signal.sosfiltfilt(cmp_sos, y_rs)

    def lp_diff(y):
        return rnum(np.max(np.abs(scipy.signal.sosfiltfilt(cmp_sos, y)[interior] - lp_ref[interior])))
    result["resample"] = {
        "params": {"call": f"librosa.resample(x, orig_sr={fs}, target_sr={target}, res_type='{RESAMPLE_TYPE}')",
                   "orig_sr": fs, "target_sr": target, "res_type": RESAMPLE_TYPE,
                   "backend": f"python-soxr {soxr.__version__} soxr.resample(x, {fs}, {target}, quality='HQ') "
                              "(libsoxr SOXR_HQ recipe, linear phase), float64 in/out",
                   "fix": True, "output_length_rule": "ceil(n * target_sr / orig_sr); pad with 0 or trim",
                   "scale": False},
        "output": array1d(y_rs),
        "output_lowpassed": {
            "params": {"call": f"scipy.signal.sosfiltfilt(scipy.signal.butter(8, {cmp_cut:g}, btype='lowpass', "
                               f"fs={target}, output='sos'), output)",
                       "cutoff_hz": cmp_cut, "order": 8, "fs": target, "sos": exact(cmp_sos),
                       "padtype": "odd", "padlen": 3 * (2 * len(cmp_sos) + 1),
                       "compare": f"samples {edge} .. n-{edge + 1} only"},
            "output": array1d(lp_ref)},
        "crosscheck": {
            "note": "How far other resamplers are from this reference on the same input, samples "
                    f"{edge} .. n-{edge + 1} (edges excluded): raw, and after the output_lowpassed "
                    "filter. For choosing a tolerance.",
            "interior_edge_samples": edge,
            "raw_max_abs_diff": {
                "scipy_resample_poly_kaiser5": rnum(np.max(np.abs(poly[interior] - y_rs[interior]))),
                "soxr_vhq": rnum(np.max(np.abs(vhq[interior] - y_rs[interior])))},
            "lowpassed_max_abs_diff": {
                "scipy_resample_poly_kaiser5": lp_diff(poly), "soxr_vhq": lp_diff(vhq),
                "scipy_resample_fft": lp_diff(scipy.signal.resample(x, len(y_rs)))},
            "rms_reference": rnum(np.sqrt(np.mean(y_rs[interior] ** 2))),
        },
    }

    # ---- filters ------------------------------------------------------------------
    bp = np.array(design["bandpass"]["sos"])
    hp = np.array(design["highpass"]["sos"])
    lp_b, lp_a = np.array(design["lowpass"]["b"]), np.array(design["lowpass"]["a"])
    y_bp = scipy.signal.sosfiltfilt(bp, x)
    y_bp_causal = scipy.signal.sosfilt(bp, x)
    y_hp = scipy.signal.sosfiltfilt(hp, x)
    y_lp = scipy.signal.filtfilt(lp_b, lp_a, x)
    result["filters"] = {
        "design": design,
        "bandpass_sosfiltfilt": {
            "params": {"call": "scipy.signal.sosfiltfilt(design.bandpass.sos, x)", "padtype": "odd",
                       "padlen": design["bandpass"]["sosfiltfilt_default_padlen"]},
            "output": array1d(y_bp)},
        "lowpass_filtfilt": {
            "params": {"call": "scipy.signal.filtfilt(design.lowpass.b, design.lowpass.a, x)",
                       "padtype": "odd", "padlen": design["lowpass"]["filtfilt_default_padlen"],
                       "method": "pad"},
            "output": array1d(y_lp)},
    }
    if n <= FULL_LIMIT:  # extra filter outputs, short inputs only (size)
        result["filters"]["bandpass_sosfilt_causal"] = {
            "params": {"call": "scipy.signal.sosfilt(design.bandpass.sos, x)", "initial_state": "zeros",
                       "note": "single forward pass, a stepping stone for debugging sosfiltfilt"},
            "output": array1d(y_bp_causal)}
        result["filters"]["highpass_sosfiltfilt"] = {
            "params": {"call": "scipy.signal.sosfiltfilt(design.highpass.sos, x)", "padtype": "odd",
                       "padlen": design["highpass"]["sosfiltfilt_default_padlen"]},
            "output": array1d(y_hp)}
    # sosfiltfilt of the bandpass equals the documented odd-extension algorithm:
    pl = design["bandpass"]["sosfiltfilt_default_padlen"]
    ext = np.concatenate([2 * x[0] - x[pl:0:-1], x, 2 * x[-1] - x[-2:-pl - 2:-1]])
    zi = scipy.signal.sosfilt_zi(bp)
    fwd, _ = scipy.signal.sosfilt(bp, ext, zi=zi * ext[0])
    bwd, _ = scipy.signal.sosfilt(bp, fwd[::-1], zi=zi * fwd[-1])
    check("sosfiltfilt", bwd[::-1][pl:-pl], y_bp)

    # ---- spike removal ----------------------------------------------------------
    y_sr, info = ref.schmidt_spike_removal(x, fs)
    assert not info["stopped_unchanged"]
    result["spike_removal"] = {
        "params": {"reference": "Training/dsp_reference.py schmidt_spike_removal (port of Springer's "
                                "schmidt_spike_removal.m)", "applied_to": "x (the input itself)",
                   "window_s": 0.5, "window_samples": info["window_size"], "threshold": "3 * median(MAA)",
                   "fill_value": 0.0001},
        "n_windows": info["n_windows"], "trailing_samples": info["trailing_samples"],
        "removals": [{"window": j, "peak_index_in_window": p, "start_in_window": s, "end_in_window_inclusive": e}
                     for (j, p, s, e) in info["removals"]],
        "unchanged": bool(np.array_equal(y_sr, x)),
        "changed_indices": np.flatnonzero(y_sr != x).astype(int).tolist(),
    }
    if not result["spike_removal"]["unchanged"] or n <= FULL_LIMIT:
        result["spike_removal"]["output"] = array1d(y_sr)
    else:
        result["spike_removal"]["note"] = "no window exceeded 3 x median MAA: output == input, not stored"
    if inp["name"] == "heartbeat_4k":
        assert len(info["removals"]) >= 2, "heartbeat spikes were not removed"

    # ---- envelopes / autocorrelation --------------------------------------------
    env = ref.hilbert_envelope(x)
    hom = ref.homomorphic_envelope(x, fs, HOMOMORPHIC_LPF_HZ)
    hom_raw0 = ref.homomorphic_envelope(x, fs, HOMOMORPHIC_LPF_HZ, first_sample_fix=False)[0]
    ac = ref.autocorrelation_fft(x)
    check("autocorr", ac[:64], np.correlate(x - x.mean(), x - x.mean(), "full")[n - 1:n - 1 + 64]
          / np.sum((x - x.mean()) ** 2))
    result["hilbert_envelope"] = {
        "params": {"call": "numpy.abs(scipy.signal.hilbert(x))", "fft_length": n, "applied_to": "x"},
        "output": array1d(env)}
    result["homomorphic_envelope"] = {
        "params": {"reference": "Training/dsp_reference.py homomorphic_envelope",
                   "formula": "exp(filtfilt(b, a, log(|hilbert(x)|))); out[0] = out[1]",
                   "lowpass": "design.homomorphic_lowpass (butter order 1, 8 Hz)",
                   "filtfilt_padtype": "odd", "filtfilt_padlen": design["homomorphic_lowpass"]["filtfilt_default_padlen"],
                   "applied_to": "x", "first_sample_fix": True,
                   "value_at_0_without_fix": rnum(hom_raw0)},
        "output": array1d(hom)}
    result["autocorrelation"] = {
        "params": {"reference": "Training/dsp_reference.py autocorrelation_fft",
                   "formula": "y = x - mean(x); r[k] = sum_n y[n] y[n+k] / sum_n y[n]^2, k = 0..N-1",
                   "applied_to": "x"},
        "output": array1d(ac)}

    # ---- Welch ------------------------------------------------------------------
    f_w, p_w = scipy.signal.welch(x, fs=fs, nperseg=WELCH_NPERSEG)
    mf, mp = manual_welch(x, fs)
    check("welch_f", mf, f_w)
    check("welch_p", mp, p_w)
    result["welch"] = {
        "params": {"call": f"scipy.signal.welch(x, fs={fs}, nperseg={WELCH_NPERSEG})",
                   "window": "periodic Hann (scipy 'hann' / 'hann_periodic')", "nperseg": WELCH_NPERSEG,
                   "noverlap": WELCH_NPERSEG // 2, "nfft": WELCH_NPERSEG, "detrend": "constant",
                   "scaling": "density", "average": "mean", "return_onesided": True,
                   "n_segments": (n - WELCH_NPERSEG) // (WELCH_NPERSEG // 2) + 1},
        "frequencies_hz": rounded(f_w),
        "psd": array1d(p_w, force_full=True)}

    # ---- STFT / mel / MFCC ------------------------------------------------------
    D = librosa.stft(x, n_fft=N_FFT, hop_length=HOP, window=WINDOW, center=CENTER, pad_mode=STFT_PAD_MODE)
    assert D.dtype == np.complex128
    check("stft", manual_stft(x), D, rtol=1e-9, atol=1e-11)
    mag = np.abs(D)
    power = mag ** 2
    n_frames = D.shape[1]
    assert n_frames == 1 + n // HOP
    fb = mel_filterbank(fs)
    mel = librosa.feature.melspectrogram(y=x, sr=fs, n_fft=N_FFT, hop_length=HOP, window=WINDOW, center=CENTER,
                                         pad_mode=STFT_PAD_MODE, power=2.0, n_mels=N_MELS, fmin=MEL_FMIN,
                                         fmax=fs / 2.0, htk=False, norm="slaney", dtype=np.float64)
    check("mel", fb @ power, mel, rtol=1e-9, atol=1e-14)
    db = librosa.power_to_db(mel, ref=1.0, amin=AMIN, top_db=TOP_DB)
    mfcc = librosa.feature.mfcc(S=db, n_mfcc=N_MFCC, dct_type=2, norm="ortho", lifter=0)
    check("mfcc", scipy.fft.dct(db, type=2, norm="ortho", axis=0)[:N_MFCC], mfcc, rtol=1e-9, atol=1e-9)
    stft_params = {"n_fft": N_FFT, "hop_length": HOP, "win_length": N_FFT,
                   "window": "periodic Hann: w[n] = 0.5 - 0.5 cos(2*pi*n/n_fft), n = 0..n_fft-1",
                   "center": CENTER, "pad_mode": STFT_PAD_MODE,
                   "padding": f"{N_FFT // 2} zeros before and after x", "n_frames": n_frames,
                   "n_frames_rule": "1 + n // hop_length", "n_bins": N_FFT // 2 + 1,
                   "frame_t": "X[k, t] = sum_m xpad[t*hop + m] w[m] exp(-2*pi*i k m / n_fft)"}
    result["stft"] = {
        "params": dict(stft_params, call=f"librosa.stft(x, n_fft={N_FFT}, hop_length={HOP}, window='hann', "
                                         f"center=True, pad_mode='{STFT_PAD_MODE}')"),
        "magnitude": array2d(mag),
        "power": array2d(power, sparse=True)}
    result["mel"] = {
        "params": {"filterbank": f"filters.json mel_filterbank['{fs}'] = librosa.filters.mel(sr={fs}, n_fft={N_FFT}, "
                                 f"n_mels={N_MELS}, fmin={MEL_FMIN:g}, fmax={fs / 2:g}, htk=False, norm='slaney')",
                   "sr": fs, "n_mels": N_MELS, "fmin": MEL_FMIN, "fmax": fs / 2.0, "htk": False, "norm": "slaney",
                   "spectrogram": "power (|STFT|^2) with the stft params above"},
        "melspectrogram": array2d(mel),
        "power_to_db": {
            "params": {"ref": 1.0, "amin": AMIN, "top_db": TOP_DB,
                       "formula": "d = 10 log10(max(amin, S)) - 10 log10(max(amin, ref)); "
                                  "d = max(d, max(d over ALL bins and frames) - top_db)",
                       "max_db_over_all_frames": rnum(10 * np.log10(np.maximum(AMIN, mel)).max())},
            "output": array2d(db)},
        "mfcc": {
            "params": {"n_mfcc": N_MFCC, "dct_type": 2, "norm": "ortho", "lifter": 0, "input": "power_to_db output",
                       "formula": "c[k,t] = sqrt(2/M) * s_k * sum_{m=0}^{M-1} d[m,t] cos(pi*k*(2m+1)/(2M)), "
                                  "M = n_mels, s_0 = 1/sqrt(2), s_k = 1 otherwise; k = 0..n_mfcc-1"},
            "output": array2d(mfcc)},
    }

    # ---- spectral features --------------------------------------------------------
    common = dict(n_fft=N_FFT, hop_length=HOP, window=WINDOW, center=CENTER, pad_mode=STFT_PAD_MODE)
    centroid = librosa.feature.spectral_centroid(y=x, sr=fs, **common)[0]
    bandwidth = librosa.feature.spectral_bandwidth(y=x, sr=fs, **common)[0]
    rolloff = librosa.feature.spectral_rolloff(y=x, sr=fs, roll_percent=ROLL_PERCENT, **common)[0]
    flatness = librosa.feature.spectral_flatness(y=x, amin=AMIN, power=2.0, **common)[0]
    zcr = librosa.feature.zero_crossing_rate(x, frame_length=N_FFT, hop_length=HOP, center=CENTER)[0]
    rms = librosa.feature.rms(y=x, frame_length=N_FFT, hop_length=HOP, center=CENTER, pad_mode="constant",
                              dtype=np.float64)[0]
    freqs = np.arange(N_FFT // 2 + 1) * fs / N_FFT
    s_norm = mag / np.where(mag.sum(axis=0) < np.finfo(np.float64).tiny, 1.0, mag.sum(axis=0))
    c_man = (freqs[:, None] * s_norm).sum(axis=0)
    check("centroid", c_man, centroid, rtol=1e-9, atol=1e-9)
    check("bandwidth", np.sqrt((s_norm * (freqs[:, None] - c_man[None, :]) ** 2).sum(axis=0)), bandwidth,
          rtol=1e-9, atol=1e-9)
    cum = np.cumsum(mag, axis=0)
    ro_man = np.array([freqs[np.argmax(cum[:, t] >= ROLL_PERCENT * cum[-1, t])] for t in range(n_frames)])
    check("rolloff", ro_man, rolloff)
    ps = np.maximum(AMIN, power)
    check("flatness", np.exp(np.mean(np.log(ps), axis=0)) / np.mean(ps, axis=0), flatness, rtol=1e-9)
    check("zcr", manual_zcr(x), zcr)
    check("rms", manual_rms(x), rms, rtol=1e-9)
    feat_params = dict(n_fft=N_FFT, hop_length=HOP, window="periodic Hann", center=True,
                       pad_mode=STFT_PAD_MODE, spectrogram="magnitude |STFT| (power 1)",
                       bin_frequencies_hz="k * sr / n_fft, k = 0..n_fft/2")
    result["features"] = {
        "params": feat_params,
        "spectral_centroid": {"formula": "sum_k f_k S[k,t] / sum_k S[k,t] (S = magnitude; a frame whose sum < "
                                         "float64 tiny is left unnormalised, giving 0)",
                              "output": array1d(centroid, force_full=True)},
        "spectral_bandwidth": {"formula": "sqrt(sum_k (S[k,t]/sum_j S[j,t]) (f_k - centroid_t)^2), p = 2, norm=True",
                               "output": array1d(bandwidth, force_full=True)},
        "spectral_rolloff": {"roll_percent": ROLL_PERCENT,
                             "formula": "smallest f_k with cumsum_{j<=k} S[j,t] >= roll_percent * sum_j S[j,t]",
                             "output": array1d(rolloff, force_full=True)},
        "spectral_flatness": {"amin": AMIN, "power": 2.0,
                              "formula": "P = max(amin, S^2); exp(mean_k log P[k,t]) / mean_k P[k,t]",
                              "output": array1d(flatness, force_full=True)},
        "zero_crossing_rate": {"frame_length": N_FFT, "hop_length": HOP, "center": True,
                               "pad_mode": "edge (hard-coded in librosa for zcr)", "threshold": 1e-10,
                               "formula": "pad n_fft/2 copies of the edge samples each side; frame t = "
                                          "xpad[t*hop : t*hop+n_fft]; values with |v| <= 1e-10 become 0; "
                                          "count i = 1..n_fft-1 where signbit(v[i]) != signbit(v[i-1]); "
                                          "divide by n_fft (not n_fft-1)",
                               "output": array1d(zcr, force_full=True)},
        "rms": {"frame_length": N_FFT, "hop_length": HOP, "center": True, "pad_mode": "constant",
                "formula": "sqrt(mean(frame^2)) over the unwindowed zero-padded frame (time domain)",
                "output": array1d(rms, force_full=True)},
    }

    # ---- Springer-style chain at the analysis rate (2 kHz inputs only) -----------
    if fs == ANALYSIS_RATE:
        c_bp = y_bp
        c_sr, c_info = ref.schmidt_spike_removal(c_bp, fs)
        c_hom = ref.homomorphic_envelope(c_sr, fs, HOMOMORPHIC_LPF_HZ)
        c_ac = ref.autocorrelation_fft(c_hom)
        result["springer_chain"] = {
            "params": {"steps": ["bandpass = sosfiltfilt(design.bandpass.sos, x)",
                                 "despiked = schmidt_spike_removal(bandpass, fs)",
                                 "envelope = homomorphic_envelope(despiked, fs, 8 Hz)",
                                 "autocorrelation = autocorrelation_fft(envelope)"],
                       "note": "Springer 2016 order of operations (Springer first resamples to 1 kHz; here "
                               "the input's own 2 kHz)"},
            "spike_removals": len(c_info["removals"]),
            **({"despiked": array1d(c_sr)} if c_info["removals"] else
               {"despiked": "no removal: equals filters.bandpass_sosfiltfilt.output"}),
            "homomorphic_envelope": array1d(c_hom),
            "autocorrelation": array1d(c_ac)}
    return result


# --------------------------------------------------------------------------- main


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    INPUT_DIR.mkdir(parents=True, exist_ok=True)
    inputs = synthetic_inputs() + circor_inputs()

    # read every input back through soundfile: the files hold exactly these samples
    for inp in inputs:
        back, fs = sf.read(str(OUT / inp["file"]), dtype="int16", always_2d=False)
        assert fs == inp["fs"] and np.array_equal(back, inp["samples"]), inp["file"]

    designs = {fs: filter_design(fs) for fs in sorted({*FILTER_DESIGN_RATES, *(i["fs"] for i in inputs)})}
    mel_rates = sorted({i["fs"] for i in inputs})
    for sr in mel_rates:
        check(f"mel_fb_{sr}", manual_mel_fb(sr), mel_filterbank(sr), rtol=1e-9, atol=1e-12)

    fixtures = []
    for inp in inputs:
        res = compute(inp, designs)
        path = OUT / f"{inp['name']}.json"
        write_if_changed(path, (to_json(res) + "\n").encode())
        fixtures.append({"name": inp["name"], "json": path.name, "input": inp["file"],
                         "sample_rate": inp["fs"], "n_samples": int(len(inp["samples"]))})
        print(f"  {inp['name']:<18} fs={inp['fs']:<5} n={len(inp['samples']):<6} -> {path.name}")

    filters = {
        "generated_by": "Training/make_dsp_fixtures.py",
        "versions": versions(),
        "filter_design": {str(fs): d for fs, d in designs.items()},
        "sos_layout": "each row [b0, b1, b2, a0, a1, a2] with a0 = 1 (scipy 'sos'); sections applied in row order",
        "mel_filterbank": {str(sr): {
            "call": f"librosa.filters.mel(sr={sr}, n_fft={N_FFT}, n_mels={N_MELS}, fmin={MEL_FMIN:g}, "
                    f"fmax={sr / 2:g}, htk=False, norm='slaney', dtype=float64)",
            "n_mels": N_MELS, "n_bins": N_FFT // 2 + 1,
            "band_edges_hz": exact(librosa.mel_frequencies(N_MELS + 2, fmin=MEL_FMIN, fmax=sr / 2.0, htk=False)),
            "weights": [rounded(row) for row in mel_filterbank(sr)]} for sr in mel_rates},
    }
    write_if_changed(OUT / "filters.json", (to_json(filters) + "\n").encode())

    index = {
        "generated_by": "Training/make_dsp_fixtures.py",
        "regenerate": "python3 Training/make_dsp_fixtures.py   (from the repository root)",
        "versions": versions(),
        "conventions": {
            "samples": "x[i] = int16[i] / 32768.0, computed in float64",
            "numbers": f"outputs rounded to {SIG_DIGITS} significant digits; filter coefficients, "
                       "their initial states and mel band edges are exact float64 (shortest repr)",
            "array_full": "{layout: 'full', n, values[n]}",
            "array_summary": f"{{layout: 'summary', n, head = values[0..{HEAD - 1}], tail = values[n-{TAIL}..n-1], "
                             f"stride = {STRIDE}, strided = values[0], values[{STRIDE}], values[{2 * STRIDE}], ... "
                             f"(i.e. values[::{STRIDE}])}}; used when n > {FULL_LIMIT}",
            "array_frames": f"{{layout: 'frames', n_rows, n_frames, frame_indices, frames}}: frames[j] is column "
                            f"frame_indices[j] (all n_rows values: frequency bins, mel bands or coefficients). "
                            f"All frames when n_frames <= {FRAMES_FULL_LIMIT}; else frames 0, 1, 2, every "
                            f"{FRAME_STRIDE}th, and the last 3; stft.power (= magnitude^2) only frames 0, 1, 2, "
                            f"n_frames // 2 and the last 3",
            "stats": "min / max / mean (/ rms) of the FULL array, rounded, for every stored array",
            "every_stage_input": "each stage is applied to the input x directly (not chained), except "
                                 "'springer_chain'",
        },
        "analysis": {"n_fft": N_FFT, "hop_length": HOP, "window": "periodic Hann", "center": CENTER,
                     "stft_pad_mode": STFT_PAD_MODE, "n_mels": N_MELS, "mel_fmin": MEL_FMIN,
                     "mel_fmax": "sr / 2", "mel_scale": "Slaney (htk=False)", "mel_norm": "slaney",
                     "n_mfcc": N_MFCC, "dct": "type 2, ortho", "power_to_db": {"ref": 1.0, "amin": AMIN,
                                                                               "top_db": TOP_DB},
                     "rolloff_percent": ROLL_PERCENT, "bandpass": "butter 4, 25-400 Hz, sos",
                     "highpass": "butter 2, 25 Hz", "lowpass": "butter 2, 400 Hz",
                     "homomorphic_lowpass": "butter 1, 8 Hz", "welch_nperseg": WELCH_NPERSEG,
                     "resample": f"librosa.resample res_type='{RESAMPLE_TYPE}' (soxr HQ)",
                     "analysis_rate": ANALYSIS_RATE},
        "tolerances": TOLERANCES,
        "fixtures": fixtures,
        "other_files": {"filters.json": "filter coefficients for several rates and the mel filterbanks",
                        "inputs/README.md": "provenance and licence of the input recordings"},
    }
    write_if_changed(OUT / "index.json", (to_json(index) + "\n").encode())
    write_if_changed(INPUT_DIR / "README.md", INPUTS_README.encode())

    # report
    expected = {p.resolve() for p in WRITTEN}
    stray = [p for p in OUT.rglob("*") if p.is_file() and p.resolve() not in expected]
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(WRITTEN)} files under {OUT.relative_to(ROOT)}")
    for p in sorted(WRITTEN):
        print(f"  {p.stat().st_size:>9,d}  {p.relative_to(ROOT)}")
    if stray:
        print("files in the fixture folder this script did not write:", *stray, sep="\n  ")
    print(f"total fixture size: {total:,d} bytes ({total / 1e6:.3f} MB)")
    assert total < SIZE_LIMIT, f"fixture folder too large: {total} bytes"


# Tolerances the Swift tests are meant to use: |got - want| <= atol + rtol * |want|,
# elementwise. "float" is for a Float (float32) implementation, "double" for Double.
# The float values were checked with Training/float32_error_budget.py (a plain float32
# implementation of each stage stays within them with a margin of 3x or more); the
# double values leave room for the 9-digit rounding of the fixtures and for a different
# but exact algorithm (another FFT, section ordering, summation order).
TOLERANCES = {
    "filter_coefficients": {"double": {"rtol": 1e-9, "atol": 1e-12},
                            "note": "design filters in Double; Float coefficients are not recommended"},
    "sosfiltfilt_filtfilt_sosfilt": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-3, "atol": 1e-4},
                                     "note": "IIR filtering in Float loses ~5e-5 of full scale "
                                             "(poles near the unit circle); prefer Double"},
    "spike_removal": {"double": {"rtol": 0.0, "atol": 1e-12}, "float": {"rtol": 0.0, "atol": 1e-7},
                      "note": "the changed_indices must match exactly; other samples are the input"},
    "hilbert_envelope": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-4, "atol": 1e-5},
                         "note": "any exact-length DFT (length N, not padded)"},
    "homomorphic_envelope": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-4, "atol": 1e-5}},
    "autocorrelation": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-4, "atol": 1e-5}},
    "welch_psd": {"double": {"rtol": 1e-7, "atol": 1e-15}, "float": {"rtol": 1e-4, "atol": 1e-10}},
    "stft_magnitude_power": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-4, "atol": 1e-5}},
    "mel_filterbank": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-5, "atol": 1e-7}},
    "melspectrogram": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-4, "atol": 1e-5}},
    "power_to_db": {"double": {"rtol": 1e-7, "atol": 1e-6}, "float": {"rtol": 1e-4, "atol": 2e-3},
                    "note": "dB; float32 log10 of small mel powers is off by up to ~1e-3 dB"},
    "mfcc": {"double": {"rtol": 1e-7, "atol": 1e-6}, "float": {"rtol": 1e-4, "atol": 2e-3},
             "note": "atol follows from the dB error through the DCT; atol 1e-5 fails a float32 "
                     "implementation by ~10x"},
    "spectral_centroid_bandwidth": {"double": {"rtol": 1e-7, "atol": 1e-6}, "float": {"rtol": 5e-4, "atol": 2e-2},
                                    "note": "Hz"},
    "spectral_rolloff": {"double": {"rtol": 0.0, "atol": 1e-6}, "float": {"rtol": 0.0, "atol": 1e-3},
                         "note": "a bin frequency k*sr/n_fft: exact, but a Float implementation may be one "
                                 "bin off where the cumulative sum meets the threshold; allow that in at "
                                 "most 2% of frames"},
    "spectral_flatness": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-3, "atol": 1e-6}},
    "zero_crossing_rate": {"double": {"rtol": 0.0, "atol": 1e-12}, "float": {"rtol": 0.0, "atol": 1e-7},
                           "note": "exact: integer counts / n_fft"},
    "rms": {"double": {"rtol": 1e-7, "atol": 1e-9}, "float": {"rtol": 1e-5, "atol": 1e-6}},
    "resample_lowpassed": {"double": {"rtol": 0.0, "atol": 1e-3}, "float": {"rtol": 0.0, "atol": 1e-3},
                           "note": "the length must match exactly. libsoxr's HQ filter cannot be reproduced "
                                   "without libsoxr, and resamplers differ a lot near the Nyquist frequency "
                                   "(soxr VHQ vs HQ: up to 0.015 on the chirp), so apply the "
                                   "resample.output_lowpassed filter to the Swift output and compare samples "
                                   "32 .. n-33 of that; scipy's resample_poly passes with 7e-4"},
    "resample_raw": {"double": {"rtol": 0.0, "atol": 1e-6}, "float": {"rtol": 0.0, "atol": 1e-5},
                     "note": "only for an implementation that wraps libsoxr with the HQ recipe; anything "
                             "else: informational (see crosscheck.raw_max_abs_diff)"},
}

INPUTS_README = """# DSP fixture inputs

Inputs for the Swift DSP tests; the reference outputs are the JSON files one folder
up, generated by `Training/make_dsp_fixtures.py` (`python3 Training/make_dsp_fixtures.py`
from the repository root). Samples are 16-bit; the references use `int16 / 32768` in
float64.

## Synthetic (generated by the script, fixed seeds)

| file | content |
|---|---|
| `sines_4k.wav` | 2 s at 4 kHz, sum of sines at 50, 150, 440, 1200, 1900 Hz |
| `chirp_4k.wav` | 2 s at 4 kHz, logarithmic chirp 20 Hz to 1800 Hz, amplitude 0.5 |
| `noise_4k.wav` | 2 s at 4 kHz, white Gaussian noise, sigma 0.2 |
| `heartbeat_4k.wav` | 3 s at 4 kHz, S1/S2-like bursts at 70 bpm with two artificial spikes |
| `short_4k.wav` | 0.3 s at 4 kHz, decaying 90 Hz burst + 700 Hz tone (edge cases) |

These are PCM WAV files with a plain 44-byte header. They are generated, not recorded,
and carry no third-party rights.

## Real recordings (CirCor DigiScope 2022)

| file | source file | murmur | what was kept |
|---|---|---|---|
| `circor_68269_PV.flac` | `68269_PV` (patient 68269, pulmonary valve) | absent | first 3.0 s (6000 samples at 2000 Hz) |
| `circor_13918_TV.flac` | `13918_TV` (patient 13918, tricuspid valve) | present | first 3.0 s (6000 samples at 2000 Hz) |

- Dataset: The CirCor DigiScope Phonocardiogram Dataset, public training set of the
  George B. Moody PhysioNet Challenge 2022, taken from the project's `shared/data/circor2022/`
  copy (2000 Hz 16-bit FLAC, resampled by the provider of that copy from the original
  4000 Hz with SoX's very-high-quality converter). The samples here are the first 3 s
  of those files, unmodified, re-encoded as 16-bit FLAC.
- Licence: Open Data Commons Attribution License v1.0 (ODC-By 1.0),
  https://opendatacommons.org/licenses/by/1-0/
- Citation: J. Oliveira et al., "The CirCor DigiScope Dataset: From Murmur Detection to
  Murmur Classification", IEEE Journal of Biomedical and Health Informatics 26(6):2524-2535,
  2022, doi:10.1109/JBHI.2021.3137048.
"""


if __name__ == "__main__":
    main()
