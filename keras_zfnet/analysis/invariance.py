"""Invariance of features and output to translation, scale and rotation
(paper Sec. 4.2, Fig. 5)."""

import dataclasses

import numpy as np
from keras import ops

from keras_zfnet import backend
from keras_zfnet.analysis._utils import transforms
from keras_zfnet.analysis._utils.result_files import SavedResult
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import progress
from keras_zfnet.utils import validation


@dataclasses.dataclass(frozen=True, eq=False)
class InvarianceResult(SavedResult):
    """Feature distances and class probability under one transformation.

    Plain data (numpy arrays and names, no model): `to_npz(path)` saves
    every field and `InvarianceResult.from_npz(path)` loads it back equal.

    Attributes:
        transform: `"translate"`, `"scale"` or `"rotate"`.
        amounts: `(A,)` factors / degrees, or `(A, 2)` (rows, columns) pixel
            shifts for translate.
        layers: the layers measured, in order.
        distance: dict layer -> `(A,)`: Euclidean distance between the
            original and transformed images' feature vectors, divided by
            the original vector's norm, averaged over images (paper Fig. 5
            rows 2 and 3).
        distances: dict layer -> `(N, A)` the same per image.
        probability: `(A,)` mean probability of the true class (Fig. 5
            row 4).
        probabilities: `(N, A)` per image.
        labels: `(N,)` the classes scored (given, or the prediction on the
            untransformed image).

    Example:

    >>> r = kz.invariance(model, x[:5], "rotate", [0, 90], ["conv1"])
    >>> path = r.to_npz("rotate.npz")
    >>> kz.analysis.InvarianceResult.from_npz(path).distance["conv1"].shape
    (2,)
    """

    transform: str
    amounts: np.ndarray
    layers: tuple
    distance: dict
    distances: dict
    probability: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def axis_values(self):
        """One number per amount for plotting (the shift's length, signed by
        its larger component, for translate)."""
        if self.amounts.ndim == 1:
            return self.amounts
        main = np.where(np.abs(self.amounts[:, 0]) >= np.abs(
            self.amounts[:, 1]), self.amounts[:, 0], self.amounts[:, 1])
        return np.sign(main) * np.hypot(*self.amounts.T)

    def interval(self, what, confidence=0.95):
        """The mean over images with a confidence band, per amount.

        Args:
            what: a layer name (feature distance) or `"probability"`.
            confidence: `0.95` (default), `0.9` or `0.99`: the band is mean
                +- z * std / sqrt(N) (normal approximation, meant for the
                100+ images a Fig. 5 reading needs).

        Returns:
            `(mean, low, high)`, three `(A,)` float arrays.

        Example:

        >>> r = kz.invariance(model, x[:100], "rotate", [0, 90], ["conv1"])
        >>> mean, low, high = r.interval("probability")
        """
        z = {0.9: 1.6449, 0.95: 1.96, 0.99: 2.5758}
        if confidence not in z:
            raise ValueError("`confidence` must be one of "
                             f"{sorted(z)}. Received: confidence="
                             f"{confidence!r}")
        if what == "probability":
            values = self.probabilities
        elif what in self.distances:
            values = self.distances[what]
        else:
            raise ValueError(
                f"`what` must be 'probability' or one of the layers "
                f"{list(self.layers)}. Received: what={what!r}")
        values = np.asarray(values, "float64")
        mean = values.mean(axis=0)
        if len(values) < 2:
            return mean, mean.copy(), mean.copy()
        half = z[confidence] * values.std(axis=0, ddof=1) / np.sqrt(
            len(values))
        return mean, mean - half, mean + half

    def __repr__(self):
        return (f"<InvarianceResult {self.transform}: {len(self.amounts)} "
                f"amounts, {self.probabilities.shape[0]} images, layers "
                f"{list(self.layers)}>")

    def plot(self, *others, class_names=None):
        """Draws Fig. 5: one column per result (this one, then `others`),
        rows: first layer distance, last layer distance, probability.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        from keras_zfnet.plotting.invariance import plot_invariance

        return plot_invariance([self, *others], class_names=class_names)


def invariance(model, images, transform, amounts, layers, labels=None,
               batch_size=64, verbose="auto"):
    """Measures how features and output change under a transformation.

    For each amount, every image is transformed (`transforms.
    transform_images`: bilinear, same size, out-of-frame pixels filled with
    the image's border value, i.e. the median of its outermost ring), and the
    feature vector of each layer (its whole output, flattened) is compared
    with the untransformed image's: `||f(T x) - f(x)|| / ||f(x)||`, averaged
    over images (images whose original vector is zero are left out), as the
    paper's Fig. 5. The probability of the true class is read from the
    model's output (a softmax is applied when the model outputs logits).

    Args:
        model: a Sequential or functional Keras classifier.
        images: `(N, H, W, C)` images as the model expects them.
        transform: `"translate"` (amounts in pixels: a number shifts
            vertically, a `(rows, columns)` pair both ways), `"scale"`
            (factors > 0) or `"rotate"` (degrees, counter-clockwise).
        amounts: the list of amounts (e.g. 0 included, as the reference).
        layers: a layer or a list of layers (names, nested paths or layer
            objects), e.g. `["conv1", "fc7"]`.
        labels: optional `(N,)` true classes; default the predicted class of
            each untransformed image.
        batch_size: images per forward pass.
        verbose: `"auto"`, 0 or 1 (a progress bar over amounts).

    Returns:
        An `InvarianceResult`.

    Example:

    >>> model = kz.MiniZFNet(weights="fashion_mnist")
    >>> (_, _), (x, y) = kz.datasets.fashion_mnist.load_data()
    >>> r = kz.invariance(model, x[:5, ..., None], "rotate",
    ...                   range(0, 361, 30), ["conv1", "fc7"], y[:5])
    >>> r.distance["fc7"].shape, r.probability.shape
    ((13,), (13,))
    """
    batch_size = validation.check_batch_size(batch_size)
    graph = model_graph(model)
    names, _ = graph.resolve_many(layers, "layers")
    images = validation.as_images(images, graph.input_shape)
    transforms.check_transform(transform)
    values = transforms.check_amounts(transform, amounts)
    # One compiled pass gives the model's output and every layer's features
    # (eager calls of the features and then the model took 4.6x longer:
    # MiniZFNet, 100 images x 25 rotations, 11.1 s -> 2.4 s on TensorFlow).
    features = graph.feature_model(names, include_output=True)
    forward = backend.compile_function(
        lambda x: features(x, training=False),
        signature=[((None, *images.shape[1:]), "float32")],
        variables=model.variables)
    needs_softmax = not graph.output_is_probability

    # Every call runs on full chunks: JAX compiles once per shape, so the
    # short last chunk is padded (with copies of its first image) and its
    # padding dropped.
    full = min(batch_size, len(images))

    def run(batch_images):
        outs, probs = [[] for _ in names], []
        for start in range(0, len(batch_images), batch_size):
            chunk = batch_images[start:start + batch_size]
            size = len(chunk)
            chunk = backend.pad_rows(chunk, backend.padded_size(size, full))
            output, *layer_outputs = _as_list(forward(chunk))
            for i, out in enumerate(layer_outputs):
                outs[i].append(
                    ops.convert_to_numpy(out)[:size].reshape(size, -1))
            p = ops.convert_to_numpy(output)[:size]
            probs.append(_softmax(p) if needs_softmax else p)
        return [np.concatenate(o) for o in outs], np.concatenate(probs)

    base, base_probs = run(images)
    labels = _check_labels(labels, len(images), base_probs)
    norms = [np.linalg.norm(f, axis=1) for f in base]
    n, a = len(images), len(values)
    distances = {name: np.zeros((n, a)) for name in names}
    probs = np.zeros((n, a))
    bar = progress.bar(a, verbose, unit_name="amount")
    for j, amount in enumerate(values):
        moved = transforms.transform_images(images, transform, amount)
        feats, out = run(moved)
        for name, f, f0, norm in zip(names, feats, base, norms):
            with np.errstate(invalid="ignore", divide="ignore"):
                distances[name][:, j] = np.where(
                    norm > 0, np.linalg.norm(f - f0, axis=1) / norm, np.nan)
        probs[:, j] = out[np.arange(n), labels]
        bar.add(1)
    distance = {}
    for name in names:
        valid = ~np.isnan(distances[name][:, 0])
        distance[name] = (distances[name][valid].mean(axis=0) if valid.any()
                          else np.full(a, np.nan))
    return InvarianceResult(
        transform=transform, amounts=values, layers=tuple(names),
        distance=distance, distances=distances,
        probability=probs.mean(axis=0), probabilities=probs, labels=labels)


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _softmax(logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _check_labels(labels, n, probs):
    if labels is None:
        return probs.argmax(axis=-1)
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    classes = probs.shape[-1]
    if (array.shape != (n,) or not np.issubdtype(array.dtype, np.integer)
            or array.min() < 0 or array.max() >= classes):
        raise ValueError(
            f"`labels` must be {n} integer classes in [0, {classes - 1}] "
            f"(one per image). Received: labels={labels!r}")
    return array.astype("int64")
