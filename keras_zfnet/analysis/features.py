"""Frozen features of several layers from one forward pass per batch."""

import weakref

import numpy as np
from keras import ops

from keras_zfnet import backend
from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.analysis._utils import scan
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import progress
from keras_zfnet.utils.compiled import one_trace_per_function
from keras_zfnet.utils import validation

POOLINGS = (None, "avg", "max")

# feature model -> {pooling: compiled function}; dies with the model.
_FUNCTIONS = weakref.WeakKeyDictionary()


def check_pooling(pooling):
    """Raises unless `pooling` is `None`, `"avg"` or `"max"`."""
    if pooling not in POOLINGS:
        raise ValueError(
            "`pooling` must be None (flatten), 'avg' or 'max' (over space). "
            f"Received: pooling={pooling!r}"
        )


def _reduce(output, pooling):
    """`(N, ...)` layer output -> `(N, D)`: pooled over every axis but the
    first and the last (the channels), or flattened."""
    rank = len(output.shape)
    if pooling is not None and rank > 2:
        axes = list(range(1, rank - 1))
        if pooling == "avg":
            return ops.mean(output, axis=axes)
        return ops.max(output, axis=axes)
    if rank == 2:
        return output
    return ops.reshape(output, (ops.shape(output)[0], -1))


def _extract_function(feature_model, pooling, image_shape):
    """The compiled `images -> [(N, D_l)]` step of a feature model (on
    TensorFlow one trace for every batch size)."""
    cache = _FUNCTIONS.setdefault(feature_model, {})
    if pooling not in cache:
        def extract(images):
            outputs = feature_model(images, training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            return [ops.cast(_reduce(out, pooling), "float32")
                    for out in outputs]

        # A free batch size: one trace serves every call; one function per
        # (feature model, pooling), so no retracing warning across layers.
        cache[pooling] = one_trace_per_function(backend.compile_function(
            extract, [((None, *image_shape), "float32")],
            variables=feature_model.variables))
    return cache[pooling]


def extract_features(model, layers, data, pooling=None, batch_size=64,
                     verbose="auto"):
    """Features of several layers, from ONE multi-output forward per batch.

    The model runs once per batch (in inference mode: dropout off, batch
    norm statistics fixed) through a single feature model whose outputs are
    all the requested layers, never through one truncated model per layer.
    Data of any length is streamed; only the (pooled) features are kept.

    Args:
        model: a built Sequential or functional Keras model.
        layers: a layer (name, nested path `"outer/inner"` or layer object)
            or a list of them.
        data: images as the model expects them: a NumPy array `(N, H, W,
            C)`, a `tf.data.Dataset` (of images or `(images, labels)`,
            batched or not) or a `keras.utils.PyDataset`.
        pooling: `None` to flatten each layer's output, or `"avg"` / `"max"`
            to pool it over space first (one value per channel, which keeps
            convolutional features affordable). Dense outputs are kept as
            they are.
        batch_size: batch size for arrays and unbatched datasets.
        verbose: `"auto"`, 0 or 1: a progress bar over batches.

    Returns:
        A dict from canonical layer name (in the order given) to a float32
        array `(N, D)`.

    Raises:
        ValueError: for an unknown layer (listing the valid names), a bad
            `pooling` or `batch_size`, or images of the wrong shape.

    Example:

    >>> model = kz.MiniZFNet(weights="fashion_mnist")
    >>> feats = kz.extract_features(model, ["conv5", "fc7"], x,
    ...                             pooling="avg")
    >>> feats["conv5"].shape, feats["fc7"].shape
    ((N, 64), (N, 256))
    """
    check_pooling(pooling)
    batch_size = validation.check_batch_size(batch_size)
    graph = model_graph(model)
    names, _ = graph.resolve_many(layers, what="layers")
    image_shape = graph.input_shape
    function = _extract_function(graph.feature_model(names), pooling,
                                 image_shape)
    bar = progress.bar(data_stream.num_batches(data, batch_size), verbose,
                       unit_name="batch")
    # Arrays: features written in place into preallocated outputs (one copy
    # of each value); other sources: per-batch chunks, concatenated.
    total = len(data) if isinstance(data, np.ndarray) else None
    outputs = None
    chunks = [[] for _ in names]
    done = start = 0
    for batch in data_stream.iterate_batches(data, int(batch_size),
                                             image_shape):
        values = scan.to_numpy(function(batch))
        if total is not None:
            if outputs is None:
                outputs = [np.empty((total, v.shape[1]), "float32")
                           for v in values]
            for out, value in zip(outputs, values):
                out[start:start + len(value)] = value
            start += len(values[0])
        else:
            for chunk, value in zip(chunks, values):
                chunk.append(value)
        done += 1
        bar.update(done)
    if not done:
        raise ValueError(
            "`data` yielded no images. Received: an empty "
            f"{type(data).__name__}"
        )
    if outputs is not None:
        return dict(zip(names, outputs))
    features = {}
    for name, chunk in zip(names, chunks):
        features[name] = np.concatenate(chunk) if len(chunk) > 1 \
            else chunk[0]
        chunk.clear()
    return features
