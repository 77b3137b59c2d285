"""The private Keras attributes keras_zfnet relies on still exist.

They are read only by `keras_zfnet/utils/keras_internals.py` (graph
internals) and `keras_zfnet/utils/progress.py` (Progbar internals); this
file checks each one on a tiny functional model, a Sequential, a Progbar and
the callbacks, and fails naming the attribute and the Keras version when a
release removes or renames one. The last test keeps every other module off
private Keras attributes.
"""

import ast
import pathlib

import keras
import pytest

import keras_zfnet
from keras_zfnet.utils import keras_internals
from keras_zfnet.utils import progress


def _require(obj, attribute, kind):
    """`obj.<attribute>` exists and passes `kind` (a type, tuple of types
    or predicate)."""
    owner = type(obj).__name__
    where = (f"keras_zfnet relies on private `{owner}.{attribute}`, "
             f"Keras {keras.__version__}")
    assert hasattr(obj, attribute), f"{where}: the attribute is gone"
    value = getattr(obj, attribute)
    if isinstance(kind, (type, tuple)):
        ok, expected = isinstance(value, kind), kind
    else:
        ok, expected = kind(value), kind.__doc__
    assert ok, (f"{where}: expected {expected}, found "
                f"{type(value).__name__} ({value!r:.80})")
    return value


def _model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    y = keras.layers.ReLU(name="relu")(x)
    outputs = keras.layers.Add(name="add")([x, y])
    return keras.Model(inputs, outputs), x


def _is_list_of_nodes(value):
    """a list of keras Nodes"""
    return isinstance(value, list) and all(
        isinstance(n, keras.src.ops.node.Node) for n in value)


def _is_depth_map(value):
    """a dict {depth: [Node, ...]}"""
    return isinstance(value, dict) and value and all(
        isinstance(k, int) and _is_list_of_nodes(v) for k, v in value.items())


def _is_history(value):
    """a (layer, node_index, tensor_index) tuple"""
    return (isinstance(value, tuple) and len(value) == 3
            and isinstance(value[0], keras.Operation))


def test_graph_internals():
    model, conv_output = _model()
    _require(model, "_nodes_by_depth", _is_depth_map)
    conv = model.get_layer("conv")
    nodes = _require(conv, "_inbound_nodes", _is_list_of_nodes)
    for attribute in ("operation", "input_tensors", "outputs", "arguments"):
        _require(nodes[0], attribute, object)
    for attribute in ("args", "kwargs"):
        _require(nodes[0].arguments, attribute, (tuple, list, dict))
    _require(nodes[0].arguments, "fill_in", callable)
    _require(conv_output, "_keras_history", _is_history)
    _require(conv, "_call_has_training_arg", bool)
    sequential = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    _require(sequential, "_functional", keras.Model)
    # The helpers built on them.
    assert keras_internals.output_layer(model) is model.get_layer("add")
    assert keras_internals.producing_layer(conv_output) is conv
    assert keras_internals.node_in(conv, model) is nodes[0]
    assert keras_internals.functional(sequential) is sequential._functional
    assert len(list(keras_internals.nodes_in_order(model))) == 4


def test_callback_internals():
    backup = keras.callbacks.BackupAndRestore("unused")
    _require(backup, "_save_model", callable)


def test_progbar_internals():
    bar = keras.utils.Progbar(3)
    _require(bar, "_dynamic_display", bool)
    _require(keras.callbacks.ProgbarLogger(), "_maybe_init_progbar",
             callable)
    for attribute in ("progbar", "target", "verbose"):
        _require(keras.callbacks.ProgbarLogger(), attribute, object)
    # The plain-text bar switches Keras' redrawing off through it.
    assert progress.Progbar(3, plain=True)._dynamic_display is False


# Modules allowed to read private Keras attributes, and the only names
# (besides the `self._...` state of keras_zfnet's own classes) that look
# like private attributes elsewhere: TensorFlow's tracing-warning switch.
_ALLOWED_MODULES = {"utils/keras_internals.py", "utils/progress.py"}
_NOT_KERAS = {"_omit_frequent_tracing_warning"}


def test_no_other_module_reads_private_keras_attributes():
    root = pathlib.Path(keras_zfnet.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative in _ALLOWED_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = None
            if isinstance(node, ast.Attribute) and not (
                    isinstance(node.value, ast.Name)
                    and node.value.id in ("self", "cls")):
                name = node.attr
            elif (isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "hasattr", "setattr")
                  and len(node.args) > 1
                  and not (isinstance(node.args[0], ast.Name)
                           and node.args[0].id in ("self", "cls"))
                  and isinstance(node.args[1], ast.Constant)
                  and isinstance(node.args[1].value, str)):
                name = node.args[1].value
            if (name and name.startswith("_") and not name.startswith("__")
                    and name not in _NOT_KERAS):
                found.append(f"{relative}:{node.lineno}: {name}")
    assert not found, (
        "private attributes read outside keras_internals.py / progress.py "
        "(move them behind a function there):\n" + "\n".join(found))


if __name__ == "__main__":
    pytest.main([__file__])
