"""`keras-zfnet demo`: the paper end to end on the shipped MiniZFNet."""

import os
import sys
import time

import numpy as np

from keras_zfnet.cli.arguments import check_output_dir
from keras_zfnet.cli.arguments import non_negative_int
from keras_zfnet.cli.arguments import positive_int

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def add_parser(sub):
    parser = sub.add_parser(
        "demo",
        help="run the paper's experiments on the shipped MiniZFNet and "
             "write an HTML report",
        description=(
            "Loads the shipped MiniZFNet Fashion-MNIST presets and the "
            "Fashion-MNIST test set (the full set when installed, else the "
            "shipped 1,000-image sample), then reproduces the paper's "
            "figures: top-9 activations with deconvnet projections (Fig. 2), "
            "first-layer filters of the ZFNet- and AlexNet-style nets "
            "(Fig. 6) and occlusion sensitivity (Fig. 7)."
        ),
    )
    parser.add_argument("--output", default="keras_zfnet_demo",
                        help="folder for index.html and the figures")
    parser.add_argument("--images", type=positive_int, default=None,
                        help="use only the first N test images")
    parser.add_argument("--features", type=positive_int, default=6,
                        help="features drawn per layer in Fig. 2")
    parser.add_argument("--occlusion-images", type=positive_int, default=3)
    parser.add_argument("--verbose", type=non_negative_int, default=1)
    parser.set_defaults(run=run)


def _say(args, message):
    if args.verbose:
        print(f"[demo] {message}", file=sys.stderr, flush=True)


def _strongest_features(top, count):
    """The `count` features with the largest top-1 activations."""
    order = np.argsort(-top.values[:, 0], kind="stable")
    alive = [i for i in order if top.indices[i, 0] >= 0 and
             top.values[i, 0] > 0]
    return np.asarray(alive[:count], dtype="int64")


def _occlusion_examples(predictions, labels, count):
    """Correctly classified images of different classes."""
    chosen, classes = [], set()
    for index in np.flatnonzero(predictions == labels):
        if labels[index] not in classes:
            chosen.append(int(index))
            classes.add(labels[index])
        if len(chosen) == count:
            break
    return np.asarray(chosen, dtype="int64")


def run(args):
    check_output_dir(args.output)  # before any work
    import keras_zfnet as kz
    from keras_zfnet.datasets import fashion_mnist
    from keras_zfnet.plotting import Report
    from keras_zfnet.plotting import plot_filters

    start = time.perf_counter()
    names = fashion_mnist.CLASS_NAMES
    missing = [p for p in ("fashion_mnist", "fashion_mnist_alexnet")
               if p not in kz.applications.available_presets("MiniZFNet")]
    if missing:
        print(f"keras-zfnet demo: presets {missing} are not installed; "
              "reinstall keras-zfnet or train them with "
              "scripts/train_presets.sh.", file=sys.stderr)
        return 1
    _say(args, "loading the MiniZFNet presets")
    model = kz.MiniZFNet(weights="fashion_mnist")
    alexnet = kz.MiniZFNet(weights="fashion_mnist_alexnet")
    x, y, source = fashion_mnist.load_test_data(verbose=args.verbose)
    if args.images:
        x, y = x[:args.images], y[:args.images]
    x = x[..., None].astype("float32")
    source_text = (f"the full Fashion-MNIST test set ({len(x)} images)"
                   if source == "full" and len(x) == 10000 else
                   f"{len(x)} Fashion-MNIST test images"
                   + (" (shipped sample)" if source == "sample" else ""))

    _say(args, f"evaluating on {source_text}")
    probs = model.predict(x, batch_size=256, verbose=0)
    predictions = probs.argmax(-1)
    accuracy = float((predictions == y).mean())
    alex_acc = float((alexnet.predict(x, batch_size=256, verbose=0)
                      .argmax(-1) == y).mean())
    presets = kz.applications.presets.PRESETS

    report = Report(
        "keras-zfnet: Visualizing and Understanding Convolutional Networks",
        f"Zeiler & Fergus (ECCV 2014) reproduced on MiniZFNet and "
        f"{source_text}",
    )
    report.section(
        "The network",
        "MiniZFNet keeps ZFNet's topology (5 ReLU convolutions, 3x3/2 max "
        "pooling and contrast normalization, two dropout-regularised fully "
        "connected layers) at Fashion-MNIST scale. Both presets were "
        "trained by keras-zfnet's own recipe (SGD with momentum, learning "
        "rate annealed on validation plateaus, FilterRMS, crops and flips).",
    )
    report.cards({
        "test accuracy (ZFNet-style)": f"{accuracy:.2%}",
        "test accuracy (AlexNet-style)": f"{alex_acc:.2%}",
        "parameters": f"{model.count_params():,}",
        "images": f"{len(x):,}",
    })
    per_class = [
        (names[c], int((y == c).sum()),
         f"{(predictions[y == c] == c).mean():.1%}")
        for c in range(10)
    ]
    report.table(["class", "images", "accuracy"], per_class,
                 "Per-class accuracy of the ZFNet-style preset.")
    report.table(
        ["preset", "first layer", "recorded test accuracy", "sha256"],
        [(p["name"], p["config"].get("first_layer", ""),
          f"{p.get('test_accuracy', 0):.2%}", p["sha256"][:16] + "...")
         for p in (presets["fashion_mnist"], presets["fashion_mnist_alexnet"])],
    )

    _say(args, "scanning the top-9 activations of conv1..conv5")
    tops = kz.top_activations(model, x, list(LAYERS), k=9, batch_size=128,
                              verbose=args.verbose)
    report.section(
        "Fig. 2: what each layer responds to",
        "For a few features per layer: the 9 test images that excite the "
        "feature most, as deconvnet projections back to pixel space (left, "
        "grey is zero) and the matching receptive-field patches of the "
        "input (right). Projections show which structure within each patch "
        "drives the feature; deeper layers respond to larger, more "
        "class-specific parts.",
    )
    for layer in LAYERS:
        top = tops[layer]
        features = _strongest_features(top, args.features)
        if not len(features):
            continue
        figure = top.plot(x, features=features,
                          title=f"{layer}: top 9 images of {len(features)} "
                                f"features")
        report.figure(figure, f"{layer}: receptive field "
                      f"{top.receptive_field.size[0]}x"
                      f"{top.receptive_field.size[1]} pixels",
                      name=f"fig2_{layer}.png", grid=True)

    _say(args, "comparing first-layer filters (Fig. 6)")
    report.section(
        "Fig. 6: first-layer filters, ZFNet- vs AlexNet-style",
        "The AlexNet-style first layer (9x9 filters, stride 2) against the "
        "ZFNet-style one (5x5, stride 1). The paper shrank the filters and "
        "the stride to avoid a mix of very high and very low frequency "
        "filters and dead filters, and the aliasing a large stride causes "
        "in layer 2.",
    )
    kernels = [model.get_layer("conv1").kernel.numpy(),
               alexnet.get_layer("conv1").kernel.numpy()]
    report.figure(plot_filters(kernels, ["ZFNet-style conv1 (5x5/1)",
                                         "AlexNet-style conv1 (9x9/2)"]),
                  "Each filter is scaled on its own; grey is zero.",
                  name="fig6_filters.png")
    dead = [int((tops["conv1"].values[:, 0] <= 0).sum())]
    alex_top = kz.top_activations(alexnet, x, "conv1", k=1, batch_size=128,
                                  verbose=0)
    dead.append(int((alex_top.values[:, 0] <= 0).sum()))
    report.table(
        ["first layer", "filters", "never active on the test images",
         "test accuracy"],
        [("ZFNet-style 5x5/1", kernels[0].shape[-1], dead[0],
          f"{accuracy:.2%}"),
         ("AlexNet-style 9x9/2", kernels[1].shape[-1], dead[1],
          f"{alex_acc:.2%}")],
    )

    _say(args, "occlusion sensitivity (Fig. 7)")
    report.section(
        "Fig. 7: occlusion sensitivity",
        "A square of the image's mean colour (the paper's grey square) "
        "slides over the image (8x8 pixels, stride 2). Panels: (b) total "
        "activity of the strongest conv5 feature map, (c) its deconvnet "
        "projection, (d) the probability of the true class, (e) the most "
        "probable class. Covering the garment itself makes the "
        "probability drop; covering the background does not.",
    )
    dn = kz.Deconvnet(model)
    chosen = _occlusion_examples(predictions, y, args.occlusion_images)
    result = kz.occlusion_sensitivity(model, x[chosen], 8, 2, fill="mean",
                                      labels=y[chosen], layer="conv5",
                                      verbose=0)
    for i, index in enumerate(chosen):
        projection = dn.project(x[index:index + 1], "conv5",
                                int(result.strongest_channel[i]))[0]
        report.figure(result.plot(x[chosen], i, class_names=names,
                                  projection=projection),
                      f"test image {index} ({names[y[index]]})",
                      name=f"fig7_{index}.png")
    elapsed = time.perf_counter() - start
    report.section("Run", f"Finished in {elapsed:.0f} s.")
    path = report.write(os.path.join(args.output, "index.html"))
    print(f"Report written to {os.path.abspath(path)} "
          f"(test accuracy {accuracy:.2%}, {elapsed:.0f} s)")
    return 0
