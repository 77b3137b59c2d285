"""Selection on validation data: the probes' C by inner cross-validation on
the training split, the best layer on those validation scores (never the
test images), per-split CSV rows and lossless npz storage."""

import csv
import dataclasses
import io
import json
import math
import warnings

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis._utils import layer_splits
from keras_zfnet.analysis._utils import linear_probe
from keras_zfnet.analysis.layer_analysis import layer_analysis
from keras_zfnet.analysis.layer_result import LayerAnalysis

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.model_selection import PredefinedSplit  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

GRID = (0.01, 0.1, 1.0, 10.0)
LAYERS = ["conv", "dense"]


@pytest.fixture(scope="module")
def digits():
    """30 real 8x8 digits per class (0..16 pixels)."""
    x, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[:30] for c in range(10)])
    return x[keep].reshape(-1, 8, 8, 1).astype("float32"), y[keep]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(16, activation="relu", name="dense")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(h)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def result(model, digits):
    x, y = digits
    return layer_analysis(model, LAYERS, x, y, per_class=(1, 5), splits=2,
                          test_per_class=10, seed=3, verbose=0)


@pytest.fixture(scope="module")
def features(model, digits):
    x, _ = digits
    found = kz.extract_features(model, LAYERS, x, verbose=0)
    found["pixels"] = x.reshape(len(x), -1)
    return found


def oracle(classifier):
    """The probe as a scikit-learn pipeline: standardization fitted inside
    every fold, the classifier with its C as a grid parameter."""
    if classifier == "svm":
        return (Pipeline([("scale", StandardScaler()),
                          ("clf", OneVsRestClassifier(SVC(kernel="linear")))]),
                "clf__estimator__C")
    return (Pipeline([("scale", StandardScaler()),
                      ("clf", LogisticRegression(solver="newton-cg", tol=1e-6,
                                                 max_iter=2000))]),
            "clf__C")


@pytest.mark.filterwarnings("ignore:Line Search failed")
@pytest.mark.filterwarnings("ignore:The line search algorithm")
@pytest.mark.parametrize("classifier", ["svm", "softmax"])
@pytest.mark.parametrize("layer", ["pixels", "conv", "dense"])
def test_inner_cv_equals_grid_search_cv_on_the_same_folds(
        result, digits, features, classifier, layer):
    """Per split: the validation score of every C, the chosen C and the
    refitted test score are those of `GridSearchCV` over a
    StandardScaler + classifier pipeline on the raw features, with the
    same folds (the probe's projection changes nothing)."""
    _, y = digits
    row = result.row(classifier, layer, 5)
    curves = result.validation_curves[(classifier, layer, 5)]
    for s in range(2):
        train = result.train_indices[(5, s)]
        test = result.test_indices[(5, s)]
        folds = result.validation_folds[(5, s)]
        pipeline, name = oracle(classifier)
        search = GridSearchCV(pipeline, {name: list(GRID)},
                              scoring="balanced_accuracy",
                              cv=PredefinedSplit(folds)).fit(
            features[layer][train], y[train])
        np.testing.assert_allclose(curves[s],
                                   search.cv_results_["mean_test_score"],
                                   atol=1e-12)
        assert row["C"][s] == search.best_params_[name]
        assert row["validation_scores"][s] == pytest.approx(
            search.best_score_, abs=1e-12)
        predicted = search.best_estimator_.predict(features[layer][test])
        assert row["scores"][s] == pytest.approx(
            balanced_accuracy_score(y[test], predicted), abs=1e-12)
    assert row["validation_mean"] == pytest.approx(
        row["validation_scores"].mean())


def test_inner_folds_are_stratified_and_balanced(result, digits):
    _, y = digits
    for s in range(2):
        folds = result.validation_folds[(5, s)]
        train = result.train_indices[(5, s)]
        assert folds.shape == train.shape and set(folds) == {0, 1, 2}
        sizes = np.bincount(folds)
        assert sizes.max() - sizes.min() <= 1
        for c in range(10):
            per_fold = np.bincount(folds[y[train] == c], minlength=3)
            assert per_fold.max() - per_fold.min() <= 1  # 5 -> 2, 2, 1
    # Fewer images per class than folds: one fold per image of a class.
    labels = np.repeat([0, 1, 2], 2)
    folds = layer_splits.inner_folds(labels, False, 3, seed=0)
    assert sorted(np.bincount(folds)) == [3, 3]
    for c in range(3):
        assert sorted(folds[labels == c]) == [0, 1]
    np.testing.assert_array_equal(
        folds, layer_splits.inner_folds(labels, False, 3, seed=0))
    assert layer_splits.inner_folds(np.arange(4) % 2, False, 3, 0) \
        .tolist().count(0) == 2


def test_one_image_per_class_falls_back_to_a_fixed_c(result, digits):
    for classifier in ("svm", "softmax"):
        for layer in ("pixels", *LAYERS):
            row = result.row(classifier, layer, 1)
            np.testing.assert_array_equal(row["C"], [1.0, 1.0])
            assert np.isnan(row["validation_scores"]).all()
            assert math.isnan(row["validation_mean"])
    for s in range(2):
        np.testing.assert_array_equal(result.validation_folds[(1, s)], -1)
    with pytest.raises(ValueError, match="no validation score.*single"):
        result.best_layer("svm", 1)
    table = result.to_markdown()
    lines = [line for line in table.splitlines() if "chosen on" in line]
    assert lines and all(line.split("|")[3].strip() == "" for line in lines)
    splits = [r for r in result.split_rows() if r["per_class"] == 1]
    assert {r["cv_folds"] for r in splits} == {0}
    assert not any(r["chosen_on_validation"] for r in splits)
    # A one-value grid fixes C to that value, validated or not.
    x, y = digits
    fixed = layer_analysis(keras.Sequential([keras.Input((8, 8, 1)),
                                             keras.layers.Flatten(
                                                 name="flat")]),
                           "flat", x, y, per_class=(1, 3), splits=1,
                           classifiers="softmax", probe_grid=0.5,
                           pixel_probe=False, verbose=0)
    assert fixed.row("softmax", "flat", 1)["C"].tolist() == [0.5]
    three = fixed.row("softmax", "flat", 3)
    assert three["C"].tolist() == [0.5]
    assert np.isfinite(three["validation_scores"]).all()


def test_test_images_never_touch_the_selection(model, digits):
    """With a separate test set: scrambled test labels or noise test images
    change the test scores but not one chosen C, validation score or
    chosen layer."""
    x, y = digits
    train, test = np.arange(len(y)) % 3 != 0, np.arange(len(y)) % 3 == 0
    rng = np.random.default_rng(0)
    kwargs = dict(per_class=4, splits=2, seed=1, verbose=0)
    runs = [layer_analysis(model, LAYERS, x[train], y[train],
                           test_data=data, test_labels=labels, **kwargs)
            for data, labels in (
                (x[test], y[test]), (x[test], rng.permutation(y[test])),
                (rng.uniform(0, 16, x[test].shape).astype("float32"),
                 y[test]))]
    base = runs[0]
    for other in runs[1:]:
        for a, b in zip(base.rows, other.rows):
            np.testing.assert_array_equal(a["C"], b["C"])
            np.testing.assert_array_equal(a["validation_scores"],
                                          b["validation_scores"])
        for key, curve in base.validation_curves.items():
            np.testing.assert_array_equal(curve,
                                          other.validation_curves[key])
        for classifier in ("svm", "softmax"):
            a = base.best_layer(classifier, 4)
            b = other.best_layer(classifier, 4)
            assert (a["layer"], a["layers"]) == (b["layer"], b["layers"])
        assert any(not np.array_equal(a["scores"], b["scores"])
                   for a, b in zip(base.rows, other.rows))


def hand_made(with_scratch=True):
    """Layer `a` wins on test, layer `b` on validation in splits 0 and 2."""
    def row(classifier, layer, scores, validation, C):
        scores = np.array(scores)
        validation = np.array(validation, dtype="float64")
        return dict(classifier=classifier, layer=layer, per_class=15,
                    metric="mean_class_accuracy", mean=float(scores.mean()),
                    std=float(scores.std()), scores=scores,
                    validation_scores=validation,
                    validation_mean=float(np.nanmean(validation)),
                    C=np.array(C, dtype="float64"))

    rows = [row("svm", "pixels", [.95, .95, .95], [.99, .99, .99],
                [1, 1, 1]),
            row("svm", "a", [.9, .9, .9], [.5, .6, .7], [1, .1, 10]),
            row("svm", "b", [.6, .7, .5], [.8, .4, .9], [.01, .1, 1])]
    if with_scratch:
        rows.append(row("scratch", "all", [.7, .8, .9],
                        [.75, float("nan"), .85], [np.nan] * 3))
    folds = {(15, s): np.array([0, 1, 2, 0, 1, 2]) for s in range(3)}
    return LayerAnalysis(rows=tuple(rows), metric="mean_class_accuracy",
                         layers=("a", "b"), per_class=(15,), splits=3,
                         validation_folds=folds, probe_grid=GRID, seed=0)


def test_best_layer_is_chosen_on_validation_not_test():
    result = hand_made()
    best = result.best_layer("svm", 15)
    # Split 0: b (.8 > .5); split 1: a (.6 > .4); split 2: b (.9 > .7).
    assert best["layers"] == ("b", "a", "b")
    assert (best["layer"], best["count"]) == ("b", 2)
    np.testing.assert_allclose(best["scores"], [.6, .9, .5])
    assert best["mean"] == pytest.approx(2.0 / 3)
    assert best["std"] == pytest.approx(np.std([.6, .9, .5]))
    np.testing.assert_allclose(best["validation_scores"], [.8, .6, .9])
    # The pixel control (best validation of all) is not a layer to choose.
    assert "pixels" not in best["layers"]
    table = result.to_markdown()
    assert "| svm | b | **60.0 ± 8.2** |" in table
    assert "| svm | a | 90.0 ± 0.0 |" in table
    assert "| svm | chosen on validation | 66.7 ± 17.0 (b 2/3) |" in table
    assert "on b at 15/class" in repr(result)
    # A tie goes to the earlier layer.
    tied = dataclasses.replace(result, rows=tuple(
        dict(r, validation_scores=np.full(3, .5)) if r["layer"] in "ab"
        else r for r in result.rows))
    assert tied.best_layer("svm", 15)["layers"] == ("a", "a", "a")
    with pytest.raises(ValueError, match="probe classifier"):
        result.best_layer("scratch", 15)
    with pytest.raises(ValueError, match="per_class=30"):
        result.best_layer("svm", 30)


def test_best_layer_of_a_real_run_prefers_the_informative_layer():
    from tests.analysis.test_layer_analysis import synthetic_data
    from tests.analysis.test_layer_analysis import synthetic_model

    x, y = synthetic_data()
    result = layer_analysis(synthetic_model(), ["noise", "signal"], x, y,
                            per_class=6, splits=2, verbose=0)
    for classifier in ("svm", "softmax"):
        best = result.best_layer(classifier, 6)
        assert best["layers"] == ("signal", "signal")
        np.testing.assert_array_equal(
            best["scores"], result.row(classifier, "signal", 6)["scores"])


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_per_split_csv_matches_the_rows(result, tmp_path):
    path = result.to_csv(tmp_path / "splits.csv", per_split=True)
    lines = read_csv(open(path).read())
    assert lines == read_csv(result.to_csv(per_split=True))
    assert len(lines) == sum(len(r["scores"]) for r in result.rows)
    assert list(lines[0]) == ["classifier", "layer", "per_class", "split",
                              "seed", "metric", "test_score",
                              "validation_score", "C", "cv_folds",
                              "chosen_on_validation"]
    picks = {(c, k): result.best_layer(c, k)["layers"]
             for c in ("svm", "softmax") for k in (5,)}
    it = iter(lines)
    for row in result.rows:
        for s in range(result.splits):
            line = next(it)
            assert (line["classifier"], line["layer"], int(line["per_class"]),
                    int(line["split"]), int(line["seed"]), line["metric"]) \
                == (row["classifier"], row["layer"], row["per_class"], s, 3,
                    row["metric"])
            assert float(line["test_score"]) == row["scores"][s]
            assert float(line["C"]) == row["C"][s]
            validation = row["validation_scores"][s]
            if np.isnan(validation):
                assert line["validation_score"] == ""
            else:
                assert float(line["validation_score"]) == validation
            assert int(line["cv_folds"]) == (3 if row["per_class"] == 5
                                             else 0)
            chosen = picks.get((row["classifier"], row["per_class"]))
            assert line["chosen_on_validation"] == str(int(
                chosen is not None and chosen[s] == row["layer"]))
    # The baseline: its own held-out validation, no C, no inner folds.
    scratch = [line for line in read_csv(hand_made().to_csv(per_split=True))
               if line["classifier"] == "scratch"]
    assert [(x["validation_score"], x["C"], x["cv_folds"]) for x in scratch] \
        == [("0.75", "", ""), ("", "", ""), ("0.85", "", "")]


def assert_same(a, b, where="result"):
    """Equal values of equal types, NaN equal to NaN, arrays with dtype."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, (where, a, b)


def test_npz_round_trip_keeps_every_field(model, digits, tmp_path):
    x, y = digits
    full = layer_analysis(
        model, "dense", x, y, per_class=(1, 3), splits=1, seed=5,
        classifiers=("svm", LogisticRegression(C=0.3, max_iter=500)),
        test_per_class=5, baseline="scratch", baseline_epochs=1,
        baseline_search=[dict(optimizer="adam", learning_rate=1e-3)],
        verbose=0)
    assert full.row("LogisticRegression", "dense", 3)["C"].tolist() == [
        pytest.approx(float("nan"), nan_ok=True)]
    assert full.validation_curves[("LogisticRegression", "dense", 3)] \
        .shape == (1, 1)
    for result in (full, hand_made()):
        path = result.to_npz(tmp_path / "analysis.npz")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis.npz"]
        with np.load(path, allow_pickle=False) as saved:  # no pickle
            assert str(saved["format"]) == "keras_zfnet.LayerAnalysis/1"
            json.loads(str(saved["metadata"]))
        loaded = LayerAnalysis.from_npz(path)
        for field in dataclasses.fields(LayerAnalysis):
            assert_same(getattr(result, field.name),
                        getattr(loaded, field.name), field.name)
        assert loaded.to_markdown() == result.to_markdown()
        assert loaded.to_csv(per_split=True) == result.to_csv(per_split=True)


def test_from_npz_refuses_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", values=np.zeros(3))
    with pytest.raises(ValueError, match="not a LayerAnalysis result: "
                                         "expected format.*found no"):
        LayerAnalysis.from_npz(tmp_path / "other.npz")
    np.savez(tmp_path / "format.npz", format=np.array(
        "keras_zfnet.Diagnosis/1"), metadata=np.array("{}"))
    with pytest.raises(ValueError, match="found 'keras_zfnet.Diagnosis/1'"):
        LayerAnalysis.from_npz(tmp_path / "format.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        LayerAnalysis.from_npz(tmp_path / "text.npz")


def test_multi_hot_inner_cv_by_hand(model, digits, features):
    """Multi-hot labels: folds without stratification, the mean average
    precision of each fold computed here with scikit-learn directly."""
    x, y = digits
    multi = np.eye(10, dtype="int64")[y]
    multi[np.arange(0, len(y), 3), (y[::3] + 1) % 10] = 1
    result = layer_analysis(model, "dense", x, multi, per_class=4, splits=1,
                            classifiers="sigmoid", pixel_probe=False,
                            test_per_class=10, verbose=0)
    train = result.train_indices[(4, 0)]
    folds = result.validation_folds[(4, 0)]
    assert set(folds) == {0, 1, 2}
    X, Y = features["dense"][train], multi[train]
    expected = []
    for C in GRID:
        per_fold = []
        for f in range(3):
            held = folds == f
            scaler = StandardScaler().fit(X[~held])
            clf = OneVsRestClassifier(LogisticRegression(
                C=C, solver="newton-cg", tol=1e-6, max_iter=2000))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(scaler.transform(X[~held]), Y[~held])
            scores = clf.decision_function(scaler.transform(X[held]))
            aps = [average_precision_score(Y[held][:, c], scores[:, c])
                   for c in range(10) if Y[held][:, c].any()]
            per_fold.append(np.mean(aps))
        expected.append(np.mean(per_fold))
    curve = result.validation_curves[("sigmoid", "dense", 4)][0]
    np.testing.assert_allclose(curve, expected, atol=1e-6)
    assert result.row("sigmoid", "dense", 4)["C"][0] == \
        GRID[int(np.argmax(expected))]


def test_choose_breaks_ties_toward_the_earlier_grid_value():
    assert linear_probe.choose([.5, .7, .7, .6], GRID) == (0.1, .7)
    assert linear_probe.choose([np.nan, .4, np.nan, .4], GRID) == (0.1, .4)
    C, score = linear_probe.choose([np.nan] * 4, GRID)
    assert C == linear_probe.FALLBACK_C and math.isnan(score)
    estimator = linear_probe.make_classifier("svm", 0.25)
    assert clone(estimator).get_params()["estimator__C"] == 0.25


@pytest.mark.parametrize("kwargs, match", [
    (dict(probe_grid=()), "probe_grid"),
    (dict(probe_grid=(1.0, 0.0)), "probe_grid"),
    (dict(probe_grid="big"), "probe_grid"),
    (dict(probe_folds=1), "probe_folds"),
    (dict(probe_folds=2.5), "probe_folds"),
])
def test_bad_probe_arguments(model, digits, kwargs, match):
    x, y = digits
    with pytest.raises(ValueError, match=match + ".*Received"):
        layer_analysis(model, "dense", x, y, per_class=2, splits=1,
                       verbose=0, **kwargs)
