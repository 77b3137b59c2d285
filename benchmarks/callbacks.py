"""Training-time cost of the callbacks, measured side by side in one run.

MiniZFNet on Fashion-MNIST with the preset recipe's pipeline (batch 128,
crops and flips, SGD): epochs with and without the callbacks alternate on
the same model (`fit(initial_epoch=i, epochs=i + 1)`), so both conditions
see the same machine load. "With" means `FeatureEvolution` recording at
*every* epoch (2,000 probe images from the test set, 9 features in each of
conv1..conv5, `output_dir` and `tensorboard_dir` set: npz, PNG figure and
TensorBoard images every epoch) plus `FilterMonitor` (mosaic PNG,
TensorBoard image and statistics every epoch).

Prints the median epoch time of each condition and their ratio (target
<= 1.05x), the callbacks' own seconds per epoch (measured inside
`on_epoch_end`, less sensitive to machine load), and the process's
resident memory after every epoch with the callbacks (it must not grow).

Usage: python benchmarks/callbacks.py [--rounds 3] [--train-images 55000]
(`--train-images` below the full 55,000 shortens every epoch, which makes
the fixed per-epoch cost of the callbacks look larger than in real
training; the table then also gives the ratio projected to a full epoch.)
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_zfnet as kz  # noqa: E402
from keras_zfnet.training import compile_for_paper  # noqa: E402
from keras_zfnet.training import small_image_pipelines  # noqa: E402

LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5"]
FULL_TRAIN = 55000


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Timed(keras.callbacks.Callback):
    """Wraps a callback and adds up the seconds spent in its epoch end."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.seconds = 0.0

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.inner.set_params(params)

    def on_train_begin(self, logs=None):
        self.inner.on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        self.inner.on_epoch_end(epoch, logs)
        self.seconds += time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="epochs per condition (after one warm-up each)")
    parser.add_argument("--train-images", type=int, default=FULL_TRAIN)
    args = parser.parse_args(argv)

    (x, y), (x_test, _) = kz.datasets.fashion_mnist.load_data()
    x, y = x[:args.train_images + 5000], y[:args.train_images + 5000]
    train, _ = small_image_pipelines(x, y, 128, 5000, seed=0)
    probe = x_test[:2000, ..., None].astype("float32")
    keras.utils.set_random_seed(0)
    model = compile_for_paper(kz.MiniZFNet(), 0.03)
    folder = tempfile.mkdtemp(prefix="kz_bench_callbacks_")
    total = 2 * (args.rounds + 1)
    evolution = Timed(kz.callbacks.FeatureEvolution(
        probe, LAYERS, features=9, epochs=range(1, total + 1),
        output_dir=os.path.join(folder, "evolution"),
        tensorboard_dir=os.path.join(folder, "tb")))
    monitor = Timed(kz.callbacks.FilterMonitor(
        output_dir=os.path.join(folder, "filters"),
        tensorboard_dir=os.path.join(folder, "tb")))
    times = {"without": [], "with": []}
    inside = []
    memory = []
    epoch = 0
    for round_ in range(args.rounds + 1):
        for condition in ("without", "with"):
            callbacks = [evolution, monitor] if condition == "with" else []
            before = evolution.seconds + monitor.seconds
            start = time.perf_counter()
            model.fit(train, epochs=epoch + 1, initial_epoch=epoch,
                      callbacks=callbacks, verbose=0)
            seconds = time.perf_counter() - start
            epoch += 1
            if condition == "with":
                memory.append(rss_mib())
                spent = evolution.seconds + monitor.seconds - before
            if round_ == 0:
                continue  # warm-up: tracing and first-call costs
            times[condition].append(seconds)
            if condition == "with":
                inside.append(spent)
            print(f"epoch {epoch:2d} {condition:>7}: {seconds:7.1f} s"
                  + (f" (callbacks {spent:.2f} s, RSS {memory[-1]:.0f} MiB)"
                     if condition == "with" else ""), flush=True)

    without = statistics.median(times["without"])
    with_ = statistics.median(times["with"])
    cost = statistics.median(inside)
    steps = -(-args.train_images // 128)
    print()
    print(f"MiniZFNet, Fashion-MNIST, {args.train_images} training images "
          f"({steps} steps/epoch), {args.rounds} epochs per condition, "
          "alternating")
    print(f"{'measure':<52} {'value':>10} {'ratio':>8}  target")
    print("-" * 82)
    print(f"{'median epoch, no callbacks':<52} {without:>9.1f}s")
    print(f"{'median epoch, FeatureEvolution + FilterMonitor':<52} "
          f"{with_:>9.1f}s {with_ / without:>7.3f}x  <= 1.05x")
    print(f"{'callbacks own time per epoch (median)':<52} {cost:>9.2f}s "
          f"{1 + cost / without:>7.3f}x  (1 + cost / epoch)")
    if args.train_images != FULL_TRAIN:
        full = without * FULL_TRAIN / args.train_images
        print(f"{'projected to a full epoch (55,000 images)':<52} "
              f"{full:>9.1f}s {1 + cost / full:>7.3f}x  <= 1.05x")
    print(f"{'RSS after each epoch with callbacks (MiB)':<52} "
          + " ".join(f"{m:.0f}" for m in memory))
    print(f"outputs in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
