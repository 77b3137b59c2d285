import keras
import numpy as np
import pytest
from PIL import Image

from keras_zfnet import datasets
from keras_zfnet.datasets import preprocessing
from keras_zfnet.datasets.folders import ImageFolder

TF = keras.config.backend() == "tensorflow"
PIPELINES = ["auto", "numpy"] + (["tf.data"] if TF else [])


def _write_folder(root, sizes):
    for name, (h, w) in sizes.items():
        (root / name).mkdir(parents=True)
        for i in range(3):
            pixels = np.full((h, w, 3), 40 * i, np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    (root / "notes.txt").write_text("not a class folder")


def _elements(ds):
    if isinstance(ds, keras.utils.PyDataset):
        return [ds[i] for i in range(len(ds))]
    return [(x.numpy(), y.numpy()) for x, y in ds]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_image_folder_pipeline(tmp_path, pipeline):
    _write_folder(tmp_path, {"cat": (300, 400), "dog": (260, 260)})
    ds, names = datasets.image_folder(tmp_path, batch_size=4,
                                      pipeline=pipeline)
    assert isinstance(ds, ImageFolder) == (pipeline == "numpy" or (
        pipeline == "auto" and not TF))
    assert names == ["cat", "dog"]
    images, labels = zip(*_elements(ds))
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (6, 224, 224, 3) and images.dtype == np.float32
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])
    # Constant images: the value minus the channel mean survives every step.
    np.testing.assert_allclose(images[1, 100, 100],
                               40 - np.array(preprocessing.IMAGENET_MEAN_RGB),
                               atol=0.5)
    ten, _ = datasets.image_folder(tmp_path, crops="ten", batch_size=None,
                                   indices=[3], pipeline=pipeline)
    assert next(iter(ten))[0].shape == (10, 224, 224, 3)


def test_image_folder_numpy_training_is_seeded(tmp_path):
    _write_folder(tmp_path, {"cat": (300, 400), "dog": (260, 260)})
    ds, _ = datasets.image_folder(tmp_path, training=True, batch_size=6,
                                  pipeline="numpy", image_size=40,
                                  crop_size=32, seed=3)
    x0, y0 = ds[0]
    assert x0.shape == (6, 32, 32, 3) and sorted(y0) == [0, 0, 0, 1, 1, 1]
    again, _ = datasets.image_folder(tmp_path, training=True, batch_size=6,
                                     pipeline="numpy", image_size=40,
                                     crop_size=32, seed=3)
    np.testing.assert_array_equal(again[0][0], x0)
    ds.on_epoch_end()
    again.set_epoch(1)
    np.testing.assert_array_equal(again[0][1], ds[0][1])
    with pytest.raises(IndexError, match="Received: index=1"):
        ds[1]


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        datasets.image_folder(tmp_path / "missing")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="No images"):
        datasets.image_folder(tmp_path)
    with pytest.raises(ValueError, match="`pipeline`.*Received"):
        datasets.image_folder(tmp_path, pipeline="dali")


def _paper_crops_by_hand(convert):
    image = convert(np.arange(300 * 260 * 1, dtype="float32").reshape(
        300, 260, 1))
    resized = preprocessing.resize_short_side(image, 256)
    assert resized.shape[:2] == (295, 256)
    crops = preprocessing.ten_crops(
        convert(np.arange(16.0, dtype="float32").reshape(4, 4, 1)), 2)
    crops = np.asarray(crops)
    np.testing.assert_array_equal(crops[0, :, :, 0], [[0, 1], [4, 5]])
    np.testing.assert_array_equal(crops[3, :, :, 0], [[10, 11], [14, 15]])
    np.testing.assert_array_equal(crops[4, :, :, 0], [[5, 6], [9, 10]])
    np.testing.assert_array_equal(crops[5, :, :, 0], [[1, 0], [5, 4]])
    train = preprocessing.paper_preprocess(
        convert(np.zeros((320, 500, 3), "float32")), True)
    assert train.shape == (224, 224, 3)
    with pytest.raises(ValueError, match="crops"):
        preprocessing.paper_preprocess(
            convert(np.zeros((300, 300, 3), "float32")), False,
            crops="five")
    return np.asarray(resized)


def test_paper_crops_by_hand_numpy():
    resized = _paper_crops_by_hand(np.asarray)
    assert isinstance(resized, np.ndarray) and resized.dtype == np.float32
    # A random crop is a window of the image, maybe mirrored.
    image = np.arange(6 * 7, dtype="float32").reshape(6, 7, 1)
    crop = preprocessing.random_crop_and_flip(image, 4, seed=0)
    windows = [image[t:t + 4, l:l + 4] for t in range(3) for l in range(4)]
    assert any(np.array_equal(crop, w) or np.array_equal(crop, w[:, ::-1])
               for w in windows)


@pytest.mark.tf_only
def test_paper_crops_by_hand_tf():
    import tensorflow as tf

    resized = _paper_crops_by_hand(tf.constant)
    # The NumPy path (Pillow's antialiased bilinear) resizes like TensorFlow.
    image = np.random.default_rng(0).random((300, 260, 3)).astype("float32")
    np.testing.assert_allclose(
        preprocessing.resize_short_side(image * 255, 128),
        preprocessing.resize_short_side(tf.constant(image * 255), 128),
        atol=1.0)
    assert resized.shape == (295, 256, 1)


@pytest.mark.tf_only
def test_tfds_sources_with_mock_data():
    import tensorflow_datasets as tfds

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


def test_tfds_source_says_what_it_needs(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ImportError,
                       match=r"tfds_source` needs TensorFlow and "
                             r"tensorflow-datasets: pip install "
                             r"'keras-zfnet\[tfds\]'"):
        datasets.tfds_source("caltech101", "train")
