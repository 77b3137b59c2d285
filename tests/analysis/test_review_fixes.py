"""Inputs a review found giving meaningless results: each is now refused
with a ValueError naming the argument (or handled correctly)."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(7)
    return kz.MiniZFNet(input_shape=(28, 28, 1), classes=4)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (40, 28, 28, 1)).astype("float32")
    y = np.arange(40) % 4
    return x, y


def test_one_hot_labels_are_single_label(model, data):
    x, y = data
    kwargs = dict(per_class=3, splits=1, classifiers=("softmax",), verbose=0)
    hot = kz.layer_analysis(model, "conv1", x, np.eye(4)[y], **kwargs)
    plain = kz.layer_analysis(model, "conv1", x, y, **kwargs)
    assert hot.rows == plain.rows


def test_one_class_and_unseen_test_classes(model, data):
    x, y = data
    with pytest.raises(ValueError, match=r"at least 2 classes.*\[0\]"):
        kz.layer_analysis(model, "conv1", x, np.zeros(40, int), per_class=3,
                          splits=1, classifiers=("svm",), verbose=0)
    train = y < 3
    with pytest.raises(ValueError, match=r"test_labels.*\[3\]"):
        kz.layer_analysis(model, "conv1", x[train], y[train], per_class=3,
                          splits=1, classifiers=("svm",), verbose=0,
                          test_data=x[~train], test_labels=y[~train])


def test_diagnose_broken_and_half_dead_kernels(model):
    broken = keras.models.clone_model(model)
    broken.set_weights(model.get_weights())
    kernel = broken.get_layer("conv1").kernel
    values = kernel.numpy()
    values[..., 0] = np.nan
    kernel.assign(values)
    with pytest.raises(ValueError, match=r"conv1.*NaN.*filters \[0\]"):
        kz.diagnose(broken)
    values = model.get_layer("conv1").kernel.numpy()
    half = values.shape[-1] // 2 + 2
    values[..., :half] = 0.0
    kernel.assign(values)
    kinds = {f.kind: f for f in kz.diagnose(broken).findings}
    assert list(kinds["dead_filters"].channels) == list(range(half))
    assert "dominant_filters" not in kinds


def test_fine_tune_and_batch_size_are_checked(model, data):
    x, y = data
    with pytest.raises(ValueError, match=r"fine_tune.*'no'"):
        kz.transfer_model(model, "fc7", 5, fine_tune="no")
    for call in (
            lambda b: kz.invariance(model, x[:2], "rotate", [0, 90],
                                    ["conv1"], batch_size=b, verbose=0),
            lambda b: kz.diagnose(model, x[:2], batch_size=b),
            lambda b: kz.correspondence(model, x[:3],
                                        {"p": [(2, 8, 2, 8)] * 3}, "conv1",
                                        batch_size=b)):
        for bad in (0, -1, 2.5):
            with pytest.raises(ValueError, match=r"batch_size.*Received"):
                call(bad)


def test_browse_k_labels_and_class_names(model, data, tmp_path):
    x, y = data
    with pytest.raises(ValueError, match=r"`k` must be at most.*\(3\)"):
        kz.browse(model, x[:3], layers=["conv1"], k=9,
                  output_dir=str(tmp_path / "a"), verbose=0)
    with pytest.raises(ValueError, match=r"labels.*class_names"):
        kz.browse(model, x, layers=["conv1"], k=2, labels=y,
                  class_names=["a", "b"], output_dir=str(tmp_path / "b"),
                  verbose=0)
    import tensorflow as tf
    with pytest.raises(ValueError, match=r"one label per image \(16"):
        kz.browse(model, tf.data.Dataset.from_tensor_slices(x[:16]),
                  layers=["conv1"], k=2, labels=y[:4],
                  output_dir=str(tmp_path / "c"), verbose=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_to_csv_without_a_path_returns_the_text(model, data, tmp_path):
    x, y = data
    result = kz.layer_analysis(model, "conv1", x, y, per_class=3, splits=1,
                               classifiers=("svm",), verbose=0)
    text = result.to_csv()
    path = result.to_csv(tmp_path / "rows.csv")
    assert path.read_bytes().decode() == text
    assert text.splitlines()[0].startswith("classifier,layer,per_class")
    assert len(text.splitlines()) == 1 + len(result.rows)


def test_negative_labels_numpy_thresholds_and_unchanged_parts(model, data):
    x, y = data
    with pytest.raises(ValueError, match=r"labels.*>= 0.*-1"):
        kz.layer_analysis(model, "conv1", x, y - 1, per_class=3, splits=1,
                          classifiers=("svm",), verbose=0)
    diagnosis = kz.diagnose(model, dead_rms=np.float32(0.01))
    assert diagnosis.measures is not None
    with pytest.raises(ValueError, match="aliasing_period"):
        kz.diagnose(model, aliasing_period=True)
    blank = np.zeros((3, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match=r"changes no feature.*\[0, 1, 2\]"):
        kz.correspondence(model, blank, {"p": [(2, 8, 2, 8)] * 3}, "conv1",
                          fill="zero")
