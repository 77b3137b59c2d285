"""Reads a functional Keras model (branches allowed) as a list of nodes the
graph deconvnet can mirror.

`walk(model, input_shape)` expands nested models and returns a `GraphWalk`:
the model's calls in topological order, each a `GraphNode` with its layer,
its input nodes, concrete per-image shapes, the *rule* its mirror follows
(see `keras_zfnet.deconv.graph_backward`) and, for layers that act locally
on spatial maps, the window geometry per axis `(size, stride, pad)` (output
position `i` sees input positions `[i * stride - pad, ... + size)`), which
gives receptive fields (union over all paths) and windowed mirrors.
"""

import dataclasses

import keras

from keras_zfnet.deconv import graph as chain_graph
from keras_zfnet.ops import window_geometry

GRAPH_SUPPORTED_LAYERS = (
    "Conv2D, DepthwiseConv2D, SeparableConv2D, Dense (any activation below)",
    "ReLU-family activations (relu, relu6, leaky_relu, ReLU, LeakyReLU): "
    "rectified",
    "elementwise activations (swish/silu, gelu, sigmoid, tanh, elu, ...): "
    "local derivative",
    "MaxPooling2D (switches), AveragePooling2D, GlobalAveragePooling2D",
    "Add, Subtract, Average, Concatenate (channel axis), Multiply",
    "BatchNormalization, Rescaling, Normalization (scale)",
    "ZeroPadding2D, Cropping2D, Flatten, Reshape",
    "Dropout-like and LocalResponseNormalization (identity)",
    "nested Sequential / functional models",
)

_RELU_NAMES = ("relu", "relu6", "leaky_relu")
_ELEMENTWISE_NAMES = (
    "sigmoid", "tanh", "silu", "swish", "gelu", "elu", "selu", "celu",
    "softplus", "softsign", "hard_sigmoid", "hard_silu", "hard_swish", "mish",
    "exponential", "log_sigmoid", "squareplus", "tanh_shrink", "hard_tanh",
    "soft_shrink", "hard_shrink", "sparse_plus", "sparse_sigmoid",
)
_IDENTITY = chain_graph._IDENTITY
_SCALE = (keras.layers.BatchNormalization, keras.layers.Rescaling,
          keras.layers.Normalization)
_POINT = ((1, 1, 0), (1, 1, 0))


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One call of a layer in the expanded graph.

    Attributes:
        id: position in topological order (0 is the model input).
        layer: the Keras layer (`None` for the input).
        kind: the mirror rule: `"input"`, `"conv"`, `"depthwise"`,
            `"separable"`, `"dense"`, `"maxpool"`, `"avgpool"`, `"pad"`,
            `"crop"`, `"gap"`, `"reshape"`, `"scale"`, `"identity"`,
            `"activation"`, `"add"`, `"subtract"`, `"average"`, `"concat"`,
            `"multiply"`.
        activation: `None`, `"relu"` (rectified) or `"gradient"` (local
            derivative at the forward point) for the layer's activation.
        inputs: ids of the input nodes.
        input_shapes: their per-image shapes.
        output_shape: per-image output shape.
        geometry: `((size, stride, pad), (size, stride, pad))` for layers
            acting locally on spatial maps, else `None`.
        name: the layer's canonical name (`model_graph(model).resolve`).
    """

    id: int
    layer: object
    kind: str
    activation: str
    inputs: tuple
    input_shapes: tuple
    output_shape: tuple
    geometry: tuple
    name: str

    @property
    def spatial(self):
        return self.geometry is not None


@dataclasses.dataclass(frozen=True)
class GraphWalk:
    """The expanded graph of a model for one concrete input shape.

    Attributes:
        nodes: `GraphNode`s in topological order, `nodes[0]` the input.
        projectable: names of nodes whose output can seed a projection,
            in topological order.
        by_name: name -> node id of projectable nodes.
        blockers: node id -> `(layer, reason)` of the unsupported layer it
            depends on (for nodes that cannot be projected).
    """

    nodes: tuple
    projectable: tuple
    by_name: dict
    blockers: dict

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


def walk(model_view, input_shape):
    """Walks `model_view.model`'s graph for a per-image `input_shape`.

    Args:
        model_view: the model's `ModelGraph`.
        input_shape: concrete per-image input shape.

    Returns:
        A `GraphWalk`.

    Raises:
        UnsupportedLayerError: when a layer no rule covers lies inside the
            feature hierarchy (a convolution, pooling or dense layer depends
            on it), naming it and the layers that can still be projected.
    """
    calls = []
    functional = _functional(model_view.model)
    outputs = _walk_calls(functional, [0], calls)
    del outputs
    nodes = [GraphNode(0, None, "input", None, (), (), tuple(input_shape),
                       _POINT if len(input_shape) == 3 else None, "input")]
    blockers = {}
    inherited = set()
    counts = {}
    for layer, _, _ in calls:
        counts[id(layer)] = counts.get(id(layer), 0) + 1
    for layer, inputs, symbolic in calls:
        shapes = tuple(nodes[i].output_shape for i in inputs)
        reason = _reason(layer, shapes)
        node_id = len(nodes)
        blocked = [blockers[i] for i in inputs if i in blockers]
        if reason is not None:
            blockers[node_id] = blocked[0] if blocked else (layer, reason)
            if blocked:
                inherited.add(node_id)
            try:
                shape = _output_shape(layer, shapes)
            except Exception:  # noqa: BLE001 - any layer may refuse
                shape = symbolic
            nodes.append(GraphNode(node_id, layer, "unsupported", None,
                                   tuple(inputs), shapes, shape, None,
                                   layer.name))
            continue
        if blocked:
            blockers[node_id] = blocked[0]
            inherited.add(node_id)
        nodes.append(_node(node_id, layer, tuple(inputs), shapes,
                           model_view.resolve(layer)))
    projectable = []
    by_name = {}
    for node in nodes[1:]:
        if node.id in blockers or counts[id(node.layer)] > 1:
            continue
        if len(node.output_shape) in (1, 3):
            projectable.append(node.name)
            by_name[node.name] = node.id
    for node in nodes[1:]:
        if node.id in inherited and isinstance(node.layer,
                                               chain_graph._FEATURE_LAYERS):
            layer, reason = blockers[node.id]
            raise chain_graph.UnsupportedLayerError(
                unsupported_message(layer, reason, projectable))
    return GraphWalk(tuple(nodes), tuple(projectable), by_name, blockers)


def unsupported_message(layer, reason, projectable):
    """Error text for a layer the graph deconvnet cannot mirror."""
    return (
        f"Layer '{layer.name}' ({type(layer).__name__}) cannot be mirrored "
        f"by the deconvnet: {reason}. Layers that do not depend on it can "
        f"still be projected (e.g. from a sub-model keras.Model(model.input, "
        f"model.get_layer(name).output)): {list(projectable)}. Supported "
        f"layers: {'; '.join(GRAPH_SUPPORTED_LAYERS)}."
    )


def _functional(model):
    from keras_zfnet.deconv.model_graph import _functional as functional

    return functional(model)


def _walk_calls(functional, input_ids, calls):
    """Appends `(layer, input ids, symbolic shape)` of every call in `functional` (nested
    models expanded) to `calls`; returns the ids of its outputs."""
    ids = {id(t): i for t, i in zip(functional.inputs, input_ids)}
    for depth in sorted(functional._nodes_by_depth, reverse=True):
        for node in functional._nodes_by_depth[depth]:
            layer = node.operation
            if isinstance(layer, keras.layers.InputLayer):
                continue
            inputs = [ids[id(t)] for t in node.input_tensors]
            if isinstance(layer, keras.Model):
                outs = _walk_calls(_functional(layer), inputs, calls)
            else:
                calls.append((layer, inputs,
                              tuple(node.outputs[0].shape[1:])))
                outs = [len(calls)] * len(node.outputs)
            for tensor, out in zip(node.outputs, outs):
                ids[id(tensor)] = out
    return [ids[id(t)] for t in functional.outputs]


def activation_rule(activation):
    """`None` (linear), `"relu"` (ReLU family: rectified), `"gradient"`
    (elementwise: local derivative) or `"unsupported"`."""
    if activation is None or activation is keras.activations.linear:
        return None
    name = getattr(activation, "__name__", "")
    if name in _RELU_NAMES and getattr(keras.activations, name) is activation:
        return "relu"
    if (name in _ELEMENTWISE_NAMES
            and getattr(keras.activations, name, None) is activation):
        return "gradient"
    return "unsupported"


def _output_shape(layer, shapes):
    batched = [(1, *s) for s in shapes]
    out = layer.compute_output_shape(batched if len(batched) > 1
                                     else batched[0])
    return tuple(out[1:])


def _reason(layer, shapes):
    """Why `layer` cannot be mirrored, or None."""
    channels_last = getattr(layer, "data_format", "channels_last")
    if channels_last != "channels_last":
        return "only data_format='channels_last' is supported"
    rank = len(shapes[0])
    activation = getattr(layer, "activation", None)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                          keras.layers.SeparableConv2D, keras.layers.Dense)):
        rule = activation_rule(activation)
        if rule == "unsupported":
            return (f"its activation '{getattr(activation, '__name__', '?')}'"
                    " is neither ReLU-family nor elementwise")
        if isinstance(layer, keras.layers.Conv2DTranspose):
            return "transposed convolutions have no mirror rule yet"
        if isinstance(layer, keras.layers.Dense):
            return None
        if getattr(layer, "groups", 1) != 1:
            return f"grouped convolutions (groups={layer.groups})"
        if tuple(layer.dilation_rate) != (1, 1):
            return f"dilated convolutions (dilation_rate={layer.dilation_rate})"
        return None if rank == 3 else f"expected rank-3 maps, got {shapes[0]}"
    if isinstance(layer, keras.layers.Activation):
        if activation_rule(activation) == "unsupported":
            return (f"its activation '{getattr(activation, '__name__', '?')}'"
                    " is neither ReLU-family nor elementwise")
        return None
    if isinstance(layer, (keras.layers.ReLU, keras.layers.LeakyReLU, *_SCALE,
                          *_IDENTITY, keras.layers.Add, keras.layers.Average,
                          keras.layers.Subtract, keras.layers.Multiply,
                          keras.layers.Flatten, keras.layers.Reshape)):
        if isinstance(layer, keras.layers.BatchNormalization) and (
                layer.axis not in (-1, rank)):
            return f"only the channel axis is supported (axis={layer.axis})"
        if isinstance(layer, keras.layers.Normalization) and layer.invert:
            return "invert=True is not supported"
        return None
    if isinstance(layer, keras.layers.Concatenate):
        if layer.axis not in (-1, rank):
            return f"only the channel axis is supported (axis={layer.axis})"
        return None
    if isinstance(layer, (keras.layers.MaxPooling2D,
                          keras.layers.AveragePooling2D,
                          keras.layers.ZeroPadding2D, keras.layers.Cropping2D,
                          keras.layers.GlobalAveragePooling2D)):
        return None if rank == 3 else f"expected rank-3 maps, got {shapes[0]}"
    return "this layer type has no deconvnet rule"


def _node(node_id, layer, inputs, shapes, name):
    out = _output_shape(layer, shapes)
    spatial = len(out) == 3 and all(len(s) == 3 for s in shapes)
    point = _POINT if spatial else None
    activation = activation_rule(getattr(layer, "activation", None))
    kind, geometry = "identity", point
    if isinstance(layer, keras.layers.SeparableConv2D):
        kind = "separable"
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        kind = "depthwise"
    elif isinstance(layer, keras.layers.Conv2D):
        kind = "conv"
    elif isinstance(layer, keras.layers.Dense):
        kind = "dense"
    elif isinstance(layer, (keras.layers.MaxPooling2D,
                            keras.layers.AveragePooling2D)):
        kind = ("maxpool" if isinstance(layer, keras.layers.MaxPooling2D)
                else "avgpool")
        geometry = window_geometry(shapes[0], layer.pool_size, layer.strides,
                                   layer.padding)
    elif isinstance(layer, keras.layers.ZeroPadding2D):
        kind = "pad"
        geometry = tuple((1, 1, int(p[0])) for p in layer.padding)
    elif isinstance(layer, keras.layers.Cropping2D):
        kind = "crop"
        geometry = tuple((1, 1, -int(c[0])) for c in layer.cropping)
    elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
        kind, geometry = "gap", None
    elif isinstance(layer, (keras.layers.Flatten, keras.layers.Reshape)):
        kind, geometry = "reshape", None
    elif isinstance(layer, _SCALE):
        kind = "scale"
    elif isinstance(layer, (keras.layers.ReLU, keras.layers.LeakyReLU)):
        kind, activation = "activation", "relu"
    elif isinstance(layer, keras.layers.Activation):
        kind = "activation"
    elif isinstance(layer, keras.layers.Add):
        kind = "add"
    elif isinstance(layer, keras.layers.Subtract):
        kind = "subtract"
    elif isinstance(layer, keras.layers.Average):
        kind = "average"
    elif isinstance(layer, keras.layers.Concatenate):
        kind = "concat"
    elif isinstance(layer, keras.layers.Multiply):
        kind = "multiply"
        if any(s != out for s in shapes):
            geometry = None  # broadcast (squeeze-and-excitation)
    if kind in ("conv", "depthwise", "separable"):
        geometry = window_geometry(shapes[0], layer.kernel_size,
                                   layer.strides, layer.padding)
    if kind in ("add", "subtract", "average") and any(
            s != out for s in shapes):
        geometry = None
    if kind not in ("conv", "depthwise", "separable", "dense", "activation"):
        activation = None
    return GraphNode(node_id, layer, kind, activation, inputs, shapes, out,
                     geometry, name)


def receptive_box(walk, node_id):
    """`(size, jump, start)` per axis of `node_id`'s receptive field: the
    union over every path from the input (a node that depends on a whole
    map, through global pooling or a broadcast gate, sees the whole image).

    Raises:
        ValueError: when paths disagree on the stride.
    """
    fields = {0: (((0, 1, 1), (0, 1, 1)), False)}
    for i in walk.ancestors(node_id)[1:]:
        node = walk.nodes[i]
        geometry = node.geometry
        if geometry is None and len(node.output_shape) == 3 and node.kind in (
                "multiply", "add", "subtract", "average"):
            geometry = _POINT  # broadcast: the map sees its spatial inputs
        if geometry is None:
            fields[i] = (None, True)
            continue
        axes, whole = [], False
        for axis, (k, s, p) in enumerate(geometry):
            start = end = jump = None
            for m in node.inputs:
                box, global_m = fields[m]
                whole = whole or global_m
                if box is None:
                    continue
                st, en, jm = box[axis]
                if jump is not None and jm * s != jump:
                    raise ValueError(
                        f"Layer '{node.name}' joins paths with different "
                        f"strides ({jump} and {jm * s} input pixels), so it "
                        "has no receptive-field box.")
                jump = jm * s
                st, en = st - p * jm, en + (k - 1 - p) * jm
                start = st if start is None else min(start, st)
                end = en if end is None else max(end, en)
            axes.append((start, end, jump))
        if axes[0][2] is None:  # only global inputs
            fields[i] = (None, True)
            continue
        fields[i] = (tuple(axes), whole)
    box, whole = fields[node_id]
    if box is None:
        raise ValueError(f"Layer '{walk.nodes[node_id].name}' has no "
                         "spatial map below it.")
    if whole:
        frame = walk.nodes[0].output_shape
        shape = walk.nodes[node_id].output_shape
        box = tuple((min(st, -(shape[a] - 1) * jm), max(en, frame[a]), jm)
                    for a, (st, en, jm) in enumerate(box))
    size = tuple(en - st for st, en, _ in box)
    return size, tuple(jm for _, _, jm in box), tuple(st for st, _, _ in box)
