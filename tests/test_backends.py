"""The same results on every Keras backend.

`tests/golden/tensorflow.npz` holds TensorFlow's results on inputs with
exact ties (see `tests/golden/make_golden.py`); this module recomputes them
on the running backend (the suite runs once per backend) and compares:
floats within 1e-5 relative (of each array's largest magnitude), indices and
positions identical.
"""

import os

import keras
import numpy as np
import pytest

from tests.golden import cases

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "tensorflow.npz")


@pytest.fixture(scope="module")
def results():
    return cases.compute()


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return dict(data)


def test_every_golden_result_is_computed(results, golden):
    assert sorted(results) == sorted(golden)


@pytest.mark.parametrize("key", sorted(np.load(GOLDEN).files))
def test_equals_tensorflow(results, golden, key):
    got, want = np.asarray(results[key]), golden[key]
    assert got.shape == want.shape, key
    if np.issubdtype(want.dtype, np.integer):
        np.testing.assert_array_equal(got, want, err_msg=key)
    else:
        scale = float(np.abs(want).max()) or 1.0
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale,
                                   err_msg=key)


def test_ties_are_present_in_the_inputs(golden):
    # Images 32..39 repeat images 0..7: every top-k list that holds one of
    # them holds the earlier copy first (ties go to the lower index).
    repeats = 0
    for name in ("conv1", "conv5", "fc7"):
        indices = golden[f"top_{name}_indices"]
        for row in indices:
            for j, index in enumerate(row):
                if index >= 32:
                    repeats += 1
                    assert index - 32 in row[:j]
    assert repeats > 0


def test_compiled_functions_follow_the_current_weights():
    model = cases.residual_model()
    x = cases.images()[:2]
    import keras_zfnet as kz

    dn = kz.Deconvnet(model)
    before = keras.ops.convert_to_numpy(
        dn.project(x, "top", channels=[0], verbose=0))
    top_before = kz.top_activations(model, x, "stem", k=1, verbose=0).values
    for variable in model.weights:
        variable.assign(variable * 2.0)
    after = keras.ops.convert_to_numpy(
        dn.project(x, "top", channels=[0], verbose=0))
    top_after = kz.top_activations(model, x, "stem", k=1, verbose=0).values
    assert not np.allclose(before, after)
    np.testing.assert_allclose(top_after, top_before * 2.0, rtol=1e-5)
