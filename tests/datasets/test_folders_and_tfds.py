import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_zfnet import datasets
from keras_zfnet.datasets import preprocessing


def _write_folder(root, sizes):
    for name, (h, w) in sizes.items():
        (root / name).mkdir(parents=True)
        for i in range(3):
            pixels = np.full((h, w, 3), 40 * i, np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    (root / "notes.txt").write_text("not a class folder")


def test_image_folder_pipeline(tmp_path):
    _write_folder(tmp_path, {"cat": (300, 400), "dog": (260, 260)})
    ds, names = datasets.image_folder(tmp_path, batch_size=4)
    assert names == ["cat", "dog"]
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (6, 224, 224, 3)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])
    # Constant images: the value minus the channel mean survives every step.
    np.testing.assert_allclose(images[1, 100, 100],
                               40 - np.array(preprocessing.IMAGENET_MEAN_RGB),
                               atol=0.5)
    ten, _ = datasets.image_folder(tmp_path, crops="ten", batch_size=None,
                                   indices=[3])
    assert next(iter(ten))[0].shape == (10, 224, 224, 3)


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        datasets.image_folder(tmp_path / "missing")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="No images"):
        datasets.image_folder(tmp_path)


def test_paper_crops_by_hand():
    image = tf.reshape(tf.range(300 * 260 * 1, dtype=tf.float32), (300, 260, 1))
    resized = preprocessing.resize_short_side(image, 256)
    assert resized.shape[:2] == (295, 256)
    crops = preprocessing.ten_crops(tf.reshape(tf.range(16.0), (4, 4, 1)), 2)
    np.testing.assert_array_equal(crops[0, :, :, 0], [[0, 1], [4, 5]])
    np.testing.assert_array_equal(crops[3, :, :, 0], [[10, 11], [14, 15]])
    np.testing.assert_array_equal(crops[4, :, :, 0], [[5, 6], [9, 10]])
    np.testing.assert_array_equal(crops[5, :, :, 0], [[1, 0], [5, 4]])
    train = preprocessing.paper_preprocess(tf.zeros((320, 500, 3)), True)
    assert train.shape == (224, 224, 3)
    with pytest.raises(ValueError, match="crops"):
        preprocessing.paper_preprocess(tf.zeros((300, 300, 3)), False,
                                       crops="five")


def test_tfds_sources_with_mock_data():
    with tfds.testing.mock_data(num_examples=4):
        ds, info = datasets.tfds_source("caltech101", "train", batch_size=2)
        x, y = next(iter(ds))
        assert x.shape == (2, 224, 224, 3) and y.shape == (2,)
        assert info.features["label"].num_classes == 102
        voc, _ = datasets.tfds_source("voc2012", "train", batch_size=2)
        x, y = next(iter(voc))
        assert y.shape == (2, 20)
        assert set(np.unique(y.numpy())) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="caltech101"):
        datasets.tfds_source("cifar10", "train")
