"""Image folders in the Caltech-101/256 layout (one folder per class)."""

import math
import os

import keras
import numpy as np

from keras_zfnet.datasets import preprocessing
from keras_zfnet.datasets.tf_only import require_tensorflow
from keras_zfnet.datasets.tf_only import tf_pipelines_available

PIPELINES = ("auto", "tf.data", "numpy")

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


def _mean(channels):
    return (preprocessing.IMAGENET_MEAN_RGB if channels == 3
            else (sum(preprocessing.IMAGENET_MEAN_RGB) / 3,))


class ImageFolder(keras.utils.PyDataset):
    """The images of a folder with the paper's preprocessing, in NumPy.

    The backend-independent form of `image_folder`'s dataset: images are
    read with Pillow and prepared with `preprocessing.paper_preprocess`.
    With `shuffle` the order changes every epoch; the randomness of an
    element depends only on `(seed, epoch, index)` (`set_epoch` sets the
    epoch, `on_epoch_end` advances it).

    Args:
        paths: image files.
        labels: their integer labels.
        training, image_size, crop_size, crops: as in `paper_preprocess`.
        batch_size: batch size, or `None` for one image (or its 10 crops)
            per element.
        shuffle: reshuffle the files every epoch.
        seed: shuffling / cropping seed.
        channels: 3 (RGB) or 1.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

    >>> paths, labels, names = list_image_folder("101_ObjectCategories")
    >>> data = ImageFolder(paths, labels, training=True)
    """

    def __init__(self, paths, labels, training=False, batch_size=32,
                 image_size=256, crop_size=224, crops="center",
                 shuffle=False, seed=0, channels=3, **kwargs):
        super().__init__(**kwargs)
        self.paths = list(paths)
        self.labels = np.asarray(labels, dtype="int32")
        self.training = bool(training)
        self.batch_size = batch_size
        self.image_size = image_size
        self.crop_size = crop_size
        self.crops = crops
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.channels = channels
        self.epoch = 0

    def __len__(self):
        return math.ceil(len(self.paths) / (self.batch_size or 1))

    def set_epoch(self, epoch):
        """Sets the 0-based epoch whose order and crops follow."""
        self.epoch = int(epoch)

    def on_epoch_end(self):
        self.epoch += 1

    def _order(self):
        if not self.shuffle:
            return np.arange(len(self.paths))
        return np.random.default_rng([self.seed, self.epoch]).permutation(
            len(self.paths))

    def load(self, position):
        """The prepared image at `position` of the (unshuffled) listing."""
        from PIL import Image

        with Image.open(self.paths[position]) as image:
            image = np.asarray(image.convert("RGB" if self.channels == 3
                                             else "L"))
        if image.ndim == 2:
            image = image[..., None]
        rng = np.random.default_rng([self.seed, self.epoch, position])
        return preprocessing.paper_preprocess(
            image, self.training, self.image_size, self.crop_size,
            mean=_mean(self.channels), crops=self.crops, seed=rng)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index must be in [0, {len(self) - 1}]. "
                             f"Received: index={index}")
        size = self.batch_size or 1
        rows = self._order()[index * size:(index + 1) * size]
        if not self.batch_size:
            return self.load(rows[0]), self.labels[rows[0]]
        images = np.stack([self.load(i) for i in rows]).astype("float32")
        return images, self.labels[rows]


def image_folder(directory, training=False, indices=None, batch_size=32,
                 image_size=256, crop_size=224, crops="center", shuffle=None,
                 seed=0, channels=3, pipeline="auto"):
    """A dataset over an image folder with the paper's preprocessing.

    On the TensorFlow backend a `tf.data` pipeline (parallel decoding and
    prefetching); on JAX and PyTorch, or without TensorFlow, an
    `ImageFolder` (`keras.utils.PyDataset`, Pillow and NumPy).

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
        pipeline: `"auto"` (`tf.data` on the TensorFlow backend, NumPy
            otherwise), `"tf.data"` (needs TensorFlow) or `"numpy"`.

    Returns:
        `(dataset, class_names)`: a dataset of `(image, label)` and the
        class names.

    Example:

    >>> ds, names = image_folder("101_ObjectCategories", training=True)
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"`pipeline` must be one of {PIPELINES}. "
                         f"Received: pipeline={pipeline!r}")
    if crops not in ("center", "ten"):
        raise ValueError(
            f"`crops` must be 'center' or 'ten'. Received: crops={crops!r}")
    if channels not in (1, 3):
        raise ValueError(
            f"`channels` must be 1 or 3. Received: channels={channels!r}")
    paths, labels, class_names = list_image_folder(directory)
    if indices is not None:
        paths = [paths[i] for i in indices]
        labels = [labels[i] for i in indices]
    shuffle = bool(shuffle if shuffle is not None else training)
    if pipeline == "tf.data" or (pipeline == "auto" and tf_pipelines_available()):
        tf = require_tensorflow("`image_folder(pipeline='tf.data')`")
        return _tf_dataset(tf, paths, labels, training, batch_size,
                           image_size, crop_size, crops, shuffle, seed,
                           channels), class_names
    return ImageFolder(paths, labels, training, batch_size, image_size,
                       crop_size, crops, shuffle, seed, channels), class_names


def _tf_dataset(tf, paths, labels, training, batch_size, image_size,
                crop_size, crops, shuffle, seed, channels):
    dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed,
                                  reshuffle_each_iteration=True)

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                   expand_animations=False)
        image.set_shape((None, None, channels))
        image = preprocessing.paper_preprocess(
            image, training, image_size, crop_size, mean=_mean(channels),
            crops=crops,
        )
        return image, label

    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)
