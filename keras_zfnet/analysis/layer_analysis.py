"""The paper's per-layer transfer protocol (Sec. 5.2-5.3, Tables 3-6)."""

import dataclasses

import numpy as np

from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.analysis._utils import layer_splits
from keras_zfnet.analysis._utils import linear_probe
from keras_zfnet.analysis.features import extract_features
from keras_zfnet.analysis.layer_result import PIXELS
from keras_zfnet.analysis.layer_result import SCRATCH
from keras_zfnet.analysis.layer_result import LayerAnalysis
from keras_zfnet.analysis._utils.scratch import NetCache
from keras_zfnet.analysis._utils.scratch import check_search
from keras_zfnet.analysis._utils.scratch import train_and_score
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import progress

BASELINES = (None, SCRATCH)


@dataclasses.dataclass
class _Task:
    """What the probes of every layer share: the labels, classifiers and C
    grid, the splits and their inner folds, and the per-split results
    `records[(classifier, layer, per_class)]` (a list in split order)."""

    labels: np.ndarray
    eval_labels: np.ndarray
    multi_label: bool
    items: tuple
    grid: tuple
    separate: bool
    plan: dict = dataclasses.field(default_factory=dict)
    folds: dict = dataclasses.field(default_factory=dict)
    records: dict = dataclasses.field(default_factory=dict)


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or np.ndim(value) != 0 or int(value) != value \
            or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _check_options(splits, batch_size, baseline_epochs, baseline_patience,
                   test_per_class, pixel_probe, baseline, baseline_search,
                   probe_grid, probe_folds):
    """The counts, switches and searches, normalized (a dict)."""
    options = {name: _check_int(value, name) for name, value in dict(
        splits=splits, batch_size=batch_size, baseline_epochs=baseline_epochs,
        baseline_patience=baseline_patience).items()}
    if not isinstance(pixel_probe, (bool, np.bool_)):
        raise ValueError("`pixel_probe` must be True or False. "
                         f"Received: pixel_probe={pixel_probe!r}")
    if baseline not in BASELINES:
        raise ValueError(
            f"`baseline` must be None or 'scratch'. Received: "
            f"baseline={baseline!r}"
        )
    return dict(
        options, pixel_probe=bool(pixel_probe), baseline=baseline,
        test_per_class=None if test_per_class is None else
        _check_int(test_per_class, "test_per_class"),
        baseline_search=check_search(baseline_search),
        probe_grid=linear_probe.check_grid(probe_grid),
        probe_folds=layer_splits.check_folds(probe_folds))


def _draw_splits(task, per_class, splits, seed, test_per_class, test_labels,
                 probe_folds):
    """Fills `task.plan` (the train / test split of every size and split)
    and `task.folds` (each training split's inner folds, drawn from the
    split's seed; the same for every layer and classifier)."""
    seeds = layer_splits.split_seeds(seed, splits)
    for k in per_class:
        for s in range(splits):
            train, test = layer_splits.draw_split(
                task.labels, k, seeds[s], task.multi_label, test_per_class,
                test_labels)
            task.plan[(k, s)] = (train, test)
            task.folds[(k, s)] = layer_splits.inner_folds(
                task.labels[train], task.multi_label, probe_folds, seeds[s])
    return seeds


def _needed(plan, parts):
    """Sorted positions used by the `parts` (0: train, 1: test) of every
    split."""
    return np.unique(np.concatenate([split[part] for split in plan.values()
                                     for part in parts]))


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


def _layer_features(task, model, names, data, test_data, pooling, batch_size,
                    verbose):
    """`(features, rows, test_features, test_rows)` of every layer: the
    training (and, without a separate test set, test) images of `data`,
    and the test images."""
    parts = (0,) if task.separate else (0, 1)
    feats, rows = _features(model, names, data, _needed(task.plan, parts),
                            pooling, batch_size, verbose)
    layer_splits.check_count(rows, task.labels, "data", "labels")
    if not task.separate:
        return feats, rows, feats, rows
    test_feats, test_rows = _features(model, names, test_data,
                                      _needed(task.plan, (1,)), pooling,
                                      batch_size, verbose)
    layer_splits.check_count(test_rows, task.eval_labels, "test_data",
                             "test_labels")
    return feats, rows, test_feats, test_rows


def _probe(task, layer, key, features, rows, test_features, test_rows):
    """Every classifier on one layer's features in one split (C chosen by
    inner cross-validation); appends to `task.records`."""
    k, _ = key
    train, test = task.plan[key]
    results = linear_probe.probe_split(
        task.items, features[rows[train]], task.labels[train], test_features,
        test_rows[test], task.eval_labels[test], task.multi_label,
        task.folds[key], task.grid)
    for item, result in zip(task.items, results):
        task.records.setdefault(
            (linear_probe.classifier_name(item), layer, k), []).append(result)


def _probe_layers(task, names, feats, rows, test_feats, test_rows, verbose):
    """Probes every layer in every split, dropping each layer's features
    when done."""
    bar = progress.bar(len(names) * len(task.plan), verbose, unit_name="fit")
    done = 0
    for name in names:
        for key in task.plan:
            _probe(task, name, key, feats[name], rows, test_feats[name],
                   test_rows)
            done += 1
            bar.update(done)
        feats.pop(name)
        test_feats.pop(name, None)


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


def _probe_pixels(task, data, test_data, image_shape, batch_size):
    """The raw-pixel control: the same probes on the flattened input."""
    parts = (0,) if task.separate else (0, 1)
    pixels, rows = _pixels(data, _needed(task.plan, parts), image_shape,
                           batch_size)
    test_pixels, test_rows = pixels, rows
    if task.separate:
        test_pixels, test_rows = _pixels(test_data, _needed(task.plan, (1,)),
                                         image_shape, batch_size)
    for key in task.plan:
        _probe(task, PIXELS, key, pixels, rows, test_pixels, test_rows)


def _scratch(task, model, data, test_data, image_shape, seeds, options,
             verbose):
    """The from-scratch baseline of every split (`records` and the runs)."""
    test_source = test_data if task.separate else data
    batch_size = options["batch_size"]
    runs = []
    cache = NetCache()  # one compiled net per setting, for every split
    bar = progress.bar(len(task.plan), verbose, unit_name="net")
    for done, ((k, s), (train, test)) in enumerate(task.plan.items(), 1):
        score, info = train_and_score(
            model, _images(data, train, image_shape, batch_size),
            task.labels[train],
            _images(test_source, test, image_shape, batch_size),
            task.eval_labels[test], task.multi_label,
            options["baseline_epochs"], seed=int(seeds[s]),
            search=options["baseline_search"],
            patience=options["baseline_patience"], cache=cache)
        task.records.setdefault((SCRATCH, "all", k), []).append(dict(
            score=float(score), validation=info["validation_score"],
            C=float("nan"), curve=None))
        runs.append(dict(per_class=k, split=s, score=float(score), **info))
        bar.update(done)
    return tuple(runs)


def _row(classifier, layer, k, metric, records):
    """One result row from a (classifier, layer, size)'s split records."""
    scores = np.array([r["score"] for r in records], dtype="float64")
    validation = np.array([r["validation"] for r in records],
                          dtype="float64")
    finite = validation[np.isfinite(validation)]
    return dict(classifier=classifier, layer=layer, per_class=k,
                metric=metric, mean=float(scores.mean()),
                std=float(scores.std()), scores=scores,
                validation_scores=validation,
                validation_mean=float(finite.mean()) if finite.size
                else float("nan"),
                C=np.array([r["C"] for r in records], dtype="float64"))


def _result(task, names, per_class, splits, seed, runs):
    """The `LayerAnalysis`: rows in classifier, layer (pixels first), size
    order, the baseline last."""
    metric = ("mean_average_precision" if task.multi_label
              else "mean_class_accuracy")
    order = [linear_probe.classifier_name(i) for i in task.items] + [SCRATCH]

    def position(entry):
        classifier, layer, k = entry[0]
        return (order.index(classifier),
                names.index(layer) if layer in names else -1,
                per_class.index(k))

    rows, curves = [], {}
    for key, records in sorted(task.records.items(), key=position):
        rows.append(_row(*key, metric, records))
        if key[0] != SCRATCH:
            curves[key] = np.stack([r["curve"] for r in records])
    folds = {key: np.full(len(task.plan[key][0]), -1, dtype="int64")
             if f is None else f for key, f in task.folds.items()}
    return LayerAnalysis(
        rows=tuple(rows), metric=metric, layers=tuple(names),
        per_class=per_class, splits=splits, baseline_runs=runs,
        train_indices={key: p[0] for key, p in task.plan.items()},
        test_indices={key: p[1] for key, p in task.plan.items()},
        validation_folds=folds, validation_curves=curves,
        probe_grid=task.grid,
        seed=int(seed) if isinstance(seed, (int, np.integer)) else seed)


def layer_analysis(model, layers, data, labels, per_class=(15, 30), splits=5,
                   classifiers=("svm", "softmax"), test_per_class=None,
                   seed=0, baseline=None, verbose="auto", *, pooling=None,
                   test_data=None, test_labels=None, batch_size=64,
                   baseline_epochs=200, baseline_search=None,
                   baseline_patience=20, pixel_probe=True,
                   probe_grid=linear_probe.DEFAULT_GRID, probe_folds=3):
    """Linear classifiers on each layer's frozen features, over random splits.

    The paper's protocol (Caltech-101/256, Tables 3-4; per-layer Table 6):
    features of every layer are extracted once (one forward pass per batch);
    for each of `splits` random splits, `per_class` training images per
    class and the rest (at most `test_per_class` per class) for testing; a
    linear SVM and a softmax classifier on each layer's standardized
    features; the score is the mean per-class accuracy (mean average
    precision for multi-hot labels, PASCAL style), reported as mean +- std
    over the splits. Every training-set size uses the same split seeds.

    The classifiers' regularization `C` is chosen by inner cross-validation
    on each training split alone, never on its test images: stratified
    folds (`min(probe_folds, images per class)` of them; each fold
    standardized and projected with its own fitting part), every value of
    `probe_grid`, the best mean validation score wins (a tie goes to the
    earlier value) and is refitted on the whole training split. With one
    training image per class nothing can be cross-validated: C is fixed
    (1.0, or a one-value grid's value) and the validation score is NaN. The
    chosen C and validation score of every split are in the rows and
    `.to_csv(path, per_split=True)`; `.best_layer(classifier, per_class)`
    chooses the layer on those validation scores.

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
        probe_grid: the C values the probes' inner cross-validation tries
            (a single value fixes C); estimators passed in `classifiers` are
            used with their own settings.
        probe_folds: the most inner cross-validation folds.

    Returns:
        A `LayerAnalysis` with `.rows`, `.best_layer(classifier,
        per_class)`, `.differences(reference)`, `.to_markdown()`,
        `.to_csv(path, per_split=False)`, `.to_npz(path)` and `.plot()`.

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
    labels, test_labels, multi_label = layer_splits.check_labels(
        data, labels, test_data, test_labels)
    items = linear_probe.check_classifiers(classifiers, multi_label)
    per_class = layer_splits.as_per_class(per_class)
    options = _check_options(
        splits, batch_size, baseline_epochs, baseline_patience,
        test_per_class, pixel_probe, baseline, baseline_search, probe_grid,
        probe_folds)
    layer_splits.check_per_class(per_class, labels, multi_label,
                                 keep_test=test_labels is None)
    task = _Task(labels=labels, multi_label=multi_label, items=items,
                 eval_labels=labels if test_labels is None else test_labels,
                 grid=options["probe_grid"],
                 separate=test_labels is not None)
    seeds = _draw_splits(task, per_class, options["splits"], seed,
                         options["test_per_class"], test_labels,
                         options["probe_folds"])
    _probe_layers(task, names, *_layer_features(
        task, model, names, data, test_data, pooling, options["batch_size"],
        verbose), verbose)
    if options["pixel_probe"]:
        _probe_pixels(task, data, test_data, graph.input_shape,
                      options["batch_size"])
    runs = ()
    if options["baseline"] == SCRATCH:
        runs = _scratch(task, model, data, test_data, graph.input_shape,
                        seeds, options, verbose)
    return _result(task, names, per_class, options["splits"], seed, runs)
