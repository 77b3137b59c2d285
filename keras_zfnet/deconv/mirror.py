"""The generated deconvnet as an inspectable `keras.Model` (the paper's
mirror): one `MirrorStep` layer per node below the seed, from the seed down
to pixel space, running the same rules as every projection."""

import keras
from keras import ops

from keras_zfnet.deconv import engine
from keras_zfnet.deconv import windows as windows_lib
from keras_zfnet.deconv.rules import Context


class _Holder:
    """Keeps the graph (which holds the model's layers) untracked."""

    def __init__(self, graph):
        self.graph = graph


@keras.saving.register_keras_serializable(package="keras_zfnet")
class MirrorStep(keras.layers.Layer):
    """The backward of one forward layer (one node of the model's graph).

    It reads the forward layer's variables at call time (nothing is copied)
    and applies the layer's rule from the rule table to whole maps.

    Args:
        graph: the model's deconvnet `Graph`.
        node_id: the node.
        variant: the ReLU rule (`"deconvnet"`, `"guided_backprop"`,
            `"gradient"`).
        record_keys: names of the node's record inputs, in call order.
        portable: `keras.ops` forms only (XLA-compilable).
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `[signal, *records]`: the top-down signal at the layer's
            output and its recorded forward values.

    Returns:
        One signal per input of the forward layer (a list when it has
        several), each of that input's per-image shape.
    """

    def __init__(self, graph=None, node_id=0, variant="deconvnet",
                 record_keys=(), portable=False, **kwargs):
        super().__init__(**kwargs)
        self._holder = _Holder(graph)
        self.node_id = int(node_id)
        self.variant = variant
        self.record_keys = tuple(record_keys)
        self.portable = bool(portable)

    @property
    def forward_layer(self):
        return self._holder.graph.nodes[self.node_id].layer

    @property
    def rule(self):
        return self._holder.graph.nodes[self.node_id].rule

    @property
    def kernel(self):
        """The forward layer's kernel (shared, not copied)."""
        return self.forward_layer.kernel

    @property
    def step(self):
        """`"<layer>: <what the backward does>"`."""
        node = self._holder.graph.nodes[self.node_id]
        return f"{node.name}: {node.rule.describe(self.variant)}"

    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [
            inputs]
        dy, values = inputs[0], dict(zip(self.record_keys, inputs[1:]))
        graph = self._holder.graph
        node = graph.nodes[self.node_id]
        whole = windows_lib.full_windows(graph, self.node_id)
        ctx = Context(self.variant, self.portable, None,
                      lambda key: values[key])
        outputs = []
        for m, signal in zip(node.inputs, node.rule.backward(dy, ctx)):
            if signal is None:
                signal = ops.zeros((ops.shape(dy)[0],
                                    *graph.nodes[m].output_shape), dy.dtype)
            elif node.spatial:
                signal = engine.place_input(node, signal, whole, m)
            outputs.append(signal)
        return outputs if len(outputs) > 1 else outputs[0]

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape[0], (list, tuple)) \
            else input_shape
        graph = self._holder.graph
        shapes = [(first[0], *graph.nodes[m].output_shape)
                  for m in graph.nodes[self.node_id].inputs]
        return shapes if len(shapes) > 1 else shapes[0]

    def get_config(self):
        """Refused: a mirror step is a view of the source model (it reads
        the forward layer's variables and the parsed graph at call time),
        so no config can rebuild it without that model. Rebuild the mirror
        from the model instead: `Deconvnet(model).mirror_for(layer)`."""
        raise NotImplementedError(_NOT_SERIALIZABLE.format(name=self.name))

    @classmethod
    def from_config(cls, config):
        raise NotImplementedError(_NOT_SERIALIZABLE.format(
            name=config.get("name", "?")))


_NOT_SERIALIZABLE = (
    "A deconvnet mirror cannot be serialized or rebuilt from a config: its "
    "MirrorStep layers (here '{name}') read the source model's layers and "
    "variables at call time, so the mirror is a view of that model, not a "
    "model of its own. Save the source model instead and rebuild the "
    "mirror from it: `keras_zfnet.Deconvnet(model, rule=...).mirror_for("
    "layer, input_shape=..., xla_compatible=...)`."
)


def build_mirror(graph, seed_id, variant="deconvnet", portable=False):
    """The mirror `keras.Model` of seed node `seed_id`.

    Returns:
        A `keras.Model` with inputs `[seed, <layer>_switches,
        <layer>_preactivation, ...]` (the seed, then the recorded forward
        values its steps read, from the top down) and the per-image input
        as output; its layers are `MirrorStep`s named `<layer>_<verb>`
        (`conv5_filter`, `pool2_unpool`, `relu_rectify`, ...).
    """
    seed_node = graph.nodes[seed_id]
    safe = seed_node.name.replace("/", "_")
    seed = keras.Input(shape=seed_node.output_shape, name="seed")
    inputs = [seed]
    records = {}
    for key, i, shape, dtype in engine.record_specs(graph, seed_id, variant):
        label = graph.nodes[i].name.replace("/", "_")
        what = key.split(":")[1].replace("z", "preactivation")
        tensor = keras.Input(shape=shape, dtype=dtype, name=f"{label}_{what}")
        inputs.append(tensor)
        records.setdefault(i, []).append((key.split(":")[1], tensor))
    pending = {seed_id: [seed]}
    for i in reversed(graph.ancestors(seed_id)):
        parts = pending.pop(i, None)
        if not parts:
            continue
        node = graph.nodes[i]
        label = node.name.replace("/", "_")
        signal = parts[0] if len(parts) == 1 else keras.layers.Add(
            name=f"{label}_sum")(parts)
        if node.layer is None:
            return keras.Model(inputs, signal, name=f"{safe}_deconvnet")
        own = records.get(i, [])
        step = MirrorStep(graph, i, variant, [k for k, _ in own], portable,
                          name=f"{label}_{node.rule.verb}")
        outputs = step([signal, *[t for _, t in own]])
        if len(node.inputs) == 1:
            outputs = [outputs]
        for m, output in zip(node.inputs, outputs):
            pending.setdefault(m, []).append(output)
    raise ValueError("The seed does not depend on the model input.")
