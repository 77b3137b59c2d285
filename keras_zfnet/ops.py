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

import tensorflow as tf
from keras import ops as kops

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
    size = tf.shape(flat_maps)[-1]
    if peaks is None:
        peaks = tf.reduce_max(flat_maps, axis=-1)
    pixel = tf.range(size)
    candidates = tf.where(flat_maps == peaks[..., None], pixel, size)
    first = tf.reduce_min(candidates, axis=-1)
    return tf.stack([first // width, first % width], axis=-1)


def first_argmax_positions(maps):
    """`(batch, 2)` int32 `(row, col)` of each `(batch, h, w)` map's first
    maximum in row-major order (the tie rule)."""
    shape = tf.shape(maps)
    return first_argmax_2d(tf.reshape(maps, (shape[0], -1)), shape[2])


def window_geometry(shape, window, strides, padding):
    """Per axis `(size, stride, pad)` of a window op on a `(H, W, ...)`
    input: output `i` sees inputs `[i * stride - pad, ... + size)`."""
    padding = padding.lower()
    geometry = []
    for axis in range(2):
        pad = conv_utils.leading_pad(
            shape[axis], window[axis], strides[axis], padding
        )
        geometry.append((int(window[axis]), int(strides[axis]), int(pad)))
    return tuple(geometry)


def window_positions(starts, size):
    """`(batch, size)` positions `starts[:, None] + [0, size)`."""
    return starts[:, None] + tf.range(size)[None, :]


def max_pool_with_switches(x, pool_size, strides, padding):
    """Max pooling and its switches (`tf.nn.max_pool_with_argmax`: per-image
    flat indices `(row * W + col) * C + channel`, first maximum of each
    window in row-major order).

    Returns:
        `(pooled, switches)`, switches as int64.
    """
    pooled, switches = tf.nn.max_pool_with_argmax(
        x,
        ksize=(1, *pool_size, 1),
        strides=(1, *strides, 1),
        padding=padding.upper(),
        include_batch_in_index=False,
    )
    return pooled, tf.cast(switches, tf.int64)


def max_pool_with_switches_xla(x, geometry, padding):
    """Max pooling and its switches from strided slices (XLA-friendly).

    Gives exactly what `tf.nn.max_pool_with_argmax(...,
    include_batch_in_index=False)` gives (values, and the first maximum in
    row-major window order), with ops that XLA compiles; used when the whole
    projection runs as one XLA computation.
    """
    (kr, sr, _), (kc, sc, _) = geometry
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    if padding.lower() == "same":
        out_rows, out_cols = -(-height // sr), -(-width // sc)
        pad_r = max((out_rows - 1) * sr + kr - height, 0)
        pad_c = max((out_cols - 1) * sc + kc - width, 0)
        top, left = pad_r // 2, pad_c // 2
        lowest = x.dtype.min
        x = tf.pad(x, [[0, 0], [top, pad_r - top], [left, pad_c - left],
                       [0, 0]], constant_values=lowest)
    else:
        out_rows = (height - kr) // sr + 1
        out_cols = (width - kc) // sc + 1
        top = left = 0
    windows = tf.stack(
        [x[:, dr:dr + (out_rows - 1) * sr + 1:sr,
           dc:dc + (out_cols - 1) * sc + 1:sc, :]
         for dr in range(kr) for dc in range(kc)],
        axis=3,
    )  # (batch, out_rows, out_cols, kr * kc, channels)
    peak = tf.reduce_max(windows, axis=3)
    offsets = tf.range(kr * kc)[None, None, None, :, None]
    first = tf.reduce_min(
        tf.where(windows == peak[:, :, :, None], offsets, kr * kc), axis=3)
    rows = tf.range(out_rows)[None, :, None, None] * sr - top + first // kc
    cols = tf.range(out_cols)[None, None, :, None] * sc - left + first % kc
    switches = (rows * width + cols) * channels + tf.range(channels)
    return peak, tf.cast(switches, tf.int64)


def unpool(values, switches, output_size):
    """Scatter-adds `values` at per-image flat `switches` (see the class).

    Args:
        values: `(batch, h, w, C)` tensor.
        switches: integer tensor of the same shape, indices into one image
            of shape `(*output_size, C)`.
        output_size: `(H, W)`.

    Returns:
        `(batch, H, W, C)` tensor.
    """
    height, width = output_size
    channels = values.shape[-1]
    plane = height * width * channels
    batch = kops.shape(values)[0]
    offsets = kops.reshape(
        kops.arange(batch, dtype="int64") * plane, (-1, 1, 1, 1)
    )
    segment_ids = kops.reshape(kops.cast(switches, "int64") + offsets, (-1,))
    flat = kops.segment_sum(
        kops.reshape(values, (-1,)), segment_ids, num_segments=batch * plane
    )
    return kops.reshape(flat, (-1, height, width, channels))


def unpool_with_kernel(values, switches, output_size, pool_size, strides,
                        padding):
    """The same scatter as `unpool`, by TensorFlow's max-pool gradient
    kernel (which only reads the shape of its `input`)."""
    shape = tf.concat([tf.shape(values)[:1], output_size,
                       tf.shape(values)[3:]], axis=0)
    return tf.raw_ops.MaxPoolGradWithArgmax(
        input=tf.zeros(shape, values.dtype),
        grad=values,
        argmax=tf.cast(switches, tf.int64),
        ksize=[1, *pool_size, 1],
        strides=[1, *strides, 1],
        padding=padding.upper(),
        include_batch_in_index=False,
    )
