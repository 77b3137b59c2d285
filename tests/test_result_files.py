"""Results as data: each analysis result saves to `.npz` and loads back
equal, field by field (arrays bit-identical, dtypes and Python types kept),
without a model and without pickle; a file of another kind is refused."""

import dataclasses
import math
import os

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis import CorrespondenceResult
from keras_zfnet.analysis import Diagnosis
from keras_zfnet.analysis import Finding
from keras_zfnet.analysis import InvarianceResult
from keras_zfnet.analysis import OcclusionResult
from keras_zfnet.analysis._utils.result_files import SavedResult

SIZE = 12


def _model():
    """conv1 is an identity 1x1 convolution (its features are the pixels);
    conv2 has a dead (all-zero) and a dominant filter for `diagnose`."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv3")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu", name="fc7")(x)
    outputs = keras.layers.Dense(3, activation="softmax",
                                 name="predictions")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    model.get_layer("conv1").set_weights([np.ones((1, 1, 1, 1))])
    kernel, bias = model.get_layer("conv2").get_weights()
    kernel[..., 2] = 0.0
    kernel[..., 4] *= 40.0
    model.get_layer("conv2").set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return (rng.random((4, SIZE, SIZE, 1)) + 0.5).astype("float32")


@pytest.fixture(scope="module")
def results(model, images):
    """One result of each class from a small real computation."""
    boxes = {"corner": [(0, 4, 0, 4)] * 4, "centre": [(4, 8, 4, 8)] * 4}
    return {
        "occlusion": kz.occlusion_sensitivity(
            model, images, patch_size=4, stride=3, labels=[0, 1, 2, 0],
            layer="conv2", verbose=0),
        "occlusion_no_layer": kz.occlusion_sensitivity(
            model, images, patch_size=5, stride=4, fill="zero", verbose=0),
        "diagnosis": kz.diagnose(model, images, layer="conv2",
                                 projection_channels=2),
        "diagnosis_no_images": kz.diagnose(model, layer="conv2"),
        "invariance": kz.invariance(model, images, "translate",
                                    [0, 1, (2, -1)], ["conv1", "fc7"],
                                    verbose=0),
        "correspondence": kz.correspondence(
            model, images, boxes, ["conv1", "fc7"], random_trials=3,
            fill="zero", verbose=0),
    }


def assert_same(saved, loaded, where="result"):
    """Equal values of the same types; arrays bit-identical, same dtype."""
    assert type(loaded) is type(saved), (where, type(saved), type(loaded))
    if isinstance(saved, (np.ndarray, np.generic)):
        assert loaded.dtype == saved.dtype, where
        assert loaded.shape == saved.shape, where
        np.testing.assert_array_equal(loaded, saved, err_msg=where)
        assert np.asarray(loaded).tobytes() == np.asarray(saved).tobytes()
    elif isinstance(saved, SavedResult):
        for field in dataclasses.fields(saved):
            assert_same(getattr(saved, field.name),
                        getattr(loaded, field.name),
                        f"{where}.{field.name}")
    elif isinstance(saved, dict):
        assert list(loaded) == list(saved), where
        for key in saved:
            assert_same(saved[key], loaded[key], f"{where}[{key!r}]")
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved), where
        for i, (a, b) in enumerate(zip(saved, loaded)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(saved, float) and math.isnan(saved):
        assert math.isnan(loaded), where
    else:
        assert loaded == saved, where


def _summaries(result):
    """What the data-only methods say (plots aside)."""
    out = [repr(result)]
    if isinstance(result, Diagnosis):
        out += [str(result), result.kinds,
                [repr(result.finding(kind)) for kind in
                 ("dead_filters", "dominant_filters", "frequency_gap",
                  "aliasing")]]
    if isinstance(result, InvarianceResult):
        out.append(result.axis_values.tolist())
    if isinstance(result, CorrespondenceResult):
        out += [result.to_markdown(), result.to_markdown(digits=5)]
    return out


@pytest.mark.parametrize("name", ["occlusion", "occlusion_no_layer",
                                  "diagnosis", "diagnosis_no_images",
                                  "invariance", "correspondence"])
def test_round_trip_keeps_every_field(results, name, tmp_path):
    result = results[name]
    path = tmp_path / f"{name}.npz"
    assert result.to_npz(path) == path
    assert os.listdir(tmp_path) == [path.name]   # atomic: no temp file left
    loaded = type(result).from_npz(path)
    assert_same(result, loaded)
    assert _summaries(loaded) == _summaries(result)
    # Nothing pickled: the whole file reads with allow_pickle=False.
    with np.load(path, allow_pickle=False) as data:
        assert str(data["format"]) == (
            f"keras_zfnet.{type(result).__name__}/1")
        for key in data.files:
            data[key]


def test_the_computations_fill_the_fields_tested(results):
    """The round trips above cover arrays, None, nested dicts with tuple
    keys, numpy scalars and findings."""
    occlusion = results["occlusion"]
    assert occlusion.activity is not None and occlusion.labels_given
    none = results["occlusion_no_layer"]
    assert none.activity is None and none.layer is None
    assert not none.labels_given
    diagnosis = results["diagnosis"]
    assert diagnosis.projections is not None
    assert diagnosis.kinds[:2] == ["dead_filters", "dominant_filters"]
    assert isinstance(diagnosis.measures["rms"], np.ndarray)
    assert isinstance(diagnosis.measures["kernel_size"], tuple)
    assert results["diagnosis_no_images"].projection_channels is None
    assert ("corner", "fc7") in results["correspondence"].pair_distances
    assert results["invariance"].amounts.shape == (3, 2)


def test_top_level_arrays_read_without_keras_zfnet(results, tmp_path):
    result = results["occlusion"]
    result.to_npz(tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["probability"],
                                      result.probability)


def test_finding_round_trip(results, tmp_path):
    finding = results["diagnosis"].findings[0]
    loaded = Finding.from_npz(finding.to_npz(tmp_path / "f.npz"))
    assert loaded == finding
    assert_same(finding, loaded)


def test_special_values_and_types_survive(results, tmp_path):
    """NaN / inf floats, numpy scalars, strings arrays, nested lists."""
    result = dataclasses.replace(
        results["diagnosis_no_images"],
        measures={"nan": float("nan"), "inf": float("inf"),
                  "scalar": np.float16(1.5), "int": np.int32(-3),
                  "text": np.array(["a", "bc"]), "nested": [(1, None), {}],
                  (1, "a"): "tuple key", "empty": np.zeros((0, 3), "uint8")})
    loaded = Diagnosis.from_npz(result.to_npz(tmp_path / "d.npz"))
    assert_same(result, loaded)


def test_unstorable_value_is_refused(results, tmp_path):
    result = dataclasses.replace(results["occlusion"], layer=object())
    with pytest.raises(ValueError, match="cannot store"):
        result.to_npz(tmp_path / "x.npz")
    result = dataclasses.replace(results["occlusion"],
                                 labels=np.array([None], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        result.to_npz(tmp_path / "x.npz")


@pytest.mark.parametrize("cls", [OcclusionResult, Diagnosis, Finding,
                                 InvarianceResult, CorrespondenceResult])
def test_wrong_file_names_expected_and_found(results, tmp_path, cls):
    other = results["invariance" if cls is OcclusionResult else "occlusion"]
    path = tmp_path / "other.npz"
    other.to_npz(path)
    with pytest.raises(ValueError) as info:
        cls.from_npz(path)
    message = str(info.value)
    assert f"expected format 'keras_zfnet.{cls.__name__}/1'" in message
    assert f"found 'keras_zfnet.{type(other).__name__}/1'" in message

    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="no keras_zfnet format"):
        cls.from_npz(tmp_path / "plain.npz")

    (tmp_path / "text.npz").write_text("not a zip file")
    with pytest.raises(ValueError, match=f"not a readable {cls.__name__}"):
        cls.from_npz(tmp_path / "text.npz")


def test_top_activations_file_is_refused(tmp_path):
    np.savez(tmp_path / "top.npz", format="keras_zfnet.TopActivations/1",
             layer="conv1")
    with pytest.raises(ValueError, match="TopActivations"):
        OcclusionResult.from_npz(tmp_path / "top.npz")
