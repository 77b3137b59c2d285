"""`keras_zfnet.backend`'s scatter-add and paste against their `keras.ops`
forms, on whichever backend runs."""

import numpy as np
import pytest
from keras import ops

from keras_zfnet import backend
from keras_zfnet.deconv import engine


def test_segment_sum_matches_a_hand_sum_and_drops_negative_ids():
    data = np.arange(12, dtype="float32").reshape(6, 2)
    ids = np.array([0, 2, 2, -1, 1, 0], "int32")
    out = ops.convert_to_numpy(backend.segment_sum(
        ops.convert_to_tensor(data), ops.convert_to_tensor(ids), 3))
    expected = np.zeros((3, 2), "float32")
    for row, i in zip(data, ids):
        if 0 <= i < 3:
            expected[i] += row
    np.testing.assert_array_equal(out, expected)


def test_paste_places_each_window_at_its_offset():
    # Starts before and past the frame: the part outside is dropped.
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(4, 3, 5, 2)).astype("float32")
    rows = np.array([-2, 0, 3, 6], "int32")
    cols = np.array([1, -4, 2, -1], "int32")
    # The engine's contract: window positions outside the frame are zero.
    for i, (r, c) in enumerate(zip(rows, cols)):
        for a in range(3):
            for b in range(5):
                if not (0 <= r + a < 5 and 0 <= c + b < 6):
                    windows[i, a, b] = 0.0
    out = ops.convert_to_numpy(engine.paste(
        ops.convert_to_tensor(windows), ops.convert_to_tensor(rows),
        ops.convert_to_tensor(cols), (5, 6, 2)))
    expected = np.zeros((4, 5, 6, 2), "float32")
    for i, (r, c) in enumerate(zip(rows, cols)):
        for a in range(3):
            for b in range(5):
                if 0 <= r + a < 5 and 0 <= c + b < 6:
                    expected[i, r + a, c + b] += windows[i, a, b]
    np.testing.assert_allclose(out, expected, rtol=0, atol=0)


def _per_item(x, y, z):
    # Items are independent: a row-wise product and sum, `None` passed on.
    assert y is None
    x, z = ops.convert_to_tensor(x), ops.convert_to_tensor(z)
    return x * 2.0 + ops.sum(z, axis=1, keepdims=True)


@pytest.mark.parametrize("count", [0, 1, 5, 9, 64])
@pytest.mark.parametrize("part_items", [None, 1, 2, 3, 8])
def test_map_parts_equals_one_call_in_a_compiled_function(count,
                                                          part_items):
    rng = np.random.default_rng(count)
    x = rng.normal(size=(count, 3)).astype("float32")
    z = rng.normal(size=(count, 4)).astype("float32")
    expected = x * 2.0 + z.sum(axis=1, keepdims=True)
    compiled = backend.compile_function(
        lambda x, z: backend.map_parts(_per_item, [x, None, z], part_items),
        [((None, 3), "float32"), ((None, 4), "float32")])
    out = ops.convert_to_numpy(compiled(x, z))
    assert out.shape == (count, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_splits_parts():
    name = backend.name()
    assert backend.splits_parts() == (name in ("tensorflow", "jax"))
    # XLA on TensorFlow needs static slices: one call there.
    assert backend.splits_parts(jit_compile=True) == (name == "jax")
