"""scikit-learn's bundled 8x8 digits, resized: a second real image domain."""

import numpy as np


def load_data(image_size=28):
    """Loads the 1,797 digits of `sklearn.datasets.load_digits`, resized.

    The 8x8 images (values 0..16) are scaled to 0..255 and resized
    bilinearly to `image_size` x `image_size`, so they can be fed to models
    trained on Fashion-MNIST-sized inputs (e.g. for the paper's transfer
    experiments with 15 / 30 images per class). Bundled with scikit-learn:
    no download.

    Args:
        image_size: int >= 8, the output side.

    Returns:
        `(x, y)`: uint8 images `(1797, image_size, image_size)` and int64
        labels 0..9.

    Example:

    >>> x, y = load_data(image_size=28)
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    if int(image_size) != image_size or image_size < 8:
        raise ValueError(
            f"`image_size` must be an integer >= 8. Received: "
            f"image_size={image_size}"
        )
    digits = load_digits()
    images = np.clip(digits.images * (255.0 / 16.0), 0, 255).astype("uint8")
    resized = np.stack([
        np.asarray(Image.fromarray(im).resize((image_size, image_size),
                                              Image.BILINEAR))
        for im in images
    ])
    return resized, digits.target.astype("int64")
