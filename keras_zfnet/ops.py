"""Tensor operations shared by the layers, the deconvnet and the analyses.

The conventions that make results exact and comparable live here, once:

- **The tie rule.** When several values are equal maxima, the first one in
  row-major order wins, as `tf.nn.max_pool_with_argmax` and TensorFlow's
  max-pool gradient choose. It decides pooling switches, the `mode="max"`
  seed of a projection, and the position of a top-k activation.
- **Switch recording** (`max_pool_with_switches`, plain and XLA forms) and
  **unpooling** (`unpool`).
- **Window geometry**: output position `i` of a convolution or pooling
  layer sees input positions `[i * stride - pad, i * stride - pad + size)`
  (`window_geometry`, `window_positions`).
"""

import numpy as np
from keras import ops as kops

from keras_zfnet import backend
from keras_zfnet.utils import conv_utils


def first_argmax_2d(flat_maps, width, peaks=None):
    """Row-major `(row, col)` of the first maximum of each flattened map.

    Args:
        flat_maps: `(..., h * w)` maps, flattened row-major.
        width: the maps' width `w`.
        peaks: optional `(...)` maxima of the maps (computed when omitted).

    Returns:
        `(..., 2)` int32 positions.
    """
    size = flat_maps.shape[-1]
    if size is None:
        size = kops.shape(flat_maps)[-1]
    if peaks is None:
        peaks = kops.max(flat_maps, axis=-1)
    pixel = kops.arange(size, dtype="int32")
    candidates = kops.where(flat_maps == kops.expand_dims(peaks, -1), pixel,
                            size)
    first = kops.cast(kops.min(candidates, axis=-1), "int32")
    return kops.stack([first // width, first % width], axis=-1)


def top_k_first(x, k):
    """The `k` largest values along the last axis and their indices, the
    lower index first among equal values (the tie rule).

    Args:
        x: `(..., n)` float tensor (no NaN).
        k: how many to keep, `<= n`.

    Returns:
        `(values, indices)`, each `(..., k)`; indices int32.
    """
    fast = backend.fast_top_k(x, k)
    if fast is not None:
        values, indices = fast
        return values, kops.cast(indices, "int32")
    # A stable sort of -x keeps equal values in index order (jnp.argsort
    # and keras' torch argsort are stable).
    indices = kops.cast(kops.argsort(-x, axis=-1)[..., :k], "int32")
    return kops.take_along_axis(x, indices, axis=-1), indices


def first_argmax_positions(maps):
    """`(batch, 2)` int32 `(row, col)` of each `(batch, h, w)` map's first
    maximum in row-major order (the tie rule)."""
    height, width = maps.shape[1], maps.shape[2]
    return first_argmax_2d(kops.reshape(maps, (-1, height * width)), width)


def window_geometry(shape, window, strides, padding, dilation=(1, 1)):
    """Per axis `(size, stride, pad)` of a window op on a `(H, W, ...)`
    input: output `i` sees inputs `[i * stride - pad, ... + size)` (a
    dilated window's size is its span `(k - 1) * dilation + 1`)."""
    padding = padding.lower()
    geometry = []
    for axis in range(2):
        span = (int(window[axis]) - 1) * int(dilation[axis]) + 1
        pad = conv_utils.leading_pad(shape[axis], span, strides[axis],
                                     padding)
        geometry.append((span, int(strides[axis]), int(pad)))
    return tuple(geometry)


def window_positions(starts, size):
    """`(batch, size)` positions `starts[:, None] + [0, size)`."""
    return kops.expand_dims(kops.cast(starts, "int32"), 1) + kops.expand_dims(
        kops.arange(size, dtype="int32"), 0)


def max_pool_with_switches(x, pool_size, strides, padding, portable=False,
                           shared=False):
    """Max pooling and its switches: per-image flat indices `(row * W +
    col) * C + channel` of each window's first maximum in row-major window
    order (the tie rule; what `tf.nn.max_pool_with_argmax` gives).

    The backend's own kernel is used where there is one
    (`keras_zfnet.backend.fast_max_pool_with_switches`), else the
    `keras.ops` form (`portable=True` forces it, e.g. under XLA);
    `shared=True` when many consumers per image will read the switches
    (see `max_pool_with_switches_portable`).

    Returns:
        `(pooled, switches)`, switches as int32.
    """
    geometry = window_geometry(x.shape[1:], pool_size, strides, padding)
    if not portable:
        fast = backend.fast_max_pool_with_switches(x, geometry, padding)
        if fast is not None:
            return fast
    return max_pool_with_switches_portable(x, geometry, padding, shared)


def max_pool_with_switches_portable(x, geometry, padding, shared=False):
    """Max pooling and switches from strided slices, on `keras.ops` only
    (values and first maxima equal `tf.nn.max_pool_with_argmax`'s).

    `shared=True` computes the switches so that XLA keeps them once per
    image when many projections of each image read them (a gather, which
    costs more for one reader)."""
    (kr, sr, _), (kc, sc, _) = geometry
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    if padding.lower() == "same":
        out_rows, out_cols = -(-height // sr), -(-width // sc)
        pad_r = max((out_rows - 1) * sr + kr - height, 0)
        pad_c = max((out_cols - 1) * sc + kc - width, 0)
        top, left = pad_r // 2, pad_c // 2
        x = kops.pad(x, [[0, 0], [top, pad_r - top], [left, pad_c - left],
                         [0, 0]], constant_values=float("-inf"))
    else:
        out_rows = (height - kr) // sr + 1
        out_cols = (width - kc) // sc + 1
        top = left = 0
    windows = [x[:, dr:dr + (out_rows - 1) * sr + 1:sr,
                 dc:dc + (out_cols - 1) * sc + 1:sc, :]
               for dr in range(kr) for dc in range(kc)]
    if backend.name() == "torch":
        # Eager: a few large ops (one stack of the window positions).
        stacked = kops.stack(windows, axis=3)
        peak = kops.max(stacked, axis=3)
        offsets = kops.reshape(kops.arange(kr * kc, dtype="int32"),
                               (1, 1, 1, kr * kc, 1))
        first = kops.min(kops.where(stacked == kops.expand_dims(peak, 3),
                                    offsets, kr * kc), axis=3)
        displacement = (first // kc * width + first % kc) * channels
    else:
        # Every backend but PyTorch (TensorFlow reaches this under XLA): a
        # chain of elementwise ops that XLA fuses without materializing
        # the stack (JAX, MiniZFNet's pool2 on one image: 0.26 -> 0.055
        # ms; 64 images of 28 x 28 x 32: 11.2 -> 3.7 ms; TF under XLA
        # 11.4 -> 4.6 ms). The last offset is written first, so the first
        # maximum's offset wins.
        peak = windows[0]
        for window in windows[1:]:
            peak = kops.maximum(peak, window)
        # Each window offset's displacement in the map.
        table = [(o // kc * width + o % kc) * channels
                 for o in range(kr * kc + 1)]
        if shared:
            # The first maximum's offset, then its displacement read from
            # the table: a gather, which XLA computes once per image. By
            # arithmetic, the chain fuses into every consumer and is
            # repeated for each projection that reads these switches
            # (JAX, 64 channels of one image in one call: MiniZFNet 12.7
            # -> 10.3 ms, ZFNet 400 -> 375 ms).
            first = kr * kc
            for offset in reversed(range(kr * kc)):
                first = kops.where(windows[offset] == peak, offset, first)
            displacement = backend.lookup(
                kops.convert_to_tensor(np.array(table, "int32")), first)
        else:
            # The displacement itself down the chain: no gather, which
            # does not vectorize (JAX, MiniZFNet's pool1 on one image: 63
            # us by the table).
            displacement = table[-1]
            for offset in reversed(range(kr * kc)):
                displacement = kops.where(windows[offset] == peak,
                                          table[offset], displacement)
    # The window's top-left position plus the first maximum's displacement.
    rows = kops.reshape(kops.arange(out_rows, dtype="int32") * sr - top,
                        (1, -1, 1, 1))
    cols = kops.reshape(kops.arange(out_cols, dtype="int32") * sc - left,
                        (1, 1, -1, 1))
    switches = ((rows * width + cols) * channels + displacement
                + kops.arange(channels, dtype="int32"))
    return peak, kops.cast(switches, "int32")


def max_pool_with_switches_xla(x, geometry, padding):
    """Alias of `max_pool_with_switches_portable` (XLA compiles it)."""
    return max_pool_with_switches_portable(x, geometry, padding)


def unpool(values, switches, output_size, pool_size=None, strides=None,
           portable=False, padding="valid"):
    """Scatter-adds `values` at per-image flat `switches`.

    Args:
        values: `(batch, h, w, C)` tensor.
        switches: integer tensor of the same shape, indices into one image
            of shape `(*output_size, C)`.
        output_size: `(H, W)`.
        pool_size, strides: the `"valid"` pooling whose input is
            `output_size`; with them the backend's own kernel is used where
            there is one (`keras_zfnet.backend.fast_unpool`).
        portable: always use the scatter-add
            (`keras_zfnet.backend.segment_sum`), never a pooling kernel.

    Returns:
        `(batch, H, W, C)` tensor.
    """
    if not portable and pool_size is not None:
        fast = backend.fast_unpool(values, switches, output_size, pool_size,
                                   strides, padding)
        if fast is not None:
            return fast
    height, width = output_size
    channels = values.shape[-1]
    plane = height * width * channels
    batch = kops.shape(values)[0]
    offsets = kops.reshape(kops.arange(batch, dtype="int32") * plane,
                           (-1, 1, 1, 1))
    segment_ids = kops.reshape(kops.cast(switches, "int32") + offsets, (-1,))
    flat = backend.segment_sum(kops.reshape(values, (-1,)), segment_ids,
                               batch * plane)
    return kops.reshape(flat, (-1, height, width, channels))


def unpool_with_kernel(values, switches, output_size, pool_size, strides,
                       padding="valid"):
    """`unpool` through the backend's kernel where there is one."""
    return unpool(values, switches, output_size, pool_size, strides,
                  padding=padding)
