"""Times the qaqc-v1 Python reference (``qaqc_v1.qaqc_v1``) per recording, warm, so the
Swift feature set's speed can be put beside it.

    python3 Training/bench_reference.py FILE... [--repeat 20] [--fresh-process FILE]
    python3 Training/bench_reference.py --bmd-hs ../shared/data [--count 30]

For each file: decode it once (soundfile, float64, channels averaged), call
``qaqc_v1`` once to warm up (numba JIT, librosa's lazily imported submodules, caches),
then time ``--repeat`` calls with ``time.process_time`` (CPU time, like the Swift side). Only ``qaqc_v1`` is inside the
timed region: its resampling to 2000 Hz is part of it (the Swift side times the same),
decoding is not. ``--bmd-hs DATA_DIR`` picks the inputs the way
``Benchmarks/Store/main.swift`` does: the first ``--count`` rows of ``manifest.csv`` with
dataset ``bmd-hs``, sample rate 4000 and duration >= 20 s, each cut to its first 20 s
(80,000 samples), in memory.

One core: OPENBLAS/OMP/MKL thread counts default to 1 (set before numpy is imported),
as the Swift benchmark runs on one core.

stdout is one JSON object and nothing else (progress goes to stderr):

    {"python": "3.11.7", "librosa": "0.11.0", "numpy": ..., "scipy": ..., "soxr": ...,
     "repeat": 20,
     "files": [{"file", "sample_rate", "seconds", "median_ms", "p90_ms", "warmup_ms"}],
     "median_of_medians_ms": ...,
     "import_seconds": time to import qaqc_v1 (numpy, scipy, librosa, soxr, soundfile),
     "fresh_process_seconds": median of 3 (only with --fresh-process),
     "fresh_process_runs_seconds": [...]}

median and p90 use the Swift benchmark's definitions: ``sorted[n // 2]`` and
``sorted[min(n - 1, int(n * 0.9))]``. ``fresh_process_seconds`` is the wall time of a new
``python3 -c`` process (this same interpreter) that imports the modules, decodes FILE and
computes qaqc-v1 once: what a one-shot command-line call would cost.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent

FRESH = """
import sys
sys.path.insert(0, {here!r})
import soundfile, qaqc_v1
x, sr = soundfile.read({file!r}, dtype="float64", always_2d=True)
qaqc_v1.qaqc_v1(x.mean(axis=1), sr)
"""


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def p90(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * 0.9))]


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def bmd_hs_inputs(data: Path, count: int) -> list[tuple[str, Path, int | None]]:
    """``(label, path, max_samples)`` chosen as Benchmarks/Store/main.swift chooses them."""
    out = []
    lines = (data / "manifest.csv").read_text(encoding="utf-8").splitlines()  # CRLF-safe
    for line in lines[1:]:
        if len(out) >= count:
            break
        cols = line.split(",")
        try:
            ok = len(cols) > 6 and cols[1] == "bmd-hs" and cols[5] == "4000" and float(cols[6]) >= 20
        except ValueError:
            ok = False
        if ok:
            out.append((f"{data / cols[0]} (first 20 s)", data / cols[0], 80_000))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="audio files (any rate soundfile reads)")
    ap.add_argument("--repeat", type=int, default=20, help="timed calls per file (default 20)")
    ap.add_argument("--fresh-process", metavar="FILE", help="also time a fresh python3 process on FILE (3 runs)")
    ap.add_argument("--bmd-hs", metavar="DATA_DIR", help="add the Swift benchmark's inputs from DATA_DIR/manifest.csv")
    ap.add_argument("--count", type=int, default=30, help="how many --bmd-hs inputs (default 30, as the Swift bench)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    inputs = [(f, Path(f), None) for f in args.files]
    if args.bmd_hs:
        inputs += bmd_hs_inputs(Path(args.bmd_hs), args.count)
    if not inputs and not args.fresh_process:
        ap.error("no input files")

    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout pure JSON whatever a library prints
        t0 = time.perf_counter()
        sys.path.insert(0, str(HERE))
        import librosa
        import numpy as np
        import scipy
        import soundfile
        import soxr
        import qaqc_v1
        import_seconds = time.perf_counter() - t0
        log(f"imports: {import_seconds:.3f} s")

        files = []
        for label, path, max_samples in inputs:
            x, sr = soundfile.read(path, dtype="float64", always_2d=True)
            mono = np.ascontiguousarray(x.mean(axis=1)[:max_samples])
            t = time.perf_counter()
            qaqc_v1.qaqc_v1(mono, sr)
            warmup = time.perf_counter() - t
            times = []
            for _ in range(args.repeat):
                # Process CPU time, as the Swift side's thread CPU time: on this shared
                # machine wall time would also count other processes' turns.
                t = time.process_time()
                qaqc_v1.qaqc_v1(mono, sr)
                times.append(time.process_time() - t)
            files.append({"file": label, "sample_rate": sr, "seconds": len(mono) / sr,
                          "median_ms": median(times) * 1e3, "p90_ms": p90(times) * 1e3, "warmup_ms": warmup * 1e3})
            log(f"{label}: median {median(times) * 1e3:.2f} ms, p90 {p90(times) * 1e3:.2f} ms, "
                f"warm-up {warmup * 1e3:.0f} ms")

        doc = {"python": sys.version.split()[0], "librosa": librosa.__version__, "numpy": np.__version__,
               "scipy": scipy.__version__, "soxr": soxr.__version__, "repeat": args.repeat, "files": files}
        if files:
            doc["median_of_medians_ms"] = median([f["median_ms"] for f in files])
        doc["import_seconds"] = import_seconds

        if args.fresh_process:
            code = FRESH.format(here=str(HERE), file=str(Path(args.fresh_process).resolve()))
            runs = []
            for i in range(3):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
                runs.append(time.perf_counter() - t)
                log(f"fresh process {i + 1}: {runs[-1]:.3f} s")
            doc["fresh_process_file"] = args.fresh_process
            doc["fresh_process_seconds"] = median(runs)
            doc["fresh_process_runs_seconds"] = runs

    real_stdout.write(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
