"""The weights registry: preset name -> metadata, file and hash.

Presets are plain data. Each one was trained by `keras_zfnet.training` with
the recorded command; its weights file ships inside the package and is
checked against its SHA-256 on every load.
"""

import hashlib
import os

_WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

# name -> metadata. `config` holds the builder arguments the weights need.
PRESETS = {}


def register_preset(name, architecture, filename, sha256, input_shape,
                    classes, config=None, **metadata):
    """Adds a preset to the registry (used by this module and by tests).

    Args:
        name: the string users pass as `weights=`.
        architecture: the builder's name, e.g. `"MiniZFNet"`.
        filename: a `.weights.h5` file, relative to the package's weights
            folder, or an absolute path.
        sha256: the file's expected SHA-256 hex digest.
        input_shape: the input shape the weights were trained at.
        classes: the size of the classifier the weights include.
        config: builder arguments the weights need (e.g. `first_layer`).
        **metadata: anything else worth showing (accuracy, command, seed).
    """
    PRESETS[name] = dict(
        name=name,
        architecture=architecture,
        path=os.path.join(_WEIGHTS_DIR, filename),
        sha256=sha256,
        input_shape=tuple(input_shape),
        classes=int(classes),
        config=dict(config or {}),
        **metadata,
    )


def available_presets(architecture=None):
    """Names of presets whose weights file is present, optionally filtered.

    Example:

    >>> available_presets("MiniZFNet")
    """
    return sorted(
        name
        for name, preset in PRESETS.items()
        if os.path.exists(preset["path"])
        and (architecture is None or preset["architecture"] == architecture)
    )


def file_sha256(path):
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_weights(weights, architecture):
    """Interprets a `weights=` argument.

    Args:
        weights: `None`, a path to a weights file, or a preset name.
        architecture: the calling builder's name.

    Returns:
        `(path, preset)`: `(None, None)` for `weights=None`, `(path, None)`
        for a file, `(path, preset_dict)` for a preset.

    Raises:
        ValueError: for an unknown / unavailable preset, a missing file, or
            a preset file whose hash does not match.
    """
    if weights is None:
        return None, None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "`weights` must be None, a path to a weights file or a preset "
            f"name. Received: weights={weights!r}"
        )
    weights = os.fspath(weights)
    preset = PRESETS.get(weights)
    if preset is not None and preset["architecture"] == architecture:
        if not os.path.exists(preset["path"]):
            raise ValueError(_unknown_message(weights, architecture, True))
        actual = file_sha256(preset["path"])
        if actual != preset["sha256"]:
            raise ValueError(
                f"The weights file of preset '{weights}' "
                f"({preset['path']}) is corrupt: expected SHA-256 "
                f"{preset['sha256']}, received {actual}. Reinstall "
                "keras-zfnet to restore it."
            )
        return preset["path"], preset
    if os.path.isfile(weights):
        return weights, None
    raise ValueError(_unknown_message(weights, architecture, False))


def _unknown_message(weights, architecture, registered):
    names = available_presets(architecture)
    listed = ", ".join(repr(n) for n in names) if names else "none yet"
    reason = (
        "is registered but its weights file is not installed"
        if registered
        else "is neither a preset name nor an existing file"
    )
    return (
        f"`weights` for {architecture} must be None, a preset name or the "
        f"path to a weights file (e.g. 'model.weights.h5' written by "
        f"`model.save_weights`). Available presets for {architecture}: "
        f"{listed}. Received: weights={weights!r}, which {reason}."
    )


def check_preset_arguments(preset, include_top, classes, input_shape, config):
    """Raises if builder arguments conflict with a preset.

    Args:
        preset: a preset dict from `resolve_weights`.
        include_top: the builder's `include_top`.
        classes: the builder's `classes`.
        input_shape: the resolved input shape, `(H, W, C)`.
        config: the builder's architecture arguments (e.g. `first_layer`).
    """
    name = preset["name"]
    if include_top and classes != preset["classes"]:
        raise ValueError(
            f"Preset '{name}' has a {preset['classes']}-class classifier; "
            "use include_top=False to change the number of classes. "
            f"Received: classes={classes}"
        )
    expected = preset["input_shape"]
    if include_top and tuple(input_shape) != expected:
        raise ValueError(
            f"Preset '{name}' with include_top=True expects "
            f"input_shape={expected}. Received: input_shape={input_shape}"
        )
    if input_shape[-1] != expected[-1]:
        raise ValueError(
            f"Preset '{name}' expects {expected[-1]} input channel(s). "
            f"Received: input_shape={input_shape}"
        )
    for key, value in preset["config"].items():
        if key in config and config[key] != value:
            raise ValueError(
                f"Preset '{name}' was trained with {key}={value!r}. "
                f"Received: {key}={config[key]!r}"
            )


def load_into(model, path, reference=None):
    """Loads a weights file into `model`.

    When `reference` is given (the full model of a preset that holds a
    classifier, for a headless `model`), the file is loaded into it and
    copied layer by layer (matched by name) into `model`.
    """
    if reference is None:
        model.load_weights(path)
        return
    reference.load_weights(path)
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            source = reference.get_layer(layer.name)
        except ValueError:
            continue
        layer.set_weights(source.get_weights())


# Trained by `scripts/train_presets.sh` (the package's own recipe) on the
# 60,000 Fashion-MNIST training images (5,000 held out for the schedule);
# accuracy on the official 10,000-image test set.
register_preset(
    "fashion_mnist",
    "MiniZFNet",
    "mini_zfnet_fashion_mnist.weights.h5",
    "9845a9f866dff9f337e1a81edb5d2703259844b42c3245f6913b9a2724c007bc",
    input_shape=(28, 28, 1),
    classes=10,
    config={"first_layer": "zfnet"},
    test_accuracy=0.9117,
    seed=0,
    train_seconds=1179,
    command=(
        "keras-zfnet train --model mini_zfnet --first-layer zfnet "
        "--dataset fashion_mnist --epochs 16 --learning-rate 0.03 --seed 0 "
        "--output runs/fashion_mnist"
    ),
)

# The AlexNet-style counterpart (9x9 stride-2 first layer), trained
# identically, for the Fig. 6 comparison.
register_preset(
    "fashion_mnist_alexnet",
    "MiniZFNet",
    "mini_zfnet_fashion_mnist_alexnet.weights.h5",
    "f399818f864d814a59616144431a6acda2ea6356c548a46de3e40d5dd5b14497",
    input_shape=(28, 28, 1),
    classes=10,
    config={"first_layer": "alexnet"},
    test_accuracy=0.8960,
    seed=0,
    train_seconds=349,
    command=(
        "keras-zfnet train --model mini_zfnet --first-layer alexnet "
        "--dataset fashion_mnist --epochs 16 --learning-rate 0.03 --seed 0 "
        "--output runs/fashion_mnist_alexnet"
    ),
)
