"""Correspondence analysis (paper Sec. 4.3, Table 1): does the network find
the same object part in different images?

For each image `i`, a part (e.g. the toe of an ankle boot) is occluded and
the change of a layer's feature vector is taken: `eps_i = x_i - x~_i`. If
the network "knows" the part, occluding it changes the features in the same
way in every image, so the signs of `eps_i` agree across images. The score
is the normalized Hamming distance between `sign(eps_i)` and `sign(eps_j)`
(the fraction of features whose sign differs) over all image pairs `i < j`:
lower means more consistent. The control is the paper's: in each random
trial one box position, the same in every image, is occluded (each image's
box keeps the part's size there). Since part boxes sit at nearly the same
place in every centred image, a control drawn per image would mostly
measure that overlap. `p_value` is the Monte Carlo permutation p-value of
the part's score against the trials' scores: `(1 + #{trials scoring <= the
part}) / (1 + trials)`, one-sided (lower = more consistent); with `T`
trials it cannot go below `1 / (T + 1)`, so significance at 0.05 needs at
least 19 trials.
"""

import dataclasses

import numpy as np
from keras import ops

from keras_zfnet.analysis.occlusion import _fill_values
from keras_zfnet.analysis._utils.result_files import SavedResult
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import progress
from keras_zfnet.utils import validation


@dataclasses.dataclass(frozen=True, eq=False)
class CorrespondenceResult(SavedResult):
    """Sign-consistency scores of occluded parts and of random boxes.

    Plain data (numpy arrays, numbers and names, no model): `to_npz(path)`
    saves every field and `CorrespondenceResult.from_npz(path)` loads it
    back equal (`.to_markdown()` gives the same table).

    Attributes:
        table: list of dicts, one per (part, layer), with `part`, `layer`,
            `mean` and `std` (over the `N (N - 1) / 2` image pairs of the
            normalized Hamming distance; the paper's `Delta_l` summed over
            ordered pairs is `N (N - 1) * mean`), `random_mean` (mean over
            `random_trials` placements of random boxes), `random_std`
            (std of the per-trial means), `p_value` (permutation p-value of
            `mean` against the per-trial means, one-sided: a small value
            says the part is more consistent than a random box) and
            `random_trials`.
        pair_distances: dict `(part, layer)` -> `(P,)` distances of the
            image pairs.
        random_distances: dict `(part, layer)` -> `(trials, P)`.
        layers: the layers measured.

    Example:

    >>> r = kz.correspondence(model, boots[:5], boxes, ["conv5", "fc7"])
    >>> path = r.to_npz("correspondence.npz")
    >>> print(kz.analysis.CorrespondenceResult.from_npz(path).to_markdown())
    """

    table: list
    pair_distances: dict
    random_distances: dict
    layers: tuple

    def to_markdown(self, digits=3):
        """The table in Markdown (the paper's Table 1 layout)."""
        lines = ["| part | layer | mean | std | random mean | random std "
                 "| p |",
                 "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for row in self.table:
            lines.append(
                f"| {row['part']} | {row['layer']} | {row['mean']:.{digits}f}"
                f" | {row['std']:.{digits}f} | {row['random_mean']:.{digits}f}"
                f" | {row['random_std']:.{digits}f} | {row['p_value']:.3f} |")
        return "\n".join(lines)

    def __repr__(self):
        parts = sorted({row["part"] for row in self.table})
        return (f"<CorrespondenceResult: parts {parts}, layers "
                f"{list(self.layers)}>")


def sign_distances(signs):
    """Normalized Hamming distances between the rows of `signs`.

    Args:
        signs: `(N, D)` sign vectors (values -1, 0, 1).

    Returns:
        `(N (N - 1) / 2,)` fraction of entries that differ, for the pairs
        `(0, 1), (0, 2), ..., (N - 2, N - 1)`.

    Example:

    >>> sign_distances(np.array([[1, -1], [1, 1], [-1, 1]]))
    array([0.5, 1. , 0.5])
    """
    signs = np.asarray(signs)
    first, second = np.triu_indices(len(signs), k=1)
    return (signs[first] != signs[second]).mean(axis=1)


def correspondence(model, images, parts, layer, random_trials=10,
                   fill="mean", seed=0, batch_size=64, verbose="auto"):
    """Measures how consistently occluding a part changes a layer's features.

    Args:
        model: a Sequential or functional Keras model.
        images: `(N, H, W, C)` images (N >= 2) of the same kind of object,
            as the model expects them.
        parts: dict part name -> `N` boxes `(row0, row1, col0, col1)`, one
            per image, covering the same part in each (rows `row0:row1`,
            columns `col0:col1`).
        layer: a layer or a list of layers (names, nested paths or layer
            objects), e.g. `["conv5", "fc7"]`.
        random_trials: placements of random boxes: each trial occludes the
            same uniformly random position in every image (each image's
            box of the part's size there). The p-value's resolution is
            `1 / (random_trials + 1)`.
        fill: the occluder's value: `"mean"` (each image's per-channel mean,
            the default), `"zero"`, a number or one value per channel.
        seed: seed of the random placements.
        batch_size: images per forward pass.
        verbose: `"auto"`, 0 or 1 (a progress bar over parts).

    Returns:
        A `CorrespondenceResult`; `.table` and `.to_markdown()`.

    Example:

    >>> boxes = {"toe": [(18, 26, 2, 10)] * 5, "heel": [(18, 26, 18, 26)] * 5}
    >>> r = kz.correspondence(model, boots[:5], boxes, ["conv5", "fc7"])
    >>> print(r.to_markdown())
    """
    batch_size = validation.check_batch_size(batch_size)
    graph = model_graph(model)
    names, _ = graph.resolve_many(layer, "layer")
    images = validation.as_images(images, graph.input_shape)
    if len(images) < 2:
        raise ValueError(
            "`images` must hold at least 2 images to compare. "
            f"Received: images.shape={images.shape}")
    boxes = _check_parts(parts, images.shape)
    if not (isinstance(random_trials, (int, np.integer))
            and random_trials >= 1):
        raise ValueError(
            "`random_trials` must be a positive integer. "
            f"Received: random_trials={random_trials!r}")
    fills = _fill_values(fill, images)
    features = graph.feature_model(names)

    def run(batch):
        outs = [[] for _ in names]
        for start in range(0, len(batch), batch_size):
            result = features(batch[start:start + batch_size],
                              training=False)
            if not isinstance(result, (list, tuple)):
                result = [result]
            for i, out in enumerate(result):
                outs[i].append(ops.convert_to_numpy(out).reshape(len(out), -1))
        return [np.concatenate(o) for o in outs]

    base = run(images)
    rng = np.random.default_rng(seed)
    n, height, width = images.shape[:3]
    table, pairs, randoms = [], {}, {}
    bar = progress.bar(len(boxes), verbose, unit_name="part")
    for part, part_boxes in boxes.items():
        sizes = part_boxes[:, [1, 3]] - part_boxes[:, [0, 2]]
        trials = [part_boxes] + [
            _shared_random_boxes(rng, sizes, height, width)
            for _ in range(random_trials)]
        occluded = np.concatenate(
            [_occlude(images, b, fills) for b in trials])
        changed = run(occluded)
        for name, f0, f in zip(names, base, changed):
            eps = np.tile(f0, (len(trials), 1)) - f
            _check_some_change(eps[:n], part, name)
            signs = np.sign(eps).reshape(len(trials), n, -1)
            distances = np.stack([sign_distances(s) for s in signs])
            pairs[(part, name)] = distances[0]
            randoms[(part, name)] = distances[1:]
            per_trial = distances[1:].mean(axis=1)
            score = distances[0].mean()
            table.append(dict(
                part=part, layer=name,
                mean=float(score),
                std=float(distances[0].std()),
                random_mean=float(per_trial.mean()),
                random_std=float(per_trial.std()),
                p_value=float((1 + np.sum(per_trial <= score))
                              / (1 + len(per_trial))),
                random_trials=int(random_trials)))
        bar.add(1)
    return CorrespondenceResult(table=table, pair_distances=pairs,
                                random_distances=randoms, layers=tuple(names))


def _check_some_change(eps, part, layer):
    """Refuses a part whose occlusion changes no feature of some image: its
    all-zero sign vector would look perfectly consistent."""
    still = np.flatnonzero(~np.any(eps != 0, axis=1))
    if still.size:
        raise ValueError(
            f"Occluding part '{part}' changes no feature of layer '{layer}' "
            f"in image(s) {still[:10].tolist()}, so the sign of the change is "
            "undefined there (all zeros would score as perfectly "
            "consistent). Use larger boxes, another `fill`, or drop those "
            f"images. Received: parts[{part!r}]")


def _check_parts(parts, shape):
    n, height, width = shape[:3]
    if not isinstance(parts, dict) or not parts:
        raise ValueError(
            "`parts` must be a non-empty dict: part name -> one box "
            f"(row0, row1, col0, col1) per image. Received: parts={parts!r}")
    checked = {}
    for name, boxes in parts.items():
        try:
            array = np.asarray(boxes, dtype="float64")
        except (TypeError, ValueError):
            array = np.zeros((0,))
        if array.shape != (n, 4):
            raise ValueError(
                f"`parts['{name}']` must hold {n} boxes (one per image) of "
                f"4 integers (row0, row1, col0, col1). Received: "
                f"parts['{name}'] of shape {array.shape}")
        if not np.all(array == np.round(array)):
            raise ValueError(
                f"`parts['{name}']` boxes must be integers. "
                f"Received: parts['{name}']={boxes!r}")
        array = array.astype("int64")
        r0, r1, c0, c1 = array.T
        bad = np.flatnonzero((r0 < 0) | (c0 < 0) | (r1 > height) |
                             (c1 > width) | (r0 >= r1) | (c0 >= c1))
        if bad.size:
            raise ValueError(
                f"`parts['{name}']` boxes must satisfy 0 <= row0 < row1 <= "
                f"{height} and 0 <= col0 < col1 <= {width}. Received: box "
                f"{tuple(array[bad[0]])} for image {bad[0]}")
        checked[name] = array
    return checked


def _shared_random_boxes(rng, sizes, height, width):
    """One random top-left corner for every image (inside the image for
    the largest box), each image's box keeping its own size."""
    row = rng.integers(0, height - sizes[:, 0].max() + 1)
    col = rng.integers(0, width - sizes[:, 1].max() + 1)
    rows = np.full(len(sizes), row)
    cols = np.full(len(sizes), col)
    return np.stack([rows, rows + sizes[:, 0], cols, cols + sizes[:, 1]],
                    axis=1)


def _occlude(images, boxes, fills):
    out = images.copy()
    for i, (r0, r1, c0, c1) in enumerate(boxes):
        out[i, r0:r1, c0:c1] = fills[i]
    return out
