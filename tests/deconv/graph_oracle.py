"""The autodiff formulation of the graph deconvnet, written independently of
the package: the model's graph is re-executed layer by layer with every
ReLU-family activation replaced by one whose backward applies ReLU to the
incoming signal (activations of convolutions / dense layers split off), max
pooling by `tf.nn.max_pool2d` (TensorFlow's gradient routes through the first
maximum), and every other layer called as it is (its ordinary gradient). A
projection is the vector-Jacobian product with the seed.
"""

import keras
import tensorflow as tf

# The seeds are the chain oracle's (one definition of the tie rule's seed).
from tests.deconv.oracle import all_seed  # noqa: F401
from tests.deconv.oracle import max_seed  # noqa: F401


@tf.custom_gradient
def deconv_relu(x):
    def grad(upstream):
        return tf.nn.relu(upstream)

    return tf.nn.relu(x), grad


def rectified(forward):
    """`forward` with the deconvnet's backward: ReLU of the signal."""
    @tf.custom_gradient
    def apply(x):
        def grad(upstream):
            return tf.nn.relu(upstream)

        return forward(x), grad

    return apply


_RELU_FAMILY = {"relu": tf.nn.relu, "relu6": tf.nn.relu6,
                "leaky_relu": tf.nn.leaky_relu}


def _activate(fn, z):
    name = getattr(fn, "__name__", "")
    if fn is None or name == "linear":
        return z
    if name in _RELU_FAMILY:
        return rectified(lambda t: fn(t))(z)
    return fn(z)


def _linear_part(layer, x):
    if isinstance(layer, keras.layers.SeparableConv2D):
        z = tf.nn.separable_conv2d(
            x, layer.depthwise_kernel, layer.pointwise_kernel,
            (1, *layer.strides, 1), layer.padding.upper())
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        z = tf.nn.depthwise_conv2d(x, layer.kernel, (1, *layer.strides, 1),
                                   layer.padding.upper())
    elif isinstance(layer, keras.layers.Conv2D):
        z = tf.nn.conv2d(x, layer.kernel, layer.strides,
                         layer.padding.upper())
    else:
        z = tf.matmul(x, layer.kernel)
    if layer.use_bias:
        z = z + layer.bias
    return z


def _call(layer, xs):
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                          keras.layers.SeparableConv2D, keras.layers.Dense)):
        return _activate(layer.activation, _linear_part(layer, xs[0]))
    if isinstance(layer, (keras.layers.ReLU, keras.layers.LeakyReLU)):
        return rectified(lambda t: layer(t))(xs[0])
    if isinstance(layer, keras.layers.Activation):
        return _activate(layer.activation, xs[0])
    if isinstance(layer, keras.layers.MaxPooling2D):
        return tf.nn.max_pool2d(xs[0], layer.pool_size, layer.strides,
                                layer.padding.upper())
    return layer(xs if len(xs) > 1 else xs[0], training=False)


def run(model, x, stop):
    """The output of layer `stop` computed by re-executing `model`'s graph
    (flat functional models) on `x`."""
    values = {id(model.inputs[0]): x}
    depths = sorted(model._nodes_by_depth, reverse=True)
    for depth in depths:
        for node in model._nodes_by_depth[depth]:
            layer = node.operation
            if isinstance(layer, keras.layers.InputLayer):
                continue
            xs = [values[id(t)] for t in node.input_tensors]
            y = _call(layer, xs)
            values[id(node.outputs[0])] = y
            if layer.name == stop:
                return y
    raise KeyError(stop)


def project(model, images, stop, seed_fn):
    """VJP of the re-executed graph at `stop` with `seed_fn(activations)`."""
    x = tf.constant(images, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = run(model, x, stop)
    seed = seed_fn(y.numpy())
    return tape.gradient(y, x, output_gradients=tf.constant(seed)).numpy()
