"""The autodiff formulation of the deconvnet, written independently of
the package: the model's graph is re-executed node by node with every
ReLU-family activation replaced by one whose backward follows the chosen
rule (`"deconvnet"`: ReLU of the incoming signal; `"guided_backprop"`: that,
masked where the forward input was not positive; `"gradient"`: unchanged),
activations of layers that carry one split off, max pooling by
`tf.nn.max_pool2d` (TensorFlow's gradient routes through the first
maximum), `LocalResponseNormalization` with an identity backward (the
paper's mirror), and every other layer or operation called as it is (its
ordinary gradient). A projection is the vector-Jacobian product with the
seed.
"""

import keras
import tensorflow as tf

from keras_zfnet.layers import LocalResponseNormalization
# The seeds are the chain oracle's (one definition of the tie rule's seed).
from tests.deconv.oracle import all_seed  # noqa: F401
from tests.deconv.oracle import max_seed  # noqa: F401

RULE = {"name": "deconvnet"}


def rectified(forward):
    """`forward` with the chosen ReLU rule's backward."""
    rule = RULE["name"]
    if rule == "gradient":
        return forward

    @tf.custom_gradient
    def apply(x):
        def grad(upstream):
            signal = tf.nn.relu(upstream)
            if rule == "guided_backprop":
                signal = signal * tf.cast(x > 0, signal.dtype)
            return signal

        return forward(x), grad

    return apply


def identity_backward(forward):
    @tf.custom_gradient
    def apply(x):
        return forward(x), lambda upstream: upstream

    return apply


_RELU_FAMILY = ("relu", "relu6", "leaky_relu")


def _activate(fn, z):
    name = getattr(fn, "__name__", "")
    if fn is None or name == "linear":
        return z
    if name in _RELU_FAMILY and getattr(keras.activations, name) is fn:
        return rectified(lambda t: fn(t))(z)
    return fn(z)


def _without_activation(layer, x):
    saved = layer.activation
    layer.activation = keras.activations.linear
    try:
        return layer(x, training=False)
    finally:
        layer.activation = saved


def _call(layer, xs, node):
    x = xs if len(xs) > 1 else xs[0]
    if isinstance(layer, (keras.layers.ReLU, keras.layers.LeakyReLU)):
        return rectified(lambda t: layer(t))(x)
    if isinstance(layer, keras.layers.Activation):
        return _activate(layer.activation, x)
    if isinstance(layer, keras.layers.MaxPooling2D):
        return tf.nn.max_pool2d(x, layer.pool_size, layer.strides,
                                layer.padding.upper())
    if isinstance(layer, LocalResponseNormalization):
        return identity_backward(lambda t: layer(t))(x)
    fn = getattr(layer, "activation", None)
    if callable(fn) and getattr(fn, "__name__", "") != "linear":
        return _activate(fn, _without_activation(layer, x))
    return layer(x, training=False)


def _functional(model):
    return getattr(model, "_functional", None) or model


def run(model, x, stop):
    """The output of layer `stop` computed by re-executing `model`'s graph
    (nested models expanded) on `x`."""
    found = {}
    y = _run(model, [x], stop, found)
    return found.get("value", y) if stop is None else found["value"]


def _run(model, xs, stop, found):
    graph = _functional(model)
    values = {id(t): v for t, v in zip(graph.inputs, xs)}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            layer = node.operation
            if isinstance(layer, keras.layers.InputLayer):
                continue
            inputs = [values[id(t)] for t in node.input_tensors]
            if isinstance(layer, keras.Model):
                y = _run(layer, inputs, stop, found)
            elif isinstance(layer, keras.layers.Layer) and len(
                    node.arguments.args) == 1 and not [
                        k for k in node.arguments.kwargs
                        if k not in ("training", "mask")]:
                y = _call(layer, inputs, node)
            else:  # an operation with arguments (x[:, 1:], keras.ops...)
                args, kwargs = node.arguments.fill_in(
                    {id(t): v for t, v in zip(node.input_tensors, inputs)})
                y = layer(*args, **kwargs)
            values[id(node.outputs[0])] = y
            if "value" not in found and getattr(layer, "name", None) == stop:
                found["value"] = y
            if "value" in found:
                return found["value"]
    return values[id(graph.outputs[0])]


def project(model, images, stop, seed_fn, rule="deconvnet"):
    """VJP of the re-executed graph at `stop` with `seed_fn(activations)`,
    under the ReLU `rule`."""
    RULE["name"] = rule
    try:
        x = tf.constant(images, dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = run(model, x, stop)
        seed = seed_fn(y.numpy())
        return tape.gradient(y, x,
                             output_gradients=tf.constant(seed)).numpy()
    finally:
        RULE["name"] = "deconvnet"
