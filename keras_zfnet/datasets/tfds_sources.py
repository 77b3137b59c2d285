"""tfds-backed sources (Caltech-101, PASCAL VOC 2012, ImageNet 2012).

TensorFlow only: tfds builds `tf.data` pipelines, which need TensorFlow
and tensorflow-datasets (`pip install 'keras-zfnet[tfds]'`). Keras' JAX and
PyTorch backends can still train on the datasets they return.
"""

from keras_zfnet.datasets import preprocessing
from keras_zfnet.datasets.tf_only import require_tensorflow
from keras_zfnet.utils.extras import require

FEATURE = ("`keras_zfnet.datasets.tfds_source` needs TensorFlow and "
           "tensorflow-datasets")

# name -> (tfds name, label kind)
SOURCES = {
    "caltech101": ("caltech101", "class"),
    "voc2012": ("voc/2012", "multilabel"),
    "imagenet2012": ("imagenet2012", "class"),
}


def tfds_source(name, split, training=False, batch_size=32, image_size=256,
                crop_size=224, crops="center", data_dir=None, download=False,
                shuffle_files=None, seed=0):
    """Loads a tfds dataset with the paper's preprocessing (TensorFlow
    and tensorflow-datasets needed).

    Prepared data in `data_dir` (tfds' default `~/tensorflow_datasets`) is
    used as is; nothing is downloaded unless `download=True` (ImageNet must
    always be prepared by hand from its archives, as tfds explains).

    Args:
        name: `"caltech101"`, `"voc2012"` or `"imagenet2012"`.
        split: a tfds split, e.g. `"train"` or `"test[:50%]"`.
        training: random crops and flips if True.
        batch_size: batch size (`None` for unbatched elements).
        image_size, crop_size, crops: as in `paper_preprocess`.
        data_dir: tfds data folder.
        download: let tfds download and prepare missing data.
        shuffle_files: defaults to `training`.
        seed: cropping seed.

    Returns:
        `(dataset, info)`: `(image, label)` elements (labels are class ids,
        or 20-way multi-hot vectors for VOC) and the tfds `DatasetInfo`.

    Raises:
        ImportError: TensorFlow or tensorflow-datasets is not installed.

    Example:

    >>> ds, info = tfds_source("caltech101", "train", training=True)
    """
    if name not in SOURCES:
        raise ValueError(
            f"Unknown tfds source. Available: {sorted(SOURCES)}. "
            f"Received: name={name!r}"
        )
    tf = _require_tf()
    tfds = _require_tfds()
    tfds_name, kind = SOURCES[name]
    dataset, info = tfds.load(
        tfds_name, split=split, data_dir=data_dir, download=download,
        shuffle_files=training if shuffle_files is None else shuffle_files,
        with_info=True,
    )
    if kind == "multilabel":
        num_classes = info.features["objects"]["label"].num_classes
    else:
        num_classes = None

    def prepare(example):
        image = preprocessing.paper_preprocess(
            example["image"], training, image_size, crop_size, crops=crops,
            seed=seed,
        )
        if kind == "multilabel":
            hot = tf.one_hot(example["objects"]["label"], num_classes)
            label = tf.reduce_max(hot, axis=0)
        else:
            label = example["label"]
        return image, label

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE), info


def _require_tf():
    try:
        return require_tensorflow(FEATURE, extra="tfds")
    except ImportError as error:
        raise ImportError(
            f"{FEATURE}: pip install 'keras-zfnet[tfds]'") from error


def _require_tfds():
    try:
        return require("tensorflow_datasets", "tfds", FEATURE)
    except ImportError as error:
        raise ImportError(
            f"{FEATURE}: pip install 'keras-zfnet[tfds]'") from error
