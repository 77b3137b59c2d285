"""One streaming scan engine: a dataset of any size, batch by batch, through
one compiled step per batch (forward pass + the scan's own reduction).

`top_activations`, the unit browser's scan and any later scan share it:
each supplies only its per-batch `reduce(outputs, offset, valid, state)` on
`keras.ops`, and the engine does the rest once: reading the data
(`data_stream`), the same-size check, padding the last batch to one compiled
shape, compiling the step for the running backend (XLA on TensorFlow with a
fallback for layers XLA cannot compile, `jax.jit` with the weights as
arguments on JAX, no-grad eager on PyTorch), the progress bar and periodic
checkpoints.
"""

import numpy as np
from keras import ops

from keras_zfnet import backend
from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.utils import progress


def compiled_step(model_view, names, reduce, key, jit_compile):
    """The compiled `step(images, offset, valid, state) -> state`, kept in
    the model's view (as `model.predict` keeps its compiled function):
    shards, resumed scans and repeated calls neither retrace nor recompile.

    Args:
        model_view: the model's `ModelGraph`.
        names: the layers whose outputs `reduce` receives (a list).
        reduce: `reduce(outputs, offset, valid, state) -> state`, where
            `outputs` is a list with one tensor per layer, `offset` the
            dataset index of the batch's first image and `valid` the number
            of real (unpadded) images in the batch.
        key: a hashable that identifies `reduce` (its settings).
        jit_compile: compile with XLA (TensorFlow).
    """
    def build():
        extractor = model_view.feature_model(names)

        def step(images, offset, valid, state):
            outputs = extractor(images, training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            return reduce(list(outputs), offset, valid, state)

        return backend.compile_function(step, jit_compile=jit_compile,
                                        variables=extractor.variables)

    return model_view.cached(("scan_step", tuple(names), key, jit_compile),
                             build)


def run(model_view, names, reduce, key, state, data, batch_size,
        index_offset=0, skip_images=0, jit_compile="auto", verbose="auto",
        on_batch=None):
    """Streams `data` through the compiled step.

    Args:
        model_view: the model's `ModelGraph`.
        names: layers whose outputs the reduction reads.
        reduce: the per-batch reduction (see `compiled_step`).
        key: a hashable identifying the reduction's settings.
        state: the initial state (a nest of tensors).
        data: what `data_stream.iterate_batches` reads.
        batch_size: batch size for arrays and unbatched datasets.
        index_offset: dataset index of `data`'s first image.
        skip_images: images already scanned (a resumed scan).
        jit_compile: `"auto"` (XLA where it compiles), True or False.
        verbose: `"auto"`, 0 or 1.
        on_batch: optional `on_batch(state, scanned, batches)` after each
            batch (checkpoints).

    Returns:
        `(state, scanned, image_shape)`: the final state, the number of
        images scanned (including `skip_images`) and the images' shape
        (`None` if no batch was read).
    """
    image_shape = model_view.input_shape
    bar = progress.bar(data_stream.num_batches(data, batch_size), verbose,
                       unit_name="batch")
    if skip_images:
        bar.update(-(-skip_images // batch_size))
    use_xla = jit_compile is not False
    scanned, batches, width, step, seen_shape = skip_images, 0, None, None, None
    for batch in data_stream.iterate_batches(data, batch_size, image_shape,
                                             skip_images=skip_images):
        count = int(batch.shape[0])
        width = width or count
        shape = tuple(int(d) for d in batch.shape[1:])
        if seen_shape is None:
            seen_shape = shape
            step = compiled_step(model_view, names, reduce, key, use_xla)
        elif shape != seen_shape:
            raise ValueError(
                "All images of one scan must have the same size (positions "
                "and receptive fields depend on it). Received: a batch of "
                f"shape {tuple(batch.shape)} after images of shape "
                f"{seen_shape}")
        if count < width:  # pad the last batch: one compiled shape
            batch = pad_batch(batch, width)
        arguments = (batch, ops.convert_to_tensor(
            index_offset + scanned, "int32"), ops.convert_to_tensor(
                count, "int32"), state)
        try:
            state = step(*arguments)
        except backend.compile_errors():
            if jit_compile != "auto" or batches:
                raise
            # Some layer has no XLA kernel: scan without XLA.
            step = compiled_step(model_view, names, reduce, key, False)
            state = step(*arguments)
        scanned += count
        batches += 1
        bar.add(1)
        if on_batch is not None:
            on_batch(state, scanned, batches)
    return state, scanned, seen_shape


def pad_batch(batch, width):
    """`batch` padded with zero images to `width` images."""
    extra = [[0, width - int(batch.shape[0])]] + [[0, 0]] * (
        len(batch.shape) - 1)
    if isinstance(batch, np.ndarray):
        return np.pad(batch, extra)
    return ops.pad(batch, extra)


def to_numpy(state):
    """A nest of tensors as NumPy arrays (same structure)."""
    if isinstance(state, (list, tuple)):
        return type(state)(to_numpy(s) for s in state)
    return backend.to_numpy(state)
