"""Transposed convolution, by the method measured fastest per backend."""

import keras
from keras import ops

from keras_zfnet import backend

# Three ways to compute the same transposed convolution, chosen per backend
# and shape by `method_for` from side-by-side timings (2 CPU cores,
# Keras 3.15, TF 2.21, JAX 0.10.2, torch 2.13; 1 and 64 items, the windowed
# ZFNet-224 and MiniZFNet conv1-conv5 mirrors):
# - "kernel": the backend's transposed-convolution kernel.
# - "phases": one stride-1 forward convolution over stride**2 phases. A
#   "valid" transposed convolution's output is larger than its input, and a
#   forward convolution computes every output position over the whole
#   (padded) kernel: for a 3 x 3 window through a 3 x 3 kernel that is
#   25 / 9 = 2.8x the multiply-adds the map needs.
# - "taps": one matrix product of the input with every kernel tap (exactly
#   the multiply-adds needed), then each tap's product added at its offset
#   (overlap-add). For ZFNet conv5 / conv4 / conv3 windows of 64 items on
#   TF: 11.6 / 35.7 / 45.6 ms by phases against 4.4 / 18.1 / 26.9 ms by
#   taps; on JAX one item's whole ZFNet mirror 18.5 -> 6.6 ms and
#   MiniZFNet's 1.11 -> 0.48 ms. PyTorch's own kernel, read channels-last,
#   beats both there (its eager ops pay per-op overhead for the many small
#   adds), and strided layers gain nothing (ZFNet conv2, TF, 64 items:
#   276 ms by taps against 279 ms by phases).
# Kernels with at least this many input x output channels are "wide".
PHASE_MIN_WIDE = 16384
# Output channels at or below which a layer is "few-channel" (a first
# layer's 3).
PHASE_MAX_CHANNELS = 8
# Taps pay for their overlap-add (memory traffic, growing with the map) with
# the multiply-adds they save over phases (a share of the map's, growing
# with the input filters): `taps_gain` is that share times the filters.
# ResNet50's 3 x 3 convolutions (16 items) ran by taps 2x slower than by
# phases on 28 x 28 maps (gain 17) on TF and JAX; on 14 x 14 maps (gain 60)
# taps were 9-16% faster on JAX and between 12% faster and 28% slower in
# two TF runs. On JAX, MiniZFNet's whole 7 x 7 conv5 map (gain 25) ran
# 1.2-1.3x faster by taps (`benchmarks/transposed.py`). Every ZFNet
# conv3-conv5 window has a gain of 188 or more. JAX takes taps for strided
# (more than 8 channels), few-channel and 1 x 1 layers whatever the gain:
# measured on ZFNet conv2 windows and MiniZFNet's conv1 map, not on
# first layers over big images.
TAPS_MIN_GAIN = 64
TAPS_MIN_GAIN_JAX = 20
# On JAX, one item's stride-1 pass takes taps from this gain on: its
# phases run as a padded convolution XLA does not hand to its fast
# convolution library, plus a kernel transform per call. MiniZFNet conv5,
# one projection (conv2's whole 14 x 14 map, gain 15), alternating
# processes: 1.74-1.81x the forward by phases, 1.56-1.70x by taps; at 64
# items phases stayed faster (25-29 against 27-30 ms). VGG16's 112 x 112
# maps (gain 4.5) ran 2.4-2.8x slower by taps. Only for maps of at most
# `TAPS_ONE_ITEM_MAX_AREA` positions: a large pass's parts of one item
# (`keras_zfnet.backend.map_parts`) would otherwise send ResNet50's
# 28 x 28 maps (gain 16.5; 2x slower by taps at 16 items) to taps.
TAPS_MIN_GAIN_JAX_ONE_ITEM = 12
TAPS_ONE_ITEM_MAX_AREA = 14 * 14
METHODS = ("kernel", "phases", "taps")


def taps_gain(size, kernel_shape, strides):
    """The input filters times the share of the phases' multiply-adds that
    taps save for a `size = (h, w)` input."""
    kr, kc, _, filters = kernel_shape
    sr, sc = strides
    h, w = size
    pr, pc = -(-kr // sr), -(-kc // sc)
    phases = (h + pr - 1) * (w + pc - 1) * pr * pc * sr * sc
    return filters * (1 - h * w * kr * kc / phases)


def method_for(backend_name, kernel_shape, strides, size, items=None):
    """The measured-fastest method for a kernel `(kh, kw, channels,
    filters)` at `strides` on a `size = (h, w)` input on `backend_name`.

    - JAX (XLA fuses the overlap-add): phases for few-channel strided
      layers (ZFNet conv1, 64 items: 170 ms against 212 ms by taps); taps
      for 1 x 1 kernels (a plain matrix product), few-channel and other
      strided layers, and when `taps_gain` reaches `TAPS_MIN_GAIN_JAX`
      (`TAPS_MIN_GAIN_JAX_ONE_ITEM` for one item per call, a part of one
      item included, on maps of at most `TAPS_ONE_ITEM_MAX_AREA`
      positions); otherwise phases.
    - TensorFlow: taps for wide stride-1 kernels with a `taps_gain` of 64
      or more; phases for other wide kernels; the rest on its kernel (the
      few-channel strided ZFNet conv1: 169 ms against 253 ms by phases
      with TF 2.21).
    - PyTorch: its kernel, on a channels-last view
      (`keras_zfnet.backend.fast_conv_transpose`). In one run of
      `benchmarks/transposed.py` at 1 and 64 items it was the fastest or
      within 1.1x of it on all 26 rows (ZFNet conv1 windows, 64 items:
      261 ms against 518 ms by phases; taps were 1.07x faster on ZFNet's
      conv4 windows at 64 items and 1.09x on ResNet50's 7 x 7 conv5 map
      at one item).

    Args:
        backend_name: `keras.config.backend()`.
        kernel_shape: `(kh, kw, channels, filters)`.
        strides: `(sr, sc)`.
        size: `(h, w)` of the input.
        items: the batch size when it is static (JAX), else `None`.

    Returns:
        One of `METHODS`.
    """
    kr, kc, channels, filters = kernel_shape
    strided = max(strides) > 1
    few = channels <= PHASE_MAX_CHANNELS
    wide = channels * filters >= PHASE_MIN_WIDE
    gain = taps_gain(size, kernel_shape, strides)
    if backend_name == "jax":
        if strided and few:
            return "phases"
        one = items == 1 and size[0] * size[1] <= TAPS_ONE_ITEM_MAX_AREA
        least = TAPS_MIN_GAIN_JAX_ONE_ITEM if one else TAPS_MIN_GAIN_JAX
        if strided or few or (kr, kc) == (1, 1) or gain >= least:
            return "taps"
        return "phases"
    if backend_name == "torch":
        return "kernel"
    if wide and not strided and gain >= TAPS_MIN_GAIN:
        return "taps"
    return "phases" if wide else "kernel"


def conv_transpose_valid(x, kernel, strides, method=None):
    """`"valid"` transposed convolution of `x` with a `Conv2D` kernel.

    Output size `(h - 1) * stride + kernel` per axis, i.e. the gradient of a
    `"valid"` convolution before any cropping.

    Args:
        x: `(batch, h, w, filters)` tensor.
        kernel: `(kh, kw, channels, filters)` forward kernel.
        strides: `(sr, sc)`.
        method: one of `METHODS`, or None for `method_for`'s choice. All
            three compute the same map.

    Returns:
        `(batch, (h - 1) * sr + kh, (w - 1) * sc + kw, channels)` tensor of
        `x`'s dtype. Phases and taps need static `h` and `w`; with dynamic
        sizes the choice is the backend's kernel.

    Example:

    >>> import numpy as np
    >>> y = np.ones((1, 2, 2, 4), "float32")
    >>> k = np.ones((3, 3, 1, 4), "float32")
    >>> ops.convert_to_numpy(conv_transpose_valid(y, k, (1, 1)))[0, :, :, 0]
    array([[ 4.,  8.,  8.,  4.],
           [ 8., 16., 16.,  8.],
           [ 8., 16., 16.,  8.],
           [ 4.,  8.,  8.,  4.]], dtype=float32)
    """
    x = ops.convert_to_tensor(x)
    # One dtype in and out, whichever method runs (a float32 kernel would
    # promote a low-precision signal in the matrix product of taps).
    kernel = ops.cast(ops.convert_to_tensor(kernel), x.dtype)
    strides = tuple(int(s) for s in strides)
    size = tuple(x.shape[1:3])
    if method is None:
        # Phases and taps need static sizes; the engine's maps always have
        # them, a direct caller's may not.
        items = x.shape[0] if isinstance(x.shape[0], int) else None
        method = "kernel" if None in size else method_for(
            keras.config.backend(), tuple(kernel.shape), strides, size,
            items)
    if method == "phases":
        return _by_phases(x, kernel, strides)
    if method == "taps":
        return _by_taps(x, kernel, strides)
    if method != "kernel":
        raise ValueError(f"Expected `method` to be one of {METHODS} or "
                         f"None; received: method={method!r}")
    z = backend.fast_conv_transpose(x, kernel, strides)
    if z is not None:
        return z
    z = ops.conv_transpose(x, kernel, strides=strides, padding="valid")
    if any(k < s for k, s in zip(kernel.shape[:2], strides)):
        # Keras' "valid" output then has `h * s` rows; those past
        # `(h - 1) * s + k` are zeros.
        z = _crop(z, ops.shape(x)[1:3], kernel, strides)
    return z


def _crop(z, size, kernel, strides):
    """`z` cut to the `(h - 1) * s + k` rows and columns of a "valid"
    transposed convolution of an `(h, w)` input."""
    (h, w), (sr, sc) = size, strides
    return z[:, : (h - 1) * sr + kernel.shape[0],
             : (w - 1) * sc + kernel.shape[1], :]


def _by_taps(x, kernel, strides):
    """One matrix product gives every tap's contribution `x @ kernel[i,
    j].T`; tap `(i, j)` lands on output rows `q * sr + i`, columns
    `r * sc + j`. Within output phase `(i % sr, j % sc)` that is a shift of
    the input grid by `(i // sr, j // sc)`: the shifted taps are summed per
    phase, then the phases interleaved (depth to space)."""
    kr, kc, channels, filters = kernel.shape
    sr, sc = strides
    h, w = x.shape[1], x.shape[2]
    taps = ops.matmul(ops.reshape(x, (-1, filters)),
                      ops.transpose(ops.reshape(kernel, (-1, filters))))
    taps = ops.reshape(taps, (-1, h, w, kr * kc, channels))
    pr, pc = -(-kr // sr), -(-kc // sc)
    rows = []
    for a in range(sr):
        row = []
        for b in range(sc):
            total = None
            for m in range(-(-(kr - a) // sr)):
                for n in range(-(-(kc - b) // sc)):
                    tap = (a + sr * m) * kc + b + sc * n
                    shifted = ops.pad(taps[:, :, :, tap, :], [
                        [0, 0], [m, pr - 1 - m], [n, pc - 1 - n], [0, 0]])
                    total = shifted if total is None else total + shifted
            if total is None:  # no tap in this phase (kernel < stride)
                total = ops.pad(ops.zeros_like(taps[:, :, :, 0, :]), [
                    [0, 0], [0, pr - 1], [0, pc - 1], [0, 0]])
            row.append(total)
        rows.append(row)
    if sr == 1 and sc == 1:
        z = rows[0][0]
    else:
        z = ops.stack([ops.stack(row, axis=3) for row in rows], axis=2)
        z = ops.reshape(z, (-1, (h + pr - 1) * sr, (w + pc - 1) * sc,
                            channels))
    return _crop(z, (h, w), kernel, strides)


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
    return _crop(z, x.shape[1:3], kernel, strides)
