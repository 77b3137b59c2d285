"""Reading users' images for the analysis subcommands: image files and
folders, resizing, labels from sub-folders, and `--preprocess` families.

Part of the CLI's one vocabulary (`keras_zfnet.cli.inputs` re-exports what
subcommands use); every problem is a `ValueError` / `FileNotFoundError`
whose one-line message names the argument and the value received.
"""

import os

import numpy as np

from keras_zfnet.utils.extras import require

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff",
                    ".webp")

#: `--preprocess` values: `none` (pixels 0..255 as read) or a
#: `keras.applications` module whose `preprocess_input` is applied.
PREPROCESS_FAMILIES = (
    "none", "vgg16", "vgg19", "resnet50", "resnet", "resnet_v2", "mobilenet",
    "mobilenet_v2", "inception_v3", "xception", "densenet", "efficientnet",
    "convnext", "nasnet",
)



def _read_image(path, channels):
    Image = require("PIL.Image", "plot", "Reading images")

    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            array = np.asarray(image, dtype="float32")
    except Exception as error:  # noqa: BLE001  (PIL raises many types)
        raise ValueError(
            f"IMAGES: cannot read {path} as an image "
            f"({type(error).__name__}). Received: IMAGES={path}") from None
    return array[..., None] if channels == 1 else array


def image_files(folder):
    """Image files of a folder (sorted; not recursive)."""
    files = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise ValueError(
            f"IMAGES holds no image files ({', '.join(IMAGE_EXTENSIONS)}). "
            f"Received: IMAGES={folder}")
    return [os.path.join(folder, f) for f in files]


def _resize(pixels, size):
    import keras

    return keras.ops.convert_to_numpy(
        keras.ops.image.resize(pixels, size, interpolation="bilinear"))


def read_pixels(path, channels, size=None, resize=False):
    """Pixels `(N, H, W, channels)` float32 0..255, their names and the
    labels an `.npz` may hold.

    Args:
        path: folder, image file or `.npz` (`images`, optional `labels`).
        channels: 1 or 3 (images are converted), or None (keep).
        size: the model's `(H, W)` (None entries: any).
        resize: resize to `size` instead of rejecting another size.

    Returns:
        `(pixels, names, labels)`; `labels` is None unless the `.npz` has
        them.
    """
    labels = None
    if path.lower().endswith(".npz"):
        try:
            with np.load(path) as data:
                if "images" not in data:
                    raise ValueError(
                        "IMAGES .npz must hold an `images` array. Received: "
                        f"arrays {sorted(data.files)} in IMAGES={path}")
                pixels = np.asarray(data["images"], dtype="float32")
                if "labels" in data:
                    labels = np.asarray(data["labels"]).astype("int64")
        except (OSError, EOFError) as error:
            raise ValueError(f"IMAGES: cannot read {path} as an .npz "
                             f"({error}). Received: IMAGES={path}") from None
        if pixels.ndim == 3:
            pixels = pixels[..., None]
        if pixels.ndim != 4 or not len(pixels):
            raise ValueError(
                "IMAGES .npz `images` must be (N, H, W) or (N, H, W, C) "
                f"with N >= 1. Received: shape {pixels.shape} in "
                f"IMAGES={path}")
        if channels and pixels.shape[-1] != channels:
            if pixels.shape[-1] == 1 and channels == 3:
                pixels = np.repeat(pixels, 3, axis=-1)
            elif pixels.shape[-1] == 3 and channels == 1:
                pixels = pixels @ np.array([[0.299], [0.587], [0.114]],
                                           "float32")
            else:
                raise ValueError(
                    f"IMAGES has {pixels.shape[-1]} channels; the model takes "
                    f"{channels}. Received: IMAGES={path}")
        names = [f"image {i}" for i in range(len(pixels))]
        arrays = list(pixels)
    else:
        files = image_files(path) if os.path.isdir(path) else [path]
        arrays = [_read_image(f, channels or 3) for f in files]
        names = [os.path.basename(f) for f in files]
    wanted = tuple(size or (None, None))
    out = []
    for name, array in zip(names, arrays):
        shape = array.shape[:2]
        if all(w is None or w == s for w, s in zip(wanted, shape)):
            out.append(array)
        elif resize and None not in wanted:
            out.append(_resize(array, wanted))
        else:
            expected = "x".join("any" if w is None else str(w)
                                for w in wanted)
            raise ValueError(
                f"IMAGES must be {expected} pixels (the model's input size; "
                f"--resize resizes them). Received: {name} of "
                f"{shape[0]}x{shape[1]} in IMAGES={path}")
    if len({a.shape for a in out}) > 1:
        raise ValueError(
            "IMAGES must all have the same size for a model with a variable "
            f"input size (or pass --resize). Received: IMAGES={path}")
    return np.stack(out).astype("float32"), names, labels


def preprocess(pixels, family):
    """Model inputs from 0..255 pixels with a `keras.applications` family's
    `preprocess_input` (`none`: unchanged)."""
    if family == "none":
        return pixels.astype("float32")
    import importlib

    module = importlib.import_module(f"keras.applications.{family}")
    return np.asarray(module.preprocess_input(pixels.copy()), "float32")


def display_mode(family):
    """The `display=` value that undoes `family` in figures."""
    return "raw" if family == "none" else family


def model_images(model, path, family="none", resize=False):
    """Reads `path` and prepares it for `model`.

    Returns:
        `(images, names, labels)`: model inputs, display names, labels from
        an `.npz` (or None).
    """
    from keras_zfnet.deconv.model_graph import model_graph

    shape = model_graph(model).input_shape
    channels = shape[-1] if shape and shape[-1] in (1, 3) else None
    pixels, names, labels = read_pixels(path, channels, shape[:2], resize)
    return preprocess(pixels, family), names, labels
