"""The private Keras internals keras_zfnet reads, in one place.

Keras has no public API for walking a functional model's calls; these
helpers read `Functional._nodes_by_depth`, `Layer._inbound_nodes`,
`KerasTensor._keras_history`, `Node.operation` / `input_tensors` /
`outputs` / `arguments`, `Sequential._functional`,
`Layer._call_has_training_arg` and `BackupAndRestore._save_model`. No other
module of keras_zfnet reads a private Keras attribute (Progbar internals
live in `keras_zfnet.utils.progress`). `tests/utils/test_keras_internals.py`
fails loudly if a Keras release changes them.
"""

import collections

import keras

Call = collections.namedtuple(
    "Call", ["layer", "inputs", "symbolic_shape", "num_outputs", "dtype",
             "bound"])

_PLAIN_KWARGS = ("training", "mask")


def functional(model):
    """The functional graph of a model (Sequential's inner one), or None."""
    if isinstance(model, keras.Sequential):
        inner = getattr(model, "_functional", None)
        if inner is None and model.built:
            try:
                model.build()
            except Exception:  # noqa: BLE001 - reported as unbuilt
                return None
            inner = getattr(model, "_functional", None)
        return inner
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or not hasattr(model, "_nodes_by_depth"):
        return None
    return model


def nodes_in_order(model):
    """The Keras nodes of a functional model, inputs first."""
    graph = functional(model)
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        yield from graph._nodes_by_depth[depth]


def call_has_training_arg(layer):
    """Whether `layer.call` takes a `training` argument."""
    return getattr(layer, "_call_has_training_arg", False)


def producing_layer(tensor):
    """The layer (or model) whose call produced symbolic `tensor`."""
    return tensor._keras_history[0]


def output_layer(model):
    """The layer (or nested model) producing a graph model's first
    output (`model` is functional, or the inner graph of a Sequential)."""
    return producing_layer(model.outputs[0])


def node_in(layer, model):
    """The Keras node of `layer`'s call that belongs to functional
    `model`'s graph, or None when `layer` is not called in it."""
    nodes = {id(n) for depth in model._nodes_by_depth.values()
             for n in depth}
    for node in layer._inbound_nodes:
        if id(node) in nodes:
            return node
    return None


def save_backup(callback):
    """Writes a `keras.callbacks.BackupAndRestore` backup now (Keras saves
    only at its own `save_freq`)."""
    callback._save_model()


class BoundOperation:
    """An operation called with arguments besides its input tensors (a
    slice `x[:, 1:]`, a `keras.ops` call in a functional model): calling it
    with the input values fills them in."""

    def __init__(self, operation, arguments, tensor_ids):
        self.operation = operation
        self.arguments = arguments
        self.tensor_ids = tensor_ids
        self.name = operation.name

    def __call__(self, x, training=False):
        xs = x if isinstance(x, (list, tuple)) else [x]
        args, kwargs = self.arguments.fill_in(dict(zip(self.tensor_ids, xs)))
        return self.operation(*args, **kwargs)


def walk_calls(model, input_ids, calls):
    """Appends a `Call` per layer call of `model` (nested models expanded)
    to `calls`, ids counting from 1 (0 and `input_ids` name the inputs);
    returns the ids of the model's outputs."""
    graph = functional(model)
    ids = {id(t): i for t, i in zip(graph.inputs, input_ids)}
    for node in nodes_in_order(graph):
        layer = node.operation
        if isinstance(layer, keras.layers.InputLayer):
            continue
        tensors = list(node.input_tensors)
        inputs = [ids[id(t)] for t in tensors]
        if isinstance(layer, keras.Model):
            outs = walk_calls(layer, inputs, calls)
        else:
            bound = None
            if not _plain_call(node, layer):
                bound = BoundOperation(layer, node.arguments,
                                       [id(t) for t in tensors])
            out = node.outputs[0]
            calls.append(Call(layer, inputs, tuple(out.shape[1:]),
                              len(node.outputs), out.dtype, bound))
            outs = [len(calls)] * len(node.outputs)
        for tensor, out in zip(node.outputs, outs):
            ids[id(tensor)] = out
    return [ids[id(t)] for t in graph.outputs]


def _plain_call(node, layer):
    """Whether the call is `layer(x)` or `layer([x, y, ...])` (plus
    `training` / `mask`)."""
    if not isinstance(layer, keras.layers.Layer):
        return False
    args, kwargs = node.arguments.args, node.arguments.kwargs
    if any(k not in _PLAIN_KWARGS for k in kwargs):
        return False
    if len(args) != 1:
        return False
    arg = args[0]
    if isinstance(arg, keras.KerasTensor):
        return True
    return isinstance(arg, (list, tuple)) and all(
        isinstance(a, keras.KerasTensor) for a in arg)


def compute_output_spec(function, *tensors):
    """Keras' symbolic evaluation of `function` on `KerasTensor`s."""
    return keras.src.backend.compute_output_spec(function, *tensors)
