import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_zfnet as kz
from keras_zfnet.analysis.transfer import scratch_model
from keras_zfnet.analysis.transfer import transfer_model


def small_net():
    """conv -> dropout -> batch norm -> dense -> dropout -> dense: the
    frozen part holds both layers whose training mode matters."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Dropout(0.5, name="drop1")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(6, activation="relu", name="fc")(x)
    x = keras.layers.Dropout(0.5, name="drop2")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="small")


@pytest.fixture()
def base():
    keras.utils.set_random_seed(2)
    model = small_net()
    # Non-trivial batch-norm statistics, so inference mode is visible.
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.full(4, 0.3, "float32"))
    bn.moving_variance.assign(np.full(4, 2.0, "float32"))
    return model


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 2, n)
    return x, y


def test_frozen_weights_bit_identical_after_fit_head_changes(base):
    net = transfer_model(base, "drop2", num_classes=2)
    frozen = net.get_layer("frozen_features")
    before = [w.copy() for w in frozen.get_weights()]
    head_before = net.get_layer("transfer_predictions").get_weights()[0].copy()
    x, y = data()
    net.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    net.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=2,
            shuffle=False, verbose=0)
    for b, a in zip(before, frozen.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(
        head_before, net.get_layer("transfer_predictions").get_weights()[0])
    # Batch-norm statistics did not move either (they are weights above).
    assert len(before) == len(frozen.get_weights()) == 8


def test_frozen_part_runs_in_inference_mode_during_training(base):
    net = transfer_model(base, "drop2", num_classes=2)
    x, _ = data(4)
    trained = net(x, training=True).numpy()
    inferred = net(x, training=False).numpy()
    np.testing.assert_array_equal(trained, inferred)
    # Independent expectation: the user's model's fc output in inference
    # mode, through the new head.
    fc = keras.Model(base.input, base.get_layer("drop2").output)(
        x, training=False).numpy()
    kernel, bias = net.get_layer("transfer_predictions").get_weights()
    logits = fc @ kernel + bias
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(trained, expected, rtol=1e-5, atol=1e-6)
    # While the user's model, called in training mode, does drop units.
    fc_train = keras.Model(base.input, base.get_layer("drop2").output)(
        x, training=True).numpy()
    assert not np.allclose(fc_train, fc)


def test_users_model_untouched(base):
    flags = [layer.trainable for layer in base.layers]
    weights = [w.copy() for w in base.get_weights()]
    net = transfer_model(base, "fc", num_classes=2)
    x, y = data()
    net.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    net.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert [layer.trainable for layer in base.layers] == flags
    assert all(layer.trainable for layer in base.layers)
    for b, a in zip(weights, base.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fine_tune_updates_copied_layers_only(base):
    weights = [w.copy() for w in base.get_weights()]
    net = transfer_model(base, "fc", num_classes=2, fine_tune=True)
    frozen = net.get_layer("frozen_features")
    before = frozen.get_weights()[0].copy()
    x, y = data()
    net.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    net.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.array_equal(before, frozen.get_weights()[0])
    for b, a in zip(weights, base.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sigmoid_head_and_pooling_on_a_conv_layer(base):
    net = transfer_model(base, base.get_layer("conv"), num_classes=5,
                         head="sigmoid", pooling="avg")
    x, _ = data(3)
    out = net.predict(x, verbose=0)
    conv = keras.Model(base.input, base.get_layer("conv").output)(x).numpy()
    kernel, bias = net.get_layer("transfer_predictions").get_weights()
    expected = 1 / (1 + np.exp(-(conv.mean(axis=(1, 2)) @ kernel + bias)))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_saved_and_reloaded(base, tmp_path):
    net = transfer_model(base, "fc", num_classes=2)
    path = str(tmp_path / "transfer.keras")
    net.save(path)
    loaded = keras.saving.load_model(path)
    x, _ = data(4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               net.predict(x, verbose=0), rtol=1e-6)
    assert not loaded.get_layer("frozen_features").trainable


def test_scratch_model_fresh_weights_new_head():
    keras.utils.set_random_seed(0)
    model = kz.MiniZFNet(fc_units=8)
    net = scratch_model(model, 4)
    assert net.output.shape == (None, 4)
    assert net.get_layer("conv1") is not model.get_layer("conv1")
    assert not np.array_equal(net.get_layer("conv1").get_weights()[0],
                              model.get_layer("conv1").get_weights()[0])
    assert all(layer.trainable for layer in net.layers)


@pytest.mark.parametrize("kwargs, match", [
    (dict(up_to="nope", num_classes=2), "up_to.*Valid names"),
    (dict(up_to="out", num_classes=2), "up_to.*output"),
    (dict(up_to="fc", num_classes=0), "num_classes"),
    (dict(up_to="fc", num_classes=2.5), "num_classes"),
    (dict(up_to="fc", num_classes=1), "num_classes"),
    (dict(up_to="fc", num_classes=2, head="relu"), "head"),
    (dict(up_to="conv", num_classes=2, pooling="sum"), "pooling"),
])
def test_bad_arguments(base, kwargs, match):
    with pytest.raises(ValueError, match=match):
        transfer_model(base, **kwargs)


def test_layer_of_another_model_is_rejected(base):
    other = small_net()
    with pytest.raises(ValueError, match="up_to"):
        transfer_model(base, other.get_layer("fc"), num_classes=2)
