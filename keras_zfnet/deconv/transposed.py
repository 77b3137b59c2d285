"""Transposed convolution, with a faster path for few-channel outputs."""

import keras
from keras import ops

# Below this many output channels a strided transposed convolution is
# computed as one stride-1 convolution over stride**2 phases (measured 2-3x
# faster on CPU for the first layer's 3 channels with TensorFlow 2.16).
PHASE_MAX_CHANNELS = 8
# Kernels with at least this many input x output channels also run as
# forward convolutions (phases; one phase at stride 1): with TensorFlow 2.21
# on 2 CPU cores, 64 windowed ZFNet conv5 projections took 0.81-0.91 s this
# way against 1.08-1.21 s through the transposed-convolution kernel, while
# MiniZFNet's narrower layers (at most 96 x 96) were slower this way.
PHASE_MIN_WIDE = 16384
# On JAX (XLA's CPU convolutions) every transposed convolution runs faster
# as forward convolutions over phases: MiniZFNet conv5, 64 channels of one
# image in one call, 95 -> 59 ms; one projection 3.24 -> 3.10 ms (2 CPU
# cores, JAX 0.10.2). On TensorFlow the same choice made that call slower
# (51 -> 78 ms) and on PyTorch one projection slower (343 -> 413 ms).
PHASES_EVERYWHERE_BACKENDS = ("jax",)


def conv_transpose_valid(x, kernel, strides):
    """`"valid"` transposed convolution of `x` with a `Conv2D` kernel.

    Output size `(h - 1) * stride + kernel` per axis, i.e. the gradient of a
    `"valid"` convolution before any cropping.

    Args:
        x: `(batch, h, w, filters)` tensor.
        kernel: `(kh, kw, channels, filters)` forward kernel.
        strides: `(sr, sc)`.

    Returns:
        `(batch, (h - 1) * sr + kh, (w - 1) * sc + kw, channels)` tensor.
    """
    kernel = ops.convert_to_tensor(kernel)
    strides = tuple(int(s) for s in strides)
    if max(strides) > 1 and kernel.shape[2] <= PHASE_MAX_CHANNELS:
        return _by_phases(x, kernel, strides)
    if (kernel.shape[2] * kernel.shape[3] >= PHASE_MIN_WIDE
            or keras.config.backend() in PHASES_EVERYWHERE_BACKENDS):
        return _by_phases(x, kernel, strides)
    return ops.conv_transpose(x, kernel, strides=strides, padding="valid")


def _by_phases(x, kernel, strides):
    """Output row `q * s + a` is a stride-1 correlation of `x` with the
    flipped sub-kernel `kernel[a::s]`: all `s * s` phases in one
    convolution, then interleaved (depth to space)."""
    kr, kc, channels, filters = kernel.shape
    sr, sc = strides
    pr, pc = -(-kr // sr), -(-kc // sc)
    w = ops.pad(kernel, [[0, pr * sr - kr], [0, pc * sc - kc], [0, 0], [0, 0]])
    w = ops.reshape(w, (pr, sr, pc, sc, channels, filters))
    w = ops.flip(ops.flip(w, axis=0), axis=2)
    w = ops.transpose(w, (0, 2, 5, 1, 3, 4))
    w = ops.reshape(w, (pr, pc, filters, sr * sc * channels))
    padded = ops.pad(x, [[0, 0], [pr - 1, pr - 1], [pc - 1, pc - 1], [0, 0]])
    z = ops.conv(padded, w, strides=1, padding="valid")
    rows, cols = z.shape[1], z.shape[2]
    z = ops.reshape(z, (-1, rows, cols, sr, sc, channels))
    z = ops.transpose(z, (0, 1, 3, 2, 4, 5))
    z = ops.reshape(z, (-1, rows * sr, cols * sc, channels))
    h, w_ = x.shape[1], x.shape[2]
    return z[:, : (h - 1) * sr + kr, : (w_ - 1) * sc + kc, :]
