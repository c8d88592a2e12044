#!/usr/bin/env python3
"""How far a Float (float32) implementation of the front end lands from the float64
references, to check that the "float" tolerances in Tests/Fixtures/dsp/index.json are
neither too tight for a Float Swift implementation nor needlessly loose.

    python3 Training/float32_error_budget.py

Reads the fixture inputs (run make_dsp_fixtures.py first), recomputes each stage in
float32 (float32 samples, window, filterbank, FFT and DCT) and in float64, and prints,
per stage, the worst ratio |f32 - f64| / (atol + rtol * |f64|) over all inputs with the
tolerances from index.json. A ratio <= 1 means a straightforward Float implementation
passes. Nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal
import soundfile as sf

import librosa

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Tests" / "Fixtures" / "dsp"


def stages(x: np.ndarray, fs: int, dtype) -> dict:
    x = x.astype(dtype)
    n_fft, hop = 256, 64
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(dtype)
    xp = np.pad(x, n_fft // 2)
    nf = 1 + len(x) // hop
    frames = np.stack([xp[t * hop: t * hop + n_fft] * w for t in range(nf)], axis=1)
    spec = scipy.fft.rfft(frames, axis=0)
    mag = np.abs(spec).astype(dtype)
    power = (mag * mag).astype(dtype)
    fb = librosa.filters.mel(sr=fs, n_fft=n_fft, n_mels=32, fmin=0.0, fmax=fs / 2, dtype=dtype)
    mel = (fb @ power).astype(dtype)
    db = (10 * np.log10(np.maximum(dtype(1e-10), mel))).astype(dtype)
    db = np.maximum(db, db.max() - dtype(80))
    mfcc = scipy.fft.dct(db, type=2, norm="ortho", axis=0)[:13]
    freqs = (np.arange(n_fft // 2 + 1) * fs / n_fft).astype(dtype)
    s = mag / np.maximum(mag.sum(axis=0), np.finfo(dtype).tiny)
    centroid = (freqs[:, None] * s).sum(axis=0)
    bandwidth = np.sqrt((s * (freqs[:, None] - centroid[None]) ** 2).sum(axis=0))
    ps = np.maximum(dtype(1e-10), power)
    flatness = np.exp(np.mean(np.log(ps), axis=0)) / np.mean(ps, axis=0)
    cum = np.cumsum(mag, axis=0)
    rolloff = np.array([freqs[np.argmax(cum[:, t] >= dtype(0.85) * cum[-1, t])] for t in range(nf)])
    rms = np.sqrt(np.mean(np.stack([xp[t * hop: t * hop + n_fft] for t in range(nf)], 1) ** 2, axis=0))
    sos = scipy.signal.butter(4, [25, 400], btype="bandpass", fs=fs, output="sos").astype(dtype)
    bp = scipy.signal.sosfiltfilt(sos, x)
    b, a = scipy.signal.butter(2, 400, fs=fs)
    lp = scipy.signal.filtfilt(b.astype(dtype), a.astype(dtype), x)
    env = np.abs(scipy.signal.hilbert(x))
    hb, ha = scipy.signal.butter(1, 8, fs=fs)
    hom = np.exp(scipy.signal.filtfilt(hb.astype(dtype), ha.astype(dtype), np.log(env).astype(dtype)))
    hom[0] = hom[1]
    # Welch by hand (scipy.signal.welch computes in float64 whatever the input)
    nper, step = 256, 128
    n_seg = (len(x) - nper) // step + 1
    acc = np.zeros(nper // 2 + 1, dtype=dtype)
    for k in range(n_seg):
        seg = x[k * step: k * step + nper]
        acc += np.abs(scipy.fft.rfft((seg - seg.mean()) * w)).astype(dtype) ** 2
    pxx = acc / dtype(n_seg) / dtype(fs * np.sum(w.astype(np.float64) ** 2))
    pxx[1:-1] *= 2
    y = x - x.mean()
    size = 1 << (2 * len(y) - 2).bit_length()
    spec_ac = scipy.fft.rfft(y, size)
    ac = scipy.fft.irfft((spec_ac * spec_ac.conj()).real, size)[: len(y)]
    ac = ac / ac[0]
    return {"stft_magnitude_power": np.concatenate([mag.ravel(), power.ravel()]), "autocorrelation": ac, "melspectrogram": mel, "power_to_db": db, "mfcc": mfcc,
            "spectral_centroid_bandwidth": np.concatenate([centroid, bandwidth]),
            "spectral_flatness": flatness, "spectral_rolloff": rolloff, "rms": rms,
            "sosfiltfilt_filtfilt_sosfilt": np.concatenate([bp, lp]),
            "hilbert_envelope": env, "homomorphic_envelope": hom, "welch_psd": pxx}


def main() -> None:
    index = json.loads((FIX / "index.json").read_text())
    tol = index["tolerances"]
    worst: dict[str, tuple[float, str]] = {}
    rolloff_mismatch = []
    for fx in index["fixtures"]:
        s16, fs = sf.read(str(FIX / fx["input"]), dtype="int16")
        x = s16.astype(np.float64) / 32768.0
        ref = stages(x, fs, np.float64)
        f32 = stages(x, fs, np.float32)
        for k, want in ref.items():
            got = f32[k].astype(np.float64)
            t = tol[k]["float"]
            ratio = np.max(np.abs(got - want) / (t["atol"] + t["rtol"] * np.abs(want)))
            if k == "spectral_rolloff":
                rolloff_mismatch.append((fx["name"], int(np.count_nonzero(got != want)), len(want)))
            if ratio > worst.get(k, (-1.0, ""))[0]:
                worst[k] = (float(ratio), fx["name"])
    print(f"{'stage':<32}{'rtol':>9}{'atol':>9}  worst ratio (<= 1 passes)  input")
    for k, (r, name) in worst.items():
        t = tol[k]["float"]
        print(f"{k:<32}{t['rtol']:>9g}{t['atol']:>9g}  {r:>12.3g}               {name}")
    print("rolloff frames that differ in float32 (name, frames, of):", rolloff_mismatch)


if __name__ == "__main__":
    main()
