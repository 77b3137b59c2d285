"""Input checks of `keras_zfnet.utils.validation` (their fast paths)."""

import warnings

import numpy as np
import pytest

from keras_zfnet.utils import validation


def test_check_finite_accepts_values_whose_sum_overflows():
    # The fast check sums the array; an overflowing sum of finite values
    # falls back to the elementwise check instead of failing.
    big = np.full((2, 4, 4, 1), 3e38, "float32")
    with np.errstate(over="ignore"):
        assert not np.isfinite(big.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no RuntimeWarning on the way
        validation.check_finite(big)
    assert validation.as_images(big, (4, 4, 1)) is not None


@pytest.mark.parametrize("bad,count", [(np.nan, 1), (np.inf, 1),
                                       (-np.inf, 1)])
def test_check_finite_counts_non_finite_values(bad, count):
    array = np.ones((2, 3, 3, 1), "float32")
    array[1, 2, 0, 0] = bad
    with pytest.raises(ValueError, match=rf"contains {count} NaN"):
        validation.check_finite(array)
    # +inf and -inf together sum to NaN: still both counted.
    array[0, 0, 0, 0] = np.inf
    array[0, 0, 1, 0] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sum's NaN warns nothing
        with pytest.raises(ValueError, match=rf"contains {count + 2} NaN"):
            validation.check_finite(array)


def test_as_images_keeps_float32_and_converts_other_types():
    floats = np.zeros((1, 2, 2, 1), "float32")
    assert validation.as_images(floats, (2, 2, 1)) is floats
    ints = np.zeros((1, 2, 2, 1), "uint8")
    assert validation.as_images(ints, (2, 2, 1)).dtype == np.float32
    with pytest.raises(ValueError, match="real numbers"):
        validation.as_images(np.zeros((1, 2, 2, 1), "complex64"), (2, 2, 1))
