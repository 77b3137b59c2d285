"""Mean +- std tables of the multi-seed runs in `docs/results/` (issue 21).

Reads `first_layer.csv`, `ablations.csv` and `evolution.csv` (written by
`scripts/science_runs.py`) and prints Markdown: per Fig. 6 cell the test
error, filter-RMS spread, dead filters, mid-band share and second-layer
aliasing (mean +- std over seeds, n seeds); the two factors' effects as
paired differences over the seeds both cells have; the Table 2 ablations'
test error with the paired difference to the baseline; Fig. 4's settle epoch
per layer over seeds. A 95% interval (t distribution) is printed for every
paired difference; with fewer than 3 seeds nothing is called decided.

Usage: python scripts/science_summary.py [--results docs/results]
"""

import argparse
import csv
import os

import numpy as np

# Two-sided 95% t quantiles for n - 1 degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447,
       7: 2.365, 8: 2.306, 9: 2.262}
CELLS = ("zf_rms", "alex_rms", "zf_norms", "alex_norms")
MEASURES = (("test_error", "test error %", 2), ("rms_spread", "RMS spread",
            2), ("dead_by_norm", "dead filters", 1), ("band_mid",
            "mid-band share", 3), ("aliasing", "conv2 aliasing", 3))


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def by_seed(rows, cell, column, key="cell"):
    return {int(r["seed"]): float(r[column]) for r in rows
            if r[key] == cell and r[column] not in ("", "nan")}


def spread(values):
    values = np.asarray(list(values), "float64")
    if not len(values):
        return "-"
    std = values.std(ddof=1) if len(values) > 1 else float("nan")
    return f"{values.mean():.3g} ± {std:.2g} (n={len(values)})"


def paired(first, second):
    """Mean difference `first - second` over shared seeds, 95% interval."""
    seeds = sorted(set(first) & set(second))
    if not seeds:
        return "-", False
    diff = np.array([first[s] - second[s] for s in seeds])
    if len(diff) < 2:
        return f"{diff.mean():+.3g} (n=1)", False
    half = T95[len(diff) - 1] * diff.std(ddof=1) / np.sqrt(len(diff))
    decided = len(diff) >= 3 and (diff.mean() - half > 0 or
                                  diff.mean() + half < 0)
    return (f"{diff.mean():+.3g} [{diff.mean() - half:+.3g}, "
            f"{diff.mean() + half:+.3g}] (n={len(diff)})"), decided


def fig6(rows):
    print("### Fig. 6 cells (mean ± std over seeds)\n")
    print("| cell | " + " | ".join(m[1] for m in MEASURES) + " |")
    print("| --- |" + " ---: |" * len(MEASURES))
    for cell in CELLS:
        cells = [spread(by_seed(rows, cell, m[0]).values()) for m in MEASURES]
        print(f"| {cell} | " + " | ".join(cells) + " |")
    print("\n### Fig. 6 factors (paired over seeds, 95% t interval; * = "
          "decided: n >= 3 and the interval excludes 0)\n")
    print("| measure | AlexNet-style 9x9/2 minus ZF 5x5/1 (with FilterRMS) | "
          "same, without | no FilterRMS minus FilterRMS (ZF) | same, "
          "AlexNet-style |")
    print("| --- | --- | --- | --- | --- |")
    for column, label, _ in MEASURES:
        get = {c: by_seed(rows, c, column) for c in CELLS}
        pairs = [paired(get["alex_rms"], get["zf_rms"]),
                 paired(get["alex_norms"], get["zf_norms"]),
                 paired(get["zf_norms"], get["zf_rms"]),
                 paired(get["alex_norms"], get["alex_rms"])]
        print(f"| {label} | " + " | ".join(
            text + (" *" if decided else "") for text, decided in pairs)
            + " |")


def table2(rows, first_layer):
    print("\n### Table 2 ablations (test error %, paired difference to the "
          "baseline)\n")
    baseline = by_seed(first_layer, "zf_rms", "test_error")
    print("| variant | test error | minus baseline |")
    print("| --- | ---: | --- |")
    print(f"| baseline (zf_rms) | {spread(baseline.values())} | |")
    for variant in sorted({r["variant"] for r in rows} - {"baseline"}):
        errors = by_seed(rows, variant, "test_error", key="variant")
        text, decided = paired(errors, baseline)
        print(f"| {variant} | {spread(errors.values())} | "
              f"{text}{' *' if decided else ''} |")


def fig4(rows):
    print("\n### Fig. 4 settle epoch per layer (mean over channels per seed; "
          "mean ± std over seeds)\n")
    layers = sorted({r["layer"] for r in rows},
                    key=lambda n: (len(n), n))
    print("| layer | settle epoch | per seed |")
    print("| --- | ---: | --- |")
    for layer in layers:
        values = {int(r["seed"]): float(r["settle_mean"]) for r in rows
                  if r["layer"] == layer}
        print(f"| {layer} | {spread(values.values())} | " + ", ".join(
            f"{s}: {v:.1f}" for s, v in sorted(values.items())) + " |")
    if len(layers) > 1:
        first, last = ({int(r["seed"]): float(r["settle_mean"]) for r in rows
                        if r["layer"] == n} for n in (layers[0], layers[-1]))
        text, decided = paired(last, first)
        print(f"\n{layers[-1]} minus {layers[0]} (paired over seeds, 95% t "
              f"interval): {text}{' * (decided)' if decided else ''}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="docs/results")
    args = parser.parse_args(argv)
    first_layer = read(os.path.join(args.results, "first_layer.csv"))
    fig6(first_layer)
    table2(read(os.path.join(args.results, "ablations.csv")), first_layer)
    fig4(read(os.path.join(args.results, "evolution.csv")))


if __name__ == "__main__":
    main()
