import numpy as np
import pytest

from keras_zfnet.plotting import input_to_image
from keras_zfnet.plotting import plot_grid
from keras_zfnet.plotting import projection_to_image


def test_projection_to_image_is_symmetric_per_image():
    p = np.zeros((2, 2, 3, 1), "float32")
    p[0, 0, :, 0] = [-2.0, 0.0, 1.0]
    p[1, 1, :, 0] = [0.5, 0.25, 0.0]
    out = projection_to_image(p)
    assert out.shape == (2, 2, 3)
    np.testing.assert_allclose(out[0, 0], [0.0, 0.5, 0.75])
    np.testing.assert_allclose(out[0, 1], 0.5)
    np.testing.assert_allclose(out[1, 1], [1.0, 0.75, 0.5])
    assert np.all(projection_to_image(np.zeros((4, 4, 3))) == 0.5)


def test_percentile_clips_outliers():
    p = np.ones((1, 10, 10, 3), "float32")
    p[0, 0, 0] = 100.0
    out = projection_to_image(p, percentile=90)
    assert out[0, 0, 0, 0] == 1.0 and out[0, 5, 5, 0] == 1.0
    with pytest.raises(ValueError, match="percentile"):
        projection_to_image(p, percentile=0)


def test_input_to_image_and_errors():
    x = np.stack([np.full((2, 2, 1), 5.0), np.arange(4.0).reshape(2, 2, 1)])
    out = input_to_image(x)
    assert out.shape == (2, 2, 2)
    np.testing.assert_allclose(out[1], [[0, 1 / 3], [2 / 3, 1]])
    with pytest.raises(ValueError, match="channels"):
        input_to_image(np.zeros((2, 4, 4, 2)))


def test_plot_grid(tmp_path):
    images = projection_to_image(np.random.normal(size=(5, 8, 8, 3)))
    fig = plot_grid(images, titles=list("abcde"), ncols=3)
    assert len([ax for ax in fig.axes if ax.images]) == 5
    fig.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0
    with pytest.raises(ValueError, match="titles"):
        plot_grid(images, titles=["a"])
