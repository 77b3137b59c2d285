"""The switch-recording forward pass over a chain of stages."""

import tensorflow as tf


def pool_with_switches(x, geometry, padding):
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


def record_forward(stages, images, upto, collect=(), xla=False):
    """Runs `stages[: upto + 1]` on `images`, recording pooling switches.

    The model's own layers are called on tensors (no new graph nodes, the
    model is left untouched). Max-pooling stages are computed with
    `tf.nn.max_pool_with_argmax`, whose pooled values equal the layer's and
    whose indices are the switches (first maximum in row-major window order
    on ties).

    Args:
        stages: the chain's `Stage`s.
        images: a float tensor `(batch, H, W, C)`.
        upto: index of the last stage to run.
        collect: stage indices whose outputs to return.
        xla: compute switches with `pool_with_switches` (for XLA).

    Returns:
        `(outputs, switches)`: dicts from stage index to the stage's output
        (for `collect` and `upto`) and to its int64 switches (for every
        pooling stage run).
    """
    outputs = {}
    switches = {}
    wanted = set(collect) | {upto}
    x = images
    for index, stage in enumerate(stages[: upto + 1]):
        if stage.kind == "pool" and xla:
            x, switches[index] = pool_with_switches(
                x, stage.geometry, stage.layer.padding)
        elif stage.kind == "pool":
            (rows, row_stride, _), (cols, col_stride, _) = stage.geometry
            x, argmax = tf.nn.max_pool_with_argmax(
                x,
                ksize=(1, rows, cols, 1),
                strides=(1, row_stride, col_stride, 1),
                padding=stage.layer.padding.upper(),
                include_batch_in_index=False,
            )
            switches[index] = argmax
        else:
            x = stage.layer(x, training=False)
        if index in wanted:
            outputs[index] = x
    return outputs, switches
