"""Fashion-MNIST, local copies first (like `keras.datasets.fashion_mnist`)."""

import gzip
import hashlib
import os
import sys

import numpy as np

ENV_VAR = "KERAS_ZFNET_FASHION_MNIST"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# File name -> (SHA-256 of the *decompressed* IDX bytes, expected shape).
# Hashing the content accepts any gzip re-compression of the same data
# (Debian's files are re-compressed).
FILES = {
    "train-labels-idx1-ubyte": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        (60000,),
    ),
    "train-images-idx3-ubyte": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        (60000, 28, 28),
    ),
    "t10k-labels-idx1-ubyte": (
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        (10000,),
    ),
    "t10k-images-idx3-ubyte": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        (10000, 28, 28),
    ),
}

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

_SAMPLE = os.path.join(os.path.dirname(__file__), "data",
                       "fashion_mnist_test_sample.npz")


class CorruptDataError(ValueError):
    """A dataset file exists but is truncated or corrupt."""


def candidate_dirs(path=None):
    """The folders searched for the IDX files, in order."""
    dirs = []
    if path is not None:
        dirs.append(os.fspath(path))
    if os.environ.get(ENV_VAR):
        dirs.append(os.environ[ENV_VAR])
    keras_home = os.environ.get("KERAS_HOME",
                                os.path.join(os.path.expanduser("~"), ".keras"))
    dirs.append(os.path.join(keras_home, "datasets", "fashion-mnist"))
    dirs.append(DEBIAN_DIR)
    return dirs


def _find(directory, stem):
    for name in (stem + ".gz", stem):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def find_local(path=None):
    """The first folder holding all four files, or `None`."""
    for directory in candidate_dirs(path):
        if all(_find(directory, stem) for stem in FILES):
            return directory
    return None


def read_idx(filename, stem=None):
    """Reads an IDX file (optionally gzipped) and checks its content.

    Args:
        filename: the file's path.
        stem: the file's name in `FILES` (without `.gz`) to check its hash
            and shape against.

    Returns:
        A uint8 NumPy array.

    Raises:
        CorruptDataError: naming the file and how to fix it.
    """
    opener = gzip.open if filename.endswith(".gz") else open
    try:
        with opener(filename, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise _corrupt(filename, f"it cannot be read ({error})") from error
    if len(raw) < 8 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise _corrupt(filename, "it is not an unsigned-byte IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big")
                 for i in range(ndim))
    if len(raw) != header + int(np.prod(dims)):
        raise _corrupt(
            filename,
            f"it holds {len(raw) - header} data bytes, its header promises "
            f"{int(np.prod(dims))} (truncated)",
        )
    if stem is not None:
        expected_hash, expected_shape = FILES[stem]
        if dims != expected_shape:
            raise _corrupt(filename, f"its shape is {dims}, expected "
                           f"{expected_shape}")
        if hashlib.sha256(raw).hexdigest() != expected_hash:
            raise _corrupt(filename, "its content does not match the "
                           "known SHA-256")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _corrupt(filename, reason):
    return CorruptDataError(
        f"Fashion-MNIST file {filename} is corrupt: {reason}. Delete it and "
        "reinstall the data (e.g. `apt-get install --reinstall "
        f"dataset-fashion-mnist`, or point {ENV_VAR} / path= at a good copy)."
    )


def _download():
    import keras

    directory = None
    for stem in FILES:
        local = keras.utils.get_file(
            stem + ".gz", origin=ORIGIN + stem + ".gz",
            cache_subdir=os.path.join("datasets", "fashion-mnist"),
        )
        directory = os.path.dirname(local)
    return directory


def load_data(path=None, download=True, verbose=1):
    """Loads Fashion-MNIST as `((x_train, y_train), (x_test, y_test))`.

    With an explicit `path`, the four IDX files (`.gz` or uncompressed) are
    read from that folder only (a missing folder or file is an error).
    Otherwise they are looked for in, in order: the
    folder in the `KERAS_ZFNET_FASHION_MNIST` environment
    variable, Keras' cache (`~/.keras/datasets/fashion-mnist/`) and Debian's
    `dataset-fashion-mnist` package (`/usr/share/datasets/fashion-mnist/`);
    only then downloads them with `keras.utils.get_file`. Every file is
    checked against the known SHA-256 of its content.

    Args:
        path: optional folder holding the files; when given, no other
            location is searched and nothing is downloaded.
        download: whether a download may be tried when no local copy exists.
        verbose: 1 prints which source was used, 0 is silent.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 images of shape
        `(60000, 28, 28)` / `(10000, 28, 28)` and uint8 labels, as
        `keras.datasets.fashion_mnist.load_data()` returns them.

    Raises:
        FileNotFoundError: when `path` is given and does not hold the
            files, or when no copy is found and none can be downloaded.
        CorruptDataError: (a `ValueError`) naming a truncated or corrupt file.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    """
    if path is not None:
        directory = _explicit_dir(path)
    else:
        directory = find_local()
    if directory is None:
        if not download:
            raise FileNotFoundError(_missing_message(path))
        try:
            directory = _download()
        except Exception as error:  # noqa: BLE001 (network errors vary)
            raise FileNotFoundError(
                _missing_message(path) + f" The download failed: {error}"
            ) from error
    arrays = {stem: read_idx(_find(directory, stem), stem) for stem in FILES}
    if verbose:
        print(f"Fashion-MNIST: 60000 train + 10000 test images from "
              f"{directory}", file=sys.stderr)
    return (
        (arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]),
        (arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]),
    )


def _explicit_dir(path):
    """The folder `path` if it holds all four files; an error otherwise.

    An explicit `path` is never silently replaced by another copy.
    """
    directory = os.fspath(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            "`path` must be an existing folder holding the four Fashion-MNIST "
            f"IDX files. Received: path={directory!r} (no such folder)"
        )
    missing = [stem + "[.gz]" for stem in FILES if not _find(directory, stem)]
    if missing:
        raise FileNotFoundError(
            f"`path` must hold the four Fashion-MNIST IDX files; missing "
            f"{', '.join(missing)}. Received: path={directory!r}"
        )
    return directory


def _missing_message(path):
    searched = ", ".join(candidate_dirs(path))
    return (
        "Fashion-MNIST was not found locally (searched: "
        f"{searched}). Install it with `apt-get install -y "
        f"dataset-fashion-mnist`, set {ENV_VAR} to a folder holding the four "
        "IDX files, or allow a download."
    )


def load_sample(verbose=1):
    """The shipped sample: the first 1,000 images of the official test set.

    Lets the demo, notebooks and docs run with no network and no dataset
    package. It is never used silently in place of `load_data()`.

    Returns:
        `(x, y)`: uint8 images `(1000, 28, 28)` and uint8 labels.

    Example:

    >>> x, y = load_sample()
    """
    with np.load(_SAMPLE) as data:
        x, y = data["x"], data["y"]
    if verbose:
        print(f"Fashion-MNIST: shipped sample of {len(x)} test images "
              "(not the full dataset)", file=sys.stderr)
    return x, y


def load_test_data(prefer_full=True, verbose=1):
    """Test images: the full test set if found locally, else the sample.

    Says which one it returns (verbose=1) and returns it with its source.

    Returns:
        `(x, y, source)` where `source` is `"full"` or `"sample"`.
    """
    if prefer_full and find_local() is not None:
        _, (x, y) = load_data(download=False, verbose=verbose)
        return x, y, "full"
    x, y = load_sample(verbose=verbose)
    return x, y, "sample"
