"""The paper's per-layer transfer protocol (Sec. 5.2-5.3, Tables 3-6)."""

import numpy as np

from keras_zfnet.analysis import data_stream
from keras_zfnet.analysis import layer_splits
from keras_zfnet.analysis import linear_probe
from keras_zfnet.analysis.features import extract_features
from keras_zfnet.analysis.layer_result import PIXELS
from keras_zfnet.analysis.layer_result import SCRATCH
from keras_zfnet.analysis.layer_result import LayerAnalysis
from keras_zfnet.analysis.scratch import check_search
from keras_zfnet.analysis.scratch import train_and_score
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import progress

BASELINES = (None, SCRATCH)


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or np.ndim(value) != 0 or int(value) != value \
            or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _check_classes(labels, test_labels, multi_label):
    """At least two classes, and no test class the training never sees
    (either would give a meaningless score, e.g. 1.0 or 0.0)."""
    if multi_label:
        return
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(
            "`labels` must hold at least 2 classes (one class gives a "
            f"meaningless perfect score). Received: labels with classes "
            f"{classes.tolist()}"
        )
    if test_labels is not None:
        unseen = np.setdiff1d(np.unique(test_labels), classes)
        if unseen.size:
            raise ValueError(
                f"`test_labels` has classes {unseen.tolist()} that `labels` "
                "never shows the classifiers. Received: test_labels with "
                f"classes {np.unique(test_labels).tolist()}"
            )


def _length(data, labels, data_name, labels_name):
    if isinstance(data, np.ndarray) and len(data) != len(labels):
        raise ValueError(
            f"`{labels_name}` must have one entry per image of `{data_name}`"
            f" ({len(data)} images). Received: {labels_name} of length "
            f"{len(labels)}"
        )


def _features(model, names, data, needed, pooling, batch_size, verbose):
    """Features of `data` (only the rows in `needed` for arrays), as a
    dict and the index map from data position to feature row."""
    if isinstance(data, np.ndarray) and needed is not None:
        rows = np.full(len(data), -1, dtype="int64")
        rows[needed] = np.arange(len(needed))
        return extract_features(model, names, data[needed], pooling,
                                batch_size, verbose), rows
    features = extract_features(model, names, data, pooling, batch_size,
                                verbose)
    count = len(next(iter(features.values())))
    return features, np.arange(count)


def _probe(name, k, features, train_rows, test_features, test_rows, train,
           test, items, labels, eval_labels, multi_label, scores):
    """Fits every classifier on one split's standardized features and
    appends its test score to `scores[(classifier, name, k)]`."""
    z_train, z_all = linear_probe.project(features[train_rows],
                                          test_features)
    z_test = z_all[test_rows]
    for item in items:
        scores.setdefault((linear_probe.classifier_name(item), name, k),
                          []).append(linear_probe.evaluate(
            item, z_train, labels[train], z_test, eval_labels[test],
            multi_label))


def _pixels(data, needed, image_shape, batch_size):
    """Flattened pixels of the `needed` rows and the map from data position
    to row."""
    needed = np.asarray(needed, dtype="int64")
    images = _images(data, needed, image_shape, batch_size)
    rows = np.full(int(needed.max()) + 1, -1, dtype="int64")
    rows[needed] = np.arange(len(needed))
    return images.reshape(len(needed), -1), rows


def _images(data, indices, image_shape, batch_size):
    if isinstance(data, np.ndarray):
        return np.asarray(data[indices], dtype="float32")
    found = data_stream.fetch(data, indices, image_shape, batch_size)
    return np.stack([found[int(i)] for i in indices])


def layer_analysis(model, layers, data, labels, per_class=(15, 30), splits=5,
                   classifiers=("svm", "softmax"), test_per_class=None,
                   seed=0, baseline=None, verbose="auto", *, pooling=None,
                   test_data=None, test_labels=None, batch_size=64,
                   baseline_epochs=200, baseline_search=None,
                   baseline_patience=20, pixel_probe=True):
    """Linear classifiers on each layer's frozen features, over random splits.

    The paper's protocol (Caltech-101/256, Tables 3-4; per-layer Table 6):
    features of every layer are extracted once (one forward pass per batch);
    for each of `splits` random splits, `per_class` training images per
    class and the rest (at most `test_per_class` per class) for testing; a
    linear SVM and a softmax classifier on each layer's standardized
    features; the score is the mean per-class accuracy (mean average
    precision for multi-hot labels, PASCAL style), reported as mean +- std
    over the splits. Every training-set size uses the same split seeds.

    `baseline="scratch"` adds the paper's "non-pretrained convnet" row: the
    same architecture, randomly initialized with a new classifier, tuned and
    trained on the same training images and scored on the same test images.
    It gets a tuning budget like the probes': a fifth of each class is held
    out of the training split, each setting of `baseline_search` (Adam and
    SGD with momentum, learning rates, weight decay) trains with random
    crops until the validation accuracy has not improved for
    `baseline_patience` epochs (at most `baseline_epochs`), the best setting
    is trained again on the whole training split for its best number of
    epochs. The chosen setting, epochs and steps of every split are in
    `.baseline_runs`.

    Args:
        model: a built Sequential or functional Keras model (pretrained).
        layers: a layer or list of layers (names, nested paths or layers).
        data: images as the model expects them: an array `(N, H, W, C)`, a
            `tf.data.Dataset` or a `keras.utils.PyDataset` (in a fixed
            order, matching `labels`).
        labels: `(N,)` integer labels, or `(N, C)` multi-hot labels.
        per_class: training images per class, an int or a list (e.g. the
            paper's 15, 30, 45, 60). For multi-hot labels: at least that
            many positives per class.
        splits: number of random splits.
        classifiers: names among `"svm"` (linear SVM, one-vs-rest),
            `"softmax"` (multinomial logistic regression; single-label only),
            `"sigmoid"` (one logistic regression per class), or
            scikit-learn estimators.
        test_per_class: optional cap on test images per class.
        seed: seed of the splits (and of the baseline's training).
        baseline: `None` or `"scratch"`.
        verbose: `"auto"`, 0 or 1: progress bars.
        pooling: `None` (flattened maps), `"avg"` or `"max"` over space, as
            in `extract_features`.
        test_data, test_labels: optional separate test set (e.g. an official
            test split); then `per_class` images per class of `data` train
            and all of `test_data` tests.
        batch_size: batch size of the feature extraction.
        baseline_epochs: the most epochs of one scratch setting.
        baseline_search: the scratch baseline's settings, dicts with
            `optimizer` (`"adam"` or `"sgd"`), `learning_rate` and
            `weight_decay`; default `scratch.DEFAULT_SEARCH`.
        baseline_patience: epochs without validation improvement before a
            setting stops.
        pixel_probe: add rows of layer `"pixels"`: the same classifiers on
            the raw input pixels, the control every transfer table needs
            (features that do not beat pixels have learned nothing useful
            for the task).

    Returns:
        A `LayerAnalysis` with `.rows`, `.to_markdown()`, `.to_csv(path)` and
        `.plot()`.

    Raises:
        ValueError: for an unknown layer or classifier, labels and data of
            different lengths, a `per_class` the smallest class cannot
            supply, multi-hot labels with the softmax classifier, or other
            bad arguments.

    Example:

    >>> x, y = kz.datasets.digits.load_data(image_size=28)
    >>> result = kz.layer_analysis(kz.MiniZFNet(weights="fashion_mnist"),
    ...                            ["conv5", "fc6", "fc7"], x[..., None], y)
    >>> print(result.to_markdown())
    """
    graph = model_graph(model)
    names, _ = graph.resolve_many(layers, what="layers")
    labels, multi_label = layer_splits.as_labels(labels)
    items = linear_probe.check_classifiers(classifiers, multi_label)
    per_class = layer_splits.as_per_class(per_class)
    splits = _check_int(splits, "splits")
    batch_size = _check_int(batch_size, "batch_size")
    baseline_epochs = _check_int(baseline_epochs, "baseline_epochs")
    baseline_patience = _check_int(baseline_patience, "baseline_patience")
    if not isinstance(pixel_probe, (bool, np.bool_)):
        raise ValueError("`pixel_probe` must be True or False. "
                         f"Received: pixel_probe={pixel_probe!r}")
    baseline_search = check_search(baseline_search)
    if test_per_class is not None:
        test_per_class = _check_int(test_per_class, "test_per_class")
    if baseline not in BASELINES:
        raise ValueError(
            f"`baseline` must be None or 'scratch'. Received: "
            f"baseline={baseline!r}"
        )
    if (test_data is None) != (test_labels is None):
        raise ValueError(
            "`test_data` and `test_labels` go together. Received: "
            f"test_data={'None' if test_data is None else 'given'}, "
            f"test_labels={'None' if test_labels is None else 'given'}"
        )
    _length(data, labels, "data", "labels")
    if test_labels is not None:
        test_labels, test_multi = layer_splits.as_labels(test_labels,
                                                         "test_labels")
        if test_multi != multi_label or (multi_label and test_labels.shape[1]
                                         != labels.shape[1]):
            raise ValueError(
                "`test_labels` must be of the same kind as `labels` "
                f"(multi-hot with {labels.shape[1:]} classes or 1-D). "
                f"Received: test_labels.shape={test_labels.shape}"
            )
        _length(test_data, test_labels, "test_data", "test_labels")
    _check_classes(labels, test_labels, multi_label)
    layer_splits.check_per_class(per_class, labels, multi_label,
                                 keep_test=test_labels is None)

    seeds = layer_splits.split_seeds(seed, splits)
    plan = {(k, s): layer_splits.draw_split(
        labels, k, seeds[s], multi_label, test_per_class, test_labels)
        for k in per_class for s in range(splits)}
    if test_labels is None:
        needed = np.unique(np.concatenate(
            [np.concatenate(p) for p in plan.values()]))
        feats, rows = _features(model, names, data, needed, pooling,
                                batch_size, verbose)
        test_feats, test_rows = feats, rows
    else:
        needed = np.unique(np.concatenate([p[0] for p in plan.values()]))
        feats, rows = _features(model, names, data, needed, pooling,
                                batch_size, verbose)
        test_needed = np.unique(np.concatenate([p[1] for p in plan.values()]))
        test_feats, test_rows = _features(model, names, test_data,
                                          test_needed, pooling, batch_size,
                                          verbose)
    _check_count(rows, labels, "data", "labels")
    _check_count(test_rows, labels if test_labels is None else test_labels,
                 "data" if test_labels is None else "test_data",
                 "labels" if test_labels is None else "test_labels")
    eval_labels = labels if test_labels is None else test_labels

    metric = ("mean_average_precision" if multi_label
              else "mean_class_accuracy")
    scores = {}
    bar = progress.bar(len(names) * len(plan), verbose, unit_name="fit")
    done = 0
    probe = dict(items=items, labels=labels, eval_labels=eval_labels,
                 multi_label=multi_label, scores=scores)
    for name in names:
        for (k, _), (train, test) in plan.items():
            _probe(name, k, feats[name], rows[train], test_feats[name],
                   test_rows[test], train, test, **probe)
            done += 1
            bar.update(done)
        feats.pop(name)
        if test_labels is not None:
            test_feats.pop(name)

    if pixel_probe:
        if test_labels is None:
            pixels, pixel_rows = _pixels(data, needed, graph.input_shape,
                                         batch_size)
            test_pixels, test_pixel_rows = pixels, pixel_rows
        else:
            pixels, pixel_rows = _pixels(data, needed, graph.input_shape,
                                         batch_size)
            test_pixels, test_pixel_rows = _pixels(
                test_data, test_needed, graph.input_shape, batch_size)
        for (k, _), (train, test) in plan.items():
            _probe(PIXELS, k, pixels, pixel_rows[train], test_pixels,
                   test_pixel_rows[test], train, test, **probe)

    baseline_runs = []
    if baseline == SCRATCH:
        test_source = data if test_labels is None else test_data
        bar = progress.bar(len(plan), verbose, unit_name="net")
        for done, ((k, s), (train, test)) in enumerate(plan.items(), 1):
            score, info = train_and_score(
                model, _images(data, train, graph.input_shape, batch_size),
                labels[train],
                _images(test_source, test, graph.input_shape, batch_size),
                eval_labels[test], multi_label, baseline_epochs,
                seed=int(seeds[s]), search=baseline_search,
                patience=baseline_patience)
            scores.setdefault((SCRATCH, "all", k), []).append(score)
            baseline_runs.append(dict(per_class=k, split=s, score=score,
                                      **info))
            bar.update(done)

    order = [linear_probe.classifier_name(i) for i in items] + [SCRATCH]
    result_rows = tuple(
        dict(classifier=c, layer=layer, per_class=k, metric=metric,
             mean=float(np.mean(v)), std=float(np.std(v)),
             scores=np.asarray(v, dtype="float64"))
        for (c, layer, k), v in sorted(
            scores.items(), key=lambda kv: (
                order.index(kv[0][0]),
                names.index(kv[0][1]) if kv[0][1] in names else -1,
                per_class.index(kv[0][2]))))
    return LayerAnalysis(rows=result_rows, metric=metric, layers=tuple(names),
                         per_class=per_class, splits=splits,
                         baseline_runs=tuple(baseline_runs),
                         train_indices={key: p[0] for key, p in plan.items()},
                         test_indices={key: p[1] for key, p in plan.items()})


def _check_count(rows, labels, data_name, labels_name):
    if len(rows) != len(labels):
        raise ValueError(
            f"`{labels_name}` must have one entry per image of `{data_name}`"
            f" ({len(rows)} images streamed). Received: {labels_name} of "
            f"length {len(labels)}"
        )
