"""Input checks shared by the public functions (errors name what is wrong)."""

import numpy as np


def resolve_layer_name(layer, valid_names, what="layer"):
    """Returns the name of `layer` (a name or a layer object) if valid.

    Args:
        layer: a layer name or a Keras layer.
        valid_names: the accepted names, in model order.
        what: how to call the argument in the message.

    Raises:
        ValueError: naming the valid layers when `layer` is not one of them.
    """
    name = layer if isinstance(layer, str) else getattr(layer, "name", None)
    if name is None:
        raise ValueError(
            f"`{what}` must be a layer name or a Keras layer. "
            f"Received: {what}={layer!r}"
        )
    if name not in valid_names:
        raise ValueError(
            f"Unknown {what} '{name}'. Valid names: {list(valid_names)}. "
            f"Received: {what}={name!r}"
        )
    return name


def as_images(images, expected_shape, name="images"):
    """Converts `images` to a float32 batch and checks its shape and values.

    Args:
        images: array-like `(N, H, W, C)`.
        expected_shape: per-image shape `(H, W, C)`; `None` entries accept
            any size.
        name: the argument's name for messages.

    Returns:
        A float32 NumPy array.

    Raises:
        ValueError: for a wrong rank or shape, an empty batch, or NaN / inf.
    """
    array = np.asarray(images)
    if array.dtype != np.float32:
        check_real_dtype(array.dtype, name)
    expected = tuple(expected_shape)
    if array.ndim != len(expected) + 1:
        hint = ""
        if array.ndim == len(expected):
            hint = f" (for a single image pass {name}[None])"
        raise ValueError(
            f"`{name}` must be a batch of shape (N, "
            f"{', '.join(str(d) for d in expected)}){hint}. "
            f"Received: {name}.shape={array.shape}"
        )
    if any(e is not None and e != a for e, a in zip(expected, array.shape[1:])):
        raise ValueError(
            f"`{name}` must have per-image shape {expected} to match the "
            f"model input. Received: {name}.shape={array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"`{name}` is empty. Received: {name}.shape={array.shape}")
    array = array.astype("float32", copy=False)
    check_finite(array, name)
    return array


def check_real_dtype(dtype, name="images"):
    """Raises a `ValueError` unless `dtype` is a real number type (bool,
    integer or float): strings, objects and complex numbers are refused."""
    dtype = np.dtype(dtype)
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(
            dtype, np.floating) or dtype == np.bool_):
        raise ValueError(
            f"`{name}` must hold real numbers (pixel values). Received: "
            f"{name} with dtype={dtype}"
        )


def check_finite(array, name="images"):
    """Raises a `ValueError` naming `name` if `array` holds NaN or inf."""
    if array.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.sum(array)
        if np.isfinite(total):
            return  # a NaN or inf makes the sum NaN or inf (so does overflow)
    finite = np.isfinite(array)
    if not np.all(finite):
        bad = int(finite.size - np.count_nonzero(finite))
        raise ValueError(
            f"`{name}` contains {bad} NaN or infinite value(s); expected "
            f"finite pixel values. Received: {name} with {bad} non-finite "
            "value(s)"
        )


def as_channels(channels, num_channels, layer_name):
    """Normalises `channels` (int or sequence of ints) to an int32 array.

    Returns:
        `(array, single)` where `single` says an int was given.

    Raises:
        ValueError: for non-integers, an empty list or out-of-range values.
    """
    single = np.ndim(channels) == 0
    array = np.atleast_1d(np.asarray(channels))
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(
        array.dtype, np.integer
    ):
        raise ValueError(
            "`channels` must be an int or a non-empty list of ints. "
            f"Received: channels={channels!r}"
        )
    bad = array[(array < 0) | (array >= num_channels)]
    if bad.size:
        raise ValueError(
            f"Layer '{layer_name}' has {num_channels} channels, so channels "
            f"must be in [0, {num_channels - 1}]. Received: channels="
            f"{channels!r}"
        )
    return array.astype("int32"), bool(single)


def check_batch_size(batch_size, allow_auto=False):
    """The one check of a public function's `batch_size` argument.

    Accepts Python / NumPy integers >= 1 (bools, floats and strings are
    refused) and, with `allow_auto=True` (only for functions that document
    it), the string `"auto"`.

    Args:
        batch_size: the value received.
        allow_auto: accept `"auto"` (returned unchanged).

    Returns:
        `batch_size` as an int, or `"auto"`.

    Raises:
        ValueError: naming `batch_size` and the value received.
    """
    if allow_auto and isinstance(batch_size, str) and batch_size == "auto":
        return batch_size
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1:
        expected = "an integer >= 1" + (' or "auto"' if allow_auto else "")
        raise ValueError(
            f"`batch_size` must be {expected}. Received: "
            f"batch_size={batch_size!r}")
    return int(batch_size)


def as_image_indices(indices, count, num_images):
    """`(N,)` int32 image indices in `[0, num_images)`."""
    array = np.asarray(indices)
    if array.shape != (count,) or not (
            np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise ValueError(
            f"`image_indices` must be {count} integers, one per entry. "
            f"Received: image_indices with shape {array.shape} and dtype "
            f"{array.dtype}")
    if count and (array.min() < 0 or array.max() >= num_images):
        raise ValueError(
            f"`image_indices` must lie in [0, {num_images}) (one of the "
            f"{num_images} images). Received: values from {array.min()} "
            f"to {array.max()}")
    return array.astype("int32")


def as_positions(positions, count):
    """`(N, 2)` int32 positions, refusing shapes that would pair the wrong
    coordinates (`(2, N)` from `np.nonzero`) and non-integers."""
    array = np.asarray(positions)
    if array.ndim == 1 and array.shape == (2,) and count == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] != count:
        hint = ""
        if array.ndim == 2 and array.shape == (2, count):
            hint = (" (this looks like the (2, N) output of np.nonzero; "
                    "pass np.stack(..., axis=1) or its transpose)")
        raise ValueError(
            f"`positions` must be an (N, 2) array of (row, col), one per "
            f"image (N={count}){hint}. Received: positions.shape="
            f"{array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise ValueError(
            "`positions` must be integers (map coordinates). Received: "
            f"positions with dtype={array.dtype}"
        )
    return array.astype("int32")
