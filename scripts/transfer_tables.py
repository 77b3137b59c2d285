"""Regenerates the frozen-feature transfer tables of docs/transfer.md.

Two small-scale analogues of the paper's Sec. 5.2 / Table 6:

1. digits: the shipped `MiniZFNet(weights="fashion_mnist")` transferred to
   scikit-learn's 8x8 digits (resized to 28x28), 15 / 30 training images per
   class, 5 random splits; SVM and softmax on conv1..conv5, fc6, fc7, and the
   same net trained from scratch on the same images.
2. fashion 0-4 -> 5-9 (Yosinski et al. 2014 style class split): MiniZFNet
   pretrained with the package's recipe on Fashion-MNIST classes 0-4 (all
   their training images, a short schedule), then frozen features + softmax
   per layer on classes 5-9 with 15 / 30 labelled images per class (tested
   on their official test images), and the same net from scratch.

Usage:
    python scripts/transfer_tables.py [--output runs/transfer]
        [--pretrain-epochs 5] [--protocol digits|fashion|both]
        [--scratch-epochs 20] [--pretrain-only]

The pretraining run is resumable (rerun the command after an interruption).
Tables go to stdout and to `OUTPUT/*.md` / `*.csv`.
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


def _analyse(name, model, data, labels, output, scratch_epochs, **kwargs):
    """Linear probes on every layer (timed), then the scratch baseline."""
    import keras_zfnet as kz

    start = time.perf_counter()
    probes = kz.layer_analysis(model, list(LAYERS), data, labels,
                               per_class=(15, 30), splits=5,
                               classifiers=("svm", "softmax"), seed=0,
                               verbose=0, **kwargs)
    probe_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scratch = kz.layer_analysis(model, "fc7", data, labels,
                                per_class=(15, 30), splits=5,
                                classifiers="softmax", seed=0,
                                baseline="scratch",
                                baseline_epochs=scratch_epochs, verbose=0,
                                **kwargs)
    scratch_seconds = time.perf_counter() - start
    probes.to_csv(os.path.join(output, f"{name}_layers.csv"))
    scratch.to_csv(os.path.join(output, f"{name}_scratch.csv"))
    # one row per (classifier, layer, size, split): seed, test and
    # validation scores, chosen C
    probes.to_csv(os.path.join(output, f"{name}_layers_splits.csv"),
                  per_split=True)
    scratch.to_csv(os.path.join(output, f"{name}_scratch_splits.csv"),
                   per_split=True)
    caltech = ["| model | 15/class | 30/class |", "|---|---:|---:|"]
    for label, classifier, layer in (
            ("pretrained, frozen fc7 + softmax", "softmax", "fc7"),
            ("same net from scratch", "scratch", "all")):
        cells = []
        for k in (15, 30):
            row = scratch.row(classifier, layer, k)
            cells.append(f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f}")
        caltech.append(f"| {label} | " + " | ".join(cells) + " |")
    text = (f"### {name}: pretrained vs scratch (mean per-class accuracy %, "
            "5 splits)\n\n" + "\n".join(caltech)
            + f"\n\n### {name}: per layer (mean per-class accuracy %, "
            "5 splits)\n\n" + probes.to_markdown()
            + f"\n\nlinear probes: {probe_seconds:.0f} s (5 splits x 7 "
            f"layers x 2 classifiers x 2 sizes, features included); "
            f"scratch baseline: {scratch_seconds:.0f} s\n")
    with open(os.path.join(output, f"{name}.md"), "w") as f:
        f.write(text)
    print(text, flush=True)


def digits(output, scratch_epochs):
    import keras_zfnet as kz

    model = kz.MiniZFNet(weights="fashion_mnist")
    x, y = kz.datasets.digits.load_data(image_size=28)
    _analyse("digits", model, x[..., None].astype("float32"), y, output,
             scratch_epochs)


def fashion(output, pretrain_epochs, scratch_epochs):
    import keras_zfnet as kz

    model, summary = pretrain_0to4(output, pretrain_epochs)
    print(json.dumps(summary), flush=True)
    (x, y), (x_test, y_test) = kz.datasets.fashion_mnist.load_data()
    keep, test = y >= 5, y_test >= 5
    _analyse("fashion_5to9", model, x[keep][..., None].astype("float32"),
             y[keep], output, scratch_epochs,
             test_data=x_test[test][..., None].astype("float32"),
             test_labels=y_test[test], test_per_class=500)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="runs/transfer")
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--scratch-epochs", type=int, default=20)
    parser.add_argument("--protocol", default="both",
                        choices=("digits", "fashion", "both"))
    parser.add_argument("--pretrain-only", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    if args.pretrain_only:
        pretrain_0to4(args.output, args.pretrain_epochs)
        return 0
    if args.protocol in ("digits", "both"):
        digits(args.output, args.scratch_epochs)
    if args.protocol in ("fashion", "both"):
        fashion(args.output, args.pretrain_epochs, args.scratch_epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
