import os
import sys

import numpy as np
import pytest

from keras_zfnet.callbacks import FeatureEvolution
from keras_zfnet.callbacks import FilterMonitor
from keras_zfnet.callbacks.summaries import SummaryWriter
from keras_zfnet.callbacks.summaries import read_summaries
from tests.callbacks.helpers import decode_png
from tests.callbacks.helpers import read_events


def _write(folder):
    rng = np.random.default_rng(0)
    gray = rng.random((2, 5, 7))
    rgb = rng.random((1, 4, 3, 3))
    writer = SummaryWriter(str(folder))
    writer.scalars({"loss": 0.25, "dead": 3}, step=1)
    writer.images("maps", gray, step=2)
    writer.images("rgb", rgb, step=2)
    writer.scalars({"loss": 0.125}, step=2)
    writer.close()
    return gray, rgb


def test_scalars_and_images_read_back_with_tensorboard(tmp_path):
    gray, rgb = _write(tmp_path)
    (name,) = os.listdir(tmp_path)
    assert name.startswith("events.out.tfevents.")
    events = read_events(tmp_path)
    assert sorted(events) == [("dead", 1), ("loss", 1), ("loss", 2),
                              ("maps", 2), ("rgb", 2)]
    assert float(events[("loss", 1)]) == 0.25
    assert float(events[("loss", 2)]) == 0.125
    assert float(events[("dead", 1)]) == 3
    strings = events[("maps", 2)]
    assert (int(strings[0]), int(strings[1])) == (7, 5)  # width, height
    decoded = np.stack([decode_png(s) for s in strings[2:]])
    assert decoded.shape == (2, 5, 7, 1) and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded[..., 0], np.round(gray * 255))
    decoded = decode_png(events[("rgb", 2)][2])
    np.testing.assert_array_equal(decoded, np.round(rgb[0] * 255))
    # The package's own reader agrees.
    values = read_summaries(tmp_path)
    assert values[("loss", 2)] == 0.125
    np.testing.assert_array_equal(values[("maps", 2)][1],
                                  np.round(gray[1] * 255))


@pytest.mark.tf_only
def test_tensorflow_reads_the_events_as_its_own(tmp_path):
    import tensorflow as tf

    gray, _ = _write(tmp_path)
    (name,) = os.listdir(tmp_path)
    seen = {}
    for event in tf.compat.v1.train.summary_iterator(str(tmp_path / name)):
        for value in event.summary.value:
            seen[(value.tag, event.step)] = (
                value.metadata.plugin_data.plugin_name,
                tf.make_ndarray(value.tensor))
    assert seen[("loss", 1)][0] == "scalars"
    assert float(seen[("loss", 1)][1]) == 0.25
    plugin, strings = seen[("maps", 2)]
    assert plugin == "images"
    np.testing.assert_array_equal(
        tf.io.decode_png(strings[3]).numpy()[..., 0], np.round(gray[1] * 255))


def test_images_of_a_wrong_shape_are_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"Expected images.*Received: "
                                         r"images.shape=\(2, 5, 7, 2\)"):
        SummaryWriter(str(tmp_path)).images("x", np.zeros((2, 5, 7, 2)), 1)


@pytest.mark.parametrize("make", [
    lambda folder: FilterMonitor(tensorboard_dir=folder),
    lambda folder: FeatureEvolution(np.zeros((2, 12, 12, 1)), "c1",
                                    tensorboard_dir=folder),
])
def test_missing_tensorboard_is_named_when_the_callback_is_made(
        tmp_path, monkeypatch, make):
    monkeypatch.setitem(sys.modules,
                        "tensorboard.summary.writer.record_writer", None)
    with pytest.raises(ImportError) as info:
        make(str(tmp_path))
    message = str(info.value)
    assert "\n" not in message
    assert "tensorboard_dir" in message
    assert "pip install 'keras-zfnet[tensorboard]'" in message
