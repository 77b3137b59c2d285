"""The graph-model side of `Deconvnet`: layer names, mirror models and the
forward / mirror passes of projections for models with branches."""

import keras
import tensorflow as tf

from keras_zfnet.deconv import graph as chain_graph
from keras_zfnet.deconv import graph_backward
from keras_zfnet.deconv import graph_walk


class _Holder:
    """Keeps a walk (which holds the model's layers) untracked by Keras."""

    def __init__(self, walk):
        self.walk = walk


class GraphMirror(keras.layers.Layer):
    """The generated backward (deconvnet) of a graph model from one seed
    layer, as one layer (see `keras_zfnet.deconv.graph_backward`).

    It reads the forward model's variables at call time (nothing is
    copied). `steps` lists, from the seed down, each layer and the rule its
    mirror applies.

    Args:
        walk: the model's `GraphWalk`.
        seed_id: the seed node.
        keys: the record keys of the inputs after the seed.
        xla_compatible: unpool with segment sums (XLA-compilable).
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: `[seed, *records]` as the mirror model's inputs.
    """

    def __init__(self, walk, seed_id, keys, xla_compatible=False, **kwargs):
        super().__init__(**kwargs)
        self._holder = _Holder(walk)
        self.seed_id = int(seed_id)
        self.keys = tuple(keys)
        self.xla_compatible = bool(xla_compatible)

    @property
    def steps(self):
        """`"<layer>: <rule>"` per node of the backward, seed first."""
        walk = self._holder.walk
        steps = []
        for i in reversed(walk.ancestors(self.seed_id)[1:]):
            node = walk.nodes[i]
            rule = node.kind
            if node.activation:
                rule = f"{'rectify' if node.activation == 'relu' else 'local derivative'}, {rule}"
            fan = sum(i in n.inputs for n in walk.nodes)
            if fan > 1:
                rule = f"sum of {fan} signals, {rule}"
            steps.append(f"{node.name}: {rule}")
        return steps

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [
            inputs]
        seed, values = inputs[0], dict(zip(self.keys, inputs[1:]))
        walk = self._holder.walk
        windows = graph_backward.full_windows(walk, self.seed_id)
        return graph_backward.backward(
            walk, self.seed_id, seed, windows,
            lambda key, _: values[key], xla=self.xla_compatible)

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape[0], (list, tuple)) \
            else input_shape
        return (first[0], *self._holder.walk.nodes[0].output_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self._holder.walk.nodes[self.seed_id].name,
                       "steps": self.steps})
        return config


class GraphPath:
    """Projection passes for a functional model with branches.

    Args:
        model_view: the model's `ModelGraph`.
        windowed: as `Deconvnet`'s argument.
    """

    def __init__(self, model_view, windowed="auto"):
        self.view = model_view
        self.windowed = windowed

    def walk(self, shape):
        """The model's `GraphWalk` for a per-image input shape (cached)."""
        shape = tuple(shape)
        return self.view.cached(
            ("graph_walk", shape),
            lambda: graph_walk.walk(self.view, shape))

    def seed_id(self, shape, name):
        return self.walk(shape).by_name[name]

    def resolve(self, layer, probe_shape):
        """The projectable name of `layer`, or a `ValueError` saying why it
        cannot be projected."""
        walk = self.walk(probe_shape)
        target = self.view.get_layer(layer)
        nodes = [n for n in walk.nodes[1:] if n.layer is target]
        for node in nodes:
            if node.name in walk.by_name:
                return node.name
        for node in nodes:
            if node.id in walk.blockers:
                blocking, reason = walk.blockers[node.id]
                raise chain_graph.UnsupportedLayerError(
                    f"Layer '{target.name}' cannot be projected because it "
                    "depends on an unsupported layer. "
                    + graph_walk.unsupported_message(blocking, reason,
                                                     walk.projectable))
        why = ("it is called several times in the model"
               if len(nodes) > 1 else
               "it is a nested model or has no spatial or dense output")
        raise ValueError(
            f"Layer '{target.name}' cannot be projected ({why}). "
            f"Projectable layers: {list(walk.projectable)}. "
            f"Received: layer={layer!r}")

    def mirror_for(self, shape, name, xla_compatible=False):
        """The mirror `keras.Model` of seed layer `name` (built each call;
        `Deconvnet` caches it)."""
        walk = self.walk(shape)
        seed_id = walk.by_name[name]
        specs = graph_backward.record_specs(walk, seed_id)
        safe = name.replace("/", "_")
        seed = keras.Input(shape=walk.nodes[seed_id].output_shape,
                           name="seed")
        records = []
        for key, i, shape_i, dtype in specs:
            label = walk.nodes[i].name.replace("/", "_")
            what = key.split(":")[1].replace("z", "preactivation")
            records.append(keras.Input(shape=shape_i, dtype=dtype,
                                       name=f"{label}_{what}"))
        layer = GraphMirror(walk, seed_id, [s[0] for s in specs],
                            xla_compatible=xla_compatible,
                            name=f"{safe}_backward")
        output = layer([seed, *records])
        return keras.Model([seed, *records], output,
                           name=f"{safe}_deconvnet")

    def windows(self, shape, seed_id, mode):
        """The `Windows` a pass uses (receptive-field windows for one seed
        per item when they pay off, else whole maps)."""
        walk = self.walk(shape)
        full = graph_backward.full_windows(walk, seed_id)
        if mode == "all" or self.windowed is False:
            return full
        if len(walk.nodes[seed_id].output_shape) != 3:
            return full
        local = graph_backward.receptive_windows(walk, seed_id)
        if local is None:
            return full
        if self.windowed is True or local.cost * 2 <= full.cost:
            return local
        return full

    def seeds(self, shape):
        """Per projectable layer (in `layer_names` order) a `Seed`."""
        walk = self.walk(shape)
        return [Seed(name, walk.nodes[walk.by_name[name]].output_shape,
                     walk.by_name[name]) for name in walk.projectable]

    def runner(self, shape, seed_id, mode, xla, mirror_model):
        """The forward / mirror passes `Deconvnet`'s compiled projection
        functions run (see `GraphRunner`)."""
        from keras_zfnet.deconv import deconvnet

        walk = self.walk(shape)
        return GraphRunner(walk, seed_id, self.windows(shape, seed_id, mode),
                           mirror_model, xla, deconvnet)


class Seed:
    """A projectable layer of a graph model: `name`, `output_shape`, node
    `id`."""

    def __init__(self, name, output_shape, node_id):
        self.name = name
        self.output_shape = tuple(output_shape)
        self.id = node_id


class GraphRunner:
    """Runs the recording forward, then the backward (on receptive-field
    windows or through the mirror model) for a batch of seeded items."""

    def __init__(self, walk, seed_id, windows, mirror_model, xla, helpers):
        self.walk = walk
        self.seed_id = seed_id
        self.windows = windows
        self.mirror_model = mirror_model
        self.xla = xla
        self.helpers = helpers
        self.channels = walk.nodes[seed_id].output_shape[-1]
        self.spatial = len(walk.nodes[seed_id].output_shape) == 3
        self.keys = [spec[0] for spec in
                     graph_backward.record_specs(walk, seed_id)]

    @tf.autograph.experimental.do_not_convert
    def forward(self, images):
        return graph_backward.forward(self.walk, images, self.seed_id,
                                      xla=self.xla)

    @tf.autograph.experimental.do_not_convert
    def mirror(self, activations, records, item_images, item_channels,
               positions=None, maps=None):
        """Projects items `(image, channel)` seeded at `positions` (their
        own activation) or with whole `maps`."""
        helpers = self.helpers
        if self.windows.windowed:
            values = helpers._values_at(activations, item_images,
                                        item_channels, positions)
            signal = tf.one_hot(item_channels, self.channels) * values[:, None]
            record = graph_backward.window_record(
                records, item_images, self.windows, positions)
            return graph_backward.backward(
                self.walk, self.seed_id, signal[:, None, None, :],
                self.windows, record, positions, xla=self.xla)
        if maps is None:
            maps = helpers._point_maps(activations, item_images,
                                       item_channels, positions)
        seed = helpers._seed(maps, item_channels, self.channels, self.spatial)
        gathered = [tf.gather(records[key], item_images) for key in self.keys]
        return self.mirror_model([seed, *gathered], training=False)
