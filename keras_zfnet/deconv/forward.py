"""The switch-recording forward pass over a chain of stages."""

from keras_zfnet import ops


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
            x, switches[index] = ops.max_pool_with_switches_xla(
                x, stage.geometry, stage.layer.padding)
        elif stage.kind == "pool":
            (rows, row_stride, _), (cols, col_stride, _) = stage.geometry
            x, switches[index] = ops.max_pool_with_switches(
                x, (rows, cols), (row_stride, col_stride),
                stage.layer.padding)
        else:
            x = stage.layer(x, training=False)
        if index in wanted:
            outputs[index] = x
    return outputs, switches
