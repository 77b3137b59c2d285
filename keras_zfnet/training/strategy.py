"""Chooses the `tf.distribute.Strategy` from the machine."""

import json
import os

import tensorflow as tf


def strategy_from_environment(verbose=1):
    """The distribution strategy that fits this machine.

    - `TF_CONFIG` describing a cluster (several workers):
      `tf.distribute.MultiWorkerMirroredStrategy` (start the same command on
      every worker, each with its own `TF_CONFIG` task index).
    - Several local GPUs: `tf.distribute.MirroredStrategy`.
    - Otherwise the default (one-device) strategy.

    Args:
        verbose: 1 prints the choice.

    Returns:
        A `tf.distribute.Strategy`.
    """
    config = os.environ.get("TF_CONFIG")
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
