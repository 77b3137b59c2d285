"""`FeatureEvolution`: feature projections during training (paper Fig. 4)."""

import os
import time

import keras
import numpy as np

from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.analysis.top_activations import top_activations
from keras_zfnet.callbacks import history_io
from keras_zfnet.callbacks.summaries import SummaryWriter
from keras_zfnet.callbacks.summaries import require_tensorboard
from keras_zfnet.deconv import Deconvnet
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import validation


def _check_epochs(epochs):
    try:
        values = list(epochs)
    except TypeError:
        values = None
    if not values or any(
            isinstance(e, bool) or not isinstance(e, (int, np.integer))
            or e < 1 for e in values):
        raise ValueError(
            "`epochs` must be a non-empty list of positive integers (1-based "
            f"epochs, as the paper counts). Received: epochs={epochs!r}"
        )
    return tuple(sorted({int(e) for e in values}))


class FeatureEvolution(keras.callbacks.Callback):
    """Records how features evolve during training (Zeiler & Fergus, Fig. 4).

    At the end of each listed epoch it finds, for each selected feature map,
    its strongest activation over `probe_data` (the spatial maximum of the
    map, first in row-major order; ties go to the lower probe index) and
    projects that activation to pixel space with the deconvnet
    (`mode="max"`). The paper shows a randomly chosen subset of features
    per layer at epochs 1, 2, 5, 10, 20, 30, 40 and 64: lower layers settle
    within a few epochs, upper ones only after 40-50.

    `history[epoch][layer]` is a dict of NumPy arrays `"channels"` (F,),
    `"values"` (F,) (the strongest activation), `"indices"` (F,) (the probe
    image it came from) and `"projections"` (F, H, W, C). With `output_dir`
    each listed epoch is also written as `epoch_0002.npz` (the same arrays,
    one group per layer) and `evolution.png` (rows: features grouped by
    layer; columns: epochs; each projection scaled on its own, beside the
    probe image's patch) is refreshed. With `tensorboard_dir` the
    projections are written as TensorBoard images
    (`feature_evolution/<layer>`, step = epoch).

    Resuming (`initial_epoch`, `keras.callbacks.BackupAndRestore`, the
    package's resumable trainer) continues the record: at `on_train_begin`
    the epochs already in `output_dir` are read back into `history`, and
    the figure keeps them. One deconvnet and one compiled scan are built per
    callback and reused every epoch (no retracing).

    Args:
        probe_data: the images to search, as the model expects them: a
            NumPy array `(N, H, W, C)`, a `tf.data.Dataset` (images or
            `(images, labels)`, batched or not) or a
            `keras.utils.PyDataset`; any length (the scan streams).
        layers: a layer (name, nested path `"outer/inner"` or object) or a
            list of them. Dense layers are accepted.
        features: an int (that many channels per layer, drawn at random
            with `seed` once, the same for every epoch, capped at the
            layer's channel count) or a dict `layer -> list of channels`
            covering every layer.
        epochs: 1-based epochs to record; epochs past the end of training
            are skipped.
        output_dir: optional folder for `epoch_NNNN.npz` and
            `evolution.png`.
        tensorboard_dir: optional TensorBoard log folder.
        seed: seed of the random feature choice.
        batch_size: batch size of the scan for arrays and unbatched
            datasets.
        verbose: `"auto"`/0 (silent) or 1 (one line per recorded epoch).

    Example:

    >>> evolution = FeatureEvolution(x_test[:2000], ["conv1", "conv5"],
    ...                              epochs=(1, 2, 5), output_dir="runs/fig4")
    >>> model.fit(x, y, epochs=5, callbacks=[evolution])
    >>> evolution.history[5]["conv5"]["projections"].shape
    (9, 28, 28, 1)
    >>> evolution.summary()
    {'conv1': 2, 'conv5': 5}
    """

    def __init__(self, probe_data, layers, features=9,
                 epochs=(1, 2, 5, 10, 20, 30, 40, 64), output_dir=None,
                 tensorboard_dir=None, seed=0, batch_size=64,
                 verbose="auto"):
        super().__init__()
        self.epochs = _check_epochs(epochs)
        if isinstance(features, bool) or not (
                isinstance(features, dict)
                or (isinstance(features, (int, np.integer)) and features >= 1)):
            raise ValueError(
                "`features` must be an int >= 1 or a dict from layer to a "
                f"list of channels. Received: features={features!r}"
            )
        batch_size = validation.check_batch_size(batch_size)
        if verbose not in ("auto", 0, 1, False, True):
            raise ValueError(
                "`verbose` must be 'auto', 0 or 1. Received: "
                f"verbose={verbose!r}"
            )
        if tensorboard_dir is not None:
            require_tensorboard("tensorboard_dir")
        self.probe_data = probe_data
        self.layers = layers
        self.features = features
        self.output_dir = output_dir
        self.tensorboard_dir = tensorboard_dir
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.verbose = 1 if verbose in (1, True) else 0
        self.history = {}
        self._prepared_for = None
        self._images = {}
        self._writer = (SummaryWriter(tensorboard_dir)
                        if tensorboard_dir else None)

    # Set-up --------------------------------------------------------------

    def on_train_begin(self, logs=None):
        if self._prepared_for is not self.model:
            self._prepare(self.model)
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)
            stored = history_io.load_epochs(self.output_dir)
            for epoch, entry in stored.items():
                self._check_stored(epoch, entry)
            stored.update(self.history)
            self.history = dict(sorted(stored.items()))

    def _prepare(self, model):
        graph = model_graph(model)
        self._input_shape = tuple(graph.input_shape)
        names, _ = graph.resolve_many(self.layers, what="layers")
        self._probe = self._check_probe(self.probe_data)
        deconvnet = Deconvnet(model)
        projectable = deconvnet.layer_names
        for name in names:
            if name not in projectable:
                raise ValueError(
                    f"Layer '{name}' cannot be projected to pixel space by "
                    f"the deconvnet. Projectable layers: {projectable}. "
                    f"Received: layers={self.layers!r}"
                )
        self._names = names
        self._spatial = {n: len(graph.output_shape(n)) == 3 for n in names}
        self._channels = self._choose_channels(graph, names)
        self._deconvnet = deconvnet
        self._images = {}
        self._prepared_for = model

    def _check_probe(self, data):
        if isinstance(data, np.ndarray) or isinstance(data, (list, tuple)):
            array = np.asarray(data)
            expected = ", ".join(str(d) for d in self._input_shape)
            if array.ndim != len(self._input_shape) + 1 or any(
                    e is not None and e != a
                    for e, a in zip(self._input_shape, array.shape[1:])):
                raise ValueError(
                    f"`probe_data` must be images of shape (N, {expected}) "
                    "as the model expects them. Received: probe_data.shape="
                    f"{array.shape}"
                )
            if len(array) == 0:
                raise ValueError(
                    "`probe_data` is empty: expected at least one image. "
                    f"Received: probe_data.shape={array.shape}"
                )
            return validation.as_images(array, self._input_shape,
                                        "probe_data")
        try:
            data_stream.check_stable_order(data, self.batch_size,
                                           self._input_shape, "probe_data")
            first = next(iter(data_stream.iterate_batches(
                data, self.batch_size, self._input_shape)), None)
        except ValueError as error:
            raise ValueError(
                f"`probe_data` does not fit the model: {error}"
            ) from None
        if first is None or int(first.shape[0]) == 0:
            raise ValueError(
                "`probe_data` is empty: expected at least one image. "
                f"Received: probe_data={data!r}"
            )
        return data

    def _choose_channels(self, graph, names):
        counts = {n: int(graph.output_shape(n)[-1]) for n in names}
        if not isinstance(self.features, dict):
            return {
                name: np.sort(np.random.default_rng([self.seed, i]).choice(
                    counts[name], min(int(self.features), counts[name]),
                    replace=False)).astype("int32")
                for i, name in enumerate(names)
            }
        given = {}
        for layer, channels in self.features.items():
            given[graph.resolve(layer, what="features")] = channels
        if sorted(given) != sorted(names):
            raise ValueError(
                "`features` as a dict must give channels for exactly the "
                f"layers in `layers` ({names}). Received: features keys "
                f"{sorted(given)}"
            )
        chosen = {}
        for name in names:
            array = np.atleast_1d(np.asarray(given[name]))
            if (array.ndim != 1 or array.size == 0
                    or not np.issubdtype(array.dtype, np.integer)
                    or array.min() < 0 or array.max() >= counts[name]):
                raise ValueError(
                    f"`features['{name}']` must be a non-empty list of "
                    f"channels in [0, {counts[name] - 1}] (layer '{name}' "
                    f"has {counts[name]} channels). Received: "
                    f"features['{name}']={given[name]!r}"
                )
            chosen[name] = array.astype("int32")
        return chosen

    def _check_stored(self, epoch, entry):
        for name in self._names:
            if name in entry and not np.array_equal(
                    entry[name]["channels"], self._channels[name]):
                raise ValueError(
                    f"`output_dir` ({self.output_dir}) holds epoch {epoch} of "
                    f"a record of other features of layer '{name}' "
                    f"({entry[name]['channels'].tolist()}); use another "
                    "folder or the same `features` and `seed`. Received: "
                    f"channels {self._channels[name].tolist()}"
                )

    @property
    def channels(self):
        """The recorded channels per layer (after `on_train_begin`)."""
        return dict(getattr(self, "_channels", {}))

    # Recording -----------------------------------------------------------

    def on_epoch_end(self, epoch, logs=None):
        epoch = int(epoch) + 1
        if epoch not in self.epochs:
            return
        start = time.perf_counter()
        self.history[epoch] = self.record()
        self.history = dict(sorted(self.history.items()))
        if self.output_dir:
            history_io.save_epoch(self.output_dir, epoch, self.history[epoch])
            self._save_figure()
        if self._writer is not None:
            self._write_summaries(epoch)
        if self.verbose:
            print(f"FeatureEvolution: epoch {epoch} recorded "
                  f"({time.perf_counter() - start:.1f} s)")

    def record(self):
        """The strongest activations and projections of the selected
        features for the model's current weights (`{layer: arrays}`).

        The scan runs without XLA: for a few selected channels per layer
        it was measured faster that way (MiniZFNet, 2,000 images, 9
        channels in each of conv1..conv5: 1.4 s vs 3.8 s per scan on a
        loaded 2-core CPU), and it compiles in a fraction of the time.
        """
        tops = top_activations(
            self.model, self._probe, list(self._names),
            channels=self._channels, k=1, batch_size=self.batch_size,
            jit_compile=False, verbose=0)
        indices = {n: tops[n].indices[:, 0] for n in self._names}
        self._fetch(np.concatenate(list(indices.values())))
        result = {}
        for name in self._names:
            channels = self._channels[name]
            ids, which = np.unique(indices[name], return_inverse=True)
            if self._spatial[name]:
                projections = self._deconvnet.project_positions(
                    np.stack([self._images[int(i)] for i in ids]), name,
                    channels, tops[name].positions[:, 0],
                    image_indices=which)
            else:
                images = np.stack([self._images[int(i)]
                                   for i in indices[name]])
                every = self._deconvnet.project(
                    images, name, [int(c) for c in channels], verbose=0)
                diagonal = np.arange(len(channels))
                projections = every[diagonal, diagonal]
            result[name] = dict(
                channels=channels.copy(),
                values=tops[name].values[:, 0].astype("float32"),
                indices=indices[name].astype("int64"),
                projections=projections.astype("float32"),
            )
        return result

    def _fetch(self, indices):
        missing = sorted({int(i) for i in indices} - set(self._images))
        if not missing:
            return
        if isinstance(self._probe, np.ndarray):
            found = {i: self._probe[i] for i in missing}
        else:
            found = data_stream.fetch(self._probe, missing, self._input_shape,
                                      self.batch_size)
        self._images.update(found)

    def images(self):
        """`{probe index: image}` of the probe images the history refers
        to (fetched from `probe_data` when missing)."""
        needed = [int(i) for layers in self.history.values()
                  for entry in layers.values() for i in entry["indices"]]
        self._fetch(needed)
        return {i: self._images[i] for i in sorted(set(needed))}

    def _save_figure(self):
        from keras_zfnet.plotting.evolution import save_evolution_png

        # Drawn with Pillow, not matplotlib: it is redrawn every listed
        # epoch, and a matplotlib figure of 24 epochs x 45 features took
        # seconds and left memory behind each time.
        height = self._input_shape[0] or 64
        save_evolution_png(self.history,
                           os.path.join(self.output_dir, "evolution.png"),
                           images=self.images(), layers=list(self._names),
                           upscale=2 if height < 64 else 1)

    def _write_summaries(self, epoch):
        from keras_zfnet.plotting.images import projection_to_image

        for name, entry in self.history[epoch].items():
            self._writer.images(f"feature_evolution/{name}",
                                projection_to_image(entry["projections"]),
                                epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()

    # Results -------------------------------------------------------------

    def summary(self, correlation=0.9):
        """Per layer, the listed epoch from which its features settle.

        From that epoch on each feature's strongest probe image no longer
        changes and its projection's correlation with the last recorded
        epoch's stays at least `correlation` (see
        `keras_zfnet.callbacks.settle_epochs`).

        Returns:
            `{layer: epoch}`.
        """
        return history_io.settle_epochs(self.history, correlation)
