"""Streams images out of NumPy arrays, `keras.utils.PyDataset`s, `tf.data`
datasets and `torch.utils.data.DataLoader`s.

Analyses read data of any length batch by batch and never hold it whole.
Labels and sample weights are dropped: only images matter here. NumPy arrays
and `PyDataset`s work on every backend; a `tf.data.Dataset` wherever
TensorFlow is installed (its batches stay tensors on the TensorFlow backend
and become NumPy arrays elsewhere); a `DataLoader` wherever PyTorch is.
Neither framework is imported here: data of their types can only exist once
they are.
"""

import sys

import keras
import numpy as np

from keras_zfnet.utils import validation


def is_tf_dataset(data):
    """Whether `data` is a `tf.data.Dataset` (without importing TF)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def is_torch_loader(data):
    """Whether `data` is a `torch.utils.data.DataLoader`."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(data, torch.utils.data.DataLoader)


def _tf():
    return sys.modules["tensorflow"]


def _images_of(element):
    """The images of a dataset element: `x`, `(x, y)`, `(x, y, w)`."""
    if isinstance(element, (tuple, list)):
        return element[0]
    if isinstance(element, dict):
        raise ValueError(
            "Dataset elements that are dicts are not supported; map them to "
            "images or (images, labels) first. Received: keys "
            f"{sorted(element)}"
        )
    return element


def _check_shape(batch, image_shape, where):
    shape = tuple(batch.shape[1:])
    if len(shape) != len(image_shape) or any(
        e is not None and e != s for e, s in zip(image_shape, shape)
    ):
        raise ValueError(
            f"Images from {where} have shape {shape}; the model expects "
            f"{tuple(image_shape)}. Received: batch shape {tuple(batch.shape)}"
        )


def num_batches(data, batch_size):
    """Number of batches `iterate_batches` yields, or `None` if unknown."""
    if isinstance(data, np.ndarray):
        return -(-len(data) // batch_size)
    if is_tf_dataset(data):
        count = int(data.cardinality())
        if count < 0:
            return None
        if _is_batched(data):
            return count
        return -(-count // batch_size)
    if isinstance(data, keras.utils.PyDataset) or is_torch_loader(data):
        return len(data)
    return None


def _is_batched(dataset, image_rank=None):
    spec = dataset.element_spec
    if isinstance(spec, (tuple, list)):
        spec = spec[0]
    rank = len(spec.shape)
    if image_rank is not None:
        return rank == image_rank + 1
    return rank == 4


def iterate_batches(data, batch_size, image_shape, skip_images=0):
    """Yields float32 image batches (numpy or tensors) from `data`.

    Args:
        data: a NumPy array `(N, ...)`, a `keras.utils.PyDataset`, a
            `tf.data.Dataset` (of images or `(images, labels)`, batched or
            not) or a `torch.utils.data.DataLoader` (of image batches or
            `(images, labels)` batches).
        batch_size: batch size for arrays and unbatched datasets.
        image_shape: the per-image shape the model expects (to check).
        skip_images: images to skip at the start (for resuming). For arrays
            and unbatched datasets any number; for batched sources a multiple
            of the batch size.

    Yields:
        `(N_b, *image_shape)` float32 batches (NumPy arrays; TensorFlow
        tensors for a `tf.data.Dataset` on the TensorFlow backend).
    """
    if isinstance(data, np.ndarray) or np.isscalar(data):
        array = np.asarray(data)
        if array.ndim == len(image_shape):
            raise ValueError(
                "Expected a batch of images (N, "
                f"{', '.join(map(str, image_shape))}); for one image pass "
                f"x[None]. Received: shape {array.shape}"
            )
        _check_shape(array, image_shape, "the array")
        validation.check_real_dtype(array.dtype, "data")
        for start in range(skip_images, len(array), batch_size):
            batch = array[start:start + batch_size].astype("float32",
                                                           copy=False)
            validation.check_finite(batch, "data")
            yield batch
        return
    if is_tf_dataset(data):
        yield from _iterate_tf(data, batch_size, image_shape, skip_images)
        return
    if isinstance(data, keras.utils.PyDataset) or is_torch_loader(data):
        yield from _iterate_indexed(data, image_shape, skip_images)
        return
    raise ValueError(
        "`data` must be a NumPy array, a keras.utils.PyDataset, a "
        "tf.data.Dataset or a torch.utils.data.DataLoader. Received: "
        f"{type(data).__name__}"
    )


def _iterate_tf(data, batch_size, image_shape, skip_images):
    tf = _tf()
    as_tensors = keras.config.backend() == "tensorflow"
    dataset = data.map(lambda *e: _images_of(e if len(e) > 1 else e[0]))
    if not _is_batched(dataset, len(image_shape)):
        dataset = dataset.skip(skip_images).batch(batch_size)
    else:
        dataset = dataset.skip(skip_images // max(1, _first_batch(data)))
    spec = dataset.element_spec
    if not (spec.dtype.is_floating or spec.dtype.is_integer
            or spec.dtype.is_bool):
        raise ValueError(
            "`data` must hold real numbers (pixel values). Received: a "
            f"dataset of dtype={spec.dtype.name}"
        )
    for batch in dataset.prefetch(2):
        _check_shape(batch, image_shape, "the dataset")
        batch = tf.cast(batch, tf.float32)
        if not bool(tf.reduce_all(tf.math.is_finite(batch))):
            validation.check_finite(batch.numpy(), "data")
        yield batch if as_tensors else batch.numpy()


def _as_numpy(batch):
    if hasattr(batch, "detach"):  # a torch tensor
        batch = batch.detach().cpu().numpy()
    return np.asarray(batch)


def _iterate_indexed(data, image_shape, skip_images):
    """A `PyDataset` (indexed batches) or a `DataLoader` (iterated)."""
    where = ("the PyDataset" if isinstance(data, keras.utils.PyDataset)
             else "the DataLoader")
    start = 0
    if skip_images:
        first = next(iter(data)) if where == "the DataLoader" else data[0]
        start = skip_images // len(_as_numpy(_images_of(first)))
    if where == "the PyDataset":
        elements = (data[index] for index in range(start, len(data)))
    else:
        elements = iter(data)
        for _ in range(start):
            next(elements, None)
    for element in elements:
        batch = _as_numpy(_images_of(element))
        validation.check_real_dtype(batch.dtype, "data")
        batch = batch.astype("float32", copy=False)
        _check_shape(batch, image_shape, where)
        validation.check_finite(batch, "data")
        yield batch


def _first_batch(dataset):
    for element in dataset.take(1):
        return int(_tf().shape(_images_of(element))[0])
    return 1


def check_stable_order(data, batch_size, image_shape, name="data"):
    """Raises a `ValueError` if two passes over `data` start with different
    images (e.g. a `tf.data` pipeline that reshuffles on every iteration):
    dataset indices would then point at other images on the next pass, and
    patches, projections and figures would silently show the wrong ones."""
    if isinstance(data, np.ndarray):
        return
    if is_torch_loader(data) and getattr(data, "sampler", None) is not None \
            and type(data.sampler).__name__ == "RandomSampler":
        raise ValueError(
            f"`{name}` must yield the same images in the same order on every "
            "pass (results refer to images by their position); a DataLoader "
            "with shuffle=True reorders them on each pass. Received: "
            f"{name}=DataLoader(shuffle=True)")
    firsts = []
    for _ in range(2):
        batch = next(iter(iterate_batches(data, batch_size, image_shape)),
                     None)
        firsts.append(None if batch is None else np.asarray(batch))
    if firsts[0] is None or firsts[1] is None:
        return
    if firsts[0].shape != firsts[1].shape or not np.array_equal(*firsts):
        raise ValueError(
            f"`{name}` must yield the same images in the same order on every "
            "pass (results refer to images by their position). Two passes "
            "started with different images: a tf.data pipeline with "
            "`.shuffle()` reshuffles on each iteration; shuffle once with "
            "`reshuffle_each_iteration=False`, or pass an array. Received: "
            f"{name} whose order changes between passes"
        )


def fetch(data, indices, image_shape, batch_size=64, index_offset=0):
    """The images at dataset positions `indices` (global, with offset).

    Streams `data` once (arrays are indexed directly) and keeps only the
    requested images: memory O(len(indices)).

    Returns:
        A dict from index to a float32 image.
    """
    wanted = sorted({int(i) for i in np.ravel(indices) if i >= 0})
    if isinstance(data, np.ndarray):
        return {
            i: np.asarray(data[i - index_offset], dtype="float32")
            for i in wanted
        }
    check_stable_order(data, batch_size, image_shape)
    found = {}
    position = index_offset
    pending = set(wanted)
    for batch in iterate_batches(data, batch_size, image_shape):
        batch = np.asarray(batch)
        for j in range(len(batch)):
            if position + j in pending:
                found[position + j] = batch[j]
        position += len(batch)
        pending -= set(found)
        if not pending:
            break
    missing = sorted(pending)
    if missing:
        raise ValueError(
            f"Indices {missing[:5]} are beyond the {position - index_offset} "
            "images of `data` (with index_offset="
            f"{index_offset}): pass the data the scan read."
        )
    return found
