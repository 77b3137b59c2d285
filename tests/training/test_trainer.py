import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_zfnet import training
from keras_zfnet.training.data import pad_crop_flip

ROOT = pathlib.Path(__file__).resolve().parents[2]
TF = keras.config.backend() == "tensorflow"


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
    if TF:
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    else:
        ds = training.AugmentedImages(x, y, 16)
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


def _train(out, epochs=4, callbacks=(), data=None):
    keras.utils.set_random_seed(0)
    train_ds, val_ds = data or _data()
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


def _batches(dataset):
    if isinstance(dataset, keras.utils.PyDataset):
        return [dataset[i] for i in range(len(dataset))]
    return list(dataset)


@pytest.mark.parametrize("pipeline", ["auto", "numpy"])
def test_small_image_pipelines(pipeline):
    x = np.arange(20 * 6 * 6, dtype=np.uint8).reshape(20, 6, 6)
    y = np.arange(20) % 3
    train, val = training.small_image_pipelines(x, y, batch_size=4,
                                                validation_size=5, pad=1,
                                                pipeline=pipeline)
    assert isinstance(train, keras.utils.PyDataset) == (
        pipeline == "numpy" or not TF)
    xb, yb = _batches(train)[0]
    assert xb.shape == (4, 6, 6, 1) and np.asarray(xb).dtype == np.float32
    if TF and pipeline == "auto":
        import tensorflow as tf

        assert xb.dtype == tf.float32
    assert sum(b[0].shape[0] for b in _batches(val)) == 5
    # Every training image is a pad-1 crop of an original, maybe flipped.
    seen = np.concatenate([np.asarray(b[0]) for b in _batches(train)])
    padded = np.pad(x[..., None].astype("float32"),
                    [(0, 0), (1, 1), (1, 1), (0, 0)])
    windows = [padded[:, t:t + 6, l:l + 6] for t in range(3)
               for l in range(3)]
    windows += [w[:, :, ::-1] for w in windows]
    for image in seen:
        assert any((w == image).all(axis=(1, 2, 3)).any() for w in windows)
    with pytest.raises(ValueError, match="validation_size"):
        training.small_image_pipelines(x, y, validation_size=20)
    with pytest.raises(ValueError, match="labels"):
        training.small_image_pipelines(x, y[:3])


def test_pad_crop_flip_by_hand():
    images = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4, 1)
    same = pad_crop_flip(images, 0, np.random.default_rng(3))
    for got, image in zip(same, images):
        assert (np.array_equal(got, image)
                or np.array_equal(got, image[:, ::-1]))
    many = pad_crop_flip(np.repeat(images[:1], 400, axis=0), 2,
                         np.random.default_rng(0))
    assert many.shape == (400, 3, 4, 1) and many.dtype == np.float32
    flipped = np.mean([np.array_equal(m, images[0, :, ::-1]) for m in many])
    kept = np.mean([np.array_equal(m, images[0]) for m in many])
    # 25 offsets x 2 flips: each exact copy has probability 1/50.
    assert 0 < flipped < 0.06 and 0 < kept < 0.06
    np.testing.assert_array_equal(
        many, pad_crop_flip(np.repeat(images[:1], 400, axis=0), 2,
                            np.random.default_rng(0)))


def test_augmented_images_follow_seed_and_epoch():
    x = np.random.default_rng(0).random((10, 5, 5, 1)).astype("float32")
    y = np.arange(10)
    data = training.AugmentedImages(x, y, 4, training=True, seed=1)
    first = [data[i] for i in range(len(data))]
    assert len(data) == 3 and [len(b[1]) for b in first] == [4, 4, 2]
    assert sorted(np.concatenate([b[1] for b in first])) == list(range(10))
    data.on_epoch_end()
    second = [data[i] for i in range(len(data))]
    assert not np.array_equal(first[0][1], second[0][1])
    again = training.AugmentedImages(x, y, 4, training=True, seed=1)
    again.set_epoch(1)  # as the trainer does on resuming at epoch 1
    for (xa, ya), (xb, yb) in zip(second, [again[i] for i in range(3)]):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    plain = training.AugmentedImages(x, y, 4)
    np.testing.assert_array_equal(plain[2][0], x[8:])
    with pytest.raises(IndexError, match="Received: index=3"):
        plain[3]


def test_augmented_training_resumes_exactly(tmp_path):
    x, y = _data_arrays()

    def data():
        return (training.AugmentedImages(x, y, 16, training=True, pad=1),
                training.AugmentedImages(x, y, 16))

    reference = _train(tmp_path / "ref", epochs=2, data=data())
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "run", epochs=2, data=data(),
               callbacks=[_Interrupt(epoch=1)])
    # A fresh dataset (as in a new process) shuffles and augments epoch 1
    # as the uninterrupted run did.
    resumed = _train(tmp_path / "run", epochs=2, data=data())
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _data_arrays():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype("int64")
    return x, y


@pytest.mark.tf_only
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


def test_strategy_on_other_backends(monkeypatch):
    if TF:
        pytest.skip("TensorFlow chooses a tf.distribute strategy")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = training.strategy_from_environment(verbose=0)
    assert training.num_replicas(strategy) == 1  # one CPU device here
    assert isinstance(strategy, training.SingleDevice)
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(ValueError, match="TF_CONFIG.*TensorFlow backend"):
        training.strategy_from_environment(verbose=0)


def test_train_rejects_a_strategy_of_another_backend(tmp_path):
    train_ds, val_ds = _data()
    other = (keras.distribution.DataParallel(devices=["cpu:0"])
             if keras.config.backend() != "jax" else object())
    with pytest.raises(ValueError, match=r"`strategy`.*Received"):
        training.train(_tiny_model, train_ds, val_ds, str(tmp_path / "run"),
                       1, strategy=other, verbose=0)
    assert not (tmp_path / "run").exists()


DATA_PARALLEL = """
import json, sys
import keras
import numpy as np
from keras_zfnet import training
from tests.training.test_trainer import _data_arrays, _tiny_model

out = sys.argv[1]
x, y = _data_arrays()
strategy = training.strategy_from_environment(verbose=0)
assert isinstance(strategy, keras.distribution.DataParallel), strategy


def data():
    return (training.AugmentedImages(x, y, 16, training=True, pad=1),
            training.AugmentedImages(x, y, 16))


def run(folder, strategy, epochs, callbacks=()):
    keras.utils.set_random_seed(0)
    return training.train(_tiny_model, *data(), out + folder, epochs,
                          learning_rate=0.05, backup_every=2,
                          strategy=strategy, callbacks=callbacks, verbose=0)


class Devices(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.seen = len(self.model.trainable_variables[0].value.devices())


devices = Devices()
parallel = run("/parallel", None, epochs=1, callbacks=[devices])
single = run("/single", training.SingleDevice(), epochs=1)
resumed = run("/parallel", None, epochs=2)
difference = max(float(np.abs(a - b).max()) for a, b in
                 zip(parallel.get_weights(), single.get_weights()))
print(json.dumps(dict(
    replicas=training.num_replicas(strategy), devices=devices.seen,
    difference=difference, after=keras.distribution.distribution() is None,
    resumed=len(open(out + "/parallel/log.csv").readlines()))))
"""


@pytest.mark.skipif(keras.config.backend() != "jax",
                    reason="run once, in the JAX run of the suite")
def test_jax_data_parallel_on_two_host_cpus(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), KERAS_BACKEND="jax",
               XLA_FLAGS="--xla_force_host_platform_device_count=2",
               CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu",
               TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL, str(tmp_path)], cwd=ROOT,
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["devices"] == 2
    # The same batches split over two devices: the same training.
    assert result["difference"] < 1e-4
    assert result["after"]  # the distribution is not left set
    assert result["resumed"] == 1 + 2  # resumed at epoch 2 under it
