#!/usr/bin/env python3
"""Candidate model for issue 12: a small CNN on the assess-v1 log-mel patches, evaluated with
exactly the honest outer split of ``Training/train_models.py``. NOT shipped (there is no Swift
inference for it); its figures go into the model cards beside the shipped models'.

One command, from the repository root:

    python3 Training/cnn/train_cnn.py --data ../shared/data [--features CSV] [--cache DIR]

- ``--data``: folder with ``manifest.csv`` (default ``../shared/data``).
- ``--features``: optional Swift assess-v1 features CSV (``clinic features --set assess-v1``,
  as ``train_models.py --features`` takes). With it the script (1) checks that the rows with
  features are exactly the rows the Python twin accepts, (2) uses the Swift numbers for the
  shipped quality model's grades that the murmur patient rule needs, and (3) re-runs
  ``train_models.run_task`` for each task to get the shipped model's out-of-fold predictions,
  checks that its fold assignment equals the CNN's, and reports paired bootstrap differences
  (CNN minus shipped, same resamples). Without it the quality grades come from the Python twin
  (``Training/assess_v1.py``) features and the shipped figures are only quoted from the cards.
- ``--cache``: where the log-mel patches are cached (default ``$TMPDIR/clinic-cnn-cache``,
  outside the repository; about 0.6 GB for ../shared/data). Computing them takes about
  4 minutes; a second run reuses them when the manifest and ``assess_v1.py`` are unchanged.

Writes ``Training/cnn/results.json`` (every figure, per-fold numbers, settings, versions,
timings) and the out-of-fold recording probabilities to ``CACHE/cnn_oof.csv``; the trained
networks' out-of-fold predictions are also pickled in CACHE (keyed on the settings and the
patch cache), so re-running only redoes the figures. Prints one line per
trained network. Single thread (``torch.set_num_threads(1)``, ``OMP_NUM_THREADS=1``); about
20-30 minutes on the shared 2-core machine.

Data and split (all reused from ``train_models.py``, imported, not re-implemented):
``task_rows`` (labels), ``fold_group`` / ``assign_folds`` with ``SEED`` (outer folds: PhysioNet
2016 leave-one-sub-database-out with BMD-HS patients / PASCAL records spread; CirCor 5 folds
by patient; inner folds with ``SEED + 1 + k`` exactly as ``run_task``), ``cluster`` /
``stratum`` / ``binary_metrics`` / ``boot_weights`` (1000 cluster-bootstrap resamples within
strata), ``best_threshold`` (balanced accuracy), ``choose_patient_rule`` / ``patient_calls`` /
``wacc_weighted`` (murmur patient rule and the 2022 weighted accuracy), ``predict_from_json``
(the shipped quality model, for the murmur rule's quality levels). Recordings under 3 s have
no features and no patches and are left out, as in the feature models; every task row has at
least one patch (checked).

Model (architecture and hyper-parameters fixed before any test fold was looked at; nothing is
tuned): input one 32 x 96 patch (32 Slaney mel bands 20-720 Hz at 2 kHz, 96 frames = 3.07 s),
standardised per mel band with the mean and standard deviation of the network's own training
recordings' patches. Three blocks of [3x3 conv (8, 16, 32 channels), batch norm, ReLU, 2x2 max
pool], global average pool, dropout 0.3, one logit. AdamW (lr 2e-3, weight decay 1e-3),
400 steps of 64 patches, 20 warm-up steps then cosine decay; each step draws 64 training
recordings class-balanced (each class equally likely, uniform within a class, so long
recordings do not dominate) and one random patch of each, with a random gain of +-6 dB (a
constant added to the dB patch, i.e. a microphone-gain change). Recording probability = mean
of its patches' sigmoid outputs. Seeds fixed per network.

Procedure per task and outer fold k (mirrors ``train_models.tune``): inside the outer training
part, the inner folds of ``run_task`` give inner out-of-fold recording probabilities (one
network per inner fold, trained on the other inner folds' labelled rows); on them the
balanced-accuracy threshold (``best_threshold``) and, for murmur, the patient rule
(``choose_patient_rule``) are chosen. Then one network is trained on all labelled rows of the
outer training part and the outer test part is predicted once, decided at that threshold /
rule. No choice sees the outer test part. No Platt scaling: AUC, balanced accuracy and the
patient rule depend only on the order of p (the threshold and rule grids are quantiles of p),
so the decisions are those a monotone calibration would give; the CNN's p is not calibrated.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
REPO = os.path.dirname(TRAINING)
sys.path.insert(0, TRAINING)
import assess_v1  # noqa: E402
import train_models as tm  # noqa: E402

import soundfile  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
torch.use_deterministic_algorithms(True)

T0 = time.time()
SEED = tm.SEED
TASKS = {  # task: (outer free folds, inner free folds), as train_models.main calls run_task
    "quality": (4, 3),
    "abnormal": (4, 3),
    "murmur": (5, 4),
}
CFG = {
    "channels": [8, 16, 32],
    "kernel": 3,
    "dropout": 0.3,
    "optimizer": "AdamW",
    "lr": 2e-3,
    "weight_decay": 1e-3,
    "steps": 400,
    "batch": 64,
    "warmup_steps": 20,
    "schedule": "linear warm-up, then cosine to 0",
    "sampling": "class-balanced over recordings, one random patch per drawn recording",
    "gain_jitter_db": 6.0,
    "input": "one 32x96 dB patch, standardised per mel band with the training recordings' patches",
    "recording_p": "mean of the patches' sigmoid outputs",
    "calibration": "none (threshold and patient rule are chosen on inner OOF p, order only)",
}


def log(msg: str) -> None:
    print(f"[{time.time() - T0:7.1f} s] {msg}", flush=True)


# --------------------------------------------------------------------------------------
# Patches (assess_v1.analyse, the Python twin of FeatureSet.assessV1)
# --------------------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compute_patches(data, manifest_rows, cache_dir):
    """Patches (all recordings concatenated), per-row offsets and counts, the Python twin's
    45 features and errors. Cached on (manifest, assess_v1.py, qaqc_v1.py, librosa)."""
    key = hashlib.sha256("|".join([
        sha256_file(os.path.join(data, "manifest.csv")),
        sha256_file(os.path.join(TRAINING, "assess_v1.py")),
        sha256_file(os.path.join(TRAINING, "qaqc_v1.py")),
        assess_v1.qaqc_v1.librosa.__version__]).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir, f"patches-{key}.npz")
    if os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        log(f"patches: reusing {path}")
        return z["patches"], z["offset"], z["count"], z["features"], list(z["error"]), key
    os.makedirs(cache_dir, exist_ok=True)
    chunks, count, feats, errors = [], [], [], []
    t = time.time()
    for i, r in enumerate(manifest_rows):
        x, sr = soundfile.read(os.path.join(data, r["path"]), dtype="float64", always_2d=True)
        try:
            f, p = assess_v1.analyse(x.mean(axis=1), sr)
            chunks.append(p.astype(np.float32))
            count.append(len(p))
            feats.append([f[n] for n in assess_v1.FEATURE_NAMES])
            errors.append("")
        except ValueError as err:
            count.append(0)
            feats.append([np.nan] * len(assess_v1.FEATURE_NAMES))
            errors.append(str(err) or "error")
        if (i + 1) % 500 == 0 or i + 1 == len(manifest_rows):
            log(f"patches: {i + 1}/{len(manifest_rows)} recordings ({time.time() - t:.0f} s)")
    patches = np.concatenate(chunks)
    count = np.array(count)
    offset = np.r_[0, np.cumsum(count)[:-1]]
    feats = np.array(feats)
    tmp = path + ".tmp.npz"
    np.savez(tmp, patches=patches, offset=offset, count=count, features=feats, error=np.array(errors))
    os.replace(tmp, path)
    log(f"patches: {len(patches)} patches of 32x96, wrote {path}")
    return patches, offset, count, feats, errors, key


# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------

def make_net():
    layers, cin = [], 1
    for c in CFG["channels"]:
        layers += [nn.Conv2d(cin, c, CFG["kernel"], padding=CFG["kernel"] // 2, bias=False),
                   nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(CFG["dropout"]), nn.Linear(cin, 1)]
    return nn.Sequential(*layers)


class PatchStore:
    def __init__(self, patches, offset, count):
        self.P, self.off, self.cnt = patches, offset, count

    def rows_patches(self, rows):
        return np.concatenate([self.P[self.off[i]:self.off[i] + self.cnt[i]] for i in rows])


def train_net(store, rec, y, seed):
    """rec: manifest-row indices of the training recordings, y: their 0/1 labels."""
    rng = np.random.RandomState(seed)
    torch.manual_seed(seed)
    Ptr = store.rows_patches(rec)
    mu = Ptr.mean(axis=(0, 2)).astype(np.float32)                 # per mel band
    sd = (Ptr.std(axis=(0, 2)) + 1e-6).astype(np.float32)
    del Ptr
    w = np.where(y == 1, 0.5 / max(1, np.sum(y == 1)), 0.5 / max(1, np.sum(y == 0)))
    w = w / w.sum()
    net = make_net()
    opt = torch.optim.AdamW(net.parameters(), lr=CFG["lr"], weight_decay=CFG["weight_decay"])
    S, B, W0 = CFG["steps"], CFG["batch"], CFG["warmup_steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / W0 if s < W0 else 0.5 * (1 + np.cos(np.pi * (s - W0) / (S - W0))))
    lossf = nn.BCEWithLogitsLoss()
    net.train()
    mu_t, sd_t = torch.from_numpy(mu)[None, :, None], torch.from_numpy(sd)[None, :, None]
    for step in range(S):
        pick = rng.choice(len(rec), B, p=w)
        r = rec[pick]
        j = store.off[r] + (rng.random_sample(B) * store.cnt[r]).astype(int)
        xb = torch.from_numpy(store.P[j])
        xb = xb + torch.from_numpy(rng.uniform(-CFG["gain_jitter_db"], CFG["gain_jitter_db"], B)
                                   .astype(np.float32))[:, None, None]
        xb = ((xb - mu_t) / sd_t)[:, None]
        yb = torch.from_numpy(y[pick].astype(np.float32))
        opt.zero_grad()
        loss = lossf(net(xb).squeeze(1), yb)
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    return net, (mu_t, sd_t), float(loss.item())


@torch.inference_mode()
def predict(store, net, norm, rows, batch=512):
    """Recording probability = mean of its patches' sigmoid outputs."""
    mu_t, sd_t = norm
    out = np.zeros(len(rows))
    P = store.rows_patches(rows)
    probs = np.empty(len(P))
    for s in range(0, len(P), batch):
        xb = ((torch.from_numpy(P[s:s + batch]) - mu_t) / sd_t)[:, None]
        probs[s:s + batch] = torch.sigmoid(net(xb).squeeze(1)).numpy()
    pos = 0
    for n, i in enumerate(rows):
        c = store.cnt[i]
        out[n] = probs[pos:pos + c].mean()
        pos += c
    return out


# --------------------------------------------------------------------------------------
# Nested CV per task
# --------------------------------------------------------------------------------------

def run_cnn_task(task, ok, ok_manifest_idx, store, qlevel_ok):
    n_outer_free, n_inner_free = TASKS[task]
    idx, y = tm.task_rows(task, ok)
    R = [ok[i] for i in idx]
    mrow = ok_manifest_idx[idx]                 # manifest row of each task row (patch store)
    assert np.all(store.cnt[mrow] > 0), "a task row has no patch"
    groups = [tm.fold_group(r) for r in R]
    bal = [r["murmur"] if task == "murmur" else str(v) for r, v in zip(R, y)]   # as run_task
    folds, n_folds = tm.assign_folds(groups, bal, n_outer_free, SEED)
    lab = y >= 0
    tid = list(TASKS).index(task)
    p = np.full(len(y), np.nan)
    dec = np.zeros(len(y), bool)
    per_fold, inner = [], {}
    for k in range(n_folds):
        tr = np.flatnonzero(folds != k)
        te = np.flatnonzero(folds == k)
        ifolds, n_if = tm.assign_folds([groups[i] for i in tr], [bal[i] for i in tr], n_inner_free,
                                       SEED + 1 + k)
        p_in = np.zeros(len(tr))
        for j in range(n_if):
            fit = np.flatnonzero((ifolds != j) & lab[tr])
            val = np.flatnonzero(ifolds == j)
            t = time.time()
            net, norm, loss = train_net(store, mrow[tr[fit]], y[tr[fit]], SEED + 1000 * tid + 10 * k + j + 1)
            p_in[val] = predict(store, net, norm, mrow[tr[val]])
            vl = lab[tr[val]]
            log(f"{task} fold {k + 1}/{n_folds} inner {j + 1}/{n_if}: {len(fit)} train rec, "
                f"{len(val)} val rec, inner AUC {tm.auc_point(p_in[val][vl], y[tr[val]][vl]):.3f} "
                f"({time.time() - t:.0f} s)")
        thr = tm.best_threshold(p_in[lab[tr]], y[tr][lab[tr]])
        inner_auc = tm.auc_point(p_in[lab[tr]], y[tr][lab[tr]])
        t = time.time()
        fit = tr[lab[tr]]
        net, norm, loss = train_net(store, mrow[fit], y[fit], SEED + 1000 * tid + 10 * k)
        p[te] = predict(store, net, norm, mrow[te])
        dec[te] = p[te] >= thr
        lt = lab[te]
        fixed = sorted(set(groups[i] for i in te if groups[i].startswith("physionet2016-")))
        f = {"fold": k + 1, "held_out_subdb": [g[-1] for g in fixed], "n_test": int(len(te)),
             "n_test_labelled": int(lt.sum()), "n_train_labelled": int(len(fit)),
             "inner_oof_auc": inner_auc, "threshold": thr,
             "test_auc": tm.auc_point(p[te][lt], y[te][lt]),
             "test_balanced_accuracy": float(0.5 * (np.mean(dec[te][lt & (y[te] == 1)])
                                                    + np.mean(~dec[te][lt & (y[te] == 0)]))),
             "final_train_loss": loss}
        per_fold.append(f)
        inner[k] = (tr, p_in)
        log(f"{task} fold {k + 1}/{n_folds} outer ({'held out ' + ','.join(f['held_out_subdb']) if fixed else 'patients'}): "
            f"test AUC {f['test_auc']:.3f}, BA {f['test_balanced_accuracy']:.3f} at in-fold thr {thr:.3f} "
            f"(inner OOF AUC {inner_auc:.3f}; {time.time() - t:.0f} s)")
    res = {"idx": idx, "y": y, "rows": R, "folds": folds, "n_folds": n_folds,
           "clusters": np.array([tm.cluster(r) for r in R]),
           "strata": np.array([tm.stratum(r) for r in R]),
           "cand": {"cnn": {"p": p, "dec": dec, "per_fold": per_fold, "inner_oof": inner}}}
    return res


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------

def m3(m, k):
    v = m[k]
    return [float(v[0]), float(v[1]), float(v[2])]


def binary_block(res, kind, mask, dec=None):
    m = tm.sub_metrics(res, kind, mask, dec=dec)
    out = {"n": int(mask.sum()), "positives": int(np.sum(res["y"][mask] == 1))}
    for k in ("auc", "balanced_accuracy", "sensitivity", "specificity", "accuracy"):
        out[k] = m3(m, k)
    out["confusion"] = m["confusion"]
    return out


def paired_diff(res_a, pa, res_b, pb, mask_a, mask_b, what, deca=None, decb=None):
    """CNN minus shipped on the same rows under the same cluster-bootstrap weights."""
    ra = [r["path"] for r in np.array(res_a["rows"], dtype=object)[mask_a]]
    rb = [r["path"] for r in np.array(res_b["rows"], dtype=object)[mask_b]]
    assert ra == rb
    y = res_a["y"][mask_a]
    W = tm.boot_weights(res_a["clusters"][mask_a], res_a["strata"][mask_a])
    if what == "auc":
        d = tm.auc_weighted(pa[mask_a], y, W) - tm.auc_weighted(pb[mask_b], y, W)
    else:
        def ba(dec):
            pos, neg = y == 1, y == 0
            return 0.5 * (tm.ratio(W, dec & pos, pos) + tm.ratio(W, ~dec & neg, neg))
        d = ba(deca[mask_a]) - ba(decb[mask_b])
    return list(tm.ci3(d))


def fmt3(v):
    return f"{v[0]:.3f} ({v[1]:.3f}–{v[2]:.3f})"


def fmtd(v):
    return f"{v[0]:+.3f} ({v[1]:+.3f} to {v[2]:+.3f})"


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="Small CNN on assess-v1 log-mel patches (issue 12 candidate).")
    ap.add_argument("--data", default="../shared/data", help="folder with manifest.csv")
    ap.add_argument("--features", help="Swift assess-v1 features CSV (optional, see the docstring)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "clinic-cnn-cache"))
    ap.add_argument("--out", default=HERE, help="folder for results.json")
    ap.add_argument("--steps", type=int, default=CFG["steps"], help="training steps (smoke tests only)")
    ap.add_argument("--ship-murmur", action="store_true",
                    help="also ship the murmur CNN: Models/murmur.json and .md, its parity fixture, "
                         "SHA256SUMS (Training/cnn/ship_murmur.py; needs --features)")
    ap.add_argument("--tasks", default=",".join(TASKS),
                    help="comma-separated tasks to cross-validate (default all; --ship-murmur needs murmur)")
    args = ap.parse_args()
    if args.ship_murmur and not args.features:
        ap.error("--ship-murmur needs --features (the shipped quality model's grades and the feature models' figures)")
    tasks = [t for t in args.tasks.split(",") if t]
    if any(t not in TASKS for t in tasks) or (args.ship_murmur and "murmur" not in tasks):
        ap.error(f"--tasks: choose from {', '.join(TASKS)} (murmur with --ship-murmur)")
    CFG["steps"] = args.steps
    manifest = os.path.join(args.data, "manifest.csv")
    with open(manifest, newline="") as fh:
        mrows = list(csv.DictReader(fh))
    log(f"{len(mrows)} manifest rows; torch {torch.__version__}, {torch.get_num_threads()} thread")

    patches, offset, count, pyfeat, errors, cache_key = compute_patches(args.data, mrows, args.cache)
    t_patches = time.time() - T0
    store = PatchStore(patches, offset, count)
    ok_m = np.array([i for i, e in enumerate(errors) if not e])
    ok = [mrows[i] for i in ok_m]
    log(f"{len(ok)} recordings with features/patches, {len(mrows) - len(ok)} refused "
        f"({dict(Counter(mrows[i]['dataset'] for i, e in enumerate(errors) if e))}); "
        f"{int(count.sum())} patches")

    # quality levels of the shipped quality model (for the murmur patient rule, as train_models)
    with open(os.path.join(REPO, "Models", "quality.json")) as fh:
        doc_q = json.load(fh)
    X = names = None
    if args.features:
        _, ok_sw, X, names, _ = tm.load(args.features, manifest)
        assert [r["path"] for r in ok_sw] == [r["path"] for r in ok], \
            "Swift features and the Python twin accept different recordings"
        feat_rows = [tm.row_features(r, names) for r in ok_sw]
        qsrc = "Swift features CSV"
    else:
        feat_rows = [dict(zip(assess_v1.FEATURE_NAMES, map(float, pyfeat[i]))) for i in ok_m]
        qsrc = "Python twin (assess_v1.py) features"
    _, pq = tm.predict_from_json(doc_q, feat_rows)
    pq = np.array(pq)
    qok = pq >= doc_q["threshold"]
    qlevel = np.where(qok, 2, np.where(pq >= doc_q["grades"][0], 1, 0))
    log(f"shipped quality model on {qsrc}: {np.mean(qok):.3f} acceptable")

    results = {"about": "Small CNN on assess-v1 log-mel patches, out-of-fold under train_models.py's "
                        "outer split; not shipped. Intervals: 95% cluster bootstrap "
                        f"({tm.N_BOOT} resamples, train_models.boot_weights).",
               "command": "python3 Training/cnn/train_cnn.py --data ../shared/data"
                          + (" --features FEATURES.csv" if args.features else ""),
               "date": time.strftime("%Y-%m-%d"), "config": CFG, "seed": SEED,
               "train_models_sha256": sha256_file(os.path.join(TRAINING, "train_models.py")),
               "patch_cache_key": cache_key, "quality_levels_from": qsrc,
               "n_recordings": len(mrows), "n_with_patches": len(ok), "n_patches": int(count.sum()),
               "versions": {"python": platform.python_version(), "numpy": np.__version__,
                            "torch": torch.__version__, "librosa": assess_v1.qaqc_v1.librosa.__version__,
                            "soxr": assess_v1.qaqc_v1.soxr.__version__, "scipy": tm.scipy.__version__,
                            "scikit-learn": tm.sklearn.__version__},
               "tasks": {}}
    try:
        results["git_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                                               text=True).stdout.strip()
    except OSError:
        pass

    cnn = {}
    timings = {"patches_s": round(t_patches, 1)}
    run_key = hashlib.sha256(json.dumps([CFG, SEED, cache_key, results["train_models_sha256"]]
                                        + ([] if tasks == list(TASKS) else [tasks]),
                                        sort_keys=True).encode()).hexdigest()[:16]
    pkl = os.path.join(args.cache, f"cnn-oof-{run_key}.pkl")
    if os.path.exists(pkl):
        with open(pkl, "rb") as fh:
            cnn, old_t = pickle.load(fh)
        timings.update(old_t)
        log(f"reusing trained networks' out-of-fold predictions from {pkl}")
    else:
        for task in tasks:
            t = time.time()
            log(f"{task}: nested CV, {TASKS[task][0]} free outer folds (PhysioNet sub-databases fixed)")
            cnn[task] = run_cnn_task(task, ok, ok_m, store, qlevel)
            timings[task + "_s"] = round(time.time() - t, 1)
        with open(pkl, "wb") as fh:
            pickle.dump((cnn, dict(timings)), fh)

    # shipped models' out-of-fold predictions (only with the Swift features)
    base = {}
    if args.features:
        for task in tasks:
            t = time.time()
            log(f"{task}: train_models.run_task for the shipped model's out-of-fold predictions")
            base[task] = tm.run_task(task, ok_sw, X, names, *TASKS[task])
            assert np.array_equal(base[task]["folds"], cnn[task]["folds"]), "fold assignment differs"
            assert np.array_equal(base[task]["y"], cnn[task]["y"])
            timings[task + "_baseline_s"] = round(time.time() - t, 1)
    if args.ship_murmur:
        import ship_murmur
        ship_murmur.ship(tc=sys.modules[__name__], cnn=cnn, base=base, store=store, ok=ok_sw, ok_m=ok_m,
                         qlevel=qlevel, doc_q=doc_q, names=names, pyfeat=pyfeat, mrows=mrows, data=args.data, log=log)
    if tasks != list(TASKS):
        log(f"only {', '.join(tasks)} cross-validated: results.json is not rewritten")
        return
    shipped_kind = {}
    for task in TASKS:
        with open(os.path.join(REPO, "Models", f"{task}.json")) as fh:
            shipped_kind[task] = json.load(fh)["kind"]
        if shipped_kind[task] == "cnn" and base:
            # the CNN itself is shipped (murmur): "shipped" below is the better feature model
            pe_, truth_ = tm.murmur_patient_eval(base[task], ok_sw, qlevel)
            shipped_kind[task] = max(("logistic", "gbdt"),
                                     key=lambda k: (tm.weighted_accuracy(pe_[k]["calls"], truth_), k == "logistic"))

    # ------------------------------------------------------------ quality
    rq = cnn["quality"]
    allq = np.ones(len(rq["y"]), bool)
    pnq = rq["strata"] != "pascal2011"
    Q = {"rows": "PhysioNet 2016 quality + PASCAL artifact recordings (unacceptable)",
         "all": binary_block(rq, "cnn", allq), "physionet": binary_block(rq, "cnn", pnq),
         "per_stratum": {v: binary_block(rq, "cnn", m) for v, m in tm.masks_by(rq, tm.stratum)},
         "per_fold": rq["cand"]["cnn"]["per_fold"]}
    if base:
        bq, kq = base["quality"], shipped_kind["quality"]
        bq["cand"]["shipped"] = bq["cand"][kq]
        Q["shipped"] = {"kind": kq, "all": binary_block(bq, "shipped", allq),
                        "physionet": binary_block(bq, "shipped", pnq),
                        "per_stratum": {v: binary_block(bq, "shipped", m) for v, m in tm.masks_by(bq, tm.stratum)}}
        cq = rq["cand"]["cnn"]
        Q["paired_cnn_minus_shipped"] = {
            "auc_all": paired_diff(rq, cq["p"], bq, bq["cand"][kq]["p"], allq, allq, "auc"),
            "auc_physionet": paired_diff(rq, cq["p"], bq, bq["cand"][kq]["p"], pnq, pnq, "auc"),
            "balanced_accuracy_all": paired_diff(rq, None, bq, None, allq, allq, "ba", cq["dec"], bq["cand"][kq]["dec"]),
            "balanced_accuracy_physionet": paired_diff(rq, None, bq, None, pnq, pnq, "ba", cq["dec"], bq["cand"][kq]["dec"])}
    results["tasks"]["quality"] = Q

    # ------------------------------------------------------------ abnormal
    ra = cnn["abnormal"]
    alla = np.ones(len(ra["y"]), bool)
    pna = ra["strata"] != "bmd-hs"
    A = {"rows": "PhysioNet 2016 + BMD-HS abnormal",
         "all": binary_block(ra, "cnn", alla), "physionet_lodo": binary_block(ra, "cnn", pna),
         "bmd_hs": binary_block(ra, "cnn", ~pna),
         "per_stratum": {v: binary_block(ra, "cnn", m) for v, m in tm.masks_by(ra, tm.stratum)},
         "per_fold": ra["cand"]["cnn"]["per_fold"],
         "note": "MAcc = balanced accuracy = (sensitivity + specificity) / 2 at the in-fold threshold"}
    if base:
        ba_, ka = base["abnormal"], shipped_kind["abnormal"]
        ba_["cand"]["shipped"] = ba_["cand"][ka]
        A["shipped"] = {"kind": ka, "all": binary_block(ba_, "shipped", alla),
                        "physionet_lodo": binary_block(ba_, "shipped", pna),
                        "bmd_hs": binary_block(ba_, "shipped", ~pna),
                        "per_stratum": {v: binary_block(ba_, "shipped", m) for v, m in tm.masks_by(ba_, tm.stratum)}}
        ca = ra["cand"]["cnn"]
        A["paired_cnn_minus_shipped"] = {
            f"{w}_{n}": paired_diff(ra, ca["p"], ba_, ba_["cand"][ka]["p"], m, m, w, ca["dec"], ba_["cand"][ka]["dec"])
            for w in ("auc", "ba") for n, m in (("all", alla), ("physionet_lodo", pna), ("bmd_hs", ~pna))}
    results["tasks"]["abnormal"] = A

    # ------------------------------------------------------------ murmur
    rm = cnn["murmur"]
    cmn = rm["cand"]["cnn"]
    labm = rm["y"] >= 0
    pat = np.array([r["patient_id"] for r in rm["rows"]])
    ql = qlevel[rm["idx"]]
    truth = {r["patient_id"]: r["murmur"] for r in rm["rows"]}
    calls, rules = {}, []
    rec_dec_hi = np.zeros(len(rm["y"]), bool)
    for k in range(rm["n_folds"]):
        tr, p_in = cmn["inner_oof"][k]
        rule, s_in = tm.choose_patient_rule(pat[tr], p_in, ql[tr], {q: truth[q] for q in set(pat[tr])})
        te = np.flatnonzero(rm["folds"] == k)
        fc = tm.patient_calls(pat[te], cmn["p"][te], ql[te], rule)
        calls.update(fc)
        rec_dec_hi[te] = cmn["p"][te] >= rule[1]
        rules.append(rule)
        pf = cmn["per_fold"][k]
        pf.update({"patient_rule": {"lo": rule[0], "hi": rule[1], "quality_gate": bool(rule[2])},
                   "patient_rule_inner_wacc": s_in,
                   "test_patients": len(fc),
                   "test_patient_weighted_accuracy": tm.weighted_accuracy(fc, {q: truth[q] for q in fc})})
    pats = sorted(truth)
    Wp = tm.boot_weights(pats, ["circor"] * len(pats))
    wa = tm.wacc_weighted(calls, truth, pats, Wp)
    M = {"rows": "CirCor 2022 murmur_at_location present/absent (recording); murmur (patient)",
         "patient_weighted_accuracy": list(tm.ci3(wa)),
         "recording": binary_block(rm, "cnn", labm),
         "recording_at_hi": binary_block(rm, "cnn", labm, dec=rec_dec_hi),
         "patient_confusion": {t: dict(Counter(calls.get(q, "unknown") for q in pats if truth[q] == t))
                               for t in tm.CLASSES},
         "n_patients": len(pats), "per_fold": cmn["per_fold"],
         "note": "recording AUC over present/absent recordings; 'recording' decisions at the in-fold "
                 "balanced-accuracy threshold, 'recording_at_hi' at the in-fold patient rule's hi; "
                 "patient rule chosen per outer fold on the inner OOF p with the shipped quality "
                 "model's levels (very bad never counts; gate on/off searched), as train_models.py"}
    if base:
        bm, km = base["murmur"], shipped_kind["murmur"]
        pe, truth_b = tm.murmur_patient_eval(bm, ok_sw, qlevel)
        assert truth_b == truth
        wab = tm.wacc_weighted(pe[km]["calls"], truth, pats, Wp)
        bm["cand"]["shipped"] = bm["cand"][km]
        M["shipped"] = {"kind": km, "patient_weighted_accuracy": list(tm.ci3(wab)),
                        "recording": binary_block(bm, "shipped", labm),
                        "recording_at_hi": binary_block(bm, "shipped", labm, dec=pe[km]["rec_dec_at_hi"])}
        M["paired_cnn_minus_shipped"] = {
            "patient_weighted_accuracy": list(tm.ci3(wa - wab)),
            "recording_auc": paired_diff(rm, cmn["p"], bm, bm["cand"][km]["p"], labm, labm, "auc"),
            "recording_balanced_accuracy": paired_diff(rm, None, bm, None, labm, labm, "ba",
                                                       cmn["dec"], bm["cand"][km]["dec"])}
    results["tasks"]["murmur"] = M
    timings["total_s"] = round(time.time() - T0, 1)
    results["timings"] = timings

    # out-of-fold probabilities (cache folder, not the repository)
    with open(os.path.join(args.cache, "cnn_oof.csv"), "w", newline="") as fh:
        wcsv = csv.writer(fh)
        wcsv.writerow(["task", "path", "outer_fold", "label", "p_cnn", "decision"])
        for task, res in cnn.items():
            c = res["cand"]["cnn"]
            for r, f, yy, pp, dd in zip(res["rows"], res["folds"], res["y"], c["p"], c["dec"]):
                wcsv.writerow([task, r["path"], int(f) + 1, int(yy), f"{pp:.6f}", int(dd)])

    def clean(o):
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, (np.floating, float)):
            return None if not np.isfinite(o) else round(float(o), 6)
        if isinstance(o, (np.integer,)):
            return int(o)
        if isinstance(o, np.bool_):
            return bool(o)
        return o

    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump(clean(results), fh, indent=1, allow_nan=False)
        fh.write("\n")
    log(f"wrote {os.path.relpath(os.path.join(args.out, 'results.json'), REPO)}")
    summary(results)
    log("done")


def summary(res):
    T = res["tasks"]
    q, a, m = T["quality"], T["abnormal"], T["murmur"]
    log(f"quality CNN: AUC {fmt3(q['all']['auc'])}, BA {fmt3(q['all']['balanced_accuracy'])}, "
        f"PhysioNet AUC {fmt3(q['physionet']['auc'])}")
    log(f"abnormal CNN: AUC {fmt3(a['all']['auc'])}, MAcc {fmt3(a['all']['balanced_accuracy'])}, "
        f"PhysioNet LODO AUC {fmt3(a['physionet_lodo']['auc'])} MAcc {fmt3(a['physionet_lodo']['balanced_accuracy'])}, "
        f"BMD-HS AUC {fmt3(a['bmd_hs']['auc'])}")
    log(f"murmur CNN: patient WA {fmt3(m['patient_weighted_accuracy'])}, recording AUC {fmt3(m['recording']['auc'])}")
    for t in ("quality", "abnormal", "murmur"):
        if "paired_cnn_minus_shipped" in T[t]:
            log(f"{t} CNN - shipped: " + ", ".join(f"{k} {fmtd(v)}" for k, v in T[t]["paired_cnn_minus_shipped"].items()))


if __name__ == "__main__":
    main()
