"""Data loading for the segmenter's training and evaluation: CirCor 2022 recordings, their
annotations (``.tsv``: ``start_s<TAB>end_s<TAB>state``, 0 = unannotated, 1 = S1,
2 = systole, 3 = S2, 4 = diastole) and the cached 50 Hz features."""

from __future__ import annotations

import csv
import hashlib
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import segment as sg  # noqa: E402


def circor_rows(data: Path) -> list[dict]:
    with open(data / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["dataset"] == "circor2022" and r["segmentation"]]
    return sorted(rows, key=lambda r: r["record_id"])


def read_annotation(path: Path) -> np.ndarray:
    """(n, 3) array: start_s, end_s, state (float; state cast with int())."""
    a = np.loadtxt(path, ndmin=2, dtype=np.float64)
    return a


def frame_labels(ann: np.ndarray, n_frames: int) -> np.ndarray:
    """State of each 50 Hz frame, 0..4 in the annotation's coding (0 = unannotated): the
    annotated state at the frame's centre time (j + 0.5) / 50 (last row wins on overlap;
    times outside every row are 0)."""
    t = (np.arange(n_frames) + 0.5) / sg.FEATURE_RATE
    lab = np.zeros(n_frames, dtype=np.int64)
    for s, e, st in ann:
        lab[(t >= s) & (t < e)] = int(st)
    return lab


def annotated_sounds(ann: np.ndarray) -> dict:
    """Centres (s) of the annotated S1s and S2s, the annotated (state != 0) intervals, the
    complete cycles (rows with states 1, 2, 3, 4 followed by a 1, contiguous) and the
    annotation's heart rate: 60 / median S1-onset-to-next-S1-onset over complete cycles."""
    st = ann[:, 2].astype(int)
    s1 = [(a + b) / 2 for a, b, s in ann if int(s) == 1]
    s2 = [(a + b) / 2 for a, b, s in ann if int(s) == 3]
    regions = [(a, b) for a, b, s in ann if int(s) != 0]
    cycles = []
    for i in range(len(st) - 4):
        if list(st[i:i + 5]) == [1, 2, 3, 4, 1] and all(
                abs(ann[i + q, 1] - ann[i + q + 1, 0]) < 1e-6 for q in range(4)):
            cycles.append([ann[i + q, 1] - ann[i + q, 0] for q in range(4)]
                          + [ann[i + 4, 0] - ann[i, 0], ann[i + 2, 0] - ann[i, 0]])
    cycles = np.array(cycles).reshape(-1, 6)   # S1, sys, S2, dia durations, RR, S1on->S2on
    hr = 60.0 / float(np.median(cycles[:, 4])) if len(cycles) else float("nan")
    return {"s1": np.array(s1), "s2": np.array(s2), "regions": regions, "cycles": cycles, "hr": hr}


def load_all(data: Path, cache: Path | None, log=print) -> list[dict]:
    """Features and annotations of every annotated CirCor recording. The features
    (segment.analyse_features) are cached in ``cache`` (a pickle keyed by the code's and
    the manifest's hashes) when given."""
    rows = circor_rows(data)
    key = hashlib.sha256((Path(sg.__file__).read_bytes() + (data / "manifest.csv").read_bytes())).hexdigest()[:16]
    recs = None
    if cache is not None and cache.exists():
        with open(cache, "rb") as fh:
            obj = pickle.load(fh)
        if obj.get("key") == key:
            recs = obj["recs"]
            log(f"features: {len(recs)} recordings from cache {cache}")
    if recs is None:
        t0 = time.time()
        recs = []
        for i, r in enumerate(rows):
            x, sr = soundfile.read(data / r["path"], dtype="float64", always_2d=True)
            feat = sg.analyse_features(x.mean(axis=1), sr)
            recs.append({"record_id": r["record_id"], "patient_id": r["patient_id"],
                         "age_group": r["age_group"] if r["age_group"] not in ("", "nan") else "unknown",
                         "murmur": r["murmur"], "location": r["location"], "sr": sr, "n_samples": len(x),
                         "F": feat["F"], "env_raw": feat["env_raw"], "seg_path": r["segmentation"]})
            if (i + 1) % 200 == 0:
                log(f"  features {i + 1}/{len(rows)} ({time.time() - t0:.0f} s)")
        log(f"features: {len(recs)} recordings in {time.time() - t0:.0f} s")
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            with open(cache, "wb") as fh:
                pickle.dump({"key": key, "recs": recs}, fh)
    for rec in recs:
        ann = read_annotation(data / rec["seg_path"])
        rec["ann"] = ann
        rec["labels"] = frame_labels(ann, rec["F"].shape[0])
        rec.update({"true_" + k: v for k, v in annotated_sounds(ann).items()})
    return recs
