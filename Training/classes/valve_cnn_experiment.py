#!/usr/bin/env python3
"""Valve-disease CNN experiment on BMD-HS (the comparison in Models/valve.md; not shipped: the
logistic model on features, p_murmur and cycle features won, macro-F1 0.64 vs 0.54).

4 binary nets (AR, AS, MR, MS) per outer fold, reusing train_cnn.py's patches / net / trainer.
Outer: StratifiedGroupKFold(5, shuffle=True, random_state=0) on BMD-HS recordings (manifest
order, patient with diagnosis "MD:" excluded), stratified on diagnosis, grouped by patient.
Optional inner split (--inner K) inside each outer training part gives inner OOF patient
probabilities on which a per-label F1-maximising threshold is chosen (never the test fold).

python3 Training/classes/valve_cnn_experiment.py [--steps N] [--inner K] [--time-one]
(about 40 minutes on one core; data, patch cache and output: CLINIC_DATA_DIR, CLINIC_CNN_CACHE, CLINIC_VALVE_OUT)
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import csv
import hashlib
import json
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cnn"))
import train_cnn as tc  # noqa: E402  (sets torch threads = 1, deterministic)
import torch  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402
from sklearn.metrics import f1_score, roc_auc_score  # noqa: E402

torch.set_num_threads(1)
DATA = os.environ.get("CLINIC_DATA_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data"))
CACHE = os.environ.get("CLINIC_CNN_CACHE", "/tmp/clinic-cnn-cache")
OUT = os.environ.get("CLINIC_VALVE_OUT", "/tmp/exp-valve-cnn")
LABELS = ["AR", "AS", "MR", "MS"]
T0 = time.time()


def log(m):
    print(f"[{time.time() - T0:7.1f} s] {m}", flush=True)


def labels_of(diag):
    if diag == "N":
        return np.zeros(4, int)
    parts = diag[3:].split("+") if diag.startswith("MD:") else [diag]
    assert all(p in LABELS for p in parts), diag
    return np.array([int(l in parts) for l in LABELS])


def patient_table(pid, P):
    """Mean of recording rows of P per patient (order = sorted unique pid)."""
    pats = sorted(set(pid))
    ix = {p: i for i, p in enumerate(pats)}
    S = np.zeros((len(pats), P.shape[1]))
    n = np.zeros(len(pats))
    for p, row in zip(pid, P):
        S[ix[p]] += row
        n[ix[p]] += 1
    return pats, S / n[:, None]


def best_f1_threshold(p, y):
    """Threshold maximising F1 of p >= t; candidates = midpoints of sorted unique p."""
    u = np.unique(p)
    cands = np.r_[u[0] - 1e-9, (u[:-1] + u[1:]) / 2, u[-1] + 1e-9] if len(u) > 1 else np.array([0.5])
    best, bt = -1, 0.5
    for t in cands:
        f = f1_score(y, p >= t, zero_division=0)
        if f > best + 1e-12:
            best, bt = f, t
    return float(bt), float(best)


def metrics(Yp, Ptrue, Pprob=None):
    """Yp: predicted 0/1 (n,4); Ptrue: true (n,4). Returns dict of F1s, macro, exact."""
    m = {}
    for j, l in enumerate(LABELS):
        m[f"F1_{l}"] = f1_score(Ptrue[:, j], Yp[:, j], zero_division=0)
    m["F1_N"] = f1_score(Ptrue.sum(1) == 0, Yp.sum(1) == 0, zero_division=0)
    m["macro_F1"] = float(np.mean([m[f"F1_{l}"] for l in LABELS + ["N"]]))
    m["exact_match"] = float(np.mean(np.all(Yp == Ptrue, axis=1)))
    if Pprob is not None:
        for j, l in enumerate(LABELS):
            m[f"AUC_{l}"] = roc_auc_score(Ptrue[:, j], Pprob[:, j])
    return {k: float(v) for k, v in m.items()}


def boot_macro(Yp, Ytrue, n=1000, seed=0):
    rng = np.random.RandomState(seed)
    vals = []
    N = len(Ytrue)
    for _ in range(n):
        b = rng.randint(0, N, N)
        vals.append(metrics(Yp[b], Ytrue[b])["macro_F1"])
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=tc.CFG["steps"])
    ap.add_argument("--inner", type=int, default=0, help="inner folds for thresholds (0 = none)")
    ap.add_argument("--time-one", action="store_true")
    args = ap.parse_args()
    tc.CFG["steps"] = args.steps

    with open(os.path.join(DATA, "manifest.csv"), newline="") as fh:
        mrows = list(csv.DictReader(fh))
    # guard: the cache must already exist (never rebuild it here)
    key = hashlib.sha256("|".join([
        tc.sha256_file(os.path.join(DATA, "manifest.csv")),
        tc.sha256_file(os.path.join(tc.TRAINING, "assess_v1.py")),
        tc.sha256_file(os.path.join(tc.TRAINING, "qaqc_v1.py")),
        tc.assess_v1.qaqc_v1.librosa.__version__]).encode()).hexdigest()[:16]
    assert os.path.exists(os.path.join(CACHE, f"patches-{key}.npz")), f"cache {key} missing; not rebuilding"
    patches, offset, count, _, errors, _ = tc.compute_patches(DATA, mrows, CACHE)
    store = tc.PatchStore(patches, offset, count)

    rows = np.array([i for i, r in enumerate(mrows) if r["dataset"] == "bmd-hs" and r["diagnosis"] != "MD:"])
    assert np.all(count[rows] > 0), "a BMD-HS row has no patch"
    diag = np.array([mrows[i]["diagnosis"] for i in rows])
    pid = np.array([mrows[i]["patient_id"] for i in rows])
    Y = np.array([labels_of(d) for d in diag])
    log(f"{len(rows)} recordings, {len(set(pid))} patients, patches/rec {np.unique(count[rows])}, "
        f"patient positives {dict(zip(LABELS, patient_table(pid, Y)[1].sum(0).astype(int)))}")
    for p in set(pid):                                    # every patient has one diagnosis
        assert len(set(diag[pid == p])) == 1

    sgkf = StratifiedGroupKFold(5, shuffle=True, random_state=0)
    fold = np.full(len(rows), -1)
    for k, (_, te) in enumerate(sgkf.split(np.zeros(len(rows)), diag, pid)):
        fold[te] = k
    assert np.all(fold >= 0)
    for k in range(5):
        assert not set(pid[fold == k]) & set(pid[fold != k])

    if args.time_one:
        tr = np.flatnonzero(fold != 0)
        t = time.time()
        net, norm, loss = tc.train_net(store, rows[tr], Y[tr, 0], 1)
        t_train = time.time() - t
        t = time.time()
        p = tc.predict(store, net, norm, rows[fold == 0])
        log(f"one net ({args.steps} steps): train {t_train:.1f} s, predict {time.time() - t:.1f} s, "
            f"loss {loss:.3f}, rec AUC {roc_auc_score(Y[fold == 0, 0], p):.3f}")
        return

    P = np.full((len(rows), 4), np.nan)
    thr = np.full((5, 4), 0.5)
    inner_info = []
    net_times = []
    for k in range(5):
        tr = np.flatnonzero(fold != k)
        te = np.flatnonzero(fold == k)
        for j, l in enumerate(LABELS):
            if args.inner:
                isg = StratifiedGroupKFold(args.inner, shuffle=True, random_state=1 + k)
                p_in = np.full(len(tr), np.nan)
                for i, (a, b) in enumerate(isg.split(np.zeros(len(tr)), diag[tr], pid[tr])):
                    t = time.time()
                    net, norm, _ = tc.train_net(store, rows[tr[a]], Y[tr[a], j], 100000 + 1000 * j + 10 * k + i)
                    p_in[b] = tc.predict(store, net, norm, rows[tr[b]])
                    net_times.append(time.time() - t)
                _, pp = patient_table(pid[tr], p_in[:, None])
                _, yy = patient_table(pid[tr], Y[tr, j:j + 1])
                t_best, f_in = best_f1_threshold(pp[:, 0], yy[:, 0].astype(int))
                thr[k, j] = t_best
                inner_info.append({"fold": k + 1, "label": l, "threshold": t_best, "inner_patient_F1": f_in,
                                   "inner_patient_AUC": float(roc_auc_score(yy[:, 0], pp[:, 0]))})
            t = time.time()
            net, norm, loss = tc.train_net(store, rows[tr], Y[tr, j], 1000 * j + 10 * k)
            P[te, j] = tc.predict(store, net, norm, rows[te])
            net_times.append(time.time() - t)
            rauc = roc_auc_score(Y[te, j], P[te, j])
            log(f"fold {k + 1} {l}: {len(tr)} train rec, loss {loss:.3f}, test rec AUC {rauc:.3f}, "
                f"thr {thr[k, j]:.3f} ({net_times[-1]:.0f} s)")

    with open(os.path.join(OUT, "oof.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "patient_id", "diagnosis", "fold"] + [f"p_{l}" for l in LABELS])
        for n, i in enumerate(rows):
            w.writerow([mrows[i]["path"], pid[n], diag[n], fold[n] + 1] + [f"{v:.6f}" for v in P[n]])

    pats, PP = patient_table(pid, P)
    _, YT = patient_table(pid, Y)
    YT = YT.astype(int)
    _, FP = patient_table(pid, fold[:, None].astype(float))
    pfold = FP[:, 0].astype(int)
    res = {"n_recordings": int(len(rows)), "n_patients": len(pats), "steps": args.steps,
           "config": tc.CFG, "inner_folds": args.inner,
           "seconds_per_net_mean": float(np.mean(net_times)), "n_nets": len(net_times),
           "total_seconds": None,
           "patient_positives": {l: int(YT[:, j].sum()) for j, l in enumerate(LABELS)},
           "patient_N": int((YT.sum(1) == 0).sum())}
    Yp = (PP >= 0.5).astype(int)
    res["at_0.5"] = metrics(Yp, YT, PP)
    res["at_0.5"]["macro_F1_CI95"] = boot_macro(Yp, YT)
    res["recording_AUC"] = {l: float(roc_auc_score(Y[:, j], P[:, j])) for j, l in enumerate(LABELS)}
    res["per_fold_patient_AUC"] = {l: [float(roc_auc_score(YT[pfold == k, j], PP[pfold == k, j]))
                                       if len(set(YT[pfold == k, j])) > 1 else None for k in range(5)]
                                   for j, l in enumerate(LABELS)}
    if args.inner:
        Yt = (PP >= thr[pfold]).astype(int)
        res["at_inner_threshold"] = metrics(Yt, YT, PP)
        res["at_inner_threshold"]["macro_F1_CI95"] = boot_macro(Yt, YT)
        res["inner"] = inner_info
    res["total_seconds"] = round(time.time() - T0, 1)
    with open(os.path.join(OUT, "results.json"), "w") as fh:
        json.dump(res, fh, indent=1)
    for kk in ("at_0.5", "at_inner_threshold"):
        if kk in res:
            log(f"{kk}: " + ", ".join(f"{a} {b if isinstance(b, list) else round(b, 3)}" for a, b in res[kk].items()))
    log(f"done, {res['seconds_per_net_mean']:.1f} s/net over {len(net_times)} nets")


if __name__ == "__main__":
    main()
