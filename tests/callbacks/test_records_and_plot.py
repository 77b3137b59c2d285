import os

import numpy as np
import pytest

from keras_zfnet.applications import evolution_records
from keras_zfnet.applications.presets import file_sha256
from keras_zfnet.callbacks import load_evolution_record
from keras_zfnet.callbacks import save_history
from keras_zfnet.plotting.evolution import evolution_grid
from keras_zfnet.plotting.evolution import plot_evolution
from keras_zfnet.plotting.evolution import support_box
from keras_zfnet.plotting.images import projection_to_image


def _history():
    rng = np.random.default_rng(0)

    def entry(channels, indices):
        return dict(channels=np.array(channels), values=rng.random(len(channels)),
                    indices=np.array(indices),
                    projections=rng.normal(size=(len(channels), 6, 5, 1)))

    return {
        1: {"a": entry([0, 3], [2, 0]), "b": entry([1], [1])},
        4: {"a": entry([0, 3], [1, 1])},  # "b" missing at epoch 4
    }


def test_grid_layout_by_hand():
    history = _history()
    images = {i: np.full((6, 5, 1), float(i)) for i in range(3)}
    grid, epochs, rows = evolution_grid(history, images, border=1)
    assert epochs == [1, 4]
    assert rows == [("a", 0, 0), ("a", 1, 3), ("b", 0, 1)]
    cell_w = 2 * 5 + 1
    assert grid.shape == (3 * 7 + 1, 2 * (cell_w + 1) + 1)
    # Row 1 ("a", channel 3), epoch 4: projection then its image patch.
    top, left = 1 + 1 * 7, 1 + 1 * (cell_w + 1)
    np.testing.assert_allclose(
        grid[top:top + 6, left:left + 5],
        projection_to_image(history[4]["a"]["projections"][1]))
    # Image 1 is constant: min-max rendering makes it black (0).
    np.testing.assert_array_equal(grid[top:top + 6, left + 6:left + 11], 0)
    # "b" at epoch 4 is missing: background.
    top = 1 + 2 * 7
    assert np.all(grid[top:top + 6, left:left + cell_w] == 1.0)


def test_support_box():
    p = np.zeros((6, 5, 1))
    p[2, 1, 0] = 1.0
    p[4, 3, 0] = -0.5
    assert support_box(p) == (2, 1, 5, 4)
    assert support_box(np.zeros((6, 5, 1))) == (0, 0, 6, 5)


def test_plot_evolution_figure():
    figure = plot_evolution(_history())
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["epoch 1",
                                                            "epoch 4"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_registry_verifies_hash(tmp_path):
    path = save_history(str(tmp_path / "r.npz"), _history(),
                        images={i: np.zeros((6, 5, 1)) for i in range(3)})
    evolution_records.register_evolution_record(
        "_test_record", path, file_sha256(path))
    try:
        history, images = load_evolution_record("_test_record",
                                                return_images=True)
        assert sorted(history) == [1, 4] and sorted(images) == [0, 1, 2]
        with open(path, "ab") as f:
            f.write(b"x")
        with pytest.raises(ValueError, match="corrupt"):
            load_evolution_record("_test_record")
    finally:
        del evolution_records.EVOLUTION_RECORDS["_test_record"]
    with pytest.raises(ValueError, match=r"Available: .*Received: name="):
        load_evolution_record("no_such_record")


def test_shipped_fashion_mnist_record():
    record = evolution_records.EVOLUTION_RECORDS["fashion_mnist"]
    assert os.path.getsize(record["path"]) <= 1.5 * 1024 * 1024
    history, images = load_evolution_record("fashion_mnist",
                                            return_images=True)
    assert sorted(history) == [1, 2, 3, 5, 8, 10, 13, 16]
    layers = ["conv1", "conv2", "conv3", "conv4", "conv5"]
    for epoch, entry in history.items():
        assert list(entry) == layers
        for layer in layers:
            arrays = entry[layer]
            assert arrays["projections"].shape == (9, 28, 28, 1)
            assert arrays["projections"].dtype == np.float32
            # Same features every epoch; indices into the 2,000 probes.
            np.testing.assert_array_equal(
                arrays["channels"], history[1][layer]["channels"])
            assert np.all((arrays["indices"] >= 0)
                          & (arrays["indices"] < 2000))
            assert np.all(arrays["values"] > 0)
            assert set(arrays["indices"].tolist()) <= set(images)
    # The stored probe images are the official test images they name.
    from keras_zfnet.datasets import fashion_mnist

    try:
        _, (x_test, _) = fashion_mnist.load_data()
    except (OSError, ValueError):
        pytest.skip("Fashion-MNIST test set not available")
    for index, image in list(images.items())[:20]:
        np.testing.assert_array_equal(image[..., 0], x_test[index])
