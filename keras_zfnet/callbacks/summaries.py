"""TensorBoard image and scalar summaries for the callbacks."""

import numpy as np
import tensorflow as tf


def require_tensorboard(argument):
    """Raises a `ValueError` naming `argument` when TensorBoard (which
    `tf.summary.image` needs) is not installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ValueError(
            f"`{argument}` needs the `tensorboard` package (tf.summary.image "
            "raises without it): pip install tensorboard. Received: "
            f"{argument} set, tensorboard not installed"
        ) from None


class SummaryWriter:
    """One `tf.summary` file writer, created on first use."""

    def __init__(self, folder):
        self.folder = folder
        self._writer = None

    def _get(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.folder)
        return self._writer

    def images(self, tag, images, step):
        """Writes `(N, H, W[, 3])` images in `[0, 1]` under `tag`."""
        images = np.asarray(images, dtype="float32")
        if images.ndim == 3:
            images = images[..., None]
        with self._get().as_default():
            tf.summary.image(tag, images, step=int(step),
                             max_outputs=len(images))

    def scalars(self, values, step):
        """Writes `{tag: number}` scalars."""
        with self._get().as_default():
            for tag, value in values.items():
                tf.summary.scalar(tag, float(value), step=int(step))

    def flush(self):
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
