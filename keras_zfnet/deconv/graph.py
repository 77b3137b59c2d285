"""Reads a Keras CNN as a chain of stages the deconvnet can mirror.

Every supported layer becomes a `Stage` with its per-image input / output
shapes and, for spatial layers, one uniform piece of geometry per axis: output
position `i` sees input positions `[i * stride - pad, i * stride - pad +
size)`. Convolutions, pooling, zero padding, cropping and pointwise layers all
fit this form, which is what receptive fields and the windowed mirror need.
"""

import dataclasses

import keras

from keras_zfnet.layers import LocalResponseNormalization
from keras_zfnet.ops import window_geometry

SUPPORTED_LAYERS = (
    "InputLayer",
    "Conv2D (ReLU or linear activation, channels_last, no groups or "
    "dilation)",
    "MaxPooling2D / MaxPoolingWithSwitches2D",
    "ZeroPadding2D",
    "Cropping2D",
    "ReLU / Activation('relu' or 'linear')",
    "LocalResponseNormalization (identity in the mirror)",
    "BatchNormalization (inference scale)",
    "Rescaling / Normalization (scale)",
    "Dropout / SpatialDropout2D / GaussianNoise / GaussianDropout / "
    "AlphaDropout / ActivityRegularization / Identity (identity)",
    "Flatten",
    "GlobalAveragePooling2D",
    "Dense (ReLU or linear activation)",
    "nested Sequential / functional chain models",
)

_IDENTITY = (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
    LocalResponseNormalization,
)

_FEATURE_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.Dense,
    keras.layers.MaxPooling2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
    keras.layers.AveragePooling2D,
)


@dataclasses.dataclass(frozen=True)
class Stage:
    """One supported layer of a chain model.

    Attributes:
        layer: the Keras layer.
        kind: `"conv"`, `"pool"`, `"pad"`, `"crop"`, `"pointwise"`,
            `"flatten"`, `"gap"` or `"dense"`.
        relu: whether the layer's output passes through a ReLU.
        input_shape: per-image input shape, e.g. `(H, W, C)`.
        output_shape: per-image output shape.
        geometry: for spatial stages, `((size, stride, pad), (size, stride,
            pad))` for rows and columns; `None` otherwise.
        crop: for `"pad"` / `"crop"` stages, `((top, bottom), (left,
            right))`.
    """

    layer: keras.layers.Layer
    kind: str
    relu: bool
    input_shape: tuple
    output_shape: tuple
    geometry: tuple = None
    crop: tuple = None

    @property
    def name(self):
        return self.layer.name

    @property
    def spatial(self):
        return self.geometry is not None


class UnsupportedLayerError(ValueError):
    """Raised for a layer the deconvnet cannot mirror."""


def chain_layers(model):
    """The layers of a chain model from input to output, nested models
    expanded.

    Raises:
        ValueError: if the model is not a chain (a layer with several
            inputs, several model outputs) or is a subclassed model.
    """
    if isinstance(model, keras.Sequential):
        layers = []
        for layer in model.layers:
            layers.extend(_expand(layer))
        return layers
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected a keras.Model. Received: model={model!r}"
        )
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if not outputs:
        raise ValueError(
            "Deconvnet needs a Sequential or functional Keras model built on "
            "an input shape (a subclassed model has no graph to mirror; an "
            "unbuilt model has no shapes). "
            f"Received: model '{model.name}' ({type(model).__name__})"
        )
    if len(outputs) != 1:
        raise ValueError(
            "Deconvnet needs a chain model with a single output. "
            f"Received: model '{model.name}' with {len(outputs)} outputs"
        )
    reversed_layers = []
    tensor = outputs[0]
    while True:
        operation, node_index, _ = tensor._keras_history
        if isinstance(operation, keras.layers.InputLayer):
            break
        node = operation._inbound_nodes[node_index]
        inputs = [t for t in node.input_tensors]
        if len(inputs) != 1:
            raise UnsupportedLayerError(unsupported_message(
                operation,
                f"it takes {len(inputs)} inputs (the deconvnet mirrors chain "
                "models, without residual or concatenated branches)",
            ))
        reversed_layers.append(operation)
        tensor = inputs[0]
    layers = []
    for layer in reversed(reversed_layers):
        layers.extend(_expand(layer))
    return layers


def _expand(layer):
    if isinstance(layer, keras.Model):
        return chain_layers(layer)
    if isinstance(layer, keras.layers.InputLayer):
        return []
    return [layer]


def model_input_shape(model):
    """The per-image input shape of a model, e.g. `(224, 224, 3)`."""
    shape = model.input_shape
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError(
                "Deconvnet needs a model with a single input. "
                f"Received: input shapes {shape}"
            )
        shape = shape[0]
    return tuple(shape[1:])


def parse_chain(layers, input_shape):
    """Turns chain layers into `Stage`s for a given per-image input shape.

    Parsing stops at the first unsupported layer. If that layer is followed
    by convolution, pooling or dense layers (so that it sits *inside* the
    feature hierarchy) an `UnsupportedLayerError` is raised at once;
    otherwise (e.g. a softmax classifier on top) the stages before it are
    returned together with the blocking layer.

    Returns:
        `(stages, blocker)` where `blocker` is `(layer, reason)` or `None`.
    """
    stages = []
    shape = tuple(input_shape)
    for position, layer in enumerate(layers):
        reason = _unsupported_reason(layer, shape)
        if reason is not None:
            later = layers[position + 1:]
            if any(isinstance(other, _FEATURE_LAYERS) for other in later):
                raise UnsupportedLayerError(unsupported_message(layer, reason))
            return stages, (layer, reason)
        stage = _make_stage(layer, shape)
        stages.append(stage)
        shape = stage.output_shape
    return stages, None


def unsupported_message(layer, reason):
    """The error text for a layer the deconvnet cannot mirror."""
    supported = "; ".join(SUPPORTED_LAYERS)
    return (
        f"Layer '{layer.name}' ({type(layer).__name__}) cannot be mirrored "
        f"by the deconvnet: {reason}. Supported layers: {supported}."
    )


def _is_relu_activation(activation):
    return activation is keras.activations.relu


def _is_linear_activation(activation):
    return activation is keras.activations.linear


def _unsupported_reason(layer, shape):
    if isinstance(layer, keras.layers.Conv2D):
        if layer.data_format != "channels_last":
            return "only data_format='channels_last' is supported"
        if getattr(layer, "groups", 1) != 1:
            return f"grouped convolutions (groups={layer.groups})"
        if tuple(layer.dilation_rate) != (1, 1):
            return f"dilated convolutions (dilation_rate={layer.dilation_rate})"
        if not (_is_relu_activation(layer.activation)
                or _is_linear_activation(layer.activation)):
            return _activation_reason(layer.activation)
        return _rank_reason(shape, 3)
    if isinstance(layer, keras.layers.Dense):
        if not (_is_relu_activation(layer.activation)
                or _is_linear_activation(layer.activation)):
            return _activation_reason(layer.activation)
        return _rank_reason(shape, 1)
    if isinstance(layer, keras.layers.MaxPooling2D):
        if layer.data_format != "channels_last":
            return "only data_format='channels_last' is supported"
        return _rank_reason(shape, 3)
    if isinstance(layer, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D,
                          keras.layers.GlobalAveragePooling2D)):
        if layer.data_format != "channels_last":
            return "only data_format='channels_last' is supported"
        if getattr(layer, "keepdims", False):
            return "keepdims=True is not supported"
        return _rank_reason(shape, 3)
    if isinstance(layer, keras.layers.ReLU):
        if (layer.max_value is not None or layer.negative_slope
                or layer.threshold):
            return (
                "only a plain ReLU (no max_value, negative_slope or "
                "threshold) is supported"
            )
        return None
    if isinstance(layer, keras.layers.Activation):
        if not (_is_relu_activation(layer.activation)
                or _is_linear_activation(layer.activation)):
            return _activation_reason(layer.activation)
        return None
    if isinstance(layer, keras.layers.BatchNormalization):
        if layer.axis not in (-1, len(shape)):
            return f"only the channel axis is supported (axis={layer.axis})"
        return None
    if isinstance(layer, keras.layers.Normalization):
        if layer.invert:
            return "invert=True is not supported"
        return None
    if isinstance(layer, (keras.layers.Rescaling, *_IDENTITY)):
        return None
    if isinstance(layer, keras.layers.Flatten):
        return _rank_reason(shape, 3)
    return "this layer type has no deconvnet counterpart"


def _activation_reason(activation):
    name = getattr(activation, "__name__", repr(activation))
    return (
        f"its activation is '{name}'; the deconvnet rectifies only ReLU "
        "(or linear) layers"
    )


def _rank_reason(shape, rank):
    if len(shape) != rank:
        return f"expected a per-image input of rank {rank}, got shape {shape}"
    return None


def _make_stage(layer, shape):
    out = tuple(layer.compute_output_shape((1, *shape))[1:])
    if isinstance(layer, keras.layers.Conv2D):
        geometry = window_geometry(
            shape, layer.kernel_size, layer.strides, layer.padding
        )
        return Stage(layer, "conv", _is_relu_activation(layer.activation),
                     shape, out, geometry)
    if isinstance(layer, keras.layers.MaxPooling2D):
        geometry = window_geometry(
            shape, layer.pool_size, layer.strides, layer.padding
        )
        return Stage(layer, "pool", False, shape, out, geometry)
    if isinstance(layer, keras.layers.ZeroPadding2D):
        crop = tuple(tuple(int(v) for v in p) for p in layer.padding)
        geometry = ((1, 1, crop[0][0]), (1, 1, crop[1][0]))
        return Stage(layer, "pad", False, shape, out, geometry, crop)
    if isinstance(layer, keras.layers.Cropping2D):
        crop = tuple(tuple(int(v) for v in p) for p in layer.cropping)
        geometry = ((1, 1, -crop[0][0]), (1, 1, -crop[1][0]))
        return Stage(layer, "crop", False, shape, out, geometry, crop)
    if isinstance(layer, keras.layers.Flatten):
        return Stage(layer, "flatten", False, shape, out)
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        return Stage(layer, "gap", False, shape, out)
    if isinstance(layer, keras.layers.Dense):
        return Stage(layer, "dense", _is_relu_activation(layer.activation),
                     shape, out)
    relu = isinstance(layer, keras.layers.ReLU) or (
        isinstance(layer, keras.layers.Activation)
        and _is_relu_activation(layer.activation)
    )
    geometry = ((1, 1, 0), (1, 1, 0)) if len(shape) == 3 else None
    return Stage(layer, "pointwise", relu, shape, out, geometry)
