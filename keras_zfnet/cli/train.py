"""`keras-zfnet train`: the paper's recipe from the command line."""

import json
import os
import shlex
import sys

from keras_zfnet.cli import inputs
from keras_zfnet.cli.arguments import non_negative_float
from keras_zfnet.utils.atomic import check_output_dir
from keras_zfnet.cli.arguments import non_negative_int
from keras_zfnet.cli.arguments import positive_float
from keras_zfnet.cli.arguments import positive_int
from keras_zfnet.cli.arguments import verbose_level

MODELS = ("mini_zfnet", "zfnet", "alexnet")
FASHION_MNIST_TRAIN_IMAGES = 60000


def add_parser(sub):
    parser = sub.add_parser(
        "train",
        help="train a model with the paper's recipe (resumable)",
        description=(
            "Train with SGD (momentum 0.9), learning rate annealed on "
            "validation plateaus, dropout, FilterRMS, crops and flips. "
            "Interrupt at any time and run the same command again to "
            "resume. Several GPUs are used with MirroredStrategy; set "
            "TF_CONFIG on every machine for MultiWorkerMirroredStrategy."
        ),
    )
    parser.add_argument("--model", choices=MODELS, default="mini_zfnet")
    parser.add_argument("--first-layer", default="zfnet",
                        choices=("zfnet", "alexnet"),
                        help="MiniZFNet first layer")
    parser.add_argument(
        "--dataset", default="fashion_mnist",
        help="fashion_mnist, folder:PATH (one folder per class) or "
             "tfds:NAME (caltech101, voc2012, imagenet2012)",
    )
    parser.add_argument("--data-path", default=None,
                        help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--output", required=True, help="run folder")
    parser.add_argument("--epochs", type=positive_int, default=15)
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--learning-rate", type=positive_float, default=1e-2)
    parser.add_argument("--lr-patience", type=non_negative_int, default=2,
                        help="epochs without validation improvement "
                             "before the learning rate drops")
    parser.add_argument("--lr-drops", default=None,
                        help="comma-separated epochs (0-based) at which to "
                             "divide the learning rate by 10 instead of "
                             "waiting for plateaus, e.g. 12,16")
    parser.add_argument("--filter-rms", type=non_negative_float, default=0.1,
                        help="FilterRMS radius (0 disables)")
    parser.add_argument("--validation-size", type=positive_int, default=None,
                        help="training images held out for the learning-"
                             "rate schedule (fashion_mnist; default: a "
                             "tenth of the training images, at most 5000)")
    parser.add_argument("--train-images", type=positive_int, default=None,
                        help="use only the first N training images "
                             "(quick runs; fashion_mnist)")
    parser.add_argument("--backup-every", type=positive_int, default=100,
                        help="steps between mid-epoch backups")
    inputs.add_seed_argument(parser)
    parser.add_argument("--verbose", type=verbose_level, default="auto",
                        help="auto, 0, 1 or 2")
    parser.set_defaults(run=run)


def _build(args, input_shape, classes):
    from keras_zfnet import applications

    rms = args.filter_rms or None
    if args.model == "mini_zfnet":
        return lambda: applications.MiniZFNet(
            input_shape=input_shape, classes=classes,
            first_layer=args.first_layer, filter_rms=rms,
        )
    builder = (applications.ZFNet if args.model == "zfnet"
               else applications.AlexNet)
    return lambda: builder(input_shape=input_shape, classes=classes,
                           filter_rms=rms)


def _data(args):
    """(train, validation, test_arrays_or_dataset, input_shape, classes)."""
    from keras_zfnet import datasets
    from keras_zfnet.training import data

    if args.dataset == "fashion_mnist":
        (x, y), (x_test, y_test) = datasets.fashion_mnist.load_data(
            args.data_path)
        if args.train_images:
            x, y = x[:args.train_images], y[:args.train_images]
        train, validation = data.small_image_pipelines(
            x, y, args.batch_size, args.validation_size, seed=args.seed)
        return train, validation, (x_test[..., None], y_test), (28, 28, 1), 10
    if args.dataset.startswith("folder:"):
        import numpy as np

        root = args.dataset.split(":", 1)[1]
        _, labels, names = datasets.folders.list_image_folder(root)
        order = np.random.default_rng(args.seed).permutation(len(labels))
        held = max(1, len(labels) // 10)
        train, _ = datasets.image_folder(
            root, training=True, indices=np.sort(order[held:]),
            batch_size=args.batch_size, seed=args.seed)
        validation, _ = datasets.image_folder(
            root, indices=np.sort(order[:held]), batch_size=args.batch_size)
        return train, validation, None, (224, 224, 3), len(names)
    if args.dataset.startswith("tfds:"):
        name = args.dataset.split(":", 1)[1]
        train, info = datasets.tfds_source(name, "train", training=True,
                                           batch_size=args.batch_size)
        split = "validation" if "validation" in info.splits else "test"
        validation, _ = datasets.tfds_source(name, split,
                                             batch_size=args.batch_size)
        classes = info.features["label"].num_classes
        return train, validation, validation, (224, 224, 3), classes
    raise ValueError(
        "--dataset must be fashion_mnist, folder:PATH or tfds:NAME. "
        f"Received: --dataset={args.dataset}"
    )


def _drops(text, epochs):
    """The `--lr-drops` epochs as sorted ints in [1, epochs - 1]."""
    if text is None:
        return None
    try:
        drops = sorted({int(v) for v in text.split(",")})
    except ValueError:
        drops = None
    if not drops or drops[0] < 1 or drops[-1] >= epochs:
        raise ValueError(
            "--lr-drops must be comma-separated epochs (0-based) in "
            f"[1, {epochs - 1}] (--epochs={epochs}), e.g. 12,16. "
            f"Received: --lr-drops={text}"
        )
    return drops


def validate(args):
    """Checks the arguments together, before any work.

    Fills in `args.validation_size` when it was not given (a tenth of the
    training images, at most 5000) and parses `args.lr_drops`.

    Raises:
        ValueError: naming the option and the value received.
    """
    fashion = args.dataset == "fashion_mnist"
    if not fashion:
        kind, _, rest = args.dataset.partition(":")
        if kind not in ("folder", "tfds") or not rest:
            raise ValueError(
                "--dataset must be fashion_mnist, folder:PATH or tfds:NAME. "
                f"Received: --dataset={args.dataset}")
        if kind == "tfds":
            from keras_zfnet.datasets.tfds_sources import SOURCES

            if rest not in SOURCES:
                raise ValueError(
                    f"--dataset tfds:NAME takes one of {sorted(SOURCES)}. "
                    f"Received: --dataset={args.dataset}")
        if kind == "folder" and not os.path.isdir(rest):
            raise ValueError(
                "--dataset folder:PATH needs an existing folder with one "
                f"sub-folder per class. Received: --dataset={args.dataset}")
        for option in ("data_path", "train_images", "validation_size"):
            if getattr(args, option) is not None:
                flag = "--" + option.replace("_", "-")
                raise ValueError(
                    f"{flag} applies to --dataset fashion_mnist only. "
                    f"Received: {flag}={getattr(args, option)} with "
                    f"--dataset={args.dataset}")
    if args.model != "mini_zfnet" and args.first_layer != "zfnet":
        raise ValueError(
            "--first-layer applies to --model mini_zfnet only. Received: "
            f"--first-layer={args.first_layer} with --model={args.model}")
    if fashion:
        if args.data_path is not None and not os.path.isdir(args.data_path):
            raise ValueError(
                "--data-path must be an existing folder holding the four "
                f"Fashion-MNIST IDX files. Received: --data-path="
                f"{args.data_path}")
        total = FASHION_MNIST_TRAIN_IMAGES
        if args.train_images is not None and args.train_images > total:
            raise ValueError(
                f"--train-images must be at most {total} (Fashion-MNIST's "
                f"training set). Received: --train-images={args.train_images}")
        images = args.train_images or total
        if images < 2:
            raise ValueError(
                "--train-images must be at least 2 (one to train on, one to "
                f"validate). Received: --train-images={args.train_images}")
        if args.validation_size is None:
            args.validation_size = min(5000, max(1, images // 10))
        elif args.validation_size >= images:
            raise ValueError(
                f"--validation-size must be smaller than the {images} "
                "training images (--train-images) so that some are left to "
                f"train on. Received: --validation-size={args.validation_size}")
    args.lr_drops_list = _drops(args.lr_drops, args.epochs)
    # A resumable run folder (checkpoints), written in place on purpose.
    check_output_dir(args.output, name="--output")
    return args


def run(args):
    validate(args)
    import keras

    from keras_zfnet import training
    from keras_zfnet.applications import presets

    keras.utils.set_random_seed(args.seed)
    verbose = args.verbose
    train_ds, val_ds, test, input_shape, classes = _data(args)
    model = training.train(
        _build(args, input_shape, classes), train_ds, val_ds, args.output,
        args.epochs, learning_rate=args.learning_rate,
        lr_patience=args.lr_patience, backup_every=args.backup_every,
        lr_drops=args.lr_drops_list,
        verbose=verbose,
    )
    summary = dict(
        model=args.model,
        first_layer=args.first_layer if args.model == "mini_zfnet" else None,
        dataset=args.dataset,
        epochs=args.epochs,
        train_images=args.train_images,
        validation_size=args.validation_size,
        learning_rate=args.learning_rate,
        lr_drops=args.lr_drops,
        seed=args.seed,
        train_seconds=round(training.training_seconds(args.output), 1),
        command="keras-zfnet train " + shlex.join(sys.argv[2:]
                                                  if sys.argv[1:2] == ["train"]
                                                  else sys.argv[1:]),
    )
    if test is not None:
        if isinstance(test, tuple):
            _, accuracy = model.evaluate(*test, batch_size=256, verbose=0)
        else:
            _, accuracy = model.evaluate(test, verbose=0)
        summary["test_accuracy"] = round(float(accuracy), 4)
        print(f"test accuracy: {accuracy:.4f}")
    weights = os.path.join(args.output, "model.weights.h5")
    summary["sha256"] = presets.file_sha256(weights)
    summary["weights"] = weights
    with open(os.path.join(args.output, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    return 0


