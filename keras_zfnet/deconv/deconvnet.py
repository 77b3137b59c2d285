"""`Deconvnet`: projects feature activations of a Keras CNN to pixel space."""

import numpy as np
import tensorflow as tf

from keras_zfnet.deconv import forward
from keras_zfnet.deconv import graph
from keras_zfnet.deconv.graph_deconvnet import GraphPath
from keras_zfnet.deconv import mirror
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.ops import first_argmax_positions
from keras_zfnet.utils.compiled import one_trace_per_function
from keras_zfnet.deconv import windowed
from keras_zfnet.utils import progress
from keras_zfnet.utils import validation

MODES = ("max", "all")
# Nominal size for models whose input has no fixed size (validation only).
_PROBE_SIZE = 512
# Projections of networks cheaper than this (mirror multiply-adds per
# projection) run in XLA when a pass holds fewer than _XLA_MAX_ITEMS of them.
_XLA_MAX_FULL_COST = 1e8
_XLA_MAX_ITEMS = 16


class Deconvnet:
    """A deconvnet attached to a Keras CNN (Zeiler & Fergus 2014, Sec. 2.1).

    To examine an activation, all other activations of its layer are set to
    zero and the map is passed down through a *mirror* of the network:
    unpooling with the switches recorded in the forward pass, rectification
    (ReLU on the reconstructed signal) and filtering with the transposed
    forward filters (biases unused), down to pixel space. `dn.mirror` is that
    mirror as a real `keras.Model` (`dn.mirror.summary()`).

    This equals the input gradient of the activation when every ReLU's
    backward pass applies ReLU to the incoming signal and max-pool gradients
    route through the argmax, multiplied by the seed: a projection is
    "activation value x modified gradient". Layers without a ReLU (linear
    convolutions) are not rectified.

    Mirroring choices where the paper is silent:
    - `LocalResponseNormalization`, `Dropout` and other inference-time
      identities pass the signal through unchanged (the contrast
      normalization is treated as an identity, not differentiated).
    - `BatchNormalization` (inference), `Rescaling` and `Normalization`
      multiply by their scale and drop their offset, like biases.
    - Switch ties: the first maximum in row-major window order, as
      TensorFlow's max-pool gradient chooses.

    The user's model is never modified: its layers are called on tensors and
    the mirror shares (does not copy) their kernel variables, so it follows
    the model as it trains.

    Graph models (ResNet, Inception, MobileNet, DenseNet, EfficientNet:
    `Add`, `Concatenate`, a layer output used several times) follow the same
    rule, generalized: a projection is the input-gradient of the seeded
    activation (seed = the activation's value) where every ReLU's backward
    pass is replaced by ReLU applied to the incoming top-down signal, max
    pooling routes through the recorded switches, convolutions and dense
    layers use their transposed filters without bias, and every other layer
    passes the signal back the way its gradient does at the forward point:
    `Add` copies the signal to each input, a layer output used by several
    layers receives the sum of their signals, `Concatenate` splits it,
    `BatchNormalization` scales it, average and global-average pooling
    spread it, `DepthwiseConv2D` / `SeparableConv2D` use their transposed
    filters. `ReLU(max_value=6)` and other ReLU-family activations
    (`relu6`, `leaky_relu`, `LeakyReLU`) are rectified like ReLU;
    activations with no rectification in the paper (`swish`, `gelu`,
    `sigmoid` gates as in squeeze-and-excitation, `tanh`) and `Multiply`
    pass the signal back through their local derivative at the forward
    point, as Captum's `Deconvolution` does. For chains this is exactly the
    rule above. Graph models are mirrored by a generated backward
    (`keras_zfnet.deconv.graph_backward`; `dn.mirror_for(layer)` is a
    `keras.Model` of inputs `[seed, <pool>_switches, <layer>_preactivation,
    ...]` whose `GraphMirror` layer lists its `steps`); `mode="max"`
    projections run on receptive-field windows where they pay off. Supported
    layers there: `keras_zfnet.deconv.graph_walk.GRAPH_SUPPORTED_LAYERS`.

    Supported layers: see `keras_zfnet.deconv.graph.SUPPORTED_LAYERS`
    (convolutions and dense layers with ReLU or linear activations, max
    pooling, padding, normalization, dropout, flatten, nested chain models).
    A layer that cannot be mirrored inside the feature hierarchy (in a chain:
    a `tanh` convolution, `DepthwiseConv2D`, ...) raises a
    `ValueError` naming it; one on top of the hierarchy (a softmax classifier)
    only makes the layers above it unavailable.

    Args:
        model: a Sequential or functional Keras model (chains, or graphs
            with branches).
        windowed: `"auto"` (default), `True` or `False`. `mode="max"`
            projections of spatial layers can evaluate the mirror on each
            seed's receptive-field window only, which gives the same result
            for less work; `"auto"` does so where it is at least twice
            cheaper.
        jit_compile: `"auto"` (default), `True` or `False`: compile each
            projection pass (forward and mirror) with XLA. `"auto"` does so
            for passes of a few projections of a small network, where it was
            measured faster on CPU.

    Example:

    >>> model = keras.applications.VGG16(weights=None)
    >>> dn = Deconvnet(model)
    >>> images = np.random.rand(2, 224, 224, 3).astype("float32")
    >>> dn.project(images, "block3_conv1", channels=[0, 5]).shape
    (2, 2, 224, 224, 3)
    """

    def __init__(self, model, windowed="auto", jit_compile="auto"):
        for name, value in (("windowed", windowed),
                            ("jit_compile", jit_compile)):
            if value not in ("auto", True, False):
                raise ValueError(
                    f"`{name}` must be 'auto', True or False. "
                    f"Received: {name}={value!r}"
                )
        self.model = model
        self.windowed = windowed
        self.jit_compile = jit_compile
        self._graph = model_graph(model)
        self._input_shape = self._graph.input_shape
        probe = tuple(_PROBE_SIZE if d is None else d for d in self._input_shape)
        self._mirror_cache = {}
        self._function_cache = {}
        self._graph_path = None
        try:
            self._layers = self._graph.chain()
        except ValueError:  # branches: the graph path (graph_deconvnet)
            self._graph_path = GraphPath(self._graph, windowed)
            self._probe = probe
            self._layer_names = tuple(self._graph_path.walk(probe).projectable)
            return
        stages, self._blocker = self._graph.stages(probe)
        if not stages:
            layer, reason = self._blocker
            raise graph.UnsupportedLayerError(
                graph.unsupported_message(layer, reason)
            )
        self._layer_names = tuple(stage.name for stage in stages)
        self._stage_layers = tuple(stage.layer for stage in stages)

    @property
    def layer_names(self):
        """Names of the layers whose activations can be projected."""
        return list(self._layer_names)

    @property
    def mirror(self):
        """The mirror `keras.Model` attached to the topmost projectable layer."""
        return self.mirror_for(self._layer_names[-1])

    def mirror_for(self, layer, input_shape=None, xla_compatible=False):
        """The mirror `keras.Model` whose seed is `layer`'s output.

        Args:
            layer: a name from `layer_names` or the layer object.
            input_shape: per-image input shape, needed only for models
                without a fixed input size.
            xla_compatible: build it from XLA-compilable ops only (used
                when projections run under XLA).

        Returns:
            A `keras.Model` with inputs `[seed, <pool>_switches, ...]` and
            the per-image input shape of the model as output.
        """
        shape = self._concrete_shape(input_shape)
        name = self._resolve(layer)
        key = (shape, name, xla_compatible)
        if key not in self._mirror_cache and self._graph_path is not None:
            self._mirror_cache[key] = self._graph_path.mirror_for(
                shape, name, xla_compatible)
        if key not in self._mirror_cache:
            stages = self._stages(shape)
            index = self._layer_names.index(name)
            self._mirror_cache[key] = mirror.build_mirror(
                stages, index, xla_compatible=xla_compatible)
        return self._mirror_cache[key]

    def project(self, images, layer, channels, mode="max", batch_size=64,
                verbose="auto"):
        """Projects activations of `layer` back to pixel space.

        Args:
            images: `(N, H, W, C)` images as the model expects them (after
                its preprocessing). Non-float input is converted.
            layer: a layer name from `layer_names` or the layer object.
            channels: an int, or a list of K ints, indexing the layer's
                channels (units for dense layers).
            mode: `"max"` keeps only the strongest activation of the channel
                in each image (its first maximum in row-major order) and
                zeroes all else; `"all"` keeps the channel's whole map and
                zeroes the other channels. Both seed the mirror with the
                activation values themselves.
            batch_size: number of (image, channel) projections per mirror
                pass. All requested channels of an image are projected in
                one batched pass.
            verbose: `"auto"`, 0 or 1: a progress bar when several passes
                are needed.

        Returns:
            A float32 NumPy array: `(N, H, W, C)` for an int `channels`,
            `(N, K, H, W, C)` for a list.
        """
        if mode not in MODES:
            raise ValueError(
                f"`mode` must be one of {MODES}. Received: mode={mode!r}"
            )
        images = validation.as_images(images, self._input_shape)
        shape = tuple(images.shape[1:])
        name = self._resolve(layer)
        index = self._layer_names.index(name)
        stages = self._stages(shape)
        channels, single = validation.as_channels(
            channels, stages[index].output_shape[-1], name
        )
        batch_size = _check_batch_size(batch_size)
        num = len(channels)
        result = np.zeros((len(images), num, *shape), dtype="float32")
        per_pass = max(1, batch_size // num)
        channel_step = min(num, batch_size)
        items = min(len(images), per_pass) * channel_step
        function = self._projector(shape, index, mode, items)
        steps = [
            (start, stop)
            for start in range(0, len(images), per_pass)
            for stop in [min(len(images), start + per_pass)]
        ]
        bar = progress.bar(len(steps) * -(-num // channel_step), verbose)
        for start, stop in steps:
            chunk = tf.constant(images[start:stop])
            for c0 in range(0, num, channel_step):
                picked = tf.constant(channels[c0:c0 + channel_step])
                result[start:stop, c0:c0 + channel_step] = function(
                    chunk, picked
                ).numpy()
                bar.add(1)
        return result[:, 0] if single else result

    def project_positions(self, images, layer, channels, positions,
                          batch_size=64):
        """Projects one given activation per image to pixel space.

        Item `i` seeds the mirror with the activation of `channels[i]` at
        `positions[i]` of `images[i]` (its value in the forward pass) and
        zero elsewhere. Used to project stored top activations.

        Args:
            images: `(N, H, W, C)` images as the model expects them.
            layer: a layer name or object with spatial maps.
            channels: `N` ints.
            positions: `(N, 2)` int positions `(row, col)` in the layer's
                map.
            batch_size: projections per mirror pass.

        Returns:
            `(N, H, W, C)` float32 projections.
        """
        images = validation.as_images(images, self._input_shape)
        shape = tuple(images.shape[1:])
        name = self._resolve(layer)
        index = self._layer_names.index(name)
        stages = self._stages(shape)
        out_shape = stages[index].output_shape
        if len(out_shape) != 3:
            raise ValueError(
                f"Layer '{name}' has no spatial map; use project() for "
                f"dense layers. Received: layer output shape {out_shape}"
            )
        channels, _ = validation.as_channels(channels, out_shape[-1], name)
        positions = _as_positions(positions, len(images))
        if not len(images) == len(channels) == len(positions):
            raise ValueError(
                "`images`, `channels` and `positions` must have the same "
                f"length. Received: {len(images)}, {len(channels)}, "
                f"{len(positions)}"
            )
        limits = np.asarray(out_shape[:2])
        if np.any((positions < 0) | (positions >= limits)):
            raise ValueError(
                f"`positions` must lie in the {out_shape[0]}x{out_shape[1]} "
                f"map of layer '{name}'. Received: positions={positions}"
            )
        batch_size = _check_batch_size(batch_size)
        function = self._projector(shape, index, "positions",
                                   min(batch_size, len(images)))
        parts = []
        for start in range(0, len(images), batch_size):
            stop = start + batch_size
            parts.append(function(
                tf.constant(images[start:stop]),
                tf.constant(channels[start:stop]),
                tf.constant(positions[start:stop]),
            ).numpy())
        return np.concatenate(parts)

    # Internals -----------------------------------------------------------

    def _resolve(self, layer):
        """The stage name of `layer` (a name, a nested path or a layer),
        with the model-wide resolution every entry point shares."""
        if self._graph_path is not None:
            return self._graph_path.resolve(layer, self._probe)
        target = self._graph.get_layer(layer)
        for name, stage_layer in zip(self._layer_names, self._stage_layers):
            if stage_layer is target:
                return name
        if self._blocker is not None and any(
                lay is target for lay in self._layers):
            blocking, reason = self._blocker
            raise graph.UnsupportedLayerError(
                f"Layer '{target.name}' cannot be projected because it lies "
                "at or above an unsupported layer. "
                + graph.unsupported_message(blocking, reason)
            )
        raise ValueError(
            f"Layer '{target.name}' cannot be projected (it is a nested "
            f"model or not on the mirrored chain). Projectable layers: "
            f"{list(self._layer_names)}. Received: layer={layer!r}"
        )

    def _concrete_shape(self, input_shape):
        shape = tuple(input_shape or self._input_shape)
        if any(d is None for d in shape):
            raise ValueError(
                f"Model '{self.model.name}' has no fixed input size; pass "
                f"input_shape=(H, W, C). Received: input_shape={shape}"
            )
        return shape

    def _stages(self, shape):
        if self._graph_path is not None:  # seeds: .name, .output_shape
            return self._graph_path.seeds(shape)
        return self._graph.stages(shape)[0]

    def _use_windows(self, stages, index):
        window_plan = windowed.plan(stages, index)
        if window_plan is None or self.windowed is False:
            return None
        if self.windowed is True:
            return window_plan
        if window_plan.windowed_cost * 2 <= window_plan.full_cost:
            return window_plan
        return None

    def _use_xla(self, stages, index, items):
        """Whether to compile a projection pass of `items` with XLA."""
        if self.jit_compile != "auto":
            return bool(self.jit_compile)
        # Measured on 2 CPU cores: XLA fuses the many small ops of a few
        # projections of a small network (MiniZFNet conv5, one projection:
        # 5.2 -> 3.4 ms); for large networks or many projections per pass
        # oneDNN's convolutions and TensorFlow's unpooling kernel win
        # (MiniZFNet, 64 projections: 35.6 ms with XLA, 28.3 without; ZFNet
        # conv5, 64 windowed projections: 545 ms with XLA, 405 without).
        return (items < _XLA_MAX_ITEMS and
                windowed.mirror_cost(stages, index) < _XLA_MAX_FULL_COST)

    def _projector(self, shape, index, mode, items):
        if self._graph_path is not None:
            xla = self.jit_compile is True
        else:
            xla = self._use_xla(self._stages(shape), index, items)
        key = (shape, index, mode, xla)
        if key not in self._function_cache:
            self._function_cache[key] = self._build_projector(
                shape, index, mode, xla
            )
        return self._function_cache[key]

    def _build_projector(self, shape, index, mode, xla):
        """The compiled projection pass for one shape, layer and mode."""
        stages = self._stages(shape)
        if self._graph_path is not None:
            runner = self._graph_path.runner(
                shape, stages[index].id, mode, xla,
                self.mirror_for(stages[index].name, shape, xla))
            return one_trace_per_function(
                _positions_function(runner, shape, {}) if mode == "positions"
                else _channels_function(runner, shape, mode, {}))
        window_plan = (
            self._use_windows(stages, index) if mode != "all" else None
        )
        mirror_model = None
        if window_plan is None:
            mirror_model = self.mirror_for(stages[index].name, shape,
                                           xla_compatible=xla)
        runner = _MirrorRunner(stages, index, window_plan, mirror_model, xla)
        # With XLA (see `_use_xla`) the whole projection is compiled:
        # switches then come from XLA-compilable ops.
        options = {"jit_compile": True} if xla else {}
        if mode == "positions":
            function = _positions_function(runner, shape, options)
        else:
            function = _channels_function(runner, shape, mode, options)
        return one_trace_per_function(function)


class _MirrorRunner:
    """Runs the forward pass with switches, then the mirror (whole or on
    receptive-field windows) for a batch of seeded items."""

    def __init__(self, stages, index, window_plan, mirror_model, xla):
        self.stages = stages
        self.index = index
        self.window_plan = window_plan
        self.mirror_model = mirror_model
        self.xla = xla
        self.top = stages[index]
        self.spatial = len(self.top.output_shape) == 3
        self.pools = [i for i in range(index, -1, -1)
                      if stages[i].kind == "pool"]

    def forward(self, images):
        outputs, switches = forward.record_forward(
            self.stages, images, self.index, xla=self.xla)
        return outputs[self.index], switches

    def mirror(self, activations, switches, item_images, item_channels,
               positions=None, maps=None):
        """Projects items `(image, channel)` seeded at `positions` (their
        own activation) or with whole `maps`."""
        if self.window_plan is not None:
            values = _values_at(activations, item_images, item_channels,
                                positions)
            return windowed.project(
                self.stages, self.index, self.window_plan, positions, values,
                item_channels, item_images, switches,
                xla_compatible=self.xla,
            )
        if maps is None:
            maps = _point_maps(activations, item_images, item_channels,
                               positions)
        seed = _seed(maps, item_channels, self.top.output_shape[-1],
                     self.spatial)
        item_switches = [tf.gather(switches[i], item_images)
                         for i in self.pools]
        return self.mirror_model([seed, *item_switches], training=False)


def _positions_function(runner, shape, options):
    """`f(images, channels, positions)`: one given activation per image."""
    @tf.function(input_signature=[
        tf.TensorSpec((None, *shape), tf.float32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None, 2), tf.int32),
    ], **options)
    def project_positions(images, channels, positions):
        activations, switches = runner.forward(images)
        items = tf.range(tf.shape(images)[0])
        return runner.mirror(activations, switches, items, channels,
                             positions=positions)

    return project_positions


def _channels_function(runner, shape, mode, options):
    """`f(images, channels)`: every channel of every image, seeded by its
    first maximum (`"max"`) or its whole map (`"all"`)."""
    @tf.function(input_signature=[
        tf.TensorSpec((None, *shape), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ], **options)
    def project(images, channels):
        activations, switches = runner.forward(images)
        n = tf.shape(images)[0]
        k = tf.shape(channels)[0]
        item_images = tf.repeat(tf.range(n), k)
        item_channels = tf.tile(channels, [n])
        maps = positions = None
        if not runner.spatial:
            maps = tf.reshape(tf.gather(activations, channels, axis=1),
                              (-1,))
        elif mode == "all":
            maps = _channel_maps(activations, channels)
        else:
            positions = first_argmax_positions(
                _channel_maps(activations, channels))
        projections = runner.mirror(activations, switches, item_images,
                                    item_channels, positions, maps)
        return tf.reshape(projections, (n, k, *shape))

    return project


def _check_batch_size(batch_size):
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be an integer >= 1. Received: "
            f"batch_size={batch_size}"
        )
    return int(batch_size)


def _as_positions(positions, count):
    """`(N, 2)` int32 positions, refusing shapes that would pair the wrong
    coordinates (`(2, N)` from `np.nonzero`) and non-integers."""
    array = np.asarray(positions)
    if array.ndim == 1 and array.shape == (2,) and count == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] != count:
        hint = ""
        if array.ndim == 2 and array.shape == (2, count):
            hint = (" (this looks like the (2, N) output of np.nonzero; "
                    "pass np.stack(..., axis=1) or its transpose)")
        raise ValueError(
            f"`positions` must be an (N, 2) array of (row, col), one per "
            f"image (N={count}){hint}. Received: positions.shape="
            f"{array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise ValueError(
            "`positions` must be integers (map coordinates). Received: "
            f"positions with dtype={array.dtype}"
        )
    return array.astype("int32")


def _channel_maps(activations, channels):
    """`(n * k, h, w)` maps of the selected channels, image-major."""
    maps = tf.gather(activations, channels, axis=3)
    maps = tf.transpose(maps, (0, 3, 1, 2))
    shape = tf.shape(maps)
    return tf.reshape(maps, (-1, shape[2], shape[3]))


def _values_at(activations, item_images, item_channels, positions):
    index = tf.stack(
        [item_images, positions[:, 0], positions[:, 1], item_channels], axis=1
    )
    return tf.gather_nd(activations, index)


def _point_maps(activations, item_images, item_channels, positions):
    """`(batch, h, w)` maps holding only each item's seed value."""
    values = _values_at(activations, item_images, item_channels, positions)
    height, width = activations.shape[1], activations.shape[2]
    flat = positions[:, 0] * width + positions[:, 1]
    maps = tf.one_hot(flat, height * width) * values[:, None]
    return tf.reshape(maps, (-1, height, width))


def _seed(maps, item_channels, num_channels, spatial):
    """Places each item's map in its channel, zeros in all others."""
    hot = tf.one_hot(item_channels, num_channels)
    if spatial:
        return maps[:, :, :, None] * hot[:, None, None, :]
    return maps[:, None] * hot
