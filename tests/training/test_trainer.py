import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_zfnet import training


def _tiny_model():
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype("int64") + (
        x[:, 4:].mean(axis=(1, 2, 3)) > 0).astype("int64")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    return ds, ds


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        if self.batch is None and epoch == self.epoch:
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise KeyboardInterrupt


class _Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def _train(out, epochs=4, callbacks=()):
    keras.utils.set_random_seed(0)
    train_ds, val_ds = _data()
    return training.train(
        _tiny_model, train_ds, val_ds, str(out), epochs, learning_rate=0.05,
        backup_every=2, callbacks=callbacks, verbose=0,
    )


def test_interrupted_at_an_epoch_boundary_resumes_exactly(tmp_path):
    reference = _train(tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "run", callbacks=[_Interrupt(epoch=2)])
    epochs = _Epochs()
    resumed = _train(tmp_path / "run", callbacks=[epochs])
    assert epochs.seen == [2, 3]
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with open(tmp_path / "run" / "log.csv") as f:
        assert len(f.readlines()) == 1 + 4
    assert os.path.exists(tmp_path / "run" / "model.weights.h5")
    assert training.training_seconds(tmp_path / "run") > 0


def test_interrupted_mid_epoch_keeps_the_steps_already_done(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "run", callbacks=[_Interrupt(epoch=1, batch=2)])
    backup = tmp_path / "run" / "backup"
    with open(backup / "training_metadata.json") as f:
        state = json.load(f)
    assert state == {"epoch": 1, "batch": 1}  # saved after 2 more steps
    epochs = _Epochs()
    _train(tmp_path / "run", callbacks=[epochs])
    assert epochs.seen == [1, 2, 3]
    # A finished run is not trained again.
    again = _Epochs()
    _train(tmp_path / "run", callbacks=[again])
    assert again.seen == []


def test_plateau_state_survives_a_restart(tmp_path):
    path = str(tmp_path / "plateau.json")
    first = training.ResumableReduceLROnPlateau(path, patience=3)
    first.set_model(_tiny_model())
    first.model.compile(optimizer="sgd", loss="mse")
    first.on_train_begin()
    first.on_epoch_end(0, {"val_loss": 1.0})
    first.on_epoch_end(1, {"val_loss": 2.0})
    second = training.ResumableReduceLROnPlateau(path, patience=3)
    second.set_model(first.model)
    second.on_train_begin()
    assert (second.best, second.wait) == (1.0, 1)


def test_small_image_pipelines():
    x = np.arange(20 * 6 * 6, dtype=np.uint8).reshape(20, 6, 6)
    y = np.arange(20) % 3
    train, val = training.small_image_pipelines(x, y, batch_size=4,
                                                validation_size=5, pad=1)
    xb, yb = next(iter(train))
    assert xb.shape == (4, 6, 6, 1) and xb.dtype == tf.float32
    assert sum(b[0].shape[0] for b in val) == 5
    with pytest.raises(ValueError, match="validation_size"):
        training.small_image_pipelines(x, y, validation_size=20)
    with pytest.raises(ValueError, match="labels"):
        training.small_image_pipelines(x, y[:3])


def test_strategy_from_environment(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = training.strategy_from_environment(verbose=0)
    assert strategy.num_replicas_in_sync == 1
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        training.strategy_from_environment(verbose=0)


def test_step_schedule_divides_at_the_given_epochs():
    schedule = training.step_schedule(0.03, [2, 4])
    rates = [schedule.schedule(epoch, None) for epoch in range(6)]
    np.testing.assert_allclose(rates, [0.03, 0.03, 0.003, 0.003, 3e-4, 3e-4])


@pytest.mark.parametrize("name, value", [
    ("epochs", 0), ("epochs", -1), ("epochs", 2.5), ("learning_rate", 0.0),
    ("learning_rate", float("nan")), ("momentum", 1.0), ("lr_factor", 1.5),
    ("lr_patience", -1), ("backup_every", 0), ("lr_drops", [-1]),
    ("lr_drops", [4]), ("verbose", 3),
])
def test_train_rejects_bad_arguments_before_any_work(tmp_path, name, value):
    train_ds, val_ds = _data()
    built = []
    kwargs = dict(epochs=4, learning_rate=0.05, verbose=0)
    kwargs[name] = value
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}="):
        training.train(lambda: built.append(1) or _tiny_model(), train_ds,
                       val_ds, str(out), **kwargs)
    assert not built and not out.exists()


def test_fit_gets_no_ignored_shuffle_warning(tmp_path):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _train(tmp_path / "run", epochs=1)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "shuffle" in m], messages


def test_default_validation_size_is_a_tenth_capped_at_5000():
    assert [training.default_validation_size(n)
            for n in (2, 9, 1000, 60000, 100000)] == [1, 1, 100, 5000, 5000]
    x = np.zeros((30, 4, 4), np.uint8)
    y = np.arange(30) % 3
    _, val = training.small_image_pipelines(x, y, batch_size=7)
    assert sum(b[0].shape[0] for b in val) == 3
    for name, value in (("batch_size", 0), ("pad", -1)):
        with pytest.raises(ValueError, match=rf"`{name}`.*{name}={value}"):
            training.small_image_pipelines(x, y, **{name: value})
