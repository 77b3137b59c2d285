"""`keras-zfnet demo`: the whole paper on the shipped MiniZFNet presets.

Writes `OUTPUT/index.html` (self-contained), every figure as PNG, every
table as CSV and JSON, and `OUTPUT/results.json`:

    {"version", "command", "data": {"source", "images", "description"},
     "seed", "quick", "accuracy": {"zfnet", "alexnet"},
     "sections": {id: {"title", "seconds", "cpu_seconds", "numbers"}}}

with section ids fig2, fig4, fig5, fig6, fig7, correspondence, transfer
(the "run" section of the page lists their times).
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import time

import numpy as np

from keras_zfnet.cli.arguments import non_negative_int
from keras_zfnet.cli.arguments import positive_int
from keras_zfnet.cli import inputs
from keras_zfnet.cli import pages
from keras_zfnet.cli.pages import plain as _plain

#: Section ids in page order (the report's stable anchors).
SECTION_IDS = ("fig2", "fig4", "fig5", "fig6", "fig7", "correspondence",
               "transfer", "run")

DEFAULT = dict(images=None, features=6, occlusion_images=3,
               invariance_step=1, invariance_images=100, diagnosis_images=256, parts_images=10,
               trials=19, per_class=(30,), splits=3, scratch_epochs=10,
               train_images=12000, train_epochs=3, test_per_class=60)
QUICK = dict(images=1000, features=3, occlusion_images=2, invariance_step=2,
             invariance_images=100,
             diagnosis_images=64, parts_images=6, trials=3, per_class=(15,),
             splits=2, scratch_epochs=5, train_images=3000, train_epochs=2,
             test_per_class=40)


def add_parser(sub):
    parser = sub.add_parser(
        "demo",
        help="reproduce the paper on the shipped MiniZFNet presets and write "
             "an HTML report",
        description=(
            "Loads the shipped MiniZFNet Fashion-MNIST presets and the "
            "Fashion-MNIST test set (the full set when installed, else the "
            "shipped 1,000-image sample; the report says which), then "
            "reproduces the paper: top-9 activations with deconvnet "
            "projections (Fig. 2), feature evolution (Fig. 4, from the "
            "shipped record, or a short training run with --train), "
            "invariance (Fig. 5), first-layer diagnosis of the ZFNet- and "
            "AlexNet-style nets (Fig. 6), occlusion (Fig. 7), "
            "correspondence (Table 1) and frozen-feature transfer to "
            "digits (Tables 3-4, 6). No network needed."),
        epilog="Example:\n  keras-zfnet demo --quick --output report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", default="keras_zfnet_demo",
                        help="folder for index.html, figures and tables")
    parser.add_argument("--quick", action="store_true",
                        help="smaller settings (1,000 images, fewer "
                             "features, splits and trials): about a minute")
    parser.add_argument("--train", action="store_true",
                        help="Fig. 4 from a short training run with the "
                             "callbacks instead of the shipped record")
    parser.add_argument("--images", type=positive_int, default=None,
                        help="use only the first N test images")
    parser.add_argument("--features", type=positive_int, default=None,
                        help="features drawn per layer in Fig. 2")
    parser.add_argument("--occlusion-images", type=positive_int,
                        default=None)
    inputs.add_seed_argument(parser)
    parser.add_argument("--verbose", type=non_negative_int, default=1)
    parser.set_defaults(run=run)


@dataclasses.dataclass
class Context:
    """What the sections share."""

    args: object
    settings: dict
    report: object
    model: object
    alexnet: object
    x: np.ndarray
    y: np.ndarray
    source: str
    predictions: np.ndarray
    seed: int
    verbose: int
    tops: object = None


def _say(args, message):
    if args.verbose:
        print(f"[demo] {message}", file=sys.stderr, flush=True)


def _settings(args):
    settings = dict(QUICK if args.quick else DEFAULT)
    for key in ("images", "features", "occlusion_images"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    return settings


def _sections():
    from keras_zfnet.cli import demo_sections as s
    from keras_zfnet.cli import demo_tables as t

    return (("fig2", "Fig. 2: top-9 activations", s.fig2),
            ("fig4", "Fig. 4: feature evolution", s.fig4),
            ("fig5", "Fig. 5: invariance", s.fig5),
            ("fig6", "Fig. 6: first-layer diagnosis", s.fig6),
            ("fig7", "Fig. 7: occlusion", s.fig7),
            ("correspondence", "Table 1: correspondence", t.correspondence),
            ("transfer", "Tables 3-4, 6: transfer", t.transfer))


def _load(args, settings):
    import keras

    import keras_zfnet as kz
    from keras_zfnet.datasets import fashion_mnist

    keras.utils.set_random_seed(args.seed)
    model = kz.MiniZFNet(weights="fashion_mnist")
    alexnet = kz.MiniZFNet(weights="fashion_mnist_alexnet")
    x, y, source = fashion_mnist.load_test_data(verbose=0)
    if settings["images"]:
        x, y = x[:settings["images"]], y[:settings["images"]]
    x = x[..., None].astype("float32")
    y = np.asarray(y, "int64")
    if source == "full" and len(x) == 10000:
        text = "the full Fashion-MNIST test set (10,000 images)"
    elif source == "full":
        text = f"the first {len(x):,} images of the Fashion-MNIST test set"
    else:
        text = (f"{len(x):,} images of the Fashion-MNIST test sample shipped "
                "in the package (the full test set is not installed: "
                "apt-get install dataset-fashion-mnist)")
    return model, alexnet, x, y, source, text


def run(args):
    """Writes the report (into a temporary folder moved into place at the
    end: a killed demo leaves `--output` as it was)."""
    return pages.atomic_output_run(_run)(args)


def _run(args):
    start = time.perf_counter(), time.process_time()
    import keras

    import keras_zfnet as kz
    from keras_zfnet.applications.presets import available_presets
    from keras_zfnet.plotting import Report

    missing = [p for p in ("fashion_mnist", "fashion_mnist_alexnet")
               if p not in available_presets("MiniZFNet")]
    if missing:
        raise ValueError(
            f"the presets {missing} are not installed; reinstall keras-zfnet "
            "or train them with scripts/train_presets.sh")
    settings = _settings(args)
    _say(args, "loading the presets and the test images")
    model, alexnet, x, y, source, data_text = _load(args, settings)
    probabilities = model.predict(x, batch_size=512, verbose=0)
    predictions = probabilities.argmax(-1)
    accuracy = float((predictions == y).mean())
    alex_accuracy = float((alexnet.predict(x, batch_size=512, verbose=0)
                           .argmax(-1) == y).mean())
    report = Report(
        "keras-zfnet: Visualizing and Understanding Convolutional Networks",
        f"Zeiler & Fergus (ECCV 2014) reproduced on MiniZFNet and "
        f"{data_text}" + (" (--quick settings)" if args.quick else ""))
    report.section(
        "The networks",
        "MiniZFNet keeps ZFNet's topology (5 ReLU convolutions, 3x3/2 max "
        "pooling and contrast normalization, two dropout-regularised fully "
        "connected layers) at Fashion-MNIST scale. The two presets differ "
        "in the first layer only (5x5 stride 1 vs AlexNet-style 9x9 stride "
        "2) and were trained by the package's own recipe.", id="networks")
    report.cards({"test accuracy (ZFNet-style)": f"{accuracy:.2%}",
                  "test accuracy (AlexNet-style)": f"{alex_accuracy:.2%}",
                  "parameters": f"{model.count_params():,}",
                  "images": f"{len(x):,}"})
    ctx = Context(args, settings, report, model, alexnet, x, y, source,
                  predictions, args.seed, args.verbose)
    results = dict(
        version=kz.__version__, command=_command(args),
        data=dict(source=source, images=int(len(x)), description=data_text),
        seed=args.seed, quick=bool(args.quick), settings=_plain(settings),
        accuracy=dict(zfnet=accuracy, alexnet=alex_accuracy), sections={})
    timings = [("loading", *_since(start))]
    for section_id, title, function in _sections():
        _say(args, title)
        begin = time.perf_counter(), time.process_time()
        numbers = function(ctx)
        wall, cpu = _since(begin)
        timings.append((title, wall, cpu))
        results["sections"][section_id] = dict(
            title=title, seconds=wall, cpu_seconds=cpu,
            numbers=_plain(numbers))
    _say(args, "unit browser")
    begin = time.perf_counter(), time.process_time()
    results["units"] = _units_section(report, args, ctx)
    timings.append(("Unit browser", *_since(begin)))
    wall, cpu = _since(start)
    _run_section(report, args, results, data_text, timings, wall, cpu,
                 keras)
    results["seconds"], results["cpu_seconds"] = wall, cpu
    with open(os.path.join(args.output, "results.json"), "w",
              encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    report.write(os.path.join(args.output, "index.html"))
    print(f"Report written to {pages.final_path(args, 'index.html')} (test "
          "accuracy "
          f"{accuracy:.2%}, {wall:.0f} s, {cpu:.0f} s CPU)")
    return 0


def _units_section(report, args, ctx):
    """Builds the preset's unit browser beside the report and links it."""
    from keras_zfnet.cli.browse import demo_browser

    demo_browser(os.path.join(args.output, "units"), ctx.model, ctx.x,
                 ctx.y, verbose=0)
    report.section(
        "Every unit",
        "The paper shows 9 features per layer; the unit browser shows all "
        f"of them: the top-9 projections and patches of every channel of "
        f"conv1..conv5 over these {len(ctx.x):,} images, with the histogram "
        "of each unit's maximum activation.", id="units")
    report.link("units/index.html", "Open the unit browser",
                before="Static site, works offline: ")
    return {"path": "units/index.html"}


def _since(begin):
    return (time.perf_counter() - begin[0], time.process_time() - begin[1])


def _command(args):
    if os.path.basename(sys.argv[0]) == "keras-zfnet":
        return "keras-zfnet " + " ".join(sys.argv[1:])
    return "keras-zfnet demo" + (" --quick" if args.quick else "") + (
        " --train" if args.train else "")


def _run_section(report, args, results, data_text, timings, wall, cpu,
                 keras):
    backend = keras.config.backend()
    framework = sys.modules.get(backend)
    report.section(
        "Run",
        f"This report took {wall:.0f} s ({cpu:.0f} s of CPU time on "
        f"{os.cpu_count()} core(s)).", id="run")
    report.code(results["command"])
    report.table(
        ["item", "value"],
        [("keras-zfnet", results["version"]), ("Keras", keras.__version__),
         (f"backend ({backend})", getattr(framework, "__version__", "?")),
         ("Python", platform.python_version()), ("data", data_text),
         ("seed", args.seed), ("settings", "quick" if args.quick else
                               "default")],
        name="run")
    report.table(["step", "seconds", "CPU seconds"],
                 [(name, f"{w:.1f}", f"{c:.1f}") for name, w, c in timings],
                 "Wall-clock and process CPU time of each step.",
                 name="timings")

