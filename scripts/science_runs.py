"""The training runs behind docs/results: Table 2 ablations, the Fig. 6 2x2
test and the Fig. 4 settle measure, at several seeds, resumable.

Every run trains a MiniZFNet variant with the package's recipe
(`keras_zfnet.training.train`: SGD momentum 0.9, learning rate 0.03 divided
by 10 on validation-loss plateaus of 2 epochs, batch 128, dropout, pad-2
crops and flips) on the same Fashion-MNIST training subset, until the
validation loss has not improved for `--stop-patience` epochs (at most
`--max-epochs`). The plan (cells x seeds) is listed in `PLAN`; runs go seed
by seed so that an interrupted plan has every cell at the same depth.

Cells:
- `zf_rms`: MiniZFNet as shipped (5x5/1 first layer, FilterRMS 0.1); the
  ablation baseline and one corner of the Fig. 6 square.
- `alex_rms`, `zf_norms`, `alex_norms`: the other corners (9x9/2 first
  layer; no FilterRMS).
- `no_conv3_conv4`, `no_fc6_fc7`: Table 2 ablations (FilterRMS 0.1).

Each finished run appends one row to `RESULTS/first_layer.csv` and / or
`RESULTS/ablations.csv` at once (seed, epochs, steps, settings, errors,
first-layer measures). `zf_rms` runs also record, after every epoch, the
peak activation of every conv1..conv5 channel on 500 fixed test images, and
append per-layer settle epochs to `RESULTS/evolution.csv`. A run that is
killed continues from its last backup when the script is run again; a run
with a row is skipped.

Usage:
    python scripts/science_runs.py --runs runs/science --results docs/results
        [--seeds 0,1,2] [--cells zf_rms,alex_rms] [--train-images 12000]
"""

import argparse
import csv
import json
import os
import time

PLAN = {
    "zf_rms": dict(first_layer="zfnet", filter_rms=0.1, remove=()),
    "alex_rms": dict(first_layer="alexnet", filter_rms=0.1, remove=()),
    "zf_norms": dict(first_layer="zfnet", filter_rms=None, remove=()),
    "alex_norms": dict(first_layer="alexnet", filter_rms=None, remove=()),
    "no_conv3_conv4": dict(first_layer="zfnet", filter_rms=0.1,
                           remove=("conv3", "conv4")),
    "no_fc6_fc7": dict(first_layer="zfnet", filter_rms=0.1,
                       remove=("fc6", "fc7")),
}
FIRST_LAYER_CELLS = ("zf_rms", "alex_rms", "zf_norms", "alex_norms")
ABLATION_CELLS = {"zf_rms": "baseline", "no_conv3_conv4": "no_conv3_conv4",
                  "no_fc6_fc7": "no_fc6_fc7"}
EVOLUTION_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
SETTLE_R = 0.9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="runs/science")
    parser.add_argument("--results", default="docs/results")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cells", default=",".join(PLAN))
    parser.add_argument("--train-images", type=int, default=12000)
    parser.add_argument("--validation-size", type=int, default=2000)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--stop-patience", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=0.03)
    parser.add_argument("--probe-images", type=int, default=500)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    cells = args.cells.split(",")
    for cell in cells:
        if cell not in PLAN:
            parser.error(f"unknown cell {cell!r}; choose from {list(PLAN)}")
    os.makedirs(args.results, exist_ok=True)
    for seed in seeds:
        for cell in cells:
            run(cell, seed, args)
    return 0


def _done(results, cell, seed):
    name = "first_layer.csv" if cell in FIRST_LAYER_CELLS else "ablations.csv"
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return False
    with open(path, newline="") as f:
        return any(r["cell"] == cell and int(r["seed"]) == seed
                   for r in csv.DictReader(f))


def _append(path, row):
    exists = os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if not exists:
            writer.writeheader()
        writer.writerow(row)


def run(cell, seed, args):
    if _done(args.results, cell, seed):
        return
    import keras
    import numpy as np

    from keras_zfnet import datasets
    from keras_zfnet import training
    from keras_zfnet.analysis import diagnose
    from keras_zfnet.applications.ablations import MiniZFNetVariant

    settings = PLAN[cell]
    out = os.path.join(args.runs, cell, f"seed{seed}")
    os.makedirs(out, exist_ok=True)
    (x, y), (x_test, y_test) = datasets.fashion_mnist.load_data()
    x, y = x[:args.train_images], y[:args.train_images]
    x_test = x_test[..., None].astype("float32")
    keras.utils.set_random_seed(seed)
    train_ds, val_ds = training.small_image_pipelines(
        x, y, 128, args.validation_size, seed=seed)

    def build():
        return MiniZFNetVariant(name=f"{cell}_seed{seed}", **settings)

    callbacks = [ResumableEarlyStopping(os.path.join(out, "stop.json"),
                                        args.stop_patience),
                 keras.callbacks.TerminateOnNaN()]
    if cell == "zf_rms":
        callbacks.append(ActivationRecorder(
            os.path.join(out, "evolution"), x_test[:args.probe_images]))
    start = time.perf_counter()
    model = training.train(build, train_ds, val_ds, out, args.max_epochs,
                           learning_rate=args.learning_rate,
                           callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - start
    with open(os.path.join(out, "log.csv")) as f:
        log = list(csv.DictReader(f))
    epochs = len({int(r["epoch"]) for r in log})
    steps_per_epoch = -(-(args.train_images - args.validation_size) // 128)
    val_loss = [float(r["val_loss"]) for r in log]
    _, test_acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    _, val_acc = model.evaluate(val_ds, verbose=0)
    base = dict(
        cell=cell, seed=seed,
        first_layer=settings["first_layer"],
        filter_rms=settings["filter_rms"] or "none",
        removed="+".join(settings["remove"]) or "none",
        train_images=args.train_images - args.validation_size,
        validation_images=args.validation_size,
        epochs=epochs, steps=epochs * steps_per_epoch,
        learning_rate=args.learning_rate,
        final_learning_rate=float(log[-1].get("learning_rate", "nan")),
        best_val_loss=round(min(val_loss), 5) if val_loss else "nan",
        val_error=round(100 * (1 - float(val_acc)), 2),
        test_error=round(100 * (1 - float(test_acc)), 2),
        params=int(model.count_params()),
        seconds=round(seconds, 1),
        diverged=int(not np.isfinite(model.get_weights()[0]).all()),
    )
    if cell in ABLATION_CELLS:
        row = dict(variant=ABLATION_CELLS[cell], **base)
        _append(os.path.join(args.results, "ablations.csv"), row)
    if cell in FIRST_LAYER_CELLS:
        row = dict(base)
        row.update(_first_layer_measures(diagnose, model, x_test[:256]))
        _append(os.path.join(args.results, "first_layer.csv"), row)
        kernels = {w.path.replace("/", "_"): w.numpy() for w in model.weights
                   if w.path.split("/")[0] in ("conv1", "conv2")
                   and w.path.endswith("kernel")}
        folder = os.path.join(args.results, "first_layer_kernels")
        os.makedirs(folder, exist_ok=True)
        np.savez_compressed(os.path.join(folder, f"{cell}_seed{seed}.npz"),
                            **kernels)
    if cell == "zf_rms":
        for row in settle_rows(os.path.join(out, "evolution"), seed):
            _append(os.path.join(args.results, "evolution.csv"), row)
    print(json.dumps(base), flush=True)


def _first_layer_measures(diagnose, model, images):
    import numpy as np

    weights = model.get_layer("conv1").kernel.numpy()
    if not np.isfinite(weights).all():
        return dict(dead="nan", dominant="nan", aliasing="nan")
    result = diagnose(model, images)
    row = {}
    for key, value in result.measures.items():
        if isinstance(value, (int, float, np.integer, np.floating)) and not (
                isinstance(value, bool)):
            row[key] = round(float(value), 5)
        elif isinstance(value, (tuple, list, np.ndarray)):
            array = np.asarray(value)
            if array.ndim == 1 and array.size <= 4 and array.dtype.kind == "f":
                for i, v in enumerate(array):
                    row[f"{key}_{i}"] = round(float(v), 5)
            elif array.ndim == 1 and array.dtype.kind in "iu":
                row[f"{key}_count"] = int(array.size)
    row["findings"] = "+".join(sorted({f.kind for f in result.findings})) or (
        "none")
    return row


def settle_rows(folder, seed, r=SETTLE_R):
    """Per layer: the epoch from which each channel's activation vector over
    the probe images correlates >= r with the last epoch's, mean and std
    over channels."""
    import numpy as np

    files = sorted(f for f in os.listdir(folder) if f.endswith(".npz"))
    epochs = [int(f.split("_")[1].split(".")[0]) for f in files]
    records = [np.load(os.path.join(folder, f)) for f in files]
    rows = []
    for layer in EVOLUTION_LAYERS:
        stack = np.stack([rec[layer].astype("float64") for rec in records])
        final = stack[-1]
        corr = np.array([_column_corr(s, final) for s in stack])  # (E, C)
        ok = corr >= r
        settle = []
        for c in range(corr.shape[1]):
            later_all = np.logical_and.accumulate(ok[::-1, c])[::-1]
            first = int(np.argmax(later_all))
            settle.append(epochs[first])
        settle = np.array(settle, dtype="float64")
        rows.append(dict(seed=seed, layer=layer, r=r, epochs=epochs[-1],
                         probe_images=int(final.shape[0]),
                         channels=int(final.shape[1]),
                         settle_mean=round(float(settle.mean()), 3),
                         settle_std=round(float(settle.std()), 3),
                         settle_median=float(np.median(settle))))
    return rows


def _column_corr(a, b):
    import numpy as np

    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    num = (a * b).sum(0)
    return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def _callbacks():
    import keras

    class ResumableEarlyStopping(keras.callbacks.Callback):
        """Stops when `val_loss` has not improved for `patience` epochs;
        its counters live in a JSON file, so a resumed run stops where an
        uninterrupted one would."""

        def __init__(self, path, patience):
            super().__init__()
            self.path, self.patience = path, patience

        def on_epoch_end(self, epoch, logs=None):
            state = dict(best=float("inf"), wait=0)
            if os.path.exists(self.path):
                with open(self.path) as f:
                    state = json.load(f)
            loss = float((logs or {}).get("val_loss", float("nan")))
            if loss < state["best"]:
                state = dict(best=loss, wait=0)
            else:
                state["wait"] += 1
            with open(self.path + ".tmp", "w") as f:
                json.dump(state, f)
            os.replace(self.path + ".tmp", self.path)
            if state["wait"] >= self.patience:
                self.model.stop_training = True

    class ActivationRecorder(keras.callbacks.Callback):
        """Saves, after every epoch, each conv channel's peak activation on
        every probe image (`epoch_XXX.npz`, float16)."""

        def __init__(self, folder, probes):
            super().__init__()
            self.folder, self.probes = folder, probes

        def on_epoch_end(self, epoch, logs=None):
            import numpy as np

            os.makedirs(self.folder, exist_ok=True)
            outputs = [self.model.get_layer(n).output
                       for n in EVOLUTION_LAYERS]
            features = keras.Model(self.model.inputs, outputs)
            maps = features.predict(self.probes, batch_size=250, verbose=0)
            peaks = {n: m.max(axis=(1, 2)).astype("float16")
                     for n, m in zip(EVOLUTION_LAYERS, maps)}
            path = os.path.join(self.folder, f"epoch_{epoch + 1:03d}.npz")
            np.savez_compressed(path + ".tmp.npz", **peaks)
            os.replace(path + ".tmp.npz", path)

    return ResumableEarlyStopping, ActivationRecorder


def __getattr__(name):
    classes = dict(zip(("ResumableEarlyStopping", "ActivationRecorder"),
                       _callbacks()))
    if name in classes:
        return classes[name]
    raise AttributeError(name)


if __name__ == "__main__":
    import sys

    ResumableEarlyStopping, ActivationRecorder = _callbacks()
    raise SystemExit(main(sys.argv[1:]))
