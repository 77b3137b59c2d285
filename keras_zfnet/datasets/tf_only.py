"""The one check of TensorFlow-only features (tf.data, tfds,
tf.distribute): TensorFlow importable, and the TensorFlow backend where the
feature needs it."""

import keras

from keras_zfnet.utils.extras import require


def require_tensorflow(feature, backend=False, extra="tf"):
    """Imports TensorFlow for `feature`, or says in one line what is needed.

    Args:
        feature: what needs TensorFlow, for the message (e.g.
            "`keras_zfnet.datasets.tfds_source`").
        backend: also require Keras' TensorFlow backend (for what builds or
            runs models with TensorFlow, e.g. `tf.distribute`).
        extra: the keras-zfnet extra that installs TensorFlow.

    Returns:
        The `tensorflow` module.

    Raises:
        ImportError: TensorFlow is not installed.
        ValueError: `backend=True` and the backend is not TensorFlow.

    Example:

    >>> tf = require_tensorflow("`image_folder(pipeline='tf.data')`")
    """
    if backend and keras.config.backend() != "tensorflow":
        raise ValueError(
            f"{feature} needs the TensorFlow backend (KERAS_BACKEND="
            f"tensorflow). Received: backend '{keras.config.backend()}'")
    return require("tensorflow", extra, feature)


def is_tf_tensor(value):
    """Whether `value` is a TensorFlow tensor (without importing
    TensorFlow)."""
    return type(value).__module__.startswith("tensorflow")


def tf_pipelines_available():
    """Whether `pipeline="auto"` picks `tf.data`: on the TensorFlow backend,
    with TensorFlow installed (elsewhere the NumPy pipelines serve)."""
    if keras.config.backend() != "tensorflow":
        return False
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True
