"""The rule base class and the pieces rules share.

A *rule* says how one layer's top-down signal goes back: which forward
values it needs recorded, how it runs forward (usually the layer itself),
how it maps the signal at its output to signals at its inputs, and, for
layers that act locally on spatial maps, its window geometry and cost.

Signals are *raw* for local rules: the contribution to an input is the
`"valid"` input-side window of the output window, starting at `start *
stride - pad` and `(h - 1) * stride + size` long per axis (the engine
crops or pads it into the input's window). For non-local rules it is the
whole input map.
"""

import keras
from keras import ops

from keras_zfnet import backend
from keras_zfnet.utils import keras_internals

VARIANTS = ("deconvnet", "guided_backprop", "gradient")

_RELU_FAMILY = ("relu", "relu6", "leaky_relu")
POINT = ((1, 1, 0), (1, 1, 0))


class Context:
    """What a rule's backward may read for one node.

    Attributes:
        variant: the ReLU rule, one of `VARIANTS`.
        portable: use `keras.ops` forms only (XLA, or no fast kernel).
        starts: `None` for whole maps, else per axis the `(batch,)` starts
            of the node's output window.
        record: `record(key)` -> the node's recorded value `key` at its
            window, per item.
    """

    def __init__(self, variant, portable, starts, record):
        self.variant = variant
        self.portable = portable
        self.starts = starts
        self.record = record


class Rule:
    """How one layer's signal goes back (the default: its own VJP at the
    recorded forward point, see `fallback.VJPRule`).

    Attributes:
        verb: the mirror step's name suffix (`conv5_filter`).
        local: whether the layer acts locally on spatial maps (then
            `geometry` is set and windows work through it).
        geometry: `((size, stride, pad), (size, stride, pad))` when local.
    """

    verb = "backward"
    # The `ActivationBackward` of the layer's own activation, if any.
    activation = None
    # Whether a signal that is zero outside the output map gives zero
    # outside the input map (elementwise rules, unpooling through in-map
    # switches); then the engine skips masking the windows below. A
    # transposed convolution spreads signal onto the padding, a crop
    # exposes it: those stay False.
    keeps_inside = False

    def __init__(self, layer, input_shapes, output_shape):
        self.layer = layer
        self.input_shapes = tuple(tuple(s) for s in input_shapes)
        self.output_shape = tuple(output_shape)
        self.geometry = None

    @property
    def local(self):
        return self.geometry is not None

    def describe(self, variant):
        """A few words on what the backward does (`dn.mirror` steps)."""
        return self.verb

    def record_keys(self, variant):
        """Names of the forward values the backward reads."""
        return ()

    def record_shapes(self, key):
        """Per-image shape and dtype of record `key`."""
        return self.output_shape, "float32"

    def forward(self, xs, records, variant, portable, shared=False):
        """The layer's output on `xs`, storing what `record_keys` name in
        `records`; `shared`: the records will be read by several
        projections of each image (compute them once, see
        `keras_zfnet.ops.max_pool_with_switches_portable`)."""
        return call_layer(self.layer, xs)

    def backward(self, dy, ctx):
        """Raw signals for each input (`None` for none)."""
        raise NotImplementedError

    def needs_z(self, variant):
        """Whether the activation's backward reads the pre-activation."""
        return self.activation is not None and self.activation.needs_z(
            variant)

    def activate(self, z, records, variant):
        """The layer's activation of `z`, recording `z` when needed."""
        if self.needs_z(variant):
            records["z"] = z
        return self.layer.activation(z)

    def activation_backward(self, dy, ctx):
        """`dy` through the activation's backward (unchanged without one)."""
        if self.activation is None:
            return dy
        z = ctx.record("z") if self.needs_z(ctx.variant) else None
        return self.activation(dy, z, ctx.variant)

    def cost(self, area):
        """Multiply-adds of the backward on an output window of `area`
        positions (whole maps: the map's area)."""
        return area * self.output_shape[-1]


def call_layer(layer, xs):
    """`layer(xs, training=False)`; float32 layers are called without
    Keras' per-call machinery (tracing a large graph is much faster)."""
    x = xs if len(xs) > 1 else xs[0]
    if getattr(layer, "compute_dtype", None) != "float32":
        return layer(x, training=False)
    if keras_internals.call_has_training_arg(layer):
        return layer.call(x, training=False)
    return layer.call(x)


def is_relu_family(activation):
    """Whether an activation function is ReLU-family (rectified)."""
    name = getattr(activation, "__name__", "")
    return (name in _RELU_FAMILY
            and getattr(keras.activations, name, None) is activation)


def is_linear(activation):
    return activation is None or activation is keras.activations.linear


class ActivationBackward:
    """The backward of an activation: ReLU-family activations follow the
    variant (the paper's rule rectifies the signal; guided backprop also
    masks where the forward input was not positive; the gradient is the
    local derivative), every other activation passes the signal through its
    local derivative at the recorded pre-activation `z`.

    Args:
        fn: `fn(z)` -> activation.
        relu_family: whether `fn` is ReLU-family.
    """

    def __init__(self, fn, relu_family):
        self.fn = fn
        self.relu_family = relu_family

    def needs_z(self, variant):
        return not self.relu_family or variant != "deconvnet"

    def describe(self, variant):
        if not self.relu_family:
            return "local derivative"
        return {"deconvnet": "rectify", "guided_backprop": "guided rectify",
                "gradient": "gradient"}[variant]

    def __call__(self, dy, z, variant):
        if self.relu_family and variant == "deconvnet":
            return ops.relu(dy)
        if self.relu_family and variant == "guided_backprop":
            return ops.relu(dy) * ops.cast(z > 0, dy.dtype)
        return backend.vjp(self.fn, [z], dy)[0]


def zeros_like_raw(dy, shape):
    """Zeros `(batch, *shape)` with `dy`'s batch size."""
    return ops.zeros((ops.shape(dy)[0], *shape), dy.dtype)


def raw_size(geometry, dy):
    """Per axis the raw input-side window of an output window of `dy`."""
    return tuple((dy.shape[1 + a] - 1) * s + k
                 for a, (k, s, _) in enumerate(geometry))
