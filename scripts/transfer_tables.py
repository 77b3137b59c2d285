"""Regenerates the frozen-feature transfer tables of docs/transfer.md.

Two small-scale analogues of the paper's Sec. 5.2 / Table 6:

1. digits: the shipped `MiniZFNet(weights="fashion_mnist")` transferred to
   scikit-learn's 8x8 digits (resized to 28x28), 15 / 30 training images per
   class, 5 random splits; SVM and softmax on conv1..conv5, fc6, fc7, and the
   same net trained from scratch (tuned on a held-out part of each split,
   stopped when validation accuracy stops improving) and linear probes on
   raw pixels, on the same splits.
2. fashion 0-4 -> 5-9 (Yosinski et al. 2014 style class split): MiniZFNet
   pretrained with the package's recipe on Fashion-MNIST classes 0-4 (all
   their training images, a short schedule), then the same probes, pixel
   control and tuned scratch baseline on classes 5-9 with 15 / 30 labelled
   images per class (tested on 500 of their official test images each).

Usage:
    python scripts/transfer_tables.py [--output runs/transfer]
        [--pretrain-epochs 5] [--protocol digits|fashion|both]
        [--scratch-epochs 200] [--results docs/results] [--pretrain-only]

The pretraining run is resumable (rerun the command after an interruption).
Each finished (protocol, size) is written at once and skipped on a rerun:
one row per (classifier, layer, split) in
`RESULTS/transfer_<protocol>_<k>.csv`, the scratch baseline's chosen
settings, epochs and steps per split in `..._<k>_scratch.csv`, and the
tables with paired differences in `OUTPUT/<protocol>_<k>.md`.
"""

import argparse
import json
import os
import sys
import time

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")


def pretrain_0to4(output, epochs, seed=0, verbose=2):
    """MiniZFNet trained on Fashion-MNIST classes 0-4 (package recipe)."""
    import keras

    import keras_zfnet as kz
    from keras_zfnet import training

    run = os.path.join(output, "fashion_0to4")
    weights = os.path.join(run, "model.weights.h5")

    def build():
        return kz.MiniZFNet(classes=5)

    summary_path = os.path.join(run, "summary.json")
    if os.path.exists(summary_path):
        model = build()
        model.load_weights(weights)
        return model, json.load(open(summary_path))
    keras.utils.set_random_seed(seed)
    (x, y), (x_test, y_test) = kz.datasets.fashion_mnist.load_data()
    keep = y < 5
    train_ds, val_ds = training.small_image_pipelines(
        x[keep], y[keep], batch_size=128, validation_size=3000, seed=seed)
    drops = [epochs - 1]  # the last epoch at a tenth of the rate
    model = training.train(build, train_ds, val_ds, run, epochs,
                           learning_rate=0.03, lr_drops=drops,
                           verbose=verbose)
    test = y_test < 5
    _, accuracy = model.evaluate(x_test[test][..., None].astype("float32"),
                                 y_test[test], batch_size=256, verbose=0)
    summary = dict(
        classes="Fashion-MNIST 0-4", train_images=int(keep.sum()) - 3000,
        epochs=epochs, learning_rate=0.03, lr_drops=drops, seed=seed,
        test_accuracy_0to4=round(float(accuracy), 4),
        train_seconds=round(training.training_seconds(run), 1),
    )
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2), flush=True)
    return model, summary


SIZES = (15, 30)


def missing_sizes(name, results):
    """The training-set sizes whose CSVs are not yet under `results` (a
    finished size is kept: delete its CSVs to rerun it, e.g. with other
    settings)."""
    missing = []
    for k in SIZES:
        done = all(os.path.exists(os.path.join(results, f"transfer_{name}_{k}"
                                               f"{suffix}.csv"))
                   for suffix in ("", "_scratch"))
        if done:
            print(f"{name} {k}/class: done (its CSVs are in {results})",
                  flush=True)
        else:
            missing.append(k)
    return missing


def _analyse(name, model, data, labels, output, results, scratch_epochs,
             **kwargs):
    """Per training-set size: linear probes on every layer and on raw
    pixels, and the tuned scratch baseline, over the same 5 splits (one
    `layer_analysis` call, so every paired difference is over the same
    splits). Each finished size is written at once (per-split CSV under
    `results`, Markdown under `output`) and skipped on a rerun."""
    import csv

    import keras_zfnet as kz

    for k in missing_sizes(name, results):
        splits_csv = os.path.join(results, f"transfer_{name}_{k}.csv")
        runs_csv = os.path.join(results, f"transfer_{name}_{k}_scratch.csv")
        start = time.perf_counter()
        table = kz.layer_analysis(model, list(LAYERS), data, labels,
                                  per_class=(k,), splits=5,
                                  classifiers=("svm", "softmax"), seed=0,
                                  baseline="scratch",
                                  baseline_epochs=scratch_epochs,
                                  verbose=1, **kwargs)
        seconds = time.perf_counter() - start
        lines = [f"### {name}, {k} images per class (mean per-class "
                 f"accuracy %, 5 splits; {seconds:.0f} s)", "",
                 table.to_markdown(), ""]
        for reference in ("scratch", "pixels"):
            lines += [f"Paired difference to {reference} (points, 95% t "
                      "interval over the splits):", "",
                      "| classifier | layer | difference |",
                      "|---|---|---|"]
            for d in table.differences(reference):
                lines.append(f"| {d['classifier']} | {d['layer']} | "
                             f"{100 * d['mean']:+.1f} [{100 * d['low']:+.1f}"
                             f", {100 * d['high']:+.1f}] |")
            lines.append("")
        text = "\n".join(lines)
        with open(os.path.join(output, f"{name}_{k}.md"), "w") as f:
            f.write(text)
        fields = list(table.baseline_runs[0])
        with open(runs_csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["protocol", *fields])
            writer.writeheader()
            for run in table.baseline_runs:
                writer.writerow(dict(protocol=name, **run))
        table.to_csv(splits_csv, per_split=True)
        print(text, flush=True)


def digits(output, results, scratch_epochs):
    import keras_zfnet as kz

    model = kz.MiniZFNet(weights="fashion_mnist")
    x, y = kz.datasets.digits.load_data(image_size=28)
    _analyse("digits", model, x[..., None].astype("float32"), y, output,
             results, scratch_epochs)


def fashion(output, results, pretrain_epochs, scratch_epochs):
    import keras_zfnet as kz

    if not missing_sizes("fashion_5to9", results):
        return
    model, summary = pretrain_0to4(output, pretrain_epochs)
    print(json.dumps(summary), flush=True)
    (x, y), (x_test, y_test) = kz.datasets.fashion_mnist.load_data()
    keep, test = y >= 5, y_test >= 5
    _analyse("fashion_5to9", model, x[keep][..., None].astype("float32"),
             y[keep], output, results, scratch_epochs,
             test_data=x_test[test][..., None].astype("float32"),
             test_labels=y_test[test], test_per_class=500)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="runs/transfer")
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--results", default="docs/results",
                        help="where the per-split CSVs go")
    parser.add_argument("--scratch-epochs", type=int, default=200,
                        help="most epochs of one scratch setting (each "
                        "stops when validation accuracy stops improving)")
    parser.add_argument("--protocol", default="both",
                        choices=("digits", "fashion", "both"))
    parser.add_argument("--pretrain-only", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    os.makedirs(args.results, exist_ok=True)
    if args.pretrain_only:
        pretrain_0to4(args.output, args.pretrain_epochs)
        return 0
    if args.protocol in ("digits", "both"):
        digits(args.output, args.results, args.scratch_epochs)
    if args.protocol in ("fashion", "both"):
        fashion(args.output, args.results, args.pretrain_epochs,
                args.scratch_epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
