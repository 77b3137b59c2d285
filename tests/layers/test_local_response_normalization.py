import numpy as np
import pytest

from keras_zfnet.layers import LocalResponseNormalization


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(depth_radius=1, bias=1.0, alpha=0.5, beta=0.5),
        dict(depth_radius=0, bias=3.0, alpha=1e-2, beta=1.0),
        dict(depth_radius=4, bias=2.0, alpha=1e-3, beta=0.75),
    ],
)
def test_matches_tf_local_response_normalization(kwargs):
    tf = pytest.importorskip("tensorflow")
    x = np.random.normal(scale=10.0, size=(2, 5, 6, 9)).astype("float32")
    expected = tf.nn.local_response_normalization(
        x,
        depth_radius=kwargs.get("depth_radius", 2),
        bias=kwargs.get("bias", 2.0),
        alpha=kwargs.get("alpha", 1e-4),
        beta=kwargs.get("beta", 0.75),
    )
    result = LocalResponseNormalization(**kwargs)(x)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


def test_krizhevsky_defaults_by_hand():
    # One pixel, channels [1, 2, 3]: channel 0 sees channels 0..2.
    x = np.array([1.0, 2.0, 3.0], "float32").reshape(1, 1, 1, 3)
    result = np.asarray(LocalResponseNormalization()(x)).ravel()
    sums = np.array([1 + 4 + 9] * 3, "float64")
    expected = np.array([1.0, 2.0, 3.0]) / (2.0 + 1e-4 * sums) ** 0.75
    np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_get_config_round_trip_and_errors():
    layer = LocalResponseNormalization(3, 1.5, 1e-3, 0.5)
    clone = LocalResponseNormalization.from_config(layer.get_config())
    assert (clone.depth_radius, clone.bias, clone.alpha, clone.beta) == (
        3, 1.5, 1e-3, 0.5,
    )
    with pytest.raises(ValueError, match="depth_radius"):
        LocalResponseNormalization(depth_radius=-1)
    with pytest.raises(ValueError, match="bias"):
        LocalResponseNormalization(bias=0.0)
