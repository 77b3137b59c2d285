import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_zfnet as kz
from keras_zfnet.analysis._utils import linear_probe
from keras_zfnet.analysis.layer_analysis import layer_analysis
from keras_zfnet.analysis._utils.metrics import mean_average_precision

CLASSES = 3


def synthetic_model():
    """A "model" with a layer that reads the class pixels (`signal`) and
    one that reads pure-noise pixels (`noise`)."""
    inputs = keras.Input((6, 6, 1))
    flat = keras.layers.Flatten(name="flat")(inputs)
    signal = keras.layers.Dense(CLASSES, name="signal")
    noise = keras.layers.Dense(CLASSES, name="noise")
    s = signal(flat)
    n = noise(flat)
    joined = keras.layers.Concatenate(name="joined")([s, n])
    outputs = keras.layers.Dense(CLASSES, activation="softmax",
                                 name="out")(joined)
    model = keras.Model(inputs, outputs)
    pick = np.zeros((36, CLASSES), "float32")
    pick[np.arange(CLASSES), np.arange(CLASSES)] = 1.0  # pixels 0..2
    signal.set_weights([pick, np.zeros(CLASSES, "float32")])
    pick = np.zeros((36, CLASSES), "float32")
    pick[20 + np.arange(CLASSES), np.arange(CLASSES)] = 1.0  # pixels 20..22
    noise.set_weights([pick, np.zeros(CLASSES, "float32")])
    return model


def synthetic_data(per_class=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(CLASSES), per_class)
    x = rng.normal(size=(len(y), 36)).astype("float32")
    x[np.arange(len(y)), y] += 4.0  # the class pixel lights up
    return x.reshape(-1, 6, 6, 1), y


@pytest.fixture(scope="module")
def model():
    return synthetic_model()


def test_ranks_signal_layer_above_noise_layer(model):
    x, y = synthetic_data()
    result = layer_analysis(model, ["noise", "signal"], x, y, per_class=5,
                            splits=3, verbose=0)
    assert result.metric == "mean_class_accuracy"
    for classifier in ("svm", "softmax"):
        noise, signal = result.means(classifier, 5)
        assert signal > 0.9
        assert noise < 0.6
    row = result.row("softmax", "signal", 5)
    assert len(row["scores"]) == 3
    assert row["mean"] == pytest.approx(np.mean(row["scores"]))
    assert row["std"] == pytest.approx(np.std(row["scores"]))
    assert "| softmax | signal |" in result.to_markdown()


def test_splits_respect_per_class_and_are_disjoint(model):
    x, y = synthetic_data(per_class=12)
    result = layer_analysis(model, "signal", x, y, per_class=(2, 4),
                            splits=3, test_per_class=5, verbose=0)
    assert set(result.train_indices) == {(k, s) for k in (2, 4)
                                         for s in range(3)}
    for (k, s), train in result.train_indices.items():
        test = result.test_indices[(k, s)]
        assert np.bincount(y[train], minlength=CLASSES).tolist() == \
            [k] * CLASSES
        assert np.bincount(y[test], minlength=CLASSES).tolist() == \
            [5] * CLASSES
        assert not set(train.tolist()) & set(test.tolist())
    # Different splits differ.
    assert not np.array_equal(result.train_indices[(4, 0)],
                              result.train_indices[(4, 1)])


def test_reproducible_with_the_same_seed(model):
    x, y = synthetic_data()
    first = layer_analysis(model, ["noise", "signal"], x, y, per_class=3,
                           splits=2, seed=7, verbose=0)
    second = layer_analysis(model, ["noise", "signal"], x, y, per_class=3,
                            splits=2, seed=7, verbose=0)
    other = layer_analysis(model, ["noise", "signal"], x, y, per_class=3,
                           splits=2, seed=8, verbose=0)
    for a, b in zip(first.rows, second.rows):
        np.testing.assert_array_equal(a["scores"], b["scores"])
    for key, train in first.train_indices.items():
        np.testing.assert_array_equal(train, second.train_indices[key])
    assert any(not np.array_equal(t, other.train_indices[key])
               for key, t in first.train_indices.items())


def test_separate_test_set_and_streamed_data(model):
    x, y = synthetic_data(per_class=10, seed=1)
    x_test, y_test = synthetic_data(per_class=7, seed=2)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    result = layer_analysis(model, "signal", dataset, y, per_class=4,
                            splits=2, classifiers="softmax",
                            test_data=x_test, test_labels=y_test, verbose=0)
    for key, test in result.test_indices.items():
        np.testing.assert_array_equal(test, np.arange(len(y_test)))
        assert np.bincount(y[result.train_indices[key]]).tolist() == [4] * 3
    assert result.row("softmax", "signal", 4)["mean"] > 0.9


def test_projection_gives_the_full_feature_classifier():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    train = rng.normal(size=(12, 50)) * rng.uniform(0.5, 3, 50) + 1.0
    test = rng.normal(size=(30, 50)) * 2
    y = np.arange(12) % 3
    mean, scale = train.mean(0), train.std(0)
    full = LogisticRegression(C=0.5, max_iter=5000, tol=1e-10).fit(
        (train - mean) / scale, y)
    z_train, z_test = linear_probe.project(train, test)
    assert z_train.shape[1] <= 12
    small = LogisticRegression(C=0.5, max_iter=5000, tol=1e-10).fit(
        z_train, y)
    np.testing.assert_allclose(small.decision_function(z_test),
                               full.decision_function((test - mean) / scale),
                               rtol=1e-4, atol=1e-4)


def test_mean_average_precision_by_hand():
    y = np.array([[1, 0], [0, 1], [1, 1]])
    scores = np.array([[.9, .2], [.1, .7], [.4, .1]])
    # class 0: positives ranked 1st and 2nd -> AP 1; class 1: ranks 1 and 3
    # -> (1 + 2/3) / 2.
    value, per_class = mean_average_precision(y, scores,
                                              return_per_class=True)
    np.testing.assert_allclose(per_class, [1.0, 5 / 6])
    assert value == pytest.approx((1 + 5 / 6) / 2)
    with pytest.raises(ValueError, match="scores"):
        mean_average_precision(y, scores[:2])
    with pytest.raises(ValueError, match="y_true"):
        mean_average_precision(np.array([0, 1, 1]), scores[:, 0])


def test_multi_hot_labels_use_average_precision(model):
    x, y = synthetic_data(per_class=15)
    multi = np.eye(CLASSES, dtype="int64")[y]
    some = np.arange(0, len(y), 4)
    multi[some, (y[some] + 1) % CLASSES] = 1  # some images carry two labels
    result = layer_analysis(model, ["noise", "signal"], x, multi,
                            per_class=4, splits=2,
                            classifiers=("svm", "sigmoid"), verbose=0)
    assert result.metric == "mean_average_precision"
    for key, train in result.train_indices.items():
        assert (multi[train].sum(axis=0) >= 4).all()
        assert not set(train.tolist()) & set(result.test_indices[key].tolist())
    noise, signal = result.means("sigmoid", 4)
    assert signal > noise


def test_scratch_baseline_row(model):
    x, y = synthetic_data(per_class=8)
    result = layer_analysis(model, "signal", x, y, per_class=3, splits=2,
                            classifiers="softmax", baseline="scratch",
                            baseline_epochs=2, verbose=0)
    row = result.row("scratch", "all", 3)
    assert row["scores"].shape == (2,)
    assert np.all((row["scores"] >= 0) & (row["scores"] <= 1))
    assert result.rows[-1] is row
    # Every split reports the setting it chose and how long it trained.
    assert [(r["per_class"], r["split"]) for r in result.baseline_runs] == [
        (3, 0), (3, 1)]
    for run, score in zip(result.baseline_runs, row["scores"]):
        assert run["score"] == score
        assert run["optimizer"] in ("adam", "sgd")
        assert 1 <= run["epochs"] <= 2
        assert run["steps"] == run["epochs"] * 1  # 3 x 4 images, batch 32


def test_scratch_search_keeps_the_setting_that_validates_best(
        model, monkeypatch):
    """The setting with the best validation score wins and is trained again
    on the whole split for its best number of epochs (training replaced by
    a stand-in that reports per setting how it validated)."""
    from keras_zfnet.analysis._utils import scratch

    search = [dict(optimizer="sgd", learning_rate=0.1),
              dict(optimizer="adam", learning_rate=0.2),
              dict(optimizer="adam", learning_rate=0.3)]
    validated = {0.1: (0.5, 7), 0.2: (0.9, 4), 0.3: (0.7, 9)}
    calls = []

    def fit(model, images, targets, multi_label, classes, setting, epochs,
            seed, batch_size, validation=None, patience=None, cache=None):
        calls.append((setting["learning_rate"], len(images), epochs,
                      validation is not None))
        return setting["learning_rate"], validated[
            setting["learning_rate"]][1]

    monkeypatch.setattr(scratch, "_fit", fit)
    monkeypatch.setattr(scratch, "_score",
                        lambda net, *args: validated[net][0])
    x, y = synthetic_data(per_class=10)
    _, _, info = scratch.train_scratch(model, x, y, False, 50,
                                       search=search, batch_size=8)
    assert info["learning_rate"] == 0.2 and info["optimizer"] == "adam"
    assert info["validation_score"] == 0.9 and info["epochs"] == 4
    assert info["steps"] == 4 * 4  # 30 images, batch 8
    fit_part, held = scratch.validation_split(y, False, 0.2, 0)
    assert calls[:3] == [(r, len(fit_part), 50, True) for r in (0.1, 0.2,
                                                              0.3)]
    assert calls[3] == (0.2, 30, 4, False)  # the refit on the whole split
    assert not set(fit_part) & set(held) and len(held) == 6
    assert sorted(np.unique(y[held])) == sorted(np.unique(y))
    with pytest.raises(ValueError, match="baseline_search.*Received"):
        scratch.check_search([dict(optimizer="rmsprop", learning_rate=1)])


def test_net_cache_trains_exactly_like_a_fresh_net(model):
    """A fit through a cache that already trained other seeds and another
    optimizer reuses the compiled net and ends with the weights a freshly
    compiled net reaches (fresh initialization and optimizer state)."""
    from keras_zfnet.analysis._utils import scratch

    x, y = synthetic_data(per_class=8)
    classes, targets = np.unique(y, return_inverse=True)
    adam = dict(optimizer="adam", learning_rate=0.01)
    sgd = dict(optimizer="sgd", learning_rate=0.05)
    cache = scratch.NetCache()
    first, _ = scratch._fit(model, x, targets, False, classes, adam, 3, 1, 8,
                            cache=cache)
    scratch._fit(model, x, targets, False, classes, sgd, 2, 2, 8,
                 cache=cache)
    reused, _ = scratch._fit(model, x, targets, False, classes, adam, 3, 3,
                             8, cache=cache)
    fresh, _ = scratch._fit(model, x, targets, False, classes, adam, 3, 3, 8)
    assert fresh is not first
    assert (reused is first) == (keras.config.backend() in
                                 scratch.NetCache.BACKENDS)
    assert int(keras.ops.convert_to_numpy(fresh.optimizer.iterations)) == 9
    assert int(keras.ops.convert_to_numpy(reused.optimizer.iterations)) == 9
    for a, b in zip(reused.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(reused.get_weights()[0],
                           scratch.scratch_model(model, 3).get_weights()[0])
    # The search with validation and early stopping, through the warm cache
    # and through a new one: the same choice and the same final weights.
    search = [adam, sgd]
    warm = scratch.train_scratch(model, x, y, False, 3, seed=4,
                                 search=search, patience=1, batch_size=8,
                                 cache=cache)
    cold = scratch.train_scratch(model, x, y, False, 3, seed=4,
                                 search=search, patience=1, batch_size=8)
    assert warm[2] == cold[2]
    for a, b in zip(warm[0].get_weights(), cold[0].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_net_cache_is_not_used_under_mixed_precision(model):
    """A loss-scale optimizer does not start from zeros: no reuse, and a
    second fit still trains to finite weights."""
    from keras_zfnet.analysis._utils import scratch

    x, y = synthetic_data(per_class=8)
    classes, targets = np.unique(y, return_inverse=True)
    adam = dict(optimizer="adam", learning_rate=0.01)
    cache = scratch.NetCache()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        first, _ = scratch._fit(model, x, targets, False, classes, adam, 2,
                                1, 8, cache=cache)
        second, _ = scratch._fit(model, x, targets, False, classes, adam, 2,
                                 2, 8, cache=cache)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert second is not first
    assert all(np.isfinite(w).all() for w in second.get_weights())


def test_pixel_probe_rows_and_paired_differences(model):
    x, y = synthetic_data()
    result = layer_analysis(model, ["noise", "signal"], x, y, per_class=4,
                            splits=3, classifiers="softmax", verbose=0)
    pixels = result.row("softmax", "pixels", 4)
    # The class pixel is in the input: raw pixels classify well, the noise
    # layer does not.
    assert pixels["mean"] > result.row("softmax", "noise", 4)["mean"]
    rows = {r["layer"]: r for r in result.differences("pixels")}
    assert set(rows) == {"noise", "signal"}
    for layer, row in rows.items():
        diff = result.row("softmax", layer, 4)["scores"] - pixels["scores"]
        assert row["mean"] == pytest.approx(diff.mean())
        half = 4.302652729911275 * diff.std(ddof=1) / np.sqrt(3)  # t(0.975, 2)
        assert row["high"] - row["mean"] == pytest.approx(half)
        assert row["mean"] - row["low"] == pytest.approx(half)
    assert rows["noise"]["high"] < 0  # noise features lose to pixels
    without = layer_analysis(model, "signal", x, y, per_class=4, splits=3,
                             classifiers="softmax", verbose=0,
                             pixel_probe=False)
    assert all(r["layer"] != "pixels" for r in without.rows)
    with pytest.raises(ValueError, match="reference"):
        result.differences("svm")


def test_plot(model):
    x, y = synthetic_data()
    result = layer_analysis(model, ["noise", "signal"], x, y, per_class=3,
                            splits=2, verbose=0)
    figure = result.plot()
    assert len(figure.axes[0].lines) >= 2
    import matplotlib.pyplot as plt
    plt.close(figure)


def test_to_csv(model, tmp_path):
    x, y = synthetic_data()
    result = layer_analysis(model, "signal", x, y, per_class=3, splits=2,
                            verbose=0)
    text = open(result.to_csv(tmp_path / "rows.csv")).read().splitlines()
    assert text[0] == "classifier,layer,per_class,metric,mean,std,scores"
    assert len(text) == 1 + len(result.rows)
    assert repr(result).startswith("<LayerAnalysis mean_class_accuracy")


@pytest.mark.parametrize("kwargs, match", [
    (dict(per_class=20), "per_class.*at most 19"),
    (dict(per_class=0), "per_class"),
    (dict(layers="conv9"), "Valid names"),
    (dict(classifiers=("svm", "knn")), "classifiers"),
    (dict(baseline="imagenet"), "baseline"),
    (dict(splits=0), "splits"),
    (dict(labels=np.zeros(5, "int64")), "labels.*one entry per image"),
    (dict(test_data=np.zeros((3, 6, 6, 1))), "test_labels"),
])
def test_bad_arguments(model, kwargs, match):
    x, y = synthetic_data()
    args = dict(layers="signal", labels=y, per_class=2, splits=1, verbose=0)
    args.update(kwargs)
    layers, labels = args.pop("layers"), args.pop("labels")
    with pytest.raises(ValueError, match=match):
        layer_analysis(model, layers, x, labels, **args)


def test_multi_hot_with_softmax_is_rejected(model):
    x, y = synthetic_data()
    multi_hot = np.eye(CLASSES)[y]
    multi_hot[:, 0] = 1  # every image also carries label 0
    with pytest.raises(ValueError, match="classifiers.*multi-hot"):
        layer_analysis(model, "signal", x, multi_hot,
                       per_class=2, splits=1, verbose=0)


def test_streamed_labels_of_the_wrong_length(model):
    x, y = synthetic_data()
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(16)
    with pytest.raises(ValueError, match="labels.*one entry per image"):
        layer_analysis(model, "signal", dataset, y[:-3], per_class=2,
                       splits=1, verbose=0)


def test_public_exports():
    assert kz.layer_analysis is layer_analysis
    assert kz.mean_average_precision is mean_average_precision
