"""Reads a Keras model as the deconvnet's graph: one parse for every
topology (a chain is a graph with one path).

`parse(model_view, input_shape)` expands nested models and returns a
`Graph`: the model's calls in topological order, each a `Node` with its
layer, its input nodes, concrete per-image shapes and its *rule* from the
rule table (`keras_zfnet.deconv.rules`), which carries the window geometry
of layers that act locally on spatial maps (output position `i` sees input
positions `[i * stride - pad, ... + size)`).
"""

import dataclasses

import keras

from keras_zfnet.deconv import rules
from keras_zfnet.deconv.rules import convolutions
from keras_zfnet.deconv.rules import pooling
from keras_zfnet.utils import keras_internals

# Layers that make up the feature hierarchy: an unusable layer below one of
# them is reported when the deconvnet is created.
FEATURE_LAYERS = (*convolutions.LAYERS, *pooling.LAYERS,
                  keras.layers.Conv2DTranspose)


class UnsupportedLayerError(ValueError):
    """Raised for a layer whose backward cannot be formed."""


@dataclasses.dataclass(frozen=True)
class Node:
    """One call of a layer (or operation) in the expanded graph.

    Attributes:
        id: position in topological order (0 is the model input).
        layer: the Keras layer or operation (`None` for the input).
        rule: its `rules.Rule` (`None` for the input and unusable nodes).
        inputs: ids of the input nodes.
        input_shapes: their per-image shapes.
        output_shape: per-image output shape.
        name: the layer's canonical name (`model_graph(model).resolve`).
    """

    id: int
    layer: object
    rule: object
    inputs: tuple
    input_shapes: tuple
    output_shape: tuple
    name: str

    @property
    def spatial(self):
        """Whether windows pass through this node (a local rule between
        rank-3 maps)."""
        if self.layer is None:
            return len(self.output_shape) == 3
        return (self.rule is not None and self.rule.local
                and len(self.output_shape) == 3
                and all(len(s) == 3 for s in self.input_shapes))

    @property
    def geometry(self):
        if self.layer is None:
            return rules.base.POINT
        return self.rule.geometry if self.spatial else None


@dataclasses.dataclass(frozen=True)
class Graph:
    """The expanded graph of a model for one concrete input shape.

    Attributes:
        nodes: `Node`s in topological order, `nodes[0]` the input.
        projectable: names of nodes whose output can seed a projection.
        by_name: name -> node id of projectable nodes.
        blockers: node id -> `(layer, reason)` of the unusable layer it
            depends on.
        fan_out: node id -> number of nodes reading its output.
        output: id of the model's output node.
    """

    nodes: tuple
    projectable: tuple
    by_name: dict
    blockers: dict
    fan_out: dict
    output: int

    @property
    def variables(self):
        """Every Keras variable of the graph's layers, once each (what a
        compiled function reads; see `backend.compile_function`)."""
        seen, found = set(), []
        for node in self.nodes:
            for variable in getattr(node.layer, "variables", None) or ():
                if id(variable) not in seen:
                    seen.add(id(variable))
                    found.append(variable)
        return found

    def ancestors(self, node_id):
        """Ids of `node_id` and every node it depends on, sorted."""
        seen = {node_id}
        stack = [node_id]
        while stack:
            for parent in self.nodes[stack.pop()].inputs:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return sorted(seen)


def parse(model_view, input_shape):
    """Parses `model_view.model` for a per-image `input_shape`.

    Args:
        model_view: the model's `ModelGraph`.
        input_shape: concrete per-image input shape.

    Returns:
        A `Graph`.

    Raises:
        UnsupportedLayerError: when an unusable layer (several outputs, a
            non-float output) lies inside the feature hierarchy, naming it
            and the layers that can still be projected.
    """
    calls = []
    outputs = keras_internals.walk_calls(model_view.model, [0], calls)
    nodes = [Node(0, None, None, (), (), tuple(input_shape), "input")]
    blockers = {}
    counts = {}
    for call in calls:
        counts[id(call.layer)] = counts.get(id(call.layer), 0) + 1
    for call in calls:
        shapes = tuple(nodes[i].output_shape for i in call.inputs)
        node_id = len(nodes)
        shape = _output_shape(call.layer, shapes, call.symbolic_shape)
        reason = _reason(call)
        blocked = [blockers[i] for i in call.inputs if i in blockers]
        name = _name(model_view, call.layer)
        if reason is not None or blocked:
            blockers[node_id] = blocked[0] if blocked else (call.layer,
                                                            reason)
            nodes.append(Node(node_id, call.layer, None, tuple(call.inputs),
                              shapes, shape, name))
            continue
        layer = call.layer
        if call.bound is not None:
            layer = call.bound
        rule = rules.rule_for(layer, shapes, shape)
        nodes.append(Node(node_id, layer, rule, tuple(call.inputs), shapes,
                          shape, name))
    fan_out = {}
    for node in nodes[1:]:
        for i in node.inputs:
            fan_out[i] = fan_out.get(i, 0) + 1
    projectable, by_name = [], {}
    for node, call in zip(nodes[1:], calls):
        if (node.id in blockers or counts[id(call.layer)] > 1
                or not isinstance(call.layer, keras.layers.Layer)
                or call.bound is not None):
            continue
        if len(node.output_shape) in (1, 3):
            projectable.append(node.name)
            by_name[node.name] = node.id
    for node, call in zip(nodes[1:], calls):
        if node.id in blockers and isinstance(call.layer, FEATURE_LAYERS):
            layer, reason = blockers[node.id]
            raise UnsupportedLayerError(
                unsupported_message(layer, reason, projectable))
    return Graph(tuple(nodes), tuple(projectable), by_name, blockers,
                 fan_out, outputs[0])


def unsupported_message(layer, reason, projectable):
    """Error text for a layer the deconvnet cannot pass a signal through."""
    return (
        f"Layer '{layer.name}' ({type(layer).__name__}) cannot be mirrored "
        f"by the deconvnet: {reason}. Layers that do not depend on it can "
        f"still be projected: {list(projectable)}. Supported layers: "
        f"{'; '.join(rules.SUPPORTED_LAYERS)}."
    )


def _name(model_view, layer):
    if isinstance(layer, keras.layers.Layer):
        try:
            return model_view.resolve(layer)
        except ValueError:
            pass
    return layer.name


def _reason(call):
    """Why no backward can be formed through a call, or None."""
    if call.num_outputs != 1:
        return (f"it has {call.num_outputs} outputs (the deconvnet follows "
                "single-output layers)")
    dtype = str(call.dtype)
    if "float" not in dtype:
        return f"its output is not floating point (dtype {dtype})"
    return None


def _output_shape(layer, shapes, symbolic):
    fixed = all(d is not None for d in symbolic)
    batched = [(1, *s) for s in shapes]
    try:
        out = layer.compute_output_shape(batched if len(batched) > 1
                                         else batched[0])
        if isinstance(out, list):
            out = out[0]
        out = tuple(out[1:])
        if all(isinstance(d, int) for d in out):
            return out
    except Exception:  # noqa: BLE001 - any layer may refuse
        pass
    if fixed:
        return tuple(symbolic)
    tensors = [keras.KerasTensor(s) for s in batched]
    spec = keras_internals.compute_output_spec(
        lambda *xs: layer(list(xs) if len(xs) > 1 else xs[0]), *tensors)
    if isinstance(spec, (list, tuple)):  # several outputs (refused)
        spec = spec[0]
    return tuple(spec.shape[1:])
