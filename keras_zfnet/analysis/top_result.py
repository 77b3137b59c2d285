"""`TopActivations`: the result of a top-k scan, mergeable and storable."""

import dataclasses
import os

import numpy as np

from keras_zfnet.analysis._utils import checkpoints
from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.deconv.deconvnet import Deconvnet
from keras_zfnet.deconv.receptive_field import ReceptiveField
from keras_zfnet.utils.crops import crop_boxes

RESULT_FORMAT = "keras_zfnet.TopActivations/1"
_RESULT_KEYS = ("layer", "channels", "values", "indices", "positions",
                "scanned", "image_shape", "receptive_field")


@dataclasses.dataclass(frozen=True, eq=False)
class TopActivations:
    """Top-k activations of the channels of one layer.

    Attributes:
        layer: the layer's name.
        channels: `(C,)` channel indices scanned.
        values: `(C, k)` activation values, largest first.
        indices: `(C, k)` dataset positions (plus the scan's
            `index_offset`); -1 marks an empty slot (fewer than k images).
        positions: `(C, k, 2)` `(row, col)` of each value in the layer's map
            (0 for dense layers).
        scanned: number of images scanned.
        image_shape: the model's per-image input shape.
        receptive_field: the layer's `ReceptiveField`, or `None` when the
            model is not a chain the deconvnet supports.
        model: the scanned model (not stored by `to_npz`).
        ranges: `(R, 2)` half-open ranges `[start, stop)` of the dataset
            indices scanned (one per contiguous scan; merged results list
            all). `merge` refuses results whose ranges overlap.
    """

    layer: str
    channels: np.ndarray
    values: np.ndarray
    indices: np.ndarray
    positions: np.ndarray
    scanned: int
    image_shape: tuple
    receptive_field: ReceptiveField = None
    model: object = dataclasses.field(default=None, repr=False)
    ranges: np.ndarray = None

    def __repr__(self):
        alive = int((self.indices >= 0).any(axis=1).sum())
        return (f"<TopActivations layer='{self.layer}' channels="
                f"{len(self.channels)} k={self.k} scanned={self.scanned} "
                f"({alive} channels with entries)>")

    @property
    def k(self):
        return self.values.shape[1]

    def merge(self, other):
        """Combines results of disjoint shards into the single-scan result.

        Entries are ranked by value (descending), ties by the lower dataset
        index, exactly as one scan over the union ranks them. Shards must be
        disjoint: results whose scanned index ranges overlap (the same
        images scanned twice, e.g. a shard merged twice or shards started
        without their `index_offset`) are refused, since their entries would
        be counted twice.

        Args:
            other: a `TopActivations` of the same layer, channels and k.

        Returns:
            A new `TopActivations`.
        """
        if not isinstance(other, TopActivations):
            raise ValueError(
                f"Expected a TopActivations. Received: {type(other).__name__}"
            )
        if (other.layer != self.layer or other.k != self.k
                or not np.array_equal(other.channels, self.channels)):
            raise ValueError(
                "Only results of the same layer, channels and k merge. "
                f"Received: layer {other.layer!r} (k={other.k}, "
                f"{len(other.channels)} channels) into {self.layer!r} "
                f"(k={self.k}, {len(self.channels)} channels)"
            )
        overlap = _overlap(self.ranges, other.ranges)
        shared = np.intersect1d(self.indices[self.indices >= 0],
                                other.indices[other.indices >= 0])
        if overlap is not None or shared.size:
            where = (f"index ranges {overlap[0]} and {overlap[1]}"
                     if overlap is not None
                     else f"dataset indices {shared[:5].tolist()}")
            raise ValueError(
                "Results of overlapping shards cannot merge: both scanned "
                f"{where}. Scan disjoint shards (pass each contiguous shard "
                "its `index_offset`). Received: overlapping shards"
            )
        values = np.concatenate([self.values, other.values], axis=1)
        indices = np.concatenate([self.indices, other.indices], axis=1)
        positions = np.concatenate([self.positions, other.positions], axis=1)
        empty = indices < 0
        sort_index = np.where(empty, np.iinfo(np.int64).max, indices)
        order = np.lexsort((sort_index, -values.astype("float64")), axis=1)
        keep = order[:, : self.k]
        return dataclasses.replace(
            self,
            values=np.take_along_axis(values, keep, 1),
            indices=np.take_along_axis(indices, keep, 1),
            positions=np.take_along_axis(positions, keep[..., None], 1),
            scanned=self.scanned + other.scanned,
            model=self.model if self.model is not None else other.model,
            ranges=_concat_ranges(self.ranges, other.ranges),
        )

    def to_npz(self, path):
        """Saves the result (without the model) to a `.npz` file.

        Returns:
            The path written (`np.savez` adds `.npz` when `path` lacks
            it).
        """
        rf = self.receptive_field
        np.savez(
            path,
            format=RESULT_FORMAT,
            ranges=(np.zeros((0, 2), "int64") if self.ranges is None
                    else np.asarray(self.ranges, "int64")),
            layer=self.layer,
            channels=self.channels,
            values=self.values,
            indices=self.indices,
            positions=self.positions,
            scanned=self.scanned,
            image_shape=np.asarray(self.image_shape),
            receptive_field=(np.asarray(rf, dtype="int64") if rf is not None
                             else np.zeros((0,), "int64")),
        )
        path = os.fspath(path)
        return path if path.endswith(".npz") else path + ".npz"

    @classmethod
    def from_npz(cls, path, model=None):
        """Loads a result saved by `to_npz` (attach `model` for
        projections)."""
        data = checkpoints.load_npz(path, "TopActivations result",
                                    required=_RESULT_KEYS)
        if "format" in data and str(data["format"]) != RESULT_FORMAT:
            raise ValueError(
                f"{path} is not a TopActivations result (format "
                f"{str(data['format'])!r}; a scan checkpoint is read by "
                f"top_activations(..., checkpoint=path)). Received: "
                f"path={path!r}"
            )
        rf = data["receptive_field"]
        ranges = data.get("ranges")
        return cls(
            layer=str(data["layer"]),
            channels=data["channels"],
            values=data["values"],
            indices=data["indices"],
            positions=data["positions"],
            scanned=int(data["scanned"]),
            image_shape=tuple(int(d) for d in data["image_shape"]),
            receptive_field=(ReceptiveField(*(tuple(r) for r in rf))
                             if rf.size else None),
            model=model,
            ranges=ranges if ranges is not None and ranges.size else None,
        )

    def _require_rf(self):
        if self.receptive_field is None:
            raise ValueError(
                f"Layer '{self.layer}' has no receptive-field box (a dense "
                "layer, or a model the deconvnet cannot read), so patches "
                "cannot be cut."
            )
        return self.receptive_field

    def boxes(self):
        """`(C, k, 4)` input boxes `(row0, row1, col0, col1)` of the
        entries (unclipped)."""
        rf = self._require_rf()
        rows = rf.start[0] + self.positions[..., 0] * rf.jump[0]
        cols = rf.start[1] + self.positions[..., 1] * rf.jump[1]
        return np.stack([rows, rows + rf.size[0], cols, cols + rf.size[1]],
                        axis=-1)

    def images(self, data, batch_size=64, index_offset=0):
        """`(C, k, H, W, C_in)` images of the entries, fetched by streaming
        `data` once (zeros in empty slots)."""
        found = data_stream.fetch(data, self.indices, self.image_shape,
                                  batch_size, index_offset)
        out = np.zeros(self.indices.shape + tuple(self.image_shape),
                       "float32")
        for (c, j), index in np.ndenumerate(self.indices):
            if index >= 0:
                out[c, j] = found[int(index)]
        return out

    def patches(self, data, fill=0.0, batch_size=64, index_offset=0,
                images=None):
        """The receptive-field crop of the input for every entry.

        Args:
            data: the scanned data (only the needed images are kept).
            fill: value for the parts of a box outside the image (the
                forward pass's zero padding sees zeros in the model's input
                space; 0 by default).
            batch_size, index_offset: as in the scan.
            images: optional output of `images()` to avoid a second read.

        Returns:
            `(C, k, size_rows, size_cols, C_in)` float32 patches.
        """
        images = self.images(data, batch_size, index_offset) if (
            images is None) else images
        return crop_boxes(images, self.boxes(), fill)

    def projections(self, data, batch_size=64, index_offset=0, images=None,
                    crop=False, model=None):
        """Deconvnet projections of every entry (batched).

        Each entry seeds the mirror with its own activation at its own
        position. Entries on the same image share one forward pass.

        Args:
            data: the scanned data.
            batch_size, index_offset: as in the scan.
            images: optional output of `images()`.
            crop: return receptive-field crops like `patches()` instead of
                full-size projections.
            model: the scanned model; needed when the result has none
                (loaded with `from_npz(path)` alone). Default: the model
                attached by the scan or `from_npz(path, model=...)`.

        Returns:
            `(C, k, H, W, C_in)` (or cropped) float32 projections; zeros in
            empty slots.
        """
        model = self.model if model is None else model
        if model is None:
            raise ValueError(
                "This result has no model; pass `model=` (the scanned "
                "model), or load it with "
                "TopActivations.from_npz(path, model=...)."
            )
        images = self.images(data, batch_size, index_offset) if (
            images is None) else images
        c_idx, j_idx = np.nonzero(self.indices >= 0)
        out = np.zeros(images.shape, "float32")
        if len(c_idx):
            _, first, which = np.unique(self.indices[c_idx, j_idx],
                                        return_index=True,
                                        return_inverse=True)
            out[c_idx, j_idx] = _deconvnet(model).project_positions(
                images[c_idx[first], j_idx[first]], self.layer,
                self.channels[c_idx], self.positions[c_idx, j_idx],
                batch_size=batch_size, image_indices=which,
            )
        if crop:
            return crop_boxes(out, self.boxes(), 0.0)
        return out

    def plot(self, data, features=None, max_features=8, index_offset=0,
             batch_size=64, title=None, display=None, model=None):
        """Draws the paper's Fig. 2 layout: per feature, the 3x3 (k)
        projections next to the matching image patches.

        Args:
            data: the scanned data.
            features: positions in `.channels` to draw; defaults to the
                first `max_features` features with entries.
            max_features: cap when `features` is None.
            index_offset, batch_size: as in the scan.
            title: figure title.
            display: the model's preprocessing to undo on the patches
                (`None`, a family such as `"vgg16"` / `"resnet50"`, or a
                function returning 0..255 pixels).
            model: as in `projections()` (for a result loaded without
                one).

        Returns:
            A `matplotlib.figure.Figure`.
        """
        from keras_zfnet.plotting.top_activations import plot_top_activations

        if features is None:
            alive = np.flatnonzero((self.indices >= 0).any(axis=1))
            features = alive[:max_features]
        features = np.asarray(features, dtype="int64")
        subset = self.select(features)
        images = subset.images(data, batch_size, index_offset)
        projections = subset.projections(data, images=images, crop=True,
                                         model=model)
        patches = subset.patches(data, images=images)
        return plot_top_activations(
            projections, patches,
            [f"{self.layer} #{c}" for c in subset.channels],
            title=title or f"Top {self.k} activations of {self.layer}",
            display=display,
        )

    def save(self, path, data, **kwargs):
        """Saves `plot(data, **kwargs)` to an image file (PNG, PDF, ...)."""
        figure = self.plot(data, **kwargs)
        figure.savefig(path, dpi=100)
        return path

    def class_purity(self, labels):
        """Per channel, the share of its top-k images in their most common
        class (the paper's Fig. 2 reading: deeper features are more class
        specific).

        Args:
            labels: `(N,)` integer labels of the scanned data, indexed by
                dataset index (as `.indices`).

        Returns:
            `(C,)` float64 shares in `[1/k, 1]`; NaN for a channel with no
            entries or with only non-positive activations (it never fired).

        Example:

        >>> top = kz.top_activations(model, x, "conv5")
        >>> float(np.nanmean(top.class_purity(y)))  # mean over channels
        0.62
        """
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                "`labels` must be a 1-D array of integer labels. Received: "
                f"shape {labels.shape}, dtype {labels.dtype}")
        valid = self.indices >= 0
        if valid.any() and self.indices[valid].max() >= len(labels):
            raise ValueError(
                f"`labels` has {len(labels)} entries but the result holds "
                f"dataset index {int(self.indices[valid].max())}.")
        shares = np.full(len(self.channels), np.nan)
        for c in range(len(self.channels)):
            found = self.indices[c][valid[c] & (self.values[c] > 0)]
            if len(found):
                shares[c] = np.bincount(labels[found]).max() / len(found)
        return shares

    def select(self, features):
        """The result restricted to feature positions `features`."""
        features = np.asarray(features, dtype="int64")
        return dataclasses.replace(
            self,
            channels=self.channels[features],
            values=self.values[features],
            indices=self.indices[features],
            positions=self.positions[features],
        )


def _deconvnet(model):
    """The model's shared `Deconvnet`, so its compiled functions are
    reused."""
    return Deconvnet.shared(model)


def _overlap(first, second):
    """A pair of overlapping `[start, stop)` ranges, or None."""
    if first is None or second is None:
        return None
    for a in np.asarray(first).reshape(-1, 2):
        for b in np.asarray(second).reshape(-1, 2):
            if max(a[0], b[0]) < min(a[1], b[1]):
                return a.tolist(), b.tolist()
    return None


def _concat_ranges(first, second):
    if first is None or second is None:
        return None
    return np.concatenate([np.asarray(first).reshape(-1, 2),
                           np.asarray(second).reshape(-1, 2)])
