"""Architecture ablations (paper Table 2) on Fashion-MNIST with MiniZFNet.

Trains every variant of `keras_zfnet.applications.ablations.ABLATIONS` with
the package's recipe (`keras_zfnet.training.train`: SGD momentum 0.9,
learning rate annealed on validation plateaus, dropout, FilterRMS 0.1,
pad-2 crops and flips) and prints the train and test error of each.

The default schedule is short, for a shared 2-core machine: the first
`--train-images` (20,000) Fashion-MNIST training images, of which 2,000 are
held out for the learning-rate schedule, `--epochs` (2) epochs at learning
rate 0.03, batch 128, seed 0. Train error is measured on the 18,000 training
images (no augmentation, dropout off), test error on the official 10,000
test images. Each variant's run is resumable and its result cached in
`OUTPUT/<variant>/result.json`; rerun to continue.

Usage:
    python scripts/ablations.py --output runs/ablations [--epochs 2]
        [--train-images 20000] [--variants baseline,no_fc6_fc7]
"""

import argparse
import json
import os
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="runs/ablations")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=20000)
    parser.add_argument("--validation-size", type=int, default=2000)
    parser.add_argument("--learning-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=None,
                        help="comma-separated subset of the variants")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from keras_zfnet import datasets
    from keras_zfnet import training
    from keras_zfnet.applications import ablations

    names = (args.variants.split(",") if args.variants
             else list(ablations.ABLATIONS))
    (x, y), (x_test, y_test) = datasets.fashion_mnist.load_data()
    x, y = x[:args.train_images], y[:args.train_images]
    x_test = x_test[..., None].astype("float32")
    order = np.random.default_rng(args.seed).permutation(len(x))
    train_idx = order[:-args.validation_size]
    x_fit = x[train_idx][..., None].astype("float32")
    y_fit = y[train_idx]

    rows = []
    for name in names:
        out = os.path.join(args.output, name)
        result_path = os.path.join(out, "result.json")
        if os.path.exists(result_path):
            with open(result_path) as f:
                rows.append(json.load(f))
            continue
        keras.utils.set_random_seed(args.seed)
        train_ds, val_ds = training.small_image_pipelines(
            x, y, 128, args.validation_size, seed=args.seed)
        start = time.perf_counter()
        model = training.train(
            lambda name=name: ablations.ablation(name), train_ds, val_ds,
            out, args.epochs, learning_rate=args.learning_rate, verbose=2)
        _, train_acc = model.evaluate(x_fit, y_fit, batch_size=256,
                                      verbose=0)
        _, test_acc = model.evaluate(x_test, y_test, batch_size=256,
                                     verbose=0)
        row = dict(
            variant=name,
            params=int(model.count_params()),
            train_error=round(100 * (1 - float(train_acc)), 2),
            test_error=round(100 * (1 - float(test_acc)), 2),
            seconds=round(time.perf_counter() - start, 1),
        )
        with open(result_path, "w") as f:
            json.dump(row, f, indent=2)
        print(json.dumps(row), flush=True)
        rows.append(row)

    print(f"\n{args.epochs} epochs, {len(x_fit)} training images "
          f"({args.validation_size} held out), lr {args.learning_rate}, "
          f"seed {args.seed}\n")
    print("| variant | parameters | train error % | test error % |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['variant']} | {row['params']:,} | "
              f"{row['train_error']:.2f} | {row['test_error']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
