import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis._utils import filter_measures

SIZE = 7


def _gabor(theta, freq=0.25):
    """A mid-frequency grating (zero mean, Hann window)."""
    r, c = np.indices((SIZE, SIZE)) - (SIZE - 1) / 2
    window = np.outer(np.hanning(SIZE + 2)[1:-1], np.hanning(SIZE + 2)[1:-1])
    g = np.cos(2 * np.pi * freq * (r * np.sin(theta) + c * np.cos(theta)))
    g = g * window
    return g - g.mean() * window / window.mean()


def _blob(sigma=2.5):
    r, c = np.indices((SIZE, SIZE)) - (SIZE - 1) / 2
    return np.exp(-(r ** 2 + c ** 2) / (2 * sigma ** 2))


def _checker():
    return np.indices((SIZE, SIZE)).sum(0) % 2 * 2.0 - 1.0


def _normalise(filters):
    """Stack (F, k, k) filters into a kernel with RMS 0.1 each."""
    kernel = np.stack(filters, -1)[:, :, None, :]
    rms = np.sqrt((kernel ** 2).mean(axis=(0, 1, 2)))
    return (kernel * 0.1 / rms).astype("float32")


def _model(kernel, stride=1, size=20, second=4, padding="valid"):
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[0], strides=stride,
                            padding=padding, activation="relu",
                            name="c1")(inputs)
    x = keras.layers.Conv2D(second, 3, padding="same", activation="relu",
                            name="c2")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(
        keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs, name="probe")
    model.get_layer("c1").set_weights([kernel, np.zeros(kernel.shape[-1])])
    return model


def test_band_shares_of_constructed_filters():
    shares = filter_measures.band_shares(_normalise(
        [_blob(), _checker(), _gabor(0.0), _gabor(1.0)]))
    assert shares[0, 0] > 0.9            # smooth blob: low
    assert shares[1, 2] > 0.9            # checkerboard: high
    assert shares[2, 1] > 0.6 and shares[3, 1] > 0.6   # gratings: mid
    np.testing.assert_allclose(shares.sum(1), 1.0)
    assert np.isnan(filter_measures.band_shares(np.zeros((3, 3, 1, 1)))).all()


def test_flags_exactly_a_dead_and_a_dominant_filter():
    filters = [_gabor(t) for t in np.linspace(0, np.pi, 8, endpoint=False)]
    kernel = _normalise(filters)
    kernel[..., 3] = 0.0
    kernel[..., 5] *= 50.0
    diagnosis = kz.diagnose(_model(kernel))
    assert diagnosis.kinds == ["dead_filters", "dominant_filters"]
    assert diagnosis.finding("dead_filters").channels == (3,)
    dominant = diagnosis.finding("dominant_filters")
    assert dominant.channels == (5,)
    assert dominant.value == pytest.approx(50.0, rel=1e-4)
    assert "FilterRMS" in dominant.recommendation
    assert diagnosis.finding("frequency_gap") is None
    assert diagnosis.measures["band_mid"] > 0.6


def test_flags_a_frequency_gap_on_the_extreme_filters_only():
    filters = [_blob(s) for s in (2.0, 2.5, 3.0, 3.5)] + [_checker()] * 4
    filters.append(_gabor(0.5))
    diagnosis = kz.diagnose(_model(_normalise(filters)))
    assert diagnosis.kinds == ["frequency_gap"]
    gap = diagnosis.finding("frequency_gap")
    assert gap.channels == tuple(range(8))      # not the grating (8)
    assert gap.value == pytest.approx(diagnosis.measures["band_mid"])
    assert gap.value < gap.threshold
    assert "smaller first-layer filters" in gap.recommendation


def test_never_active_filter_is_dead_on_images():
    filters = [_gabor(t) for t in np.linspace(0, np.pi, 4, endpoint=False)]
    kernel = _normalise(filters + [np.full((SIZE, SIZE), -1.0)])
    images = np.random.default_rng(0).random((4, 20, 20, 1)).astype("float32")
    diagnosis = kz.diagnose(_model(kernel), images)
    dead = diagnosis.finding("dead_filters")
    assert dead.channels == (4,)
    assert diagnosis.measures["never_active"] == 1
    assert diagnosis.measures["dead_by_norm"] == 0


def test_aliasing_higher_for_stride_4_than_stride_1():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(4, 4, 1, 6)).astype("float32") * 0.1
    images = rng.random((6, 32, 32, 1)).astype("float32")
    strided = kz.diagnose(_model(kernel, stride=4, size=32), images)
    dense = kz.diagnose(_model(kernel, stride=1, size=32), images,
                        aliasing_period=4)
    assert strided.measures["aliasing_period"] == 4
    assert strided.measures["aliasing"] > 2 * dense.measures["aliasing"]
    assert "aliasing" in strided.kinds
    assert "aliasing" not in dense.kinds
    assert strided.projections.shape == (4, 32, 32, 1)
    # Stride 1 at its own period: one phase, no grid by construction.
    assert kz.diagnose(_model(kernel, size=32), images).measures[
        "aliasing"] == 0.0


def test_aliasing_score_by_hand():
    grid = np.zeros((1, 8, 8, 1))
    grid[0, ::2, ::2] = 1.0
    assert filter_measures.aliasing_score(grid, 2) == pytest.approx(
        np.sqrt(3))
    flat = np.ones((1, 8, 8, 1))
    assert filter_measures.aliasing_score(flat, 2) == 0.0
    energy = filter_measures.phase_energy(grid * 3, 2)
    np.testing.assert_allclose(energy, [[9.0, 0.0], [0.0, 0.0]])


def test_report_and_plot():
    kernel = _normalise([_gabor(t) for t in (0.0, 1.0, 2.0)])
    images = np.random.default_rng(0).random((3, 20, 20, 1)).astype("float32")
    diagnosis = kz.diagnose(_model(kernel), images, layer="c1")
    text = str(diagnosis)
    assert "no problem found" in text and "spectral energy" in text
    assert repr(diagnosis).count("\n") == 0
    figure = diagnosis.plot(compare=diagnosis)
    assert len(figure.axes) == 4


def test_bad_input():
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Conv2D.*Received: model="):
        kz.diagnose(dense)
    model = _model(_normalise([_gabor(0.0)]))
    with pytest.raises(ValueError, match="Unknown layer 'nope'"):
        kz.diagnose(model, layer="nope")
    with pytest.raises(ValueError, match="Conv2D layer.*Received: layer="):
        kz.diagnose(model, layer=model.layers[-1])
    with pytest.raises(ValueError, match="dominance_ratio"):
        kz.diagnose(model, dominance_ratio=0.5)
    with pytest.raises(ValueError, match="images"):
        kz.diagnose(model, np.zeros((2, 5, 5, 1)))
