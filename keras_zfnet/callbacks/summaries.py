"""TensorBoard image and scalar summaries for the callbacks, on any backend.

The event files are written with the `tensorboard` package alone (its
record writer and protocol buffers; images encoded as PNG with Pillow), so
no TensorFlow is needed. The summaries have the form `tf.summary.image` and
`tf.summary.scalar` write (tensor summaries with the `images` / `scalars`
plugin metadata), so TensorBoard and `tf.compat.v1.train.summary_iterator`
read them as their own.
"""

import io
import os
import socket
import threading
import time

import numpy as np

from keras_zfnet.utils.extras import require

_COUNTER = [0]
_LOCK = threading.Lock()


def require_tensorboard(argument):
    """Raises a one-line `ImportError` naming `argument` when the
    `tensorboard` package (which writes the event files) or Pillow (which
    encodes the images) is not installed.

    Args:
        argument: the argument that asked for TensorBoard output, e.g.
            `"tensorboard_dir"`.
    """
    feature = f"`{argument}` (TensorBoard summaries)"
    require("tensorboard.summary.writer.record_writer", "tensorboard",
            feature)
    require("PIL.Image", "tensorboard", feature)


def _png(image):
    """PNG bytes of an `(H, W, 1 | 3 | 4)` uint8 image."""
    from PIL import Image

    if image.shape[-1] == 1:
        image = image[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _to_uint8(images):
    """`(N, H, W, C)` images in `[0, 1]` as uint8, as `tf.summary.image`
    converts them (scaled by 255 and rounded, out-of-range values clipped)."""
    images = np.nan_to_num(np.asarray(images, dtype="float32"))
    return np.clip(np.round(images * 255.0), 0, 255).astype("uint8")


class SummaryWriter:
    """One TensorBoard event file, created on first use.

    Args:
        folder: the log folder (created when the first summary is
            written).

    Example:

    >>> writer = SummaryWriter("runs/tb")
    >>> writer.scalars({"filters/rms_max": 0.1}, step=1)
    >>> writer.images("filters/mosaic", np.zeros((1, 8, 8)), step=1)
    >>> writer.close()
    """

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self._writer = None

    def _get(self):
        if self._writer is None:
            record_writer = require(
                "tensorboard.summary.writer.record_writer", "tensorboard",
                "TensorBoard summaries")
            event_pb2 = require("tensorboard.compat.proto.event_pb2",
                                "tensorboard", "TensorBoard summaries")
            os.makedirs(self.folder, exist_ok=True)
            with _LOCK:
                _COUNTER[0] += 1
                uid = _COUNTER[0]
            name = "events.out.tfevents.%010d.%s.%s.%s" % (
                time.time(), socket.gethostname(), os.getpid(), uid)
            self.path = os.path.join(self.folder, name)
            self._writer = record_writer.RecordWriter(open(self.path, "wb"))
            self._event_pb2 = event_pb2
            first = event_pb2.Event(wall_time=time.time(),
                                    file_version="brain.Event:2")
            self._writer.write(first.SerializeToString())
            self._writer.flush()
        return self._writer

    def _write(self, tag, tensor, plugin, step):
        from tensorboard.compat.proto import summary_pb2

        writer = self._get()
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name=plugin))
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=tag, tensor=tensor, metadata=metadata)])
        event = self._event_pb2.Event(wall_time=time.time(), step=int(step),
                                      summary=summary)
        writer.write(event.SerializeToString())

    def images(self, tag, images, step):
        """Writes `(N, H, W[, 1 | 3 | 4])` images in `[0, 1]` under `tag`.

        Args:
            tag: the summary's name, e.g. `"filters/mosaic"`.
            images: `N` images with values in `[0, 1]`.
            step: the step (e.g. the 1-based epoch).
        """
        from tensorboard.compat.proto import tensor_pb2
        from tensorboard.compat.proto import tensor_shape_pb2
        from tensorboard.compat.proto import types_pb2

        images = np.asarray(images, dtype="float32")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
            raise ValueError(
                "Expected images (N, H, W) or (N, H, W, 1 | 3 | 4). "
                f"Received: images.shape={images.shape}")
        pixels = _to_uint8(images)
        height, width = pixels.shape[1:3]
        # The `images` plugin's form: [width, height, png, png, ...].
        strings = [str(width).encode(), str(height).encode()] + [
            _png(image) for image in pixels]
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING, string_val=strings,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[
                tensor_shape_pb2.TensorShapeProto.Dim(size=len(strings))]))
        self._write(tag, tensor, "images", step)

    def scalars(self, values, step):
        """Writes `{tag: number}` scalars (as float32, like
        `tf.summary.scalar`).

        Args:
            values: a dict from tag to number.
            step: the step (e.g. the 1-based epoch).
        """
        from tensorboard.compat.proto import tensor_pb2
        from tensorboard.compat.proto import tensor_shape_pb2
        from tensorboard.compat.proto import types_pb2

        for tag, value in values.items():
            tensor = tensor_pb2.TensorProto(
                dtype=types_pb2.DT_FLOAT, float_val=[float(value)],
                tensor_shape=tensor_shape_pb2.TensorShapeProto())
            self._write(tag, tensor, "scalars", step)

    def flush(self):
        """Writes what is buffered to the file."""
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        """Closes the file; a later summary opens a new one."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_summaries(folder):
    """Reads back the summaries of the event files in `folder`.

    Args:
        folder: a TensorBoard log folder.

    Returns:
        `{(tag, step): value}`: a float for scalars, a list of decoded
        uint8 `(H, W[, C])` images for image summaries.

    Example:

    >>> values = read_summaries("runs/tb")
    >>> values[("filters/rms_max", 1)]
    0.1
    """
    from PIL import Image
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.util import tensor_util

    found = {}
    for name in sorted(os.listdir(folder)):
        if "tfevents" not in name:
            continue
        loader = event_file_loader.RawEventFileLoader(
            os.path.join(folder, name))
        event_pb2 = require("tensorboard.compat.proto.event_pb2",
                            "tensorboard", "read_summaries")
        for record in loader.Load():
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                array = tensor_util.make_ndarray(value.tensor)
                if value.metadata.plugin_data.plugin_name == "images":
                    found[(value.tag, event.step)] = [
                        np.asarray(Image.open(io.BytesIO(s)))
                        for s in array[2:]]
                else:
                    found[(value.tag, event.step)] = float(array)
    return found
