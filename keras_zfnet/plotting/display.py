"""Undoing a model's preprocessing so that figures show the real colours.

Analyses take images as the model expects them (after its preprocessing);
figures should show them as a person saw them. Caffe-style models
(`keras.applications` VGG16 / VGG19 / ResNet50: BGR, ImageNet mean
subtracted) look blue and dark when such inputs are min-max scaled.
`display` names the preprocessing to undo, or is a function that does it.
"""

import numpy as np

_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], "float32")
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], "float32")
_TORCH_STD = np.array([0.229, 0.224, 0.225], "float32")

#: Family names accepted by `display=` and the mode each one undoes.
FAMILIES = {
    "caffe": "caffe", "vgg16": "caffe", "vgg19": "caffe",
    "resnet50": "caffe", "resnet": "caffe", "resnet101": "caffe",
    "resnet152": "caffe",
    "tf": "tf", "mobilenet": "tf", "mobilenet_v2": "tf",
    "inception_v3": "tf", "xception": "tf", "resnet_v2": "tf",
    "nasnet": "tf",
    "torch": "torch", "densenet": "torch",
    "raw": "raw", "efficientnet": "raw", "convnext": "raw", "none": "raw",
}


def undo_preprocessing(images, display):
    """Images as a person would see them, in `[0, 1]`, channels last.

    Args:
        images: `(..., H, W, C)` model inputs.
        display: `None` (scale each image's range to [0, 1]: right for any
            model whose inputs keep the colour order), a family name from
            `FAMILIES` (e.g. `"vgg16"`, `"resnet50"`: BGR with the ImageNet
            mean subtracted; `"mobilenet_v2"`: [-1, 1]; `"densenet"`: torch
            normalisation; `"raw"`: 0..255 pixels), or a function mapping
            model inputs to 0..255 RGB pixels.

    Returns:
        A float32 array of the same shape with values in `[0, 1]`.

    Example:

    >>> x = keras.applications.vgg16.preprocess_input(pixels.copy())
    >>> np.allclose(undo_preprocessing(x, "vgg16") * 255, pixels, atol=1e-3)
    True
    """
    array = np.asarray(images, dtype="float32")
    if display is None:
        axes = (-3, -2, -1)
        low = array.min(axis=axes, keepdims=True)
        span = array.max(axis=axes, keepdims=True) - low
        return (array - low) / np.where(span > 0, span, 1.0)
    if callable(display):
        pixels = np.asarray(display(array.copy()), dtype="float32")
        return np.clip(pixels / 255.0, 0.0, 1.0)
    mode = FAMILIES.get(str(display).lower()) if isinstance(
        display, str) else None
    if mode is None:
        raise ValueError(
            "`display` must be None, a function returning 0..255 pixels, or "
            f"one of {sorted(FAMILIES)}. Received: display={display!r}"
        )
    if mode in ("caffe", "torch") and array.shape[-1] != 3:
        raise ValueError(
            f"`display={display!r}` undoes a 3-channel preprocessing. "
            f"Received: images with {array.shape[-1]} channel(s)"
        )
    if mode == "caffe":
        pixels = (array + _CAFFE_MEAN_BGR)[..., ::-1]
    elif mode == "tf":
        pixels = (array + 1.0) * 127.5
    elif mode == "torch":
        pixels = (array * _TORCH_STD + _TORCH_MEAN) * 255.0
    else:
        pixels = array
    return np.clip(pixels / 255.0, 0.0, 1.0).astype("float32")
