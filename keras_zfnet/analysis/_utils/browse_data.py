"""The unit browser's data: everything the site writer renders, computed here.

`browse_layers` turns a `BrowseScan` into plain arrays and metadata per
layer (top-k entries, receptive-field boxes, histograms, map shape) and the
model-input images of the top-k entries; each layer's cropped deconvnet
projections come from `LayerData.projections()`, a stream of chunks, so a
layer's projections are never all in memory at once. The site writer
(`keras_zfnet.plotting.browser`) only renders these arrays: it imports
nothing from `analysis` or `deconv`.
"""

import dataclasses

import numpy as np

from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.deconv.deconvnet import Deconvnet
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils.crops import crop_boxes

# Projections per deconvnet pass. Measured on 2 CPU cores: ZFNet conv5, 288
# entries: 7.8 s at 32, 10.5 s at 64, 14.4 s at 128; MiniZFNet conv1-5
# (2,000 images): 2.8 s at 32, 2.7 s at 64 (CPU).
PROJECTION_BATCH = 32
# Passes per streamed chunk of projections.
CHUNK_PASSES = 8


@dataclasses.dataclass(frozen=True, eq=False)
class LayerData:
    """One layer of the unit browser, as arrays.

    Attributes:
        name: the layer's name.
        map_shape: `(rows, cols)` of the layer's feature map.
        values: `(C, k)` float32 top-k activations per channel.
        indices: `(C, k)` int64 dataset indices (-1: empty slot).
        positions: `(C, k, 2)` int32 map positions.
        boxes: `(C, k, 4)` receptive-field boxes `(row0, row1, col0, col1)`
            in input pixels (may reach outside the image).
        receptive_field: dict of `size`, `jump`, `start` (lists of 2 ints).
        histogram_counts: `(C, bins)` int64 counts of per-image maxima.
        histogram_limits: `(C,)` float32 half-ranges of the histograms.
        silent: `(C,)` int64 images on which the channel never fired.
        bins: histogram bins.
        projections: a function of no arguments returning an iterator of
            `(cells, crops)` chunks: `cells` `(n, 2)` int `(channel slot,
            rank)` pairs, `crops` `(n, rows, cols, C)` float32 deconvnet
            projections cropped to their boxes. Entries that are empty or
            whose value is <= 0 (a projection of zero) are not produced.
    """

    name: str
    map_shape: tuple
    values: np.ndarray
    indices: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    receptive_field: dict
    histogram_counts: np.ndarray
    histogram_limits: np.ndarray
    silent: np.ndarray
    bins: int
    projections: object


def browse_layers(scan, data, batch_size=64):
    """The arrays the unit browser shows, computed from a `BrowseScan`.

    Args:
        scan: a `BrowseScan` (its `TopActivations` carry the model).
        data: the scanned data (only the top-k images are read back).
        batch_size: batch size for reading data and projecting.

    Returns:
        `(images, layers)`: a dict from dataset index to the model-input
        image of every top-k entry, and one `LayerData` per scanned layer.
    """
    first = scan.top[scan.layers[0]]
    model = first.model
    wanted = np.concatenate([scan.top[n].indices.ravel()
                             for n in scan.layers])
    images = data_stream.fetch(data, wanted, first.image_shape, batch_size)
    deconvnet = Deconvnet.shared(model)
    graph = model_graph(model)
    chunk = min(batch_size, PROJECTION_BATCH)
    layers = []
    for name in scan.layers:
        top, histogram = scan.top[name], scan.histograms[name]
        rf = top.receptive_field
        boxes = top.boxes()
        layers.append(LayerData(
            name=name,
            map_shape=tuple(int(d) for d in graph.output_shape(name)[:2]),
            values=top.values, indices=top.indices, positions=top.positions,
            boxes=boxes,
            receptive_field={"size": [int(v) for v in rf.size],
                             "jump": [int(v) for v in rf.jump],
                             "start": [int(v) for v in rf.start]},
            histogram_counts=histogram.counts,
            histogram_limits=histogram.limits,
            silent=histogram.silent, bins=int(histogram.bins),
            projections=_projector(top, boxes, images, deconvnet, chunk)))
    return images, layers


def _projector(top, boxes, images, deconvnet, batch_size):
    """A function streaming one layer's cropped projections in chunks.

    Entries are taken image by image, so that the entries of one image
    share its forward pass (`Deconvnet.project_positions` with
    `image_indices`); a chunk holds `CHUNK_PASSES` passes of `batch_size`
    entries, which bounds memory for any number of entries."""

    def chunks():
        active = np.argwhere((top.indices >= 0) & (top.values > 0))
        order = np.argsort(top.indices[active[:, 0], active[:, 1]],
                           kind="stable")
        active = active[order]
        size = batch_size * CHUNK_PASSES
        for start in range(0, len(active), size):
            cells = active[start:start + size]
            c_idx, j_idx = cells[:, 0], cells[:, 1]
            ids, which = np.unique(top.indices[c_idx, j_idx],
                                   return_inverse=True)
            batch = np.stack([images[int(i)] for i in ids])
            projected = deconvnet.project_positions(
                batch, top.layer, top.channels[c_idx],
                top.positions[c_idx, j_idx], batch_size=batch_size,
                image_indices=which)
            yield cells, crop_boxes(np.asarray(projected),
                                    boxes[c_idx, j_idx])

    return chunks
