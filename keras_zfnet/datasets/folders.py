"""Image folders in the Caltech-101/256 layout (one folder per class)."""

import os

import tensorflow as tf

from keras_zfnet.datasets import preprocessing

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def list_image_folder(directory):
    """Lists `(paths, labels, class_names)` of a one-folder-per-class tree.

    Class names are the sorted sub-folder names; files with an image
    extension inside each are that class's images (sorted).

    Raises:
        ValueError: if the folder does not exist or holds no class folder
            with images.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(
            "`directory` must be a folder with one sub-folder per class. "
            f"Received: directory={directory!r} (not a folder)"
        )
    class_names = sorted(
        d for d in os.listdir(directory)
        if os.path.isdir(os.path.join(directory, d))
    )
    paths, labels = [], []
    for label, name in enumerate(class_names):
        folder = os.path.join(directory, name)
        for filename in sorted(os.listdir(folder)):
            if filename.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(folder, filename))
                labels.append(label)
    if not paths:
        raise ValueError(
            f"No images found in {directory!r}: expected sub-folders (one "
            f"per class) holding {', '.join(IMAGE_EXTENSIONS)} files."
        )
    return paths, labels, class_names


def image_folder(directory, training=False, indices=None, batch_size=32,
                 image_size=256, crop_size=224, crops="center", shuffle=None,
                 seed=0, channels=3):
    """A `tf.data` pipeline over an image folder with the paper's
    preprocessing.

    Args:
        directory: the root folder (one sub-folder per class, e.g. a
            Caltech-101 or Caltech-256 extraction).
        training: random crops and flips if True, else centre / 10 crops.
        indices: optional positions (in the sorted listing) to keep, e.g.
            from `k_per_class_split`.
        batch_size: batch size, or `None` for unbatched elements.
        image_size: resize-and-crop side (256).
        crop_size: crop side (224).
        crops: evaluation crops, `"center"` or `"ten"`.
        shuffle: shuffle the files (defaults to `training`).
        seed: shuffling / cropping seed.
        channels: 3 (RGB) or 1.

    Returns:
        `(dataset, class_names)`: a dataset of `(image, label)` and the
        class names.

    Example:

    >>> ds, names = image_folder("101_ObjectCategories", training=True)
    """
    paths, labels, class_names = list_image_folder(directory)
    if indices is not None:
        paths = [paths[i] for i in indices]
        labels = [labels[i] for i in indices]
    dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle if shuffle is not None else training:
        dataset = dataset.shuffle(len(paths), seed=seed,
                                  reshuffle_each_iteration=True)

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                   expand_animations=False)
        image.set_shape((None, None, channels))
        mean = (preprocessing.IMAGENET_MEAN_RGB if channels == 3
                else (sum(preprocessing.IMAGENET_MEAN_RGB) / 3,))
        image = preprocessing.paper_preprocess(
            image, training, image_size, crop_size, mean=mean, crops=crops,
        )
        return image, label

    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE), class_names
