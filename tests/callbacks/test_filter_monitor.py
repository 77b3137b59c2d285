import csv
import os

import keras
import numpy as np
import pytest

from keras_zfnet.callbacks import FilterMonitor
from keras_zfnet.callbacks import filter_statistics
from keras_zfnet.constraints import FilterRMS
from tests.callbacks.helpers import EpochCounter
from tests.callbacks.helpers import read_events
from tests.callbacks.helpers import tiny_data
from tests.callbacks.helpers import tiny_model


def hand_kernel():
    """4x4 filters: zero, constant at the radius 0.1, a +-0.05
    checkerboard, constant 0.02."""
    checker = (np.indices((4, 4)).sum(axis=0) % 2) * 0.1 - 0.05
    filters = [np.zeros((4, 4)), np.full((4, 4), 0.1), checker,
               np.full((4, 4), 0.02)]
    return np.stack(filters, axis=-1)[:, :, None, :]


def high_share_by_hand(image, size=32):
    """Share of |DFT|^2 (explicit sums, `size` x `size` grid) at radius
    >= 2/3 of Nyquist."""
    m = np.arange(image.shape[0])
    u = np.arange(size)
    wave = np.exp(-2j * np.pi * np.outer(u, m) / size)  # (size, kh)
    power = np.abs(wave @ image @ wave.T) ** 2
    freq = np.where(u < size / 2, u, u - size) / size
    radius = np.hypot(freq[:, None], freq[None, :]) / 0.5
    return power[radius >= 2 / 3].sum() / power.sum()


EXPECTED = {
    "rms_max": 0.1,
    "rms_median": (0.02 + 0.05) / 2,
    "at_radius": 1,
    "dead": 1,
}


def _expected_high():
    k = hand_kernel()[:, :, 0]
    return np.mean([high_share_by_hand(k[..., j]) for j in (1, 2, 3)])


def test_statistics_of_hand_made_kernels():
    stats = filter_statistics(hand_kernel(), max_rms=0.1)
    assert sorted(stats) == sorted(list(EXPECTED) + ["high_frequency_share"])
    for key, value in EXPECTED.items():
        assert stats[key] == pytest.approx(value, rel=1e-9)
    assert stats["high_frequency_share"] == pytest.approx(_expected_high(),
                                                          rel=1e-9)
    # The checkerboard is nearly all high frequency, a constant nearly none.
    k = hand_kernel()[:, :, 0]
    assert high_share_by_hand(k[..., 2]) > 0.95
    assert high_share_by_hand(k[..., 1]) < 0.2  # a 4x4 box leaks a little
    assert "at_radius" not in filter_statistics(hand_kernel())
    zero = filter_statistics(np.zeros((3, 3, 1, 2)))
    assert zero["dead"] == 2 and zero["high_frequency_share"] == 0.0


def _hand_model():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 4, activation="relu", name="conv1",
                            kernel_constraint=FilterRMS(0.1))(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv1").kernel.assign(hand_kernel())
    model.compile(keras.optimizers.SGD(0.0),
                  "sparse_categorical_crossentropy")
    return model


def test_logs_history_csv_files_and_tensorboard(tmp_path):
    model = _hand_model()
    x = np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32")
    y = np.arange(8) % 2
    monitor = FilterMonitor(output_dir=str(tmp_path / "png"),
                            tensorboard_dir=str(tmp_path / "tb"), every=2)
    log = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[monitor, log])
    assert sorted(os.listdir(tmp_path / "png")) == [
        "filters_epoch_0002.png", "filters_epoch_0004.png"]
    logged = history.history["filters/rms_max"]
    assert np.isnan(logged[0]) and np.isnan(logged[2])  # epochs 2, 4 only
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["filters/dead"] for r in rows] == ["nan", "1", "nan", "1"]
    for key, value in EXPECTED.items():
        assert history.history[f"filters/{key}"][-1] == pytest.approx(
            value, rel=1e-6)
        assert float(rows[3][f"filters/{key}"]) == pytest.approx(value,
                                                                 rel=1e-6)
    assert history.history["filters/high_frequency_share"][-1] == \
        pytest.approx(_expected_high(), rel=1e-5)
    seen = read_events(tmp_path / "tb")
    assert ("filters/mosaic", 2) in seen and ("filters/mosaic", 4) in seen
    assert float(seen[("filters/rms_max", 4)]) == pytest.approx(0.1,
                                                                rel=1e-6)
    assert float(seen[("filters/dead", 2)]) == 1


def test_default_layer_is_first_conv_and_no_radius_without_constraint():
    model = tiny_model()
    x, y = tiny_data()
    monitor = FilterMonitor()
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.layer_name == "c1"
    assert "filters/at_radius" not in history.history
    kernel = keras.ops.convert_to_numpy(model.get_layer("c1").kernel)
    assert history.history["filters/rms_max"][0] == pytest.approx(
        np.sqrt((kernel ** 2).mean(axis=(0, 1, 2))).max(), rel=1e-6)


def test_nested_layer_path():
    model = tiny_model(nested=True)
    x, y = tiny_data()
    monitor = FilterMonitor(layer="body/c2")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.layer_name == "c2"


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_bad_every(every):
    with pytest.raises(ValueError, match=r"`every` must be .*Received"):
        FilterMonitor(every=every)


@pytest.mark.parametrize("layer, match", [
    ("nope", r"Valid names: .*'c1'.*Received"),
    ("d1", r"2-D convolution.*Received: layer='d1'"),
])
def test_bad_layer(layer, match):
    model = tiny_model()
    x, y = tiny_data()
    counter = EpochCounter()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[FilterMonitor(layer=layer), counter])
    assert counter.began == 0
