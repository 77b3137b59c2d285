"""`keras-zfnet transfer`: frozen features of a user's model on a labelled
image folder, layer by layer (paper Tables 3-4 and 6)."""

import os

import numpy as np

from keras_zfnet.cli import inputs
from keras_zfnet.cli import pages
from keras_zfnet.cli.arguments import positive_int


def add_parser(sub):
    parser = pages.add_subcommand(
        sub, "transfer",
        help="linear classifiers on each layer's frozen features of a "
             "labelled folder (Tables 3-4, 6)",
        description=(
            "DATA is a folder with one sub-folder of images per class "
            "(Caltech-101 style). For each of --splits random splits, "
            "--per-class training images per class and the rest for testing, "
            "a linear SVM and a softmax classifier on each --layers layer's "
            "frozen features; --scratch adds the same network trained from "
            "scratch. Writes DIR/transfer.csv / transfer.json (mean and std "
            "per classifier, layer and size), DIR/transfer.png and "
            "DIR/index.html."),
        example="keras-zfnet transfer model.keras caltech101/ --layers "
                "block3_pool block5_pool fc2 --per-class 15 30 "
                "--preprocess vgg16 --output out",
        run=run)
    inputs.add_model_argument(parser)
    parser.add_argument("data", metavar="DATA",
                        help="a folder with one sub-folder of images per "
                             "class")
    parser.add_argument("--layers", required=True, nargs="+", metavar="L",
                        help="layers whose features are classified")
    parser.add_argument("--per-class", nargs="+", type=positive_int,
                        default=[15, 30], metavar="K",
                        help="training images per class (default 15 30)")
    parser.add_argument("--splits", type=positive_int, default=5,
                        help="random splits (default 5)")
    parser.add_argument("--classifiers", nargs="+", default=["svm", "softmax"],
                        choices=("svm", "softmax"))
    parser.add_argument("--pooling", choices=("none", "avg", "max"),
                        default="none",
                        help="spatial pooling of convolutional features")
    parser.add_argument("--scratch", action="store_true",
                        help="also train the same network from scratch")
    inputs.add_seed_argument(parser)
    inputs.add_common_arguments(parser)


def check_data(path):
    if not os.path.isdir(path):
        raise FileNotFoundError(
            "DATA must be a folder with one sub-folder of images per class. "
            f"Received: DATA={path} (not a folder)")
    return path


def read_class_folder(model, path, family, resize):
    """Model inputs, labels and class names of a one-folder-per-class
    tree."""
    from keras_zfnet.deconv.model_graph import model_graph

    classes = sorted(d for d in os.listdir(path)
                     if os.path.isdir(os.path.join(path, d)))
    if len(classes) < 2:
        raise ValueError(
            "DATA must hold at least two class sub-folders of images. "
            f"Received: DATA={path} ({len(classes)} sub-folder(s))")
    shape = model_graph(model).input_shape
    channels = shape[-1] if shape[-1] in (1, 3) else None
    images, labels = [], []
    for label, name in enumerate(classes):
        pixels, _, _ = inputs.read_pixels(os.path.join(path, name), channels,
                                          shape[:2], resize)
        images.append(pixels)
        labels.append(np.full(len(pixels), label, "int64"))
    pixels = np.concatenate(images)
    return (inputs.preprocess(pixels, family), np.concatenate(labels),
            classes)


def run(args):
    pages.check_paths(args, images=False)
    check_data(args.data)
    import keras_zfnet as kz

    layer_analysis = getattr(kz, "layer_analysis", None)
    if layer_analysis is None:
        from keras_zfnet.analysis.layer_analysis import layer_analysis
    model = inputs.load_model_spec(args.model, args.weights)
    layers = [inputs.resolve_layer(model, layer, "--layers")
              for layer in args.layers]
    x, y, classes = read_class_folder(model, args.data, args.preprocess,
                                      args.resize)
    pages.say(args, f"{len(x)} images of {len(classes)} classes; "
                    f"{len(layers)} layer(s)")
    result = layer_analysis(
        model, layers, x, y, per_class=tuple(args.per_class),
        splits=args.splits, classifiers=tuple(args.classifiers),
        seed=args.seed, baseline="scratch" if args.scratch else None,
        pooling=None if args.pooling == "none" else args.pooling,
        verbose=args.verbose)
    header = ["classifier", "layer", "per_class", "mean", "std"]
    rows = [[r["classifier"], r["layer"], int(r["per_class"]),
             round(float(r["mean"]), 4), round(float(r["std"]), 4)]
            for r in result.rows]
    report = pages.new_page(
        args, "Frozen-feature transfer",
        f"{len(x)} images of {len(classes)} classes "
        f"({', '.join(classes[:12])}{' ...' if len(classes) > 12 else ''}); "
        f"{result.metric.replace('_', ' ')} over {args.splits} random "
        "split(s), mean and std.")
    report.figure(result.plot(), "Score per layer", name="transfer.png")
    report.table(header, rows, name="transfer")
    most = max(result.per_class)
    try:
        # chosen on each split's inner cross-validation, not on test
        best = max((result.best_layer(c, most) for c in result.classifiers
                    if c != "scratch"), key=lambda b: b["validation_mean"])
    except ValueError:  # one image per class: nothing can be validated
        return pages.finish(args, report,
                            "no layer chosen (one training image per class "
                            "leaves nothing to validate on)")
    return pages.finish(args, report,
                        f"chosen on validation: {best['classifier']} on "
                        f"{best['layer']} with {most} per class, test "
                        f"{best['mean']:.3f}")
