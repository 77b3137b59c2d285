"""The autodiff formulation of the deconvnet, written independently of the
package: a forward pass where every ReLU's backward applies ReLU to the
incoming signal, LRN's backward is the identity (the mirror's documented
choice), and everything else (max pooling included) differentiates as usual.
The projection of a seed is the vector-Jacobian product with the seed.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_zfnet.layers import LocalResponseNormalization


@tf.custom_gradient
def deconv_relu(x):
    def grad(upstream):
        return tf.nn.relu(upstream)

    return tf.nn.relu(x), grad


@tf.custom_gradient
def identity_backward(x):
    y = tf.nn.local_response_normalization(
        x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75
    )

    def grad(upstream):
        return upstream

    return y, grad


def _activate(layer, z):
    if layer.activation is keras.activations.relu:
        return deconv_relu(z)
    assert layer.activation is keras.activations.linear
    return z


def forward(layers, x, stop):
    """Runs `layers` up to (and including) the one named `stop`."""
    for layer in layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Conv2D):
            z = tf.nn.conv2d(x, layer.kernel, layer.strides,
                             layer.padding.upper())
            if layer.use_bias:
                z = z + layer.bias
            x = _activate(layer, z)
        elif isinstance(layer, keras.layers.Dense):
            z = tf.matmul(x, layer.kernel)
            if layer.use_bias:
                z = z + layer.bias
            x = _activate(layer, z)
        elif isinstance(layer, keras.layers.MaxPooling2D):
            x = tf.nn.max_pool2d(x, layer.pool_size, layer.strides,
                                 layer.padding.upper())
        elif isinstance(layer, keras.layers.ZeroPadding2D):
            (t, b), (left, r) = layer.padding
            x = tf.pad(x, [[0, 0], [t, b], [left, r], [0, 0]])
        elif isinstance(layer, LocalResponseNormalization):
            x = identity_backward(x)
        elif isinstance(layer, keras.layers.ReLU):
            x = deconv_relu(x)
        elif isinstance(layer, keras.layers.Flatten):
            x = tf.reshape(x, (tf.shape(x)[0], -1))
        elif isinstance(layer, keras.layers.Rescaling):
            x = x * layer.scale + layer.offset
        elif isinstance(layer, (keras.layers.Dropout,
                                keras.layers.BatchNormalization)):
            x = layer(x, training=False)
        else:
            raise NotImplementedError(type(layer).__name__)
        if layer.name == stop:
            return x
    raise KeyError(stop)


def project(layers, images, stop, seed_fn):
    """VJP of the modified forward with the seed `seed_fn(activations)`."""
    x = tf.constant(images, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = forward(layers, x, stop)
    seed = seed_fn(y.numpy())
    return tape.gradient(y, x, output_gradients=tf.constant(seed)).numpy()


def max_seed(channel):
    """Seed keeping each image's first (row-major) maximum of `channel`."""

    def fn(act):
        seed = np.zeros_like(act)
        for n in range(act.shape[0]):
            if act.ndim == 2:
                seed[n, channel] = act[n, channel]
                continue
            plane = act[n, :, :, channel]
            r, c = np.unravel_index(np.argmax(plane), plane.shape)
            seed[n, r, c, channel] = plane[r, c]
        return seed

    return fn


def all_seed(channel):
    """Seed keeping the whole map of `channel`."""

    def fn(act):
        seed = np.zeros_like(act)
        seed[..., channel] = act[..., channel]
        return seed

    return fn
