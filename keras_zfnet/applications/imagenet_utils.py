"""`preprocess_input` and `decode_predictions` in the Keras Applications style."""

import functools
import json
import os

import numpy as np

# Per-channel (RGB) mean of the ImageNet training set, in 0..255 pixels.
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


def preprocess_input(x, data_format=None):
    """Preprocesses RGB images in 0..255 the way ZFNet / AlexNet expect.

    The paper subtracts the per-pixel mean image of the training set; the
    mean image is not distributed, so its per-channel average (the ImageNet
    RGB mean) is subtracted instead. Channel order stays RGB and values are
    not rescaled. `MiniZFNet` does not need this function: its preprocessing
    is inside the model.

    Args:
        x: float or integer array (or tensor) of images, channels last by
            default, 3 channels, values in 0..255.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Returns:
        A float32 NumPy array (a tensor for tensor input) of the same shape.

    Example:

    >>> x = np.full((1, 224, 224, 3), 128, dtype="uint8")
    >>> preprocess_input(x)[0, 0, 0]
    array([ 4.32 , 11.221, 24.061], dtype=float32)
    """
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format}"
        )
    axis = -1 if data_format == "channels_last" else -3
    shape = getattr(x, "shape", np.shape(x))
    if len(shape) < 3 or shape[axis] != 3:
        raise ValueError(
            "Expected RGB images with 3 channels on axis "
            f"{axis} ({data_format}). Received: x.shape={tuple(shape)}"
        )
    mean = np.asarray(IMAGENET_MEAN_RGB, dtype="float32")
    if data_format == "channels_first":
        mean = mean.reshape(3, 1, 1)
    if isinstance(x, np.ndarray) or np.isscalar(x) or isinstance(x, list):
        return np.asarray(x, dtype="float32") - mean
    from keras import ops

    return ops.cast(x, "float32") - mean


@functools.lru_cache(maxsize=1)
def _imagenet_classes():
    with open(os.path.join(_DATA_DIR, "imagenet_class_index.json")) as f:
        index = json.load(f)
    return tuple(tuple(index[str(i)]) for i in range(len(index)))


def shipped_class_names(num_classes):
    """The shipped class list for `num_classes` outputs, or `None`.

    1000 classes are ImageNet (WordNet ids and names), 10 are Fashion-MNIST.
    """
    if num_classes == 1000:
        return _imagenet_classes()
    if num_classes == 10:
        return tuple(
            (str(i), name) for i, name in enumerate(FASHION_MNIST_CLASSES)
        )
    return None


def decode_predictions(preds, top=5, class_names=None):
    """Decodes a batch of predictions into `(class_id, name, score)` tuples.

    Class names ship with the package (no download): 1000 outputs are
    decoded as ImageNet classes (`class_id` is the WordNet id, as in Keras),
    10 outputs as Fashion-MNIST classes (`class_id` is the label as a
    string). Pass `class_names` to decode any other head.

    Args:
        preds: array of shape `(batch, classes)`.
        top: int >= 1, how many classes to return per sample.
        class_names: optional sequence of `classes` names.

    Returns:
        A list with, per sample, a list of `top` tuples
        `(class_id, class_name, score)`, highest score first.

    Example:

    >>> preds = np.eye(10)[[3]]
    >>> decode_predictions(preds, top=1)
    [[('3', 'Dress', 1.0)]]
    """
    preds = np.asarray(preds)
    if preds.ndim != 2:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions of shape "
            f"(samples, classes). Received: preds.shape={preds.shape}"
        )
    if int(top) != top or top < 1:
        raise ValueError(f"`top` must be an integer >= 1. Received: top={top}")
    if class_names is not None:
        names = tuple((str(i), str(n)) for i, n in enumerate(class_names))
        if len(names) != preds.shape[1]:
            raise ValueError(
                f"Expected {preds.shape[1]} class names for predictions of "
                f"shape {preds.shape}. Received: {len(names)} class names"
            )
    else:
        names = shipped_class_names(preds.shape[1])
        if names is None:
            raise ValueError(
                "Shipped class names cover 1000 (ImageNet) or 10 "
                "(Fashion-MNIST) classes; pass `class_names=` for others. "
                f"Received: preds.shape={preds.shape}"
            )
    results = []
    for row in preds:
        order = np.argsort(-row, kind="stable")[: int(top)]
        results.append([(*names[i], float(row[i])) for i in order])
    return results
