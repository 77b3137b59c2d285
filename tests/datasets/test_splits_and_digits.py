import numpy as np
import pytest

from keras_zfnet import datasets


def test_k_per_class_split_protocol():
    labels = np.repeat(np.arange(4), [20, 25, 16, 30])
    train, test = datasets.k_per_class_split(labels, 15, seed=1)
    np.testing.assert_array_equal(np.bincount(labels[train]), [15] * 4)
    np.testing.assert_array_equal(np.bincount(labels[test]), [5, 10, 1, 15])
    assert not set(train) & set(test)
    assert len(train) + len(test) == len(labels)
    again, _ = datasets.k_per_class_split(labels, 15, seed=1)
    other, _ = datasets.k_per_class_split(labels, 15, seed=2)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)
    _, capped = datasets.k_per_class_split(labels, 15, max_test_per_class=3)
    np.testing.assert_array_equal(np.bincount(labels[capped]), [3, 3, 1, 3])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(k=16), r"classes \[2\]"),
        (dict(k=0), "k"),
        (dict(k=2, max_test_per_class=0), "max_test_per_class"),
    ],
)
def test_k_per_class_split_errors(kwargs, match):
    labels = np.repeat(np.arange(4), [20, 25, 16, 30])
    with pytest.raises(ValueError, match=match):
        datasets.k_per_class_split(labels, **kwargs)
    with pytest.raises(ValueError, match="labels"):
        datasets.k_per_class_split(np.zeros((3, 3)), 1)


def test_digits_resized():
    from PIL import Image
    from sklearn.datasets import load_digits

    x, y = datasets.digits.load_data(image_size=28)
    assert x.shape == (1797, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    # Resizing keeps the digit: shrunk back to 8x8 it correlates with the
    # original.
    coarse = np.asarray(Image.fromarray(x[0]).resize((8, 8)), dtype=float)
    original = load_digits().images[0]
    assert np.corrcoef(coarse.ravel(), original.ravel())[0, 1] > 0.9
    with pytest.raises(ValueError, match="image_size"):
        datasets.digits.load_data(image_size=4)
