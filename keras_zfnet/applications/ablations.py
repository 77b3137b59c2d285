"""MiniZFNet variants for the paper's architecture ablations (Table 2).

Zeiler & Fergus (2014, Sec. 5.1, Table 2) removed or resized layers of their
model and reported the train and test error of each variant: removing the
fully connected layers 6 and 7, or the middle convolutions 3 and 4, costs
little on its own; removing both costs a lot; widening the middle
convolutions helps, widening the fully connected layers overfits. These
builders make the same variants of `MiniZFNet`.
"""

import keras

from keras_zfnet.applications import backbone
from keras_zfnet.applications import mini_zfnet

# MiniZFNet's default widths of conv1..conv5 and fc6 / fc7.
DEFAULT_WIDTHS = (32, 64, 96, 96, 64)
DEFAULT_FC_UNITS = (256, 256)
REMOVABLE = ("conv3", "conv4", "conv5", "fc6", "fc7")

# The paper's Table 2 rows at MiniZFNet's scale: the paper's 4096 fc units
# become 256, its 2048 / 8192 become 128 / 1024 (half / four times), its
# conv3-5 widths 384, 384, 256 -> 512, 1024, 512 become 96, 96, 64 ->
# 128, 256, 128 (the same ratios, rounded).
ABLATIONS = {
    "baseline": {},
    "no_conv3_conv4": dict(remove=("conv3", "conv4")),
    "no_fc7": dict(remove=("fc7",)),
    "no_fc6_fc7": dict(remove=("fc6", "fc7")),
    "no_conv3_conv4_fc6_fc7": dict(remove=("conv3", "conv4", "fc6", "fc7")),
    "fc_128": dict(fc_units=(128, 128)),
    "fc_1024": dict(fc_units=(1024, 1024)),
    "wide_conv3_5": dict(widths=(32, 64, 128, 256, 128)),
    "wide_conv3_5_fc_1024": dict(widths=(32, 64, 128, 256, 128),
                                 fc_units=(1024, 1024)),
}


def MiniZFNetVariant(
    remove=(),
    widths=DEFAULT_WIDTHS,
    fc_units=DEFAULT_FC_UNITS,
    first_layer="zfnet",
    input_shape=(28, 28, 1),
    classes=10,
    filter_rms=0.1,
    include_preprocessing=True,
    name=None,
):
    """Builds a MiniZFNet with layers removed or resized.

    The remaining layers keep MiniZFNet's names (`conv1`, ..., `fc6`,
    `fc7`, `predictions`), so every analysis addresses them as usual. The
    classifier is always kept; removing `fc6` and `fc7` connects the
    flattened `pool5` straight to `predictions`.

    Args:
        remove: layer names to drop, any of `"conv3"`, `"conv4"`, `"conv5"`,
            `"fc6"`, `"fc7"`.
        widths: filters of conv1..conv5 (5 integers).
        fc_units: units of fc6 and fc7 (2 integers; the removed ones are
            ignored).
        first_layer: as in `MiniZFNet` (`"zfnet"`, `"alexnet"` or a
            `(kernel, stride)` pair).
        input_shape: `(H, W, C)`.
        classes: number of classes.
        filter_rms: `FilterRMS` radius on conv kernels; `None` disables.
        include_preprocessing: rescale raw 0..255 pixels to [-1, 1] first.
        name: the model's name (default derived from the changes).

    Returns:
        An uncompiled `keras.Model` with a softmax classifier.

    Example:

    >>> model = MiniZFNetVariant(remove=("conv3", "conv4"))
    >>> [l.name for l in model.layers if l.name.startswith("conv")]
    ['conv1', 'conv2', 'conv5']
    """
    remove = _check_remove(remove)
    widths = _check_ints(widths, 5, "widths")
    fc_units = _check_ints(fc_units, 2, "fc_units")
    stages = tuple(
        stage for stage in mini_zfnet.mini_stages(first_layer, widths)
        if stage[1] not in remove
    )
    kept_fc = tuple(
        units for units, layer in zip(fc_units, ("fc6", "fc7"))
        if layer not in remove
    )
    if "fc6" in remove and "fc7" not in remove:
        # build_head names the hidden layers fc6, fc7 in order: keep the
        # paper's name for the surviving one.
        raise ValueError(
            "Removing fc6 but keeping fc7 is not a paper variant; remove "
            "fc7 (or both). Received: remove=" + repr(tuple(remove))
        )
    preprocessing = None
    if include_preprocessing:
        preprocessing = keras.layers.Rescaling(
            1.0 / 127.5, offset=-1.0, name="rescaling"
        )
    return backbone.build_model(
        arch="MiniZFNet",
        stages=stages,
        fc_units=kept_fc,
        include_top=True,
        weights=None,
        input_tensor=None,
        input_shape=input_shape,
        default_shape=(28, 28, 1),
        pooling=None,
        classes=classes,
        classifier_activation="softmax",
        name=name or variant_name(remove, widths, fc_units),
        filter_rms=filter_rms,
        kernel_initializer="glorot_uniform",
        preprocessing=preprocessing,
    )


def ablation(variant, **kwargs):
    """Builds one of the named `ABLATIONS` variants.

    Args:
        variant: a key of `ABLATIONS`.
        **kwargs: further `MiniZFNetVariant` arguments (e.g. `input_shape`).

    Returns:
        An uncompiled `keras.Model` named after the variant.

    Example:

    >>> ablation("no_fc6_fc7").get_layer("predictions").input.shape
    (None, 576)
    """
    if variant not in ABLATIONS:
        raise ValueError(
            f"`variant` must be one of {sorted(ABLATIONS)}. "
            f"Received: variant={variant!r}"
        )
    spec = dict(ABLATIONS[variant], **kwargs)
    spec.setdefault("name", f"mini_zfnet_{variant}")
    return MiniZFNetVariant(**spec)


def variant_name(remove, widths, fc_units):
    """A model name describing the changes from MiniZFNet."""
    parts = ["mini_zfnet"]
    if remove:
        parts.append("no_" + "_".join(sorted(remove)))
    if tuple(widths) != DEFAULT_WIDTHS:
        parts.append("w" + "-".join(str(w) for w in widths))
    if tuple(fc_units) != DEFAULT_FC_UNITS:
        parts.append("fc" + "-".join(str(u) for u in fc_units))
    return "_".join(parts)


def _check_remove(remove):
    if isinstance(remove, str):
        remove = (remove,)
    remove = tuple(remove)
    unknown = [layer for layer in remove if layer not in REMOVABLE]
    if unknown:
        raise ValueError(
            f"`remove` must hold layer names among {list(REMOVABLE)}. "
            f"Received: remove={remove!r}"
        )
    return remove


def _check_ints(values, length, arg):
    try:
        values = tuple(values)
        ok = len(values) == length and all(
            int(v) == v and v >= 1 for v in values
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"`{arg}` must be {length} positive integers. "
            f"Received: {arg}={values!r}"
        )
    return tuple(int(v) for v in values)
