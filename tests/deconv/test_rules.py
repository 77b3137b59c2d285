"""The rule table and its fallback: every differentiable layer, in a chain
and in a graph, equals the independent autodiff formulation
(`tests/deconv/graph_oracle.py`) for each ReLU rule."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from tests.deconv import graph_oracle as oracle


def _assert_close(result, expected, rtol=1e-4):
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(result - expected).max() <= rtol * scale


@keras.saving.register_keras_serializable(package="tests")
class GatedScale(keras.layers.Layer):
    """A custom layer no rule knows: `x * tanh(x) * w + b` per channel."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), initializer="ones")
        self.b = self.add_weight((input_shape[-1],), initializer="zeros")

    def call(self, x):
        return x * keras.ops.tanh(x) * self.w + self.b


# Each case: the layer under test (named "t") and how to build it.
CASES = {
    "tanh_conv": lambda: keras.layers.Conv2D(6, 3, padding="same",
                                             activation="tanh", name="t"),
    "dilated_conv": lambda: keras.layers.Conv2D(
        6, 3, padding="same", dilation_rate=2, activation="relu", name="t"),
    "grouped_conv": lambda: keras.layers.Conv2D(
        6, 3, padding="same", groups=2, activation="relu", name="t"),
    "upsampling": lambda: keras.layers.UpSampling2D(1, name="t"),
    "conv_transpose": lambda: keras.layers.Conv2DTranspose(
        6, 3, padding="same", activation="relu", name="t"),
    "layer_norm": lambda: keras.layers.LayerNormalization(name="t"),
    "custom": lambda: GatedScale(name="t"),
}


def _chain(case):
    """conv (relu) -> t -> maxpool -> conv (relu) -> gmp-free head."""
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu",
                            name="c1"),
        CASES[case](),
        keras.layers.MaxPooling2D(2, name="mp"),
        keras.layers.Conv2D(5, 3, activation="relu", name="c2"),
    ], name=f"chain_{case}")


def _graph(case):
    """The same layers with a residual connection around `t`."""
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu",
                            name="c1")(inputs)
    y = CASES[case]()(x)
    if y.shape != x.shape:
        y = keras.layers.MaxPooling2D(2, name="shrink")(y)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.MaxPooling2D(2, name="mp")(x)
    x = keras.layers.Conv2D(5, 3, activation="relu", name="c2")(x)
    return keras.Model(inputs, x, name=f"graph_{case}")


IMAGES = np.random.default_rng(1).normal(size=(2, 12, 12, 3)).astype(
    "float32")


def _strong(model, layer, count=2):
    act = np.asarray(keras.Model(model.inputs, model.get_layer(layer).output)(
        IMAGES))
    peaks = act.reshape(-1, act.shape[-1]).max(axis=0)
    return [int(c) for c in np.argsort(-peaks)[:count]]


def _check(model, layers, rule="deconvnet", modes=("max", "all")):
    dn = kz.Deconvnet(model, rule=rule)
    for layer in layers:
        channels = _strong(model, layer)
        for mode in modes:
            seed = oracle.max_seed if mode == "max" else oracle.all_seed
            got = dn.project(IMAGES, layer, channels, mode=mode)
            for k, channel in enumerate(channels):
                expected = oracle.project(model, IMAGES, layer,
                                          seed(channel), rule=rule)
                _assert_close(got[:, k], expected)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("topology", ["chain", "graph"])
def test_every_layer_equals_autodiff(case, topology):
    model = (_chain if topology == "chain" else _graph)(case)
    layers = ["t", "c2"] if topology == "chain" else ["add", "c2"]
    _check(model, layers)


def test_global_max_pooling_head():
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inputs)
    y = keras.layers.Conv2D(6, 3, padding="same", name="c2")(x)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    x = keras.layers.Dense(4, activation="tanh", name="fc")(x)
    for model in (keras.Model(inputs, x), keras.Sequential([
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="c1"),
            keras.layers.GlobalMaxPooling2D(name="gmp"),
            keras.layers.Dense(4, activation="tanh", name="fc")])):
        _check(model, ["gmp", "fc"], modes=("max",))


@pytest.mark.parametrize("rule", ["guided_backprop", "gradient"])
def test_relu_rule_variants_equal_their_oracles(rule):
    _check(_graph("tanh_conv"), ["c1", "add", "c2"], rule=rule)
    _check(_chain("dilated_conv"), ["t", "c2"], rule=rule)


def test_variants_differ_where_they_should():
    model = _chain("tanh_conv")
    out = {rule: kz.Deconvnet(model, rule=rule).project(IMAGES, "c2", 0)
           for rule in ("deconvnet", "guided_backprop", "gradient")}
    assert not np.allclose(out["deconvnet"], out["gradient"])
    assert not np.allclose(out["deconvnet"], out["guided_backprop"])
    with pytest.raises(ValueError, match=r"`rule` must be one of.*"
                                         r"Received: rule='lrp'"):
        kz.Deconvnet(model, rule="lrp")


def test_same_layers_same_answer_in_chain_and_graph():
    """A `Sequential` and its functional twin (sharing weights) give
    identical projections: one engine, one set of rules."""
    chain = _chain("tanh_conv")
    inputs = keras.Input((12, 12, 3))
    x = inputs
    for layer in chain.layers:
        x = layer(x)
    twin = keras.Model(inputs, x)
    for layer in ("t", "c2"):
        np.testing.assert_array_equal(
            kz.Deconvnet(chain).project(IMAGES, layer, [0, 1]),
            kz.Deconvnet(twin).project(IMAGES, layer, [0, 1]))


def test_layer_called_twice_is_refused_as_a_seed():
    inputs = keras.Input((8, 8, 3))
    shared = keras.layers.Conv2D(3, 3, padding="same", name="shared")
    x = shared(shared(inputs))
    x = keras.layers.Conv2D(2, 3, name="top")(x)
    dn = kz.Deconvnet(keras.Model(inputs, x))
    assert "top" in dn.layer_names and "shared" not in dn.layer_names
    with pytest.raises(ValueError, match=r"'shared' cannot be projected "
                                         r"\(it is called several times"):
        dn.project(np.zeros((1, 8, 8, 3)), "shared", 0)


def test_mirror_steps_list_the_rules():
    dn = kz.Deconvnet(_graph("layer_norm"))
    mirror = dn.mirror_for("c2")
    steps = [layer.step for layer in mirror.layers if hasattr(layer, "step")]
    assert steps[0] == "c2: rectify, filter"
    assert "t: vjp" in steps
    assert "mp: unpool (switches)" in steps
    assert mirror.get_layer("c2_filter").kernel is dn.model.get_layer(
        "c2").kernel
