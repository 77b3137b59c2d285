"""Chooses how to distribute training from the machine and the backend.

- TensorFlow: a `tf.distribute.Strategy` (multi-worker, mirrored, default).
- JAX: a `keras.distribution.DataParallel` over the local devices when there
  are several, else `SingleDevice()`.
- PyTorch: `SingleDevice()` (plain single-device training).
"""

import contextlib
import json
import os

import keras


class SingleDevice:
    """Plain training on one device: a strategy whose scope changes nothing.

    What `strategy_from_environment` returns on JAX with one device and on
    PyTorch; it has the two members of a `tf.distribute.Strategy` the
    trainer uses.

    Example:

    >>> with SingleDevice().scope():
    ...     model = build_model()
    """

    num_replicas_in_sync = 1

    def scope(self):
        """A context in which nothing changes."""
        return contextlib.nullcontext()

    def __repr__(self):
        return "SingleDevice()"


def is_keras_distribution(value):
    """Whether `value` is a `keras.distribution` distribution
    (`DataParallel`, `ModelParallel`)."""
    return isinstance(value, (keras.distribution.DataParallel,
                              keras.distribution.ModelParallel)) or (
        hasattr(value, "device_mesh") and hasattr(value, "get_data_layout"))


def num_replicas(strategy):
    """Replicas a batch is split over under `strategy`.

    Args:
        strategy: a `tf.distribute.Strategy`, a
            `keras.distribution` distribution (`DataParallel`) or
            `SingleDevice()`.

    Returns:
        An int >= 1.

    Example:

    >>> num_replicas(strategy_from_environment(verbose=0))
    1
    """
    if is_keras_distribution(strategy):
        return int(strategy.device_mesh.devices.size)
    return int(strategy.num_replicas_in_sync)


def check_strategy(strategy):
    """Raises a `ValueError` unless `strategy` is one `train` can use.

    Args:
        strategy: a `tf.distribute.Strategy` (TensorFlow backend), a
            `keras.distribution` distribution (JAX backend) or
            `SingleDevice()`.
    """
    backend = keras.config.backend()
    if is_keras_distribution(strategy):
        if backend != "jax":
            raise ValueError(
                "`strategy` as a keras.distribution distribution needs the "
                f"JAX backend. Received: backend '{backend}', "
                f"strategy={strategy!r}")
        return
    if isinstance(strategy, SingleDevice):
        return
    if type(strategy).__module__.startswith("tensorflow"):
        if backend != "tensorflow":
            raise ValueError(
                "`strategy` as a tf.distribute.Strategy needs the TensorFlow "
                f"backend. Received: backend '{backend}', "
                f"strategy={strategy!r}")
        return
    raise ValueError(
        "`strategy` must be a tf.distribute.Strategy (TensorFlow backend), a "
        "keras.distribution distribution (JAX backend) or SingleDevice(). "
        f"Received: strategy={strategy!r}")


def run_scope(strategy):
    """The context the whole run (build, fit, export) happens in: a Keras
    distribution is made current (`keras.distribution.set_distribution`,
    restored after); anything else changes nothing here."""
    if is_keras_distribution(strategy):
        return strategy.scope()
    return contextlib.nullcontext()


def build_scope(strategy):
    """The context the model is built and compiled in: the
    `tf.distribute.Strategy`'s scope, or nothing."""
    if is_keras_distribution(strategy):
        return contextlib.nullcontext()
    return strategy.scope()


def strategy_from_environment(verbose=1):
    """The distribution strategy that fits this machine and backend.

    TensorFlow backend:

    - `TF_CONFIG` describing a cluster (several workers):
      `tf.distribute.MultiWorkerMirroredStrategy` (start the same command on
      every worker, each with its own `TF_CONFIG` task index).
    - Several local GPUs: `tf.distribute.MirroredStrategy`.
    - Otherwise the default (one-device) strategy.

    JAX backend: `keras.distribution.DataParallel` over
    `keras.distribution.list_devices()` when there are several (GPUs, or
    host CPUs split with
    `XLA_FLAGS=--xla_force_host_platform_device_count=N`), otherwise
    `SingleDevice()`. PyTorch backend: `SingleDevice()`. `TF_CONFIG` is a
    `tf.distribute` setting: set on another backend, it is an error.

    Args:
        verbose: 1 prints the choice.

    Returns:
        A `tf.distribute.Strategy`, a `keras.distribution.DataParallel` or
        `SingleDevice()`; `train(strategy=...)` takes any of them.

    Example:

    >>> strategy = strategy_from_environment(verbose=0)
    >>> num_replicas(strategy)
    1
    """
    backend = keras.config.backend()
    config = os.environ.get("TF_CONFIG")
    if backend != "tensorflow":
        if config:
            raise ValueError(
                "TF_CONFIG (tf.distribute multi-worker training) needs the "
                "TensorFlow backend; on JAX start the workers with "
                "keras.distribution.initialize() and pass strategy="
                "keras.distribution.DataParallel(). Received: backend "
                f"'{backend}', TF_CONFIG={config!r}")
        if backend == "jax":
            devices = keras.distribution.list_devices()
            if len(devices) > 1:
                _say(verbose, f"keras.distribution.DataParallel over "
                              f"{len(devices)} devices")
                return keras.distribution.DataParallel(devices=devices)
        _say(verbose, f"one device ({backend} backend)")
        return SingleDevice()
    from keras_zfnet.datasets.tf_only import require_tensorflow

    tf = require_tensorflow("`strategy_from_environment` (tf.distribute)")
    if config:
        try:
            cluster = json.loads(config).get("cluster", {})
        except json.JSONDecodeError as error:
            raise ValueError(
                "TF_CONFIG must be JSON describing the cluster and this "
                f"task. Received: TF_CONFIG={config!r}"
            ) from error
        workers = sum(len(v) for k, v in cluster.items()
                      if k in ("worker", "chief"))
        if workers > 1:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
            _say(verbose, f"MultiWorkerMirroredStrategy over {workers} "
                          "workers")
            return strategy
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
        _say(verbose, f"MirroredStrategy over {len(gpus)} GPUs")
        return strategy
    device = "GPU" if gpus else "CPU"
    _say(verbose, f"default strategy on one {device}")
    return tf.distribute.get_strategy()


def _say(verbose, message):
    if verbose:
        print(f"keras-zfnet: {message}")
