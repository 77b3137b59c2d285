"""Reading users' models and images for the analysis subcommands.

Checks that need no model (files exist, option values) run before anything
heavy is imported; every problem is a `ValueError` / `FileNotFoundError`
whose one-line message names the argument and the value received (the CLI
prints it and exits with status 2).
"""

import json
import os

import numpy as np

from keras_zfnet.cli import images

# Image reading lives in `cli/images.py`; subcommands use it from here.
IMAGE_EXTENSIONS = images.IMAGE_EXTENSIONS
PREPROCESS_FAMILIES = images.PREPROCESS_FAMILIES
display_mode = images.display_mode
image_files = images.image_files
model_images = images.model_images
preprocess = images.preprocess
read_pixels = images.read_pixels

#: Shipped architectures a MODEL spec may name (`MiniZFNet:fashion_mnist`).
PRESET_MODELS = ("ZFNet", "AlexNet", "MiniZFNet")
MODEL_SPEC = ("a .keras file, a shipped ARCH[:PRESET] ("
              + ", ".join(PRESET_MODELS) + "; e.g. MiniZFNet:fashion_mnist) "
              "or a keras.applications name with --weights (e.g. VGG16 "
              "--weights imagenet)")


def add_model_argument(parser):
    """`MODEL` (positional, str) and `--weights` (str, default None): a
    model for `load_model_spec`."""
    parser.add_argument(
        "model", metavar="MODEL",
        help=f"{MODEL_SPEC}; .keras files load in Keras' safe mode")
    parser.add_argument(
        "--weights", default=None, metavar="W",
        help="weights of a keras.applications MODEL (imagenet, none for "
             "random weights, or a .weights.h5 file) or the preset of a "
             "shipped ARCH (none: random); not for a .keras file")


def add_layer_argument(parser, required=False, help=None):
    """`--layer NAME` (str; default None unless `required`)."""
    parser.add_argument(
        "--layer", default=None, required=required, metavar="NAME",
        help=help or "layer name (or outer/inner path)")


def add_seed_argument(parser):
    """`--seed N` (int >= 0, default 0)."""
    from keras_zfnet.cli.arguments import non_negative_int

    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="random seed (default 0)")


def add_labels_argument(parser):
    """`--labels FILE` (str, default None), read by `read_labels`."""
    parser.add_argument(
        "--labels", default=None, metavar="FILE",
        help="one integer class index per image, one per line (or a JSON "
             "list); an .npz of IMAGES may hold `labels` instead")


def add_class_names_argument(parser):
    """`--class-names FILE` (str, default None), read by
    `read_class_names`."""
    parser.add_argument("--class-names", default=None, metavar="FILE",
                        help="one class name per line")


def check_file_option(path, flag):
    """`path` if it is None or an existing file; else a one-line
    `FileNotFoundError` naming `flag`."""
    if path is not None and not os.path.isfile(path):
        raise FileNotFoundError(
            f"{flag} must be an existing file. Received: {flag}={path}")
    return path


def read_class_names(path):
    """`--class-names FILE`: the non-empty lines (None when `path` is
    None)."""
    if path is None:
        return None
    check_file_option(path, "--class-names")
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _application(name):
    """The `keras.applications` builder called `name`, or None."""
    import keras

    builder = getattr(keras.applications, name, None)
    if not name[:1].isupper() or not callable(builder):
        return None
    return builder


def check_model_spec(spec, weights=None):
    """Classifies a `MODEL` spec without loading anything heavy.

    Args:
        spec: a `.keras` path, `ARCH[:PRESET]` or a `keras.applications`
            name.
        weights: the `--weights` value (None when not given).

    Returns:
        `("file", path, None)`, `("preset", arch, preset_or_None)` or
        `("application", name, weights_or_None)`.

    Raises:
        ValueError / FileNotFoundError: one line naming what was expected
            and what was received.
    """
    name, colon, preset = spec.partition(":")
    if spec.endswith(".keras") or os.path.exists(spec):
        if weights is not None:
            raise ValueError(
                "--weights applies to a preset or keras.applications MODEL, "
                f"not a .keras file. Received: MODEL={spec} --weights="
                f"{weights}")
        return ("file", check_model_path(spec), None)
    if name in PRESET_MODELS:
        if colon and weights is not None:
            raise ValueError(
                f"MODEL {spec} names its preset; --weights must not be "
                f"given too. Received: MODEL={spec} --weights={weights}")
        chosen = preset if colon else weights
        return ("preset", name,
                None if chosen in (None, "", "none") else chosen)
    if not colon and spec and _application(spec) is not None:
        if weights is None:
            raise ValueError(
                f"MODEL {spec} is a keras.applications model: pass --weights "
                "imagenet, --weights none (random weights) or --weights "
                f"FILE.weights.h5. Received: MODEL={spec} (no --weights)")
        if weights not in ("imagenet", "none") and not os.path.isfile(
                weights):
            raise ValueError(
                "--weights must be imagenet, none or an existing weights "
                f"file. Received: MODEL={spec} --weights={weights}")
        return ("application", spec, None if weights == "none" else weights)
    raise ValueError(f"MODEL must be {MODEL_SPEC}. Received: MODEL={spec}")


def load_model_spec(spec, weights=None):
    """The model named by a `MODEL` spec (see `check_model_spec`).

    Returns:
        A Keras model: loaded from a `.keras` file (safe mode), a shipped
        architecture with a preset (or random weights), or a
        `keras.applications` model.

    Raises:
        ValueError: one line naming the spec when it cannot be built.
    """
    kind, name, chosen = check_model_spec(spec, weights)
    if kind == "file":
        return load_model(name)
    if kind == "preset":
        from keras_zfnet import applications

        builder = getattr(applications, name)
    else:
        builder = _application(name)
    try:
        return builder(weights=chosen)
    except Exception as error:  # noqa: BLE001  (Keras raises many types)
        reason = " ".join(str(error).split())[:300]
        raise ValueError(f"MODEL could not be built ({reason}). Received: "
                         f"MODEL={spec}" + (f" --weights={weights}"
                                            if weights else "")) from None


def add_images_argument(parser, nargs=None, name="images"):
    parser.add_argument(
        name, metavar="IMAGES", nargs=nargs,
        help="a folder of images, one image file, or an .npz with an "
             "`images` array (N, H, W[, C]) of 0..255 pixels")


def add_common_arguments(parser, preprocess=True):
    if preprocess:
        parser.add_argument(
            "--preprocess", default="none", choices=PREPROCESS_FAMILIES,
            metavar="FAMILY",
            help="keras.applications preprocessing applied to the pixels "
                 "before the model and undone for display: "
                 + ", ".join(PREPROCESS_FAMILIES) + " (default: none)")
        parser.add_argument(
            "--resize", action="store_true",
            help="resize images to the model's input size (otherwise images "
                 "of another size are an error)")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="folder for index.html, figures and results")
    parser.add_argument("--verbose", type=int, choices=(0, 1), default=1,
                        help="progress bars (default 1)")


def check_model_path(path):
    """The `MODEL` argument: an existing `.keras` file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"MODEL must be an existing .keras file. Received: MODEL={path} "
            "(no such file)")
    if not path.endswith(".keras"):
        raise ValueError(
            "MODEL must be a model saved with model.save('name.keras'). "
            f"Received: MODEL={path}")
    return path


def check_images_path(path, option="IMAGES"):
    """The `IMAGES` argument: a folder, an image file or an `.npz`."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{option} must be a folder of images, an image file or an .npz. "
            f"Received: {option}={path} (no such file or folder)")
    if os.path.isfile(path) and not path.lower().endswith(
            IMAGE_EXTENSIONS + (".npz",)):
        raise ValueError(
            f"{option} must be a folder, an image file "
            f"({', '.join(IMAGE_EXTENSIONS)}) or an .npz. "
            f"Received: {option}={path}")
    return path


def load_model(path):
    """Loads a `.keras` model in safe mode (custom layers of keras_zfnet
    registered).

    Raises:
        ValueError: one line naming the file when Keras cannot load it.
    """
    import keras

    import keras_zfnet as kz

    kz.Deconvnet  # noqa: B018  (registers the package's layers)
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001  (Keras raises many types)
        reason = " ".join(str(error).split())[:300]
        raise ValueError(
            f"MODEL could not be loaded as a Keras model ({reason}). "
            f"Received: MODEL={path}") from None
    return model


def read_labels(path, count):
    """`--labels FILE`: one integer class index per line (or a JSON list)."""
    check_file_option(path, "--labels")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise ValueError(
            "--labels must be a text file (one integer class index per line, "
            "or a JSON list); labels in an .npz go in the IMAGES .npz as a "
            f"`labels` array. Received: --labels={path}") from None
    try:
        values = (json.loads(text) if text.lstrip().startswith("[")
                  else [int(v) for v in text.split()])
        values = np.asarray(values, dtype="int64")
    except (ValueError, TypeError):
        raise ValueError(
            "--labels must hold one integer class index per image. "
            f"Received: --labels={path}") from None
    if values.shape != (count,):
        raise ValueError(
            f"--labels must hold {count} labels (one per image). Received: "
            f"{values.size} in --labels={path}")
    return values


def resolve_layer(model, layer, option="--layer"):
    """The canonical layer name, or a one-line `ValueError` naming the
    option and listing a few valid names."""
    from keras_zfnet.deconv.model_graph import model_graph

    graph = model_graph(model)
    try:
        return graph.resolve(layer)
    except ValueError:
        names = graph.layer_names
        shown = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
        raise ValueError(
            f"{option} must name a layer of the model ({shown}). "
            f"Received: {option}={layer}") from None
