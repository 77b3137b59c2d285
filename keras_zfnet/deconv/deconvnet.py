"""`Deconvnet`: projects feature activations of a Keras CNN to pixel space."""

import numpy as np
from keras import ops

from keras_zfnet import backend
from keras_zfnet.deconv import engine
from keras_zfnet.deconv import graph as graph_lib
from keras_zfnet.deconv import mirror as mirror_lib
from keras_zfnet.deconv import windows as windows_lib
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.deconv.projector import Projector
from keras_zfnet.deconv.rules import VARIANTS
from keras_zfnet.utils import progress
from keras_zfnet.utils import validation

MODES = ("max", "all")
# Nominal size for models whose input has no fixed size (validation only).
_PROBE_SIZE = 512
# A pass runs in XLA when its multiply-adds (one forward per image plus the
# mirror of every item on its windows) are fewer than this.
_XLA_MAX_PASS_COST = 1e8
# `batch_size="auto"`: items per pass so that their mirror signals hold
# about this many floats, between the two bounds.
_PASS_FLOATS = 2 ** 24
_AUTO_ITEMS = (64, 1024)
# `windowed="auto"`: windows when their multiply-adds are this many times
# fewer than whole maps' (2 elsewhere). Windows pay per item for gathering
# records and pasting; XLA fuses those on JAX. MiniZFNet conv5 (1.87x
# fewer), windows against whole maps in one process on JAX: one projection
# 3.06 vs 3.18 ms, then (a later run, two rounds) 3.48 / 2.35 vs 3.69 /
# 2.55 ms; 64 channels 30.7 vs 39.6 ms, then 31.6 / 34.2 vs 32.1 / 37.4 ms.
# TensorFlow's one projection went 5.6 -> 6.0 ms by windows and PyTorch's
# 64 channels 60 -> 72 ms, so they keep 2. (Those windows were the full
# receptive fields; since nodes whose window would cover their map run on
# whole maps, MiniZFNet conv5's windows are 2.1x fewer multiply-adds and
# every backend takes them.)
_WINDOW_MIN_GAIN = {"jax": 1.5}
# A pass's mirror runs in parts of `part_items` = this many signal floats
# (8 MB) / one item's floats, when it holds at least two such parts
# (`keras_zfnet.backend.map_parts`: parts of `part_items` on JAX; two lanes
# of at least `part_items` on TensorFlow). The 64-item ZFNet conv5 mirror,
# 1.34 M floats an item: 32 parts of 2 on JAX, 2 lanes of 32 on TF.
_PART_FLOATS = 2 ** 21


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

    One engine serves every model (a chain is a graph with one path): the
    model is parsed once into nodes, each with its rule from the rule table
    (`keras_zfnet.deconv.rules`), and the same rule applies to a layer in a
    `Sequential` and in a graph. The paper's rules: ReLU-family activations
    (`relu`, `relu6`, `leaky_relu`, `ReLU(max_value=6)`, `LeakyReLU`)
    rectify the top-down signal, max pooling routes it through the recorded
    switches, convolutions (dilated, grouped, depthwise, separable) and
    dense layers use their transposed filters without bias. Every other
    layer passes the signal back through its own vector-Jacobian product at
    the recorded forward point: `Add` copies the signal, a tensor used by
    several layers receives the sum of their signals, `Concatenate` splits
    it, batch norm scales it, average pooling spreads it, `tanh`, `gelu`,
    `swish`, `sigmoid` gates, `Multiply`, `LayerNormalization`,
    `UpSampling2D`, `Conv2DTranspose`, `GlobalMaxPooling2D` and custom
    layers use their local derivative (Captum's convention). A layer is
    refused only when no backward can be formed (several outputs, a
    non-float output), with a `ValueError` naming it; a layer called several
    times cannot seed a projection. `mode="max"` projections run on
    receptive-field windows where that is at least twice cheaper (1.5x on
    JAX).

    Args:
        model: a Sequential or functional Keras model (chains, or graphs
            with branches).
        windowed: `"auto"` (default), `True` or `False`. `mode="max"`
            projections of spatial layers can evaluate the mirror on each
            seed's receptive-field window only, which gives the same result
            for less work; `"auto"` does so where it is at least twice
            cheaper in multiply-adds (1.5x on JAX, where XLA fuses the
            windows' gathers).
        jit_compile: `"auto"` (default), `True` or `False`: compile each
            projection pass (forward and mirror) with XLA. `"auto"` does so
            for passes of a few projections of a small network, where it was
            measured faster on CPU (the same cost model for every topology).
        rule: the ReLU-family backward: `"deconvnet"` (default, the paper:
            ReLU of the signal), `"guided_backprop"` (Springenberg et al.
            2014: also masked where the forward input was not positive) or
            `"gradient"` (the plain input gradient, times the seed).

    Example:

    >>> model = keras.applications.VGG16(weights=None)
    >>> dn = Deconvnet(model)
    >>> images = np.random.rand(2, 224, 224, 3).astype("float32")
    >>> dn.project(images, "block3_conv1", channels=[0, 5]).shape
    (2, 2, 224, 224, 3)
    """

    def __init__(self, model, windowed="auto", jit_compile="auto",
                 rule="deconvnet"):
        for name, value in (("windowed", windowed),
                            ("jit_compile", jit_compile)):
            if value not in ("auto", True, False):
                raise ValueError(
                    f"`{name}` must be 'auto', True or False. "
                    f"Received: {name}={value!r}"
                )
        if rule not in VARIANTS:
            raise ValueError(f"`rule` must be one of {VARIANTS}. "
                             f"Received: rule={rule!r}")
        self.model = model
        self.rule = rule
        self.windowed = windowed
        self.jit_compile = jit_compile
        self._view = model_graph(model)
        self._input_shape = self._view.input_shape
        self._probe = tuple(_PROBE_SIZE if d is None else d
                            for d in self._input_shape)
        self._mirror_cache = {}
        self._function_cache = {}
        self._projectors = {}
        self._plans = {}
        self._layer_names = tuple(self._graph(self._probe).projectable)

    @classmethod
    def shared(cls, model):
        """The model's shared paper-rule `Deconvnet` (its compiled
        functions are reused by every analysis)."""
        return model_graph(model).cached("deconvnet", lambda: cls(model))

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
            xla_compatible: build it from XLA-compilable ops only.

        Returns:
            A `keras.Model` with inputs `[seed, <pool>_switches, ...]` and
            the per-image input shape of the model as output: one
            `MirrorStep` layer per forward layer below the seed, named
            `<layer>_<verb>` (`conv5_filter`, `pool2_unpool`, ...), whose
            `.step` says what it does. It is a view of `model` (it shares
            its variables), so it has no config of its own: `get_config()`
            and `keras.saving` raise `NotImplementedError`; save `model`
            and call `mirror_for` again to rebuild it.
        """
        shape = self._concrete_shape(input_shape)
        name = self._resolve(layer)
        key = (shape, name, xla_compatible)
        if key not in self._mirror_cache:
            graph = self._graph(shape)
            self._mirror_cache[key] = mirror_lib.build_mirror(
                graph, graph.by_name[name], self.rule, xla_compatible)
        return self._mirror_cache[key]

    def project(self, images, layer, channels, mode="max",
                batch_size="auto", verbose="auto"):
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
                pass, or `"auto"` (default): as many as hold about 64 MB of
                mirror signals, between 64 and 1024 (small networks project
                many images in one pass). All requested channels of an image
                are projected in one batched pass.
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
        name, seed_id, num_channels, batch_size = self._project_plan(
            shape, layer, mode, batch_size)
        channels, single = validation.as_channels(channels, num_channels,
                                                  name)
        num = len(channels)
        result = np.zeros((len(images), num, *shape), dtype="float32")
        per_pass = max(1, batch_size // num)
        channel_step = min(num, batch_size)
        items = min(len(images), per_pass) * channel_step
        function, windows = self._projector(shape, seed_id, mode, items,
                                            min(len(images), per_pass))
        steps = [
            (start, stop)
            for start in range(0, len(images), per_pass)
            for stop in [min(len(images), start + per_pass)]
        ]
        bar = progress.bar(len(steps) * -(-num // channel_step), verbose)
        for start, stop in steps:
            chunk = images[start:stop]
            for c0 in range(0, num, channel_step):
                picked = np.asarray(channels[c0:c0 + channel_step], "int32")
                out = function(chunk, picked)
                if windows is None:
                    result[start:stop, c0:c0 + len(picked)] = _numpy(out)
                else:
                    frames = [result[j, c] for j in range(start, stop)
                              for c in range(c0, c0 + len(picked))]
                    engine.paste_windows(
                        frames, _numpy(out[0]),
                        engine.input_starts(windows, _numpy(out[1])))
                bar.add(1)
        return result[:, 0] if single else result

    def project_positions(self, images, layer, channels, positions,
                          batch_size="auto", image_indices=None):
        """Projects given activations (one per entry) to pixel space.

        Entry `i` seeds the mirror with the activation of `channels[i]` at
        `positions[i]` of its image (its value in the forward pass) and zero
        elsewhere. Used to project stored top activations.

        Entries may share images: with `image_indices`, `images` holds each
        distinct image once and entry `i` reads `images[image_indices[i]]`.
        The forward pass then runs once per distinct image of a pass and all
        of an image's entries share it; entries are grouped by image, at
        most `batch_size` of them (and so of images) per pass, so memory
        stays bounded for any number of entries.

        Args:
            images: `(M, H, W, C)` images as the model expects them: one per
                entry (`M = N`) or, with `image_indices`, the distinct ones.
            layer: a layer name or object with spatial maps.
            channels: `N` ints.
            positions: `(N, 2)` int positions `(row, col)` in the layer's
                map.
            batch_size: entries per mirror pass, or `"auto"` (as in
                `project`).
            image_indices: optional `N` ints in `[0, M)`: the image of each
                entry. Default: entry `i` reads image `i`.

        Returns:
            `(N, H, W, C)` float32 projections, in entry order.

        Example:

        >>> dn = Deconvnet(model)
        >>> # 3 entries on 2 images: one forward pass per image
        >>> dn.project_positions(x[:2], "conv5", [4, 7, 4],
        ...                      [[1, 2], [0, 0], [3, 3]],
        ...                      image_indices=[0, 0, 1]).shape
        (3, 28, 28, 1)
        """
        images = validation.as_images(images, self._input_shape)
        shape = tuple(images.shape[1:])
        name = self._resolve(layer)
        graph = self._graph(shape)
        seed_id = graph.by_name[name]
        out_shape = graph.nodes[seed_id].output_shape
        if len(out_shape) != 3:
            raise ValueError(
                f"Layer '{name}' has no spatial map; use project() for "
                f"dense layers. Received: layer output shape {out_shape}"
            )
        channels, _ = validation.as_channels(channels, out_shape[-1], name)
        channels = np.asarray(channels, "int32")
        count = len(channels)
        if image_indices is None:
            if len(images) != count:
                raise ValueError(
                    "`images`, `channels` and `positions` must have the "
                    f"same length (or pass `image_indices`). Received: "
                    f"{len(images)} images, {count} channels")
            image_indices = np.arange(count, dtype="int32")
        else:
            image_indices = validation.as_image_indices(image_indices, count,
                                              len(images))
        positions = validation.as_positions(positions, count)
        limits = np.asarray(out_shape[:2])
        if np.any((positions < 0) | (positions >= limits)):
            raise ValueError(
                f"`positions` must lie in the {out_shape[0]}x{out_shape[1]} "
                f"map of layer '{name}'. Received: positions={positions}"
            )
        batch_size = self._pass_items(
            graph, seed_id, "positions",
            validation.check_batch_size(batch_size, allow_auto=True))
        result = np.zeros((count, *shape), "float32")
        if not count:
            return result
        items = min(batch_size, count)
        function, windows = self._projector(shape, seed_id, "positions",
                                            items, min(items, len(images)))
        order = np.argsort(image_indices, kind="stable")
        for start in range(0, count, batch_size):
            picked = order[start:start + batch_size]
            distinct, local = np.unique(image_indices[picked],
                                        return_inverse=True)
            # Ragged passes padded to one shape where the backend compiles
            # once per shape (JAX); the padding is dropped.
            slots = backend.pad_rows(
                picked, backend.padded_size(len(picked), items))
            distinct = backend.pad_rows(distinct, backend.padded_size(
                len(distinct), min(items, len(images))))
            projected = _numpy(function(
                images[distinct], backend.pad_rows(local, len(slots)).astype(
                    "int32"), channels[slots], positions[slots]))
            if windows is None:
                result[picked] = projected[:len(picked)]
            else:
                engine.paste_windows(
                    [result[e] for e in picked], projected,
                    engine.input_starts(windows, positions[picked]))
        return result

    # Internals -----------------------------------------------------------

    def _graph(self, shape):
        """The model's deconvnet `Graph` for a per-image input shape."""
        shape = tuple(shape)
        return self._view.cached(("deconv_graph", shape),
                                 lambda: graph_lib.parse(self._view, shape))

    def _resolve(self, layer):
        """The projectable name of `layer` (a name, a nested path or a
        layer), or a `ValueError` saying why it cannot be projected."""
        graph = self._graph(self._probe)
        target = self._view.get_layer(layer)
        nodes = [n for n in graph.nodes[1:] if n.layer is target]
        for node in nodes:
            if node.name in graph.by_name:
                return node.name
        for node in nodes:
            if node.id in graph.blockers:
                blocking, reason = graph.blockers[node.id]
                raise graph_lib.UnsupportedLayerError(
                    f"Layer '{target.name}' cannot be projected because it "
                    "depends on a layer the deconvnet cannot pass. "
                    + graph_lib.unsupported_message(blocking, reason,
                                                    graph.projectable))
        why = ("it is called several times in the model"
               if len(nodes) > 1 else
               "it is a nested model or has no spatial or dense output")
        raise ValueError(
            f"Layer '{target.name}' cannot be projected ({why}). "
            f"Projectable layers: {list(graph.projectable)}. "
            f"Received: layer={layer!r}")

    def _concrete_shape(self, input_shape):
        shape = tuple(input_shape or self._input_shape)
        if any(d is None for d in shape):
            raise ValueError(
                f"Model '{self.model.name}' has no fixed input size; pass "
                f"input_shape=(H, W, C). Received: input_shape={shape}"
            )
        return shape

    def _windows(self, graph, seed_id, mode):
        """The windows of a pass (shared by every `Deconvnet` of the
        model)."""
        kind = "all" if mode == "all" else "max"
        return self._view.cached(
            ("deconv_windows", graph.nodes[0].output_shape, seed_id, kind,
             self.windowed),
            lambda: windows_lib.choose(graph, seed_id, kind, self.windowed,
                                       _WINDOW_MIN_GAIN.get(backend.name(),
                                                            2.0)))

    def _project_plan(self, shape, layer, mode, batch_size):
        """`(name, seed id, channels, items per pass)` of `project`'s
        passes; remembered per (shape, layer given as a string, mode,
        batch size), so that a loop of single projections repeats no graph
        lookups (a layer given as an object is resolved every call)."""
        batch_size = validation.check_batch_size(batch_size, allow_auto=True)
        key = None
        if isinstance(layer, str):
            key = (shape, layer, mode, batch_size)
            plan = self._plans.get(key)
            if plan is not None:
                return plan
        name = self._resolve(layer)
        graph = self._graph(shape)
        seed_id = graph.by_name[name]
        batch_size = self._pass_items(graph, seed_id, mode, batch_size)
        plan = (name, seed_id, graph.nodes[seed_id].output_shape[-1],
                batch_size)
        if key is not None:
            self._plans[key] = plan
        return plan

    def _pass_items(self, graph, seed_id, mode, batch_size):
        """Items per pass: `batch_size`, or its `"auto"` choice."""
        if batch_size != "auto":
            return batch_size
        windows = self._windows(graph, seed_id, mode)
        floats = max(1, windows_lib.signal_floats(graph, seed_id, windows))
        low, high = _AUTO_ITEMS
        return int(min(high, max(low, _PASS_FLOATS // floats)))

    def _use_xla(self, graph, seed_id, mode, items, images):
        """The cost model's compile choice, the same for every topology."""
        if self.jit_compile != "auto":
            return bool(self.jit_compile)
        # Measured on 2 CPU cores: XLA fuses the many small ops of a cheap
        # pass (MiniZFNet conv5, one projection: 5.2 -> 3.4 ms; a 32-px
        # CNN, 16 images x 16 channels in one pass: 21 -> 18 ms); for large
        # networks or many projections per pass oneDNN's convolutions and
        # TensorFlow's unpooling kernel win.
        forward = self._view.cached(
            ("deconv_full_cost", graph.nodes[0].output_shape, seed_id),
            lambda: windows_lib.full_windows(graph, seed_id).cost)
        mirror = self._windows(graph, seed_id, mode).cost
        return images * forward + items * mirror < _XLA_MAX_PASS_COST

    def _projector(self, shape, seed_id, mode, items, images):
        """The compiled pass for `items` projections of `images` images,
        and its `Windows` where it returns input windows to paste on the
        host (`None` where it returns whole projections)."""
        # `jit_compile` is a public attribute: a change takes effect.
        key = (shape, seed_id, mode, items, images, self.jit_compile)
        function = self._projectors.get(key)
        if function is None:
            function = self._projectors[key] = self._build_projector(
                *key[:-1])
        return function

    def _build_projector(self, shape, seed_id, mode, items, images):
        graph = self._graph(shape)
        xla = self._use_xla(graph, seed_id, mode, items, images)
        windows = self._windows(graph, seed_id, mode)
        # Items per part: fixed per pass kind; only passes of at least two
        # parts split (at most two compiled variants per kind).
        floats = windows_lib.signal_floats(graph, seed_id, windows)
        part_items = max(1, round(_PART_FLOATS / max(1, floats)))
        if items < 2 * part_items or not backend.splits_parts(xla):
            part_items = None
        key = (shape, seed_id, mode, xla, part_items)
        if key not in self._function_cache:
            projector = Projector(graph, seed_id, windows, self.rule,
                                  portable=xla, part_items=part_items)
            if mode == "positions":
                function = projector.entries_function(shape, xla)
            else:
                function = projector.channels_function(shape, mode, xla)
            self._function_cache[key] = (
                function, windows if projector.host_paste else None)
        return self._function_cache[key]


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))
