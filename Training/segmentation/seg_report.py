"""Writes the model card (segmentation.md) from the results document of
train_segmentation.py."""

from __future__ import annotations

from pathlib import Path

LADDER = [
    ("springer", "A. Springer 2016 (adult): HR <= 120 bpm, adult durations, binary LR on 3 envelope features"),
    ("springer_children_range", "B. A + children range: HR 30-220 bpm, CirCor-fitted durations"),
    ("children_hsmm_hr", "C. B + windowed log-envelope autocorrelation, 3 HR candidates chosen by the HSMM"),
    ("children_softmax", "D. C + softmax LR over +-4 frames of 5 log band envelopes"),
    ("children", "E. **shipped**: D + HR periodicity from the S1 posterior"),
    ("springer_new_emission", "F. control: E's emissions with Springer's adult HR search and durations"),
]


def f(m, k, d=3):
    v = m[k]
    return f"{v['point']:.{d}f} ({v['lo']:.{d}f}–{v['hi']:.{d}f})"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def metric_row(label, m, n=None):
    row = [label] if n is None else [label, n]
    return row + [f(m, "s1_f1"), f(m, "s2_f1"), f(m, "hr_mae", 2), f(m, "hr_within5pct"), f(m, "frame_accuracy")]


HDR = ["S1 F1", "S2 F1", "HR MAE (bpm)", "HR within 5%", "frame accuracy"]


def write_card(doc, params, path: Path):
    C = doc["configs"]
    fin = C[doc["final_config"]]
    base = C.get("springer")
    d = doc["data"]
    L = []
    L.append(f"# Heart-cycle segmenter `{params['model_version']}` (draft model card)\n")
    L.append("Labels every 20 ms of a heart-sound recording as S1, systole, S2 or diastole, and "
             "derives S1/S2 onsets, heart rate and cycle-timing features from the labels. "
             "A duration-dependent hidden semi-Markov model after Springer et al. 2016 (IEEE TBME "
             "63(4):822-832), adapted to children. Parameters: `Models/segmentation.json` "
             "(`clinic-segmentation` v1); method: `Training/segmentation/segment.py`; figures: "
             "`Training/segmentation/results.json`.\n")
    L.append(f"Regenerate: `{doc['command']}` (about {doc['timing']['total_seconds'] / 60:.0f} minutes on "
             "the 2-core development machine, one thread).\n")
    L.append("## Intended use\n")
    L.append("A timing front end for the assessment models and for display (cycle markers, heart rate). "
             "Not a diagnostic device; its output has not been validated against ECG.\n")
    L.append("## Data\n")
    L.append(f"CirCor DigiScope 2022 (the 40% of its public training set in `../shared/data`): "
             f"{d['recordings']} recordings from {d['patients']} patients, all with S1/systole/S2/diastole "
             f"annotations; {d['annotated_frames']:,} annotated 20-ms frames; "
             f"{d['recordings_with_annotated_hr']} recordings have at least one complete annotated cycle "
             "(needed for the heart-rate truth). Age groups (recordings): "
             + ", ".join(f"{k} {v}" for k, v in d["age_groups"].items()) + ". "
             "The other datasets in `../shared/data` carry no segmentation and are not used.\n")
    L.append("## Evaluation\n")
    L.append(f"5-fold cross-validation by patient (`train_models.assign_folds`, groups = patient ids, "
             f"balanced on age group; recordings per fold {doc['split']['recordings_per_fold']}). Emission "
             "models and duration fits are trained on the training folds only. Metrics count only where "
             "the annotation is not state 0: a decoded S1 (S2) whose centre lies in an annotated stretch is a "
             "detection, a hit when within 60 ms of an annotated S1's (S2's) centre, matched one-to-one. "
             "Heart-rate truth: 60 / median interval between consecutive annotated S1 onsets (complete "
             "cycles); the estimate is the segmenter's output for the whole recording. 95% intervals: 1000 "
             "patient-bootstrap resamples of the pooled out-of-fold results.\n")
    L.append("### From Springer 2016 to the shipped model (pooled out-of-fold)\n")
    L.append(table(["configuration"] + HDR, [metric_row(lbl, C[k]["pooled"]) for k, lbl in LADDER if k in C]))
    L.append("")
    t_s1, t_s2, t_hr = fin["pooled"]["s1_f1"]["point"], fin["pooled"]["s2_f1"]["point"], fin["pooled"]["hr_mae"]["point"]
    L.append(f"Targets: S1 F1 ≥ 0.95 — **{'met' if t_s1 >= 0.95 else 'not met'}** ({t_s1:.3f}); "
             f"S2 F1 ≥ 0.95 — **{'met' if t_s2 >= 0.95 else 'not met'}** ({t_s2:.3f}); "
             f"HR error ≤ 3 bpm (MAE) — **{'met' if t_hr <= 3 else 'not met'}** ({t_hr:.2f} bpm; median "
             f"absolute error {fin['hr_abs_error_percentiles']['p50']:.2f} bpm, 90th percentile "
             f"{fin['hr_abs_error_percentiles']['p90']:.2f} bpm).\n")
    L.append("Configuration choices (features, context, HR signal, number of candidates) were made "
             "while looking at folds 0–1; folds 2–4 were not looked at until the final run, and give:\n")
    L.append(table(["configuration", "recordings"] + HDR,
                   [metric_row(lbl, C[k]["folds_2_4"], C[k]["folds_2_4"]["n_recordings"]) for k, lbl in LADDER if k in C]))
    L.append("")
    L.append("### Per fold\n")
    rows = []
    for k in ("springer", doc["final_config"]):
        if k not in C:
            continue
        for i, m in enumerate(C[k]["per_fold"]):
            rows.append([k, i, m["n_recordings"], m["n_patients"], f"{m['s1_f1']:.3f}", f"{m['s2_f1']:.3f}",
                         f"{m['hr_mae']:.2f}", f"{m['hr_within5pct']:.3f}", f"{m['frame_accuracy']:.3f}"])
    L.append(table(["config", "fold", "recordings", "patients"] + HDR, rows))
    L.append("")
    L.append("### By age group (shipped model; Springer baseline S1 / S2 F1 in the last column)\n")
    rows = []
    for ag, m in fin["by_age_group"].items():
        b = base["by_age_group"][ag] if base else None
        rows.append(metric_row(ag, m, f"{m['n_recordings']} / {m['n_patients']}")
                    + ([f"{b['s1_f1']['point']:.3f} / {b['s2_f1']['point']:.3f}"] if b else []))
    L.append(table(["age group", "recordings / patients"] + HDR + (["Springer S1 / S2"] if base else []), rows))
    L.append("")
    L.append("### By annotated heart rate (shipped model vs Springer baseline, point estimates)\n")
    rows = []
    for binname, m in fin["by_true_hr_bpm"].items():
        b = base["by_true_hr_bpm"].get(binname) if base else None
        rows.append([binname, m["n_recordings"], f"{m['s1_f1']:.3f}", f"{m['s2_f1']:.3f}", f"{m['hr_mae']:.2f}",
                     f"{b['s1_f1']:.3f}" if b else "", f"{b['s2_f1']:.3f}" if b else "", f"{b['hr_mae']:.2f}" if b else ""])
    L.append(table(["annotated HR (bpm)", "recordings", "S1 F1", "S2 F1", "HR MAE",
                    "Springer S1 F1", "Springer S2 F1", "Springer HR MAE"], rows))
    L.append("")
    L.append("### By patient murmur label (shipped model)\n")
    L.append(table(["murmur", "recordings"] + HDR,
                   [metric_row(k, m, m["n_recordings"]) for k, m in fin["by_murmur"].items()]))
    L.append("")
    tim = doc["timing"]
    L.append("## Cost\n")
    L.append(f"numpy reference, one thread, 20-s excerpt (1000 frames), this run: whole decode (emissions, heart rate, "
             f"{params['heart_rate']['n_candidates']} Viterbi runs) {tim['decode_total_ms_median']:.1f} ms, one "
             f"Viterbi run {tim['viterbi_one_run_ms_median']:.1f} ms (median of {tim['n_excerpts']} excerpts). "
             "The Viterbi is O(T · 4 · D) with D ≤ 100 frames (2 s); nearly all of the numpy time is loop "
             "overhead, a compiled port needs well under 1 ms per run.\n")
    dm = params["durations"]
    L.append("## Duration model (all data)\n")
    L.append("Mean duration (s) = a0 + a1·RR + a2·sys, standard deviation (s) = s0 + s1·RR, from the "
             "autocorrelation's period RR and systolic interval sys (s), fitted on "
             f"{dm.get('n_recordings', '?')} recordings whose heart-rate candidate agreed with the annotation:\n")
    rows = [[n] + [f"{v:.4f}" for v in a] + [f"{v:.4f}" for v in s]
            for n, a, s in zip(params["states"], dm["mean_coef"], dm["sd_coef"])]
    L.append(table(["state", "a0", "a1 (per s RR)", "a2 (per s sys)", "s0", "s1 (per s RR)"], rows))
    L.append("")
    ca = fin["hr_confidence_analysis"]
    L.append("## Known limits\n")
    L.append("\n".join([
        "- Trained and evaluated on CirCor 2022 only (one stethoscope type, Brazilian paediatric screening "
        "campaigns, mostly children). Adults, other stethoscopes and other datasets are untested here; "
        "PhysioNet 2016 has no public segmentation in `../shared/data`.",
        "- CirCor's annotations look tool-made: about 80% of the state durations are whole multiples of "
        "20 ms, and 75% of S1 widths (79% of S2 widths) are one of four values (S1: 0.12, 0.10, 0.14, "
        "0.16 s; S2: 0.10, 0.12, 0.08, 0.14 s), as a 50 Hz segmenter whose output annotators corrected "
        "would produce (the CirCor paper describes the procedure; it was not re-read for this card). Agreement with them partly measures agreement with "
        "that tool, the 20-ms grid limits the timing resolution, and the 60-ms centre tolerance hides width "
        "errors.",
        "- Fast hearts remain the weak spot: recordings annotated above 140 bpm (36 of the 49 are infants) score "
        f"S1 / S2 F1 {fin['by_true_hr_bpm'].get('140-250', {}).get('s1_f1', float('nan')):.3f} / "
        f"{fin['by_true_hr_bpm'].get('140-250', {}).get('s2_f1', float('nan')):.3f}, and infants as a group "
        f"{fin['by_age_group'].get('Infant', {}).get('s1_f1', {}).get('point', float('nan')):.3f} / "
        f"{fin['by_age_group'].get('Infant', {}).get('s2_f1', {}).get('point', float('nan')):.3f}.",
        "- Only the annotated stretches are scored (median 52% of a recording). The annotators left out "
        "parts of recordings, probably the hardest (noisy) ones, so accuracy over whole recordings is "
        "likely lower than these figures.",
        "- One heart rate per recording: the duration model assumes a stable rhythm. Arrhythmias, "
        "extra sounds (S3, S4, clicks, split S2 read as two sounds) and strong murmurs are not modelled.",
        f"- The heart-rate error is dominated by a few gross errors: {ca['n_gross']} of {ca['n']} recordings are more than 10% off. `hr_confidence` (the "
        f"autocorrelation peak) flags them with AUC {ca['auc_low_confidence_for_gross_error']:.2f} (median "
        f"{ca['median_confidence_gross']:.2f} for gross errors vs {ca['median_confidence_ok']:.2f}); dropping the "
        f"20% least confident recordings leaves MAE {ca['by_threshold']['drop_lowest_20pct']['hr_mae']:.2f} bpm "
        f"and {100 * ca['by_threshold']['drop_lowest_20pct']['gross_error_rate']:.1f}% gross errors.",
        "- Configuration choices were made on folds 0–1 of the same CV (see the folds 2–4 table).",
    ]))
    L.append("")
    path.write_text("\n".join(L) + "\n")
