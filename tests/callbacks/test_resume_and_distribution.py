import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_zfnet.callbacks import FeatureEvolution
from keras_zfnet.callbacks import FilterMonitor
from keras_zfnet.callbacks import filter_statistics
from tests.callbacks.helpers import brute_force_entry
from tests.callbacks.helpers import tiny_data
from tests.callbacks.helpers import tiny_model

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.at_epoch:
            raise RuntimeError("interrupted")


def _close(a, b):
    for key in ("channels", "indices"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_allclose(a["values"], b["values"], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(a["projections"], b["projections"],
                               rtol=1e-4, atol=1e-6)


def test_backup_and_restore_continues_the_record(tmp_path):
    x, y = tiny_data()
    probe = x[:16]

    def run(folder, callbacks, epochs=3):
        model = tiny_model()
        model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False,
                  verbose=0, callbacks=callbacks)
        return model

    whole = FeatureEvolution(probe, ["c1", "c2"], features=2,
                             epochs=(1, 2, 3))
    run(None, [whole])

    folder = str(tmp_path / "evolution")
    backup = str(tmp_path / "backup")
    first = FeatureEvolution(probe, ["c1", "c2"], features=2,
                             epochs=(1, 2, 3), output_dir=folder)
    try:
        run(folder, [keras.callbacks.BackupAndRestore(backup), first,
                     Interrupt(2)])
    except RuntimeError:
        pass
    assert sorted(os.listdir(folder)) == ["epoch_0001.npz", "epoch_0002.npz",
                                          "evolution.png"]
    second = FeatureEvolution(probe, ["c1", "c2"], features=2,
                              epochs=(1, 2, 3), output_dir=folder)
    run(folder, [keras.callbacks.BackupAndRestore(backup), second])
    assert sorted(second.history) == [1, 2, 3]
    for epoch in (1, 2, 3):
        for layer in ("c1", "c2"):
            _close(second.history[epoch][layer], whole.history[epoch][layer])


def test_package_trainer_resume_keeps_earlier_epochs(tmp_path):
    from keras_zfnet.training import train

    from keras_zfnet.training import AugmentedImages

    x, y = tiny_data(48)
    data = AugmentedImages(x, y, 16)  # batches in order, on every backend
    folder = str(tmp_path / "evolution")

    def callback():
        return FeatureEvolution(x[:16], ["c2"], features=2, epochs=(1, 2),
                                output_dir=folder)

    def build():
        return tiny_model()

    first = callback()
    train(build, data, data, str(tmp_path / "run"), 1, verbose=0,
          callbacks=[first])
    second = callback()
    model = train(build, data, data, str(tmp_path / "run"), 2, verbose=0,
                  callbacks=[second])
    assert sorted(second.history) == [1, 2]
    _close(second.history[1]["c2"], first.history[1]["c2"])
    channels = second.history[2]["c2"]["channels"]
    _close(second.history[2]["c2"],
           brute_force_entry(model, x[:16], "c2", channels))


MIRRORED = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
REPLICAS = strategy.num_replicas_in_sync
scope = strategy.scope
"""

DATA_PARALLEL = """
import keras
devices = keras.distribution.list_devices()
keras.distribution.set_distribution(
    keras.distribution.DataParallel(devices=devices))
REPLICAS = len(devices)
import contextlib
scope = contextlib.nullcontext
"""

SCRIPT = """
import json
import keras
import numpy as np
from keras_zfnet.callbacks import FeatureEvolution, FilterMonitor
from keras_zfnet.callbacks import filter_statistics
from tests.callbacks.helpers import brute_force_entry, tiny_data, tiny_model

x, y = tiny_data()
with scope():
    model = tiny_model()
evolution = FeatureEvolution(x[:16], ["c1", "c2"], features=2, epochs=(1, 2))
monitor = FilterMonitor()
history = model.fit(x, y, epochs=2, batch_size=8, verbose=0,
                    callbacks=[evolution, monitor])
errors = []
for layer in ("c1", "c2"):
    got = evolution.history[2][layer]
    want = brute_force_entry(model, x[:16], layer, got["channels"])
    errors.append(int(np.array_equal(got["indices"], want["indices"])))
    errors.append(float(np.abs(got["projections"] - want["projections"]).max()))
stats = filter_statistics(
    keras.ops.convert_to_numpy(model.get_layer("c1").kernel))
print(json.dumps(dict(
    replicas=REPLICAS, epochs=sorted(evolution.history),
    checks=errors, logged=history.history["filters/rms_max"][-1],
    expected=stats["rms_max"])))
"""


@pytest.mark.tf_only
def test_mirrored_strategy_on_two_logical_cpus():
    _check_two_devices(MIRRORED, {})


@pytest.mark.skipif(keras.config.backend() != "jax",
                    reason="run once, in the JAX run of the suite")
def test_jax_data_parallel_on_two_host_cpus():
    _check_two_devices(DATA_PARALLEL, {
        "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})


def _check_two_devices(setup, variables):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="",
               TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg", **variables)
    done = subprocess.run([sys.executable, "-c", setup + SCRIPT], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["epochs"] == [1, 2]
    same_c1, error_c1, same_c2, error_c2 = result["checks"]
    assert same_c1 == 1 and same_c2 == 1
    assert error_c1 < 1e-5 and error_c2 < 1e-5
    assert abs(result["logged"] - result["expected"]) < 1e-6


def test_filter_statistics_match_monitor_logs_each_epoch():
    model = tiny_model()
    x, y = tiny_data()

    class Snapshot(keras.callbacks.Callback):
        kernels = []

        def on_epoch_end(self, epoch, logs=None):
            self.kernels.append(keras.ops.convert_to_numpy(
                model.get_layer("c1").kernel))

    snapshot = Snapshot()
    history = model.fit(x, y, epochs=2, verbose=0,
                        callbacks=[FilterMonitor(), snapshot])
    for epoch, kernel in enumerate(snapshot.kernels):
        stats = filter_statistics(kernel)
        for key, value in stats.items():
            assert history.history[f"filters/{key}"][epoch] == value
