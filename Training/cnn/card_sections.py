#!/usr/bin/env python3
"""The long form of the "Candidate: small CNN on log-mel patches (not shipped)" card sections
(settings, both models side by side, paired differences, per-fold and per-sub-database tables,
murmur patient confusion), from ``Training/cnn/results.json`` (written by ``train_cnn.py``).
The cards carry a short form of it. From the repository root:

    python3 Training/cnn/card_sections.py            # prints the three sections
    python3 Training/cnn/card_sections.py --append   # appends each to Models/<task>.md,
                                                      # unless the card already has it

``Training/train_models.py`` rewrites the cards from scratch, so after retraining run
``--append`` again (and re-run ``train_cnn.py --features ...`` first if the split, the labels or
the shipped models changed). Needs the paired figures, i.e. results.json from a run with
``--features``. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HEADING = "## Candidate: small CNN on log-mel patches (not shipped)"


def f3(v):
    if v is None or v[0] is None:
        return "n/a"
    if v[1] is None:
        return f"{v[0]:.3f}"
    return f"{v[0]:.3f} ({v[1]:.3f}–{v[2]:.3f})"


def fd(v):
    return f"{v[0]:+.3f} ({v[1]:+.3f} to {v[2]:+.3f})"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def common(r, task):
    c = r["config"]
    t = r["timings"]
    return [
        HEADING, "",
        f"Issue 12 asks for a feature model and a small CNN to be compared on the honest split. "
        f"This is the CNN, evaluated out-of-fold by `python3 Training/cnn/train_cnn.py --data ../shared/data "
        f"--features FEATURES.csv` ({r['date']}; torch {r['versions']['torch']}, one CPU thread; "
        f"figures in `Training/cnn/results.json`). It is **not shipped** for this task (clinic can run a "
        f"CNN of this kind: clinic-model format 2, `Training/cnn/ship_murmur.py`). The \"shipped\" "
        f"columns below are the feature model as that run recomputed it (`train_models.run_task` on the same "
        f"features CSV; git HEAD {(r.get('git_commit') or 'unknown')[:7]}); they equal this card's headline when "
        f"both come from the same CSV and train_models.py (Training/retrain runs them together).", "",
        f"- Input: one assess-v1 log-mel patch (32 Slaney mel bands 20–720 Hz × 96 frames = 3.07 s, "
        f"every 48 frames), computed by the Python twin `Training/assess_v1.py` (the Swift features "
        f"CSV carries no patches; on the 45 scalars the twin and Swift agree so closely that the "
        f"shipped quality model's p differs by at most 1.3e-14), standardised per band with the training recordings' "
        f"patches. Network: 3 × [3×3 conv ({'-'.join(map(str, c['channels']))} channels), batch norm, "
        f"ReLU, 2×2 max pool], global average pool, dropout {c['dropout']}, one logit (about 6,000 "
        f"weights). AdamW lr {c['lr']}, weight decay {c['weight_decay']}, {c['steps']} steps of "
        f"{c['batch']} patches (warm-up then cosine), class-balanced sampling of recordings, one "
        f"random patch each, ±{c['gain_jitter_db']:g} dB gain jitter. Recording p = mean of its "
        f"patches' sigmoid outputs. Everything fixed before any test fold was scored; nothing tuned; "
        f"seeds fixed. Channels 8-16-32, not 16-32-64, to fit the CPU budget (about 24 s a network).",
        f"- Split: the same outer folds as the shipped model (the script asserts that its fold "
        f"assignment equals `train_models.run_task`'s, row by row). In each outer training part, "
        f"one network per inner fold (the same inner folds as `train_models.py`) gives inner "
        f"out-of-fold p; the threshold (balanced accuracy, `best_threshold`)"
        + (" and the patient rule (`choose_patient_rule`) are" if task == "murmur" else " is")
        + " chosen on them. Then a network trained on the whole outer training part predicts "
        f"the outer test part once. No Platt scaling: the CNN's p is not calibrated, and these "
        f"figures depend only on the order of p.",
        f"- Intervals: the same 1000-resample cluster bootstrap as the card (`train_models.boot_weights`). "
        f"'CNN − shipped' is paired: both models' out-of-fold predictions under the same resamples. "
        f"The shipped figures below were recomputed by the same run (`train_models.run_task` on the "
        f"Swift features) and equal this card's headline.",
        f"- Run time: {t['total_s'] / 60:.0f} minutes for the three tasks (57 networks) on the "
        f"shared 2-core machine, plus about 2.5 minutes to compute the 44,629 patches once.", ""]


def quality(r):
    q = r["tasks"]["quality"]
    s, d = q["shipped"], q["paired_cnn_minus_shipped"]
    L = common(r, "quality")
    rows = []
    for label, k in (("PhysioNet 2016 + PASCAL artifacts", "all"), ("PhysioNet 2016 alone", "physionet")):
        for name, m in (("CNN", q[k]), (f"shipped ({s['kind']})", s[k])):
            rows.append([label, name, m["n"], f3(m["auc"]), f3(m["balanced_accuracy"]),
                         f3(m["sensitivity"]), f3(m["specificity"]), f3(m["accuracy"])])
    L += table(["rows", "model", "n", "AUC", "balanced accuracy (in-fold threshold)",
                "sensitivity (acceptable)", "specificity (unacceptable)", "accuracy"], rows)
    L += ["", f"CNN − shipped: AUC {fd(d['auc_all'])}, balanced accuracy {fd(d['balanced_accuracy_all'])}; "
              f"PhysioNet alone AUC {fd(d['auc_physionet'])}, balanced accuracy {fd(d['balanced_accuracy_physionet'])}.", "",
          "Per outer fold (CNN; the test part is the held-out sub-database plus that fold's PASCAL "
          "artifacts) and per held-out sub-database (both models):", ""]
    rows = []
    for f in q["per_fold"]:
        db = f["held_out_subdb"][0]
        cs, ss = q["per_stratum"][f"physionet2016-{db}"], s["per_stratum"][f"physionet2016-{db}"]
        rows.append([f["fold"], db, f["n_test"], f"{f['inner_oof_auc']:.3f}", f"{f['threshold']:.3f}",
                     f"{f['test_auc']:.3f}", f"{f['test_balanced_accuracy']:.3f}",
                     f3(cs["auc"]), f3(ss["auc"]), f3(cs["balanced_accuracy"]), f3(ss["balanced_accuracy"])])
    L += table(["fold", "held out", "test rows", "CNN inner OOF AUC", "CNN threshold", "CNN fold AUC",
                "CNN fold BA", "sub-db AUC, CNN", "sub-db AUC, shipped", "sub-db BA, CNN",
                "sub-db BA, shipped"], rows)
    L += ["", "PASCAL artifacts (31, all unacceptable): both models call all of them unacceptable.", "",
          f"**Verdict: the shipped logistic model wins clearly** (AUC {f3(s['all']['auc'])} against "
          f"{f3(q['all']['auc'])}, {fd(d['auc_all'])}); the CNN is worse on every held-out "
          f"sub-database (paired difference far below zero). A likely reason, not tested: quality is "
          f"a whole-recording property (noise, contact, clipping over 5–120 s) that the scalar "
          f"features summarise and a mean over 3-s patches does not.", ""]
    return "\n".join(L)


def abnormal(r):
    a = r["tasks"]["abnormal"]
    s, d = a["shipped"], a["paired_cnn_minus_shipped"]
    L = common(r, "abnormal")
    rows = []
    for label, k in (("PhysioNet 2016 + BMD-HS", "all"), ("PhysioNet 2016 (each sub-db held out)", "physionet_lodo"),
                     ("BMD-HS (patients held out)", "bmd_hs")):
        for name, m in (("CNN", a[k]), (f"shipped ({s['kind']})", s[k])):
            rows.append([label, name, m["n"], f3(m["auc"]), f3(m["balanced_accuracy"]),
                         f3(m["sensitivity"]), f3(m["specificity"]), f3(m["accuracy"])])
    L += table(["rows", "model", "n", "AUC", "MAcc (in-fold threshold)", "sensitivity", "specificity",
                "accuracy"], rows)
    L += ["", "CNN − shipped: " + "; ".join(
        f"{lab} AUC {fd(d['auc_' + k])}, MAcc {fd(d['ba_' + k])}"
        for lab, k in (("all", "all"), ("PhysioNet", "physionet_lodo"), ("BMD-HS", "bmd_hs"))) + ".", "",
        "Per outer fold (CNN; the test part is the held-out PhysioNet sub-database plus that fold's "
        "BMD-HS patients) and per held-out sub-database (both models; PhysioNet leave-one-database-out):", ""]
    rows = []
    for f in a["per_fold"]:
        db = f["held_out_subdb"][0]
        cs, ss = a["per_stratum"][f"physionet2016-{db}"], s["per_stratum"][f"physionet2016-{db}"]
        rows.append([f["fold"], db, f["n_test"], f"{f['inner_oof_auc']:.3f}", f"{f['threshold']:.3f}",
                     f"{f['test_auc']:.3f}", f"{f['test_balanced_accuracy']:.3f}",
                     f3(cs["auc"]), f3(ss["auc"]), f3(cs["balanced_accuracy"]), f3(ss["balanced_accuracy"])])
    L += table(["fold", "held out", "test rows", "CNN inner OOF AUC", "CNN threshold", "CNN fold AUC",
                "CNN fold MAcc", "sub-db AUC, CNN", "sub-db AUC, shipped", "sub-db MAcc, CNN",
                "sub-db MAcc, shipped"], rows)
    pl = a["per_stratum"]
    L += ["", "The fold AUC mixes the held-out sub-database with that fold's BMD-HS patients, so it "
              "largely measures telling the two data sets apart; the sub-db columns are the honest "
              "leave-one-database-out figures.", "",
          f"**Verdict: the shipped model wins** (pooled AUC {f3(s['all']['auc'])} against "
              f"{f3(a['all']['auc'])}, {fd(d['auc_all'])}; PhysioNet leave-one-database-out "
              f"{f3(s['physionet_lodo']['auc'])} against {f3(a['physionet_lodo']['auc'])}), and neither "
              f"is usable across databases. The CNN is no way out of the database shift: on held-out "
              f"sub-databases d and e it ranks the wrong way round (AUC {pl['physionet2016-d']['auc'][0]:.2f} "
              f"and {pl['physionet2016-e']['auc'][0]:.2f}), it is only slightly better than the shipped "
              f"model on a ({pl['physionet2016-a']['auc'][0]:.2f}), and on BMD-HS it is lower "
              f"({f3(a['bmd_hs']['auc'])}).", ""]
    return "\n".join(L)


def murmur(r):
    m = r["tasks"]["murmur"]
    s, d = m["shipped"], m["paired_cnn_minus_shipped"]
    L = common(r, "murmur")
    rows = [["patient weighted accuracy (2022 challenge weights)", f3(m["patient_weighted_accuracy"]),
             f3(s["patient_weighted_accuracy"]), fd(d["patient_weighted_accuracy"])],
            ["recording AUC (present vs absent)", f3(m["recording"]["auc"]), f3(s["recording"]["auc"]),
             fd(d["recording_auc"])],
            ["recording balanced accuracy (in-fold BA threshold)", f3(m["recording"]["balanced_accuracy"]),
             f3(s["recording"]["balanced_accuracy"]), fd(d["recording_balanced_accuracy"])],
            ["recording accuracy at the fold rule's hi", f3(m["recording_at_hi"]["accuracy"]),
             f3(s["recording_at_hi"]["accuracy"]), ""],
            ["recording sensitivity / specificity at hi",
             f"{m['recording_at_hi']['sensitivity'][0]:.3f} / {m['recording_at_hi']['specificity'][0]:.3f}",
             f"{s['recording_at_hi']['sensitivity'][0]:.3f} / {s['recording_at_hi']['specificity'][0]:.3f}", ""]]
    L += table(["figure (out-of-fold, 95% CI)", "CNN", f"shipped ({s['kind']})", "CNN − shipped (paired)"], rows)
    L += ["", f"Patient rule: the card's rule (m = the largest p over the patient's recordings that "
              f"count, very-bad recordings never count, gate and lo ≤ hi searched), chosen in each outer "
              f"fold on the inner out-of-fold p of the training patients. {m['n_patients']} patients.", ""]
    rows = []
    for f in m["per_fold"]:
        pr = f["patient_rule"]
        rows.append([f["fold"], f["n_test"], f["test_patients"], f"{f['inner_oof_auc']:.3f}",
                     f"{f['test_auc']:.3f}", f"{f['test_balanced_accuracy']:.3f}",
                     f"lo {pr['lo']:.3f}, hi {pr['hi']:.3f}, gate {'on' if pr['quality_gate'] else 'off'}",
                     f"{f['patient_rule_inner_wacc']:.3f}", f"{f['test_patient_weighted_accuracy']:.3f}"])
    L += ["Per outer fold (CNN):", ""]
    L += table(["fold", "test recordings", "test patients", "inner OOF AUC", "test recording AUC",
                "test recording BA", "patient rule (chosen in-fold)", "rule's inner WA", "test patient WA"], rows)
    cm = m["patient_confusion"]
    cls = ("present", "unknown", "absent")
    L += ["", "Patient confusion (CNN, out-of-fold; rows = truth):", ""]
    L += table(["truth \\ call"] + list(cls), [[t] + [cm.get(t, {}).get(c, 0) for c in cls] for t in cls])
    w = d["patient_weighted_accuracy"]
    who = ("the CNN wins" if w[1] > 0 else f"the shipped {s['kind']} model wins" if w[2] < 0 else
           "no clear winner")
    L += ["", f"**Verdict: {who}** on the paired patient weighted accuracy (CNN − shipped "
              f"{fd(w)}: {f3(m['patient_weighted_accuracy'])} against {f3(s['patient_weighted_accuracy'])}); "
              f"recording AUC {f3(m['recording']['auc'])} against {f3(s['recording']['auc'])} "
              f"(paired {fd(d['recording_auc'])}). "
              + ("The CNN would ship (Training/cnn/ship_murmur.py) once refitted on all CirCor rows. " if w[1] > 0 else
                 "The feature model stays shipped: it is also far smaller and needs no patches. ")
              + "Caveats: CirCor only (one device, mostly children, 40% of its patients); untested on "
              "other data sets; one architecture tried, so no selection effect beyond the CNN-vs-features "
              "choice itself.", ""]
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args()
    with open(args.results) as fh:
        r = json.load(fh)
    for task, fn in (("quality", quality), ("abnormal", abnormal), ("murmur", murmur)):
        with open(os.path.join(REPO, "Models", f"{task}.json")) as fh:
            if json.load(fh)["kind"] == "cnn":
                # shipped: its card (Training/cnn/ship_murmur.py) compares it with the feature models
                print(f"Models/{task}.json is the CNN: no candidate section")
                continue
        text = fn(r)
        if not args.append:
            print(text)
            continue
        path = os.path.join(REPO, "Models", f"{task}.md")
        with open(path) as fh:
            card = fh.read()
        # the section is always the card's last: an older one is replaced
        kept = card[:card.index(HEADING)].rstrip("\n") + "\n" if HEADING in card else card
        with open(path, "w") as fh:
            fh.write(kept + ("" if kept.endswith("\n") else "\n") + "\n" + text)
        print(f"{'replaced the section in' if HEADING in card else 'appended to'} {os.path.relpath(path, REPO)}")


if __name__ == "__main__":
    main()
