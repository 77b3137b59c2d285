"""Argument checks and the random train / test splits of `layer_analysis`."""

import numpy as np

from keras_zfnet.analysis._utils import metrics
from keras_zfnet.datasets.splits import k_per_class_split


def as_labels(labels, name="labels"):
    """`(labels, multi_label)`: 1-D integer labels or a multi-hot matrix."""
    array = np.asarray(labels)
    single = array.ndim == 1 and array.size and (
        np.issubdtype(array.dtype, np.integer) or (
            np.issubdtype(array.dtype, np.floating)
            and np.all(array == np.round(array))))
    if single:
        if array.min() < 0:
            raise ValueError(
                f"`{name}` must be class indices >= 0. Received: {name} "
                f"with minimum {array.min()}")
        return array.astype("int64"), False
    if metrics.is_multi_hot(array):
        if np.all(array.sum(axis=1) == 1):
            # One-hot rows are single-label classes, not a PASCAL-style
            # multi-label problem.
            return array.argmax(axis=1).astype("int64"), False
        return array.astype("int64"), True
    raise ValueError(
        f"`{name}` must be 1-D integer class labels or a multi-hot (N, C) "
        f"matrix of 0 / 1. Received: {name} with shape {array.shape} and "
        f"dtype {array.dtype}"
    )


def as_per_class(per_class):
    """`per_class` as a tuple of integers >= 1."""
    values = (per_class,) if np.ndim(per_class) == 0 else tuple(per_class)
    ok = bool(values) and all(
        not isinstance(v, bool) and np.ndim(v) == 0 and int(v) == v and v >= 1
        for v in values)
    if not ok:
        raise ValueError(
            "`per_class` must be an integer >= 1 or a list of them (training "
            f"images per class). Received: per_class={per_class!r}"
        )
    return tuple(int(v) for v in values)


def class_counts(labels, multi_label):
    """`(classes, counts)`: images per class (positives for multi-hot)."""
    if multi_label:
        return np.arange(labels.shape[1]), labels.sum(axis=0)
    return np.unique(labels, return_counts=True)


def check_per_class(per_class, labels, multi_label, keep_test):
    """Raises unless every class has `max(per_class)` training images (and
    one more to test when the test images come from the same data)."""
    classes, counts = class_counts(labels, multi_label)
    need = max(per_class) + (1 if keep_test else 0)
    small = counts < need
    if small.any():
        worst = int(counts.min())
        reason = (" and one image per class must stay for testing"
                  if keep_test else "")
        raise ValueError(
            f"`per_class` must be at most {worst - (1 if keep_test else 0)}:"
            f" the smallest class has {worst} images{reason} (classes "
            f"{classes[small].tolist()[:10]} have "
            f"{counts[small].tolist()[:10]}). "
            f"Received: per_class={max(per_class)}"
        )


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


def check_count(rows, labels, data_name, labels_name):
    if len(rows) != len(labels):
        raise ValueError(
            f"`{labels_name}` must have one entry per image of `{data_name}`"
            f" ({len(rows)} images streamed). Received: {labels_name} of "
            f"length {len(labels)}"
        )


def check_labels(data, labels, test_data, test_labels):
    """`(labels, test_labels, multi_label)`, checked against the data and
    against each other."""
    labels, multi_label = as_labels(labels)
    if (test_data is None) != (test_labels is None):
        raise ValueError(
            "`test_data` and `test_labels` go together. Received: "
            f"test_data={'None' if test_data is None else 'given'}, "
            f"test_labels={'None' if test_labels is None else 'given'}"
        )
    _length(data, labels, "data", "labels")
    if test_labels is not None:
        test_labels, test_multi = as_labels(test_labels, "test_labels")
        if test_multi != multi_label or (multi_label and test_labels.shape[1]
                                         != labels.shape[1]):
            raise ValueError(
                "`test_labels` must be of the same kind as `labels` "
                f"(multi-hot with {labels.shape[1:]} classes or 1-D). "
                f"Received: test_labels.shape={test_labels.shape}"
            )
        _length(test_data, test_labels, "test_data", "test_labels")
    _check_classes(labels, test_labels, multi_label)
    return labels, test_labels, multi_label


def split_seeds(seed, splits):
    """One integer seed per split, drawn from `seed`."""
    return np.random.default_rng(seed).integers(0, 2**31 - 1, size=splits)


def _multi_label_train(labels, k, rng):
    """At least `k` positives per class: classes in random order, each
    topped up with random images containing it that are not chosen yet."""
    chosen = np.zeros(len(labels), dtype=bool)
    for c in rng.permutation(labels.shape[1]):
        have = int(np.sum(labels[chosen, c]))
        if have >= k:
            continue
        pool = np.flatnonzero((labels[:, c] == 1) & ~chosen)
        chosen[rng.permutation(pool)[:k - have]] = True
    return np.flatnonzero(chosen)


def _cap_test(labels, test, multi_label, cap, rng):
    if cap is None:
        return test
    if multi_label:
        keep = np.zeros(len(labels), dtype=bool)
        for c in range(labels.shape[1]):
            members = test[labels[test, c] == 1]
            keep[rng.permutation(members)[:cap]] = True
        return np.flatnonzero(keep)
    keep = [rng.permutation(test[labels[test] == c])[:cap]
            for c in np.unique(labels[test])]
    return np.sort(np.concatenate(keep))


def draw_split(labels, k, seed, multi_label, test_per_class=None,
               test_labels=None):
    """One split: `(train, test)` index arrays.

    Without `test_labels`, `k` images per class train (`k_per_class_split`
    for single labels) and the rest of `labels` test (at most
    `test_per_class` per class). With `test_labels` (a separate test set),
    `k` images per class of `labels` train and the test indices point into
    `test_labels`.
    """
    rng = np.random.default_rng(seed)
    if test_labels is None and not multi_label:
        return k_per_class_split(labels, k, seed=int(seed),
                                 max_test_per_class=test_per_class)
    if multi_label:
        train = _multi_label_train(labels, k, rng)
    else:
        train = np.sort(np.concatenate([
            rng.permutation(np.flatnonzero(labels == c))[:k]
            for c in np.unique(labels)]))
    if test_labels is None:
        test = np.setdiff1d(np.arange(len(labels)), train)
        return train, _cap_test(labels, test, multi_label, test_per_class,
                                rng)
    test = np.arange(len(test_labels))
    return train, _cap_test(test_labels, test, multi_label, test_per_class,
                            rng)


def check_folds(folds):
    """`probe_folds` as an integer >= 2, or a `ValueError`."""
    number = isinstance(folds, (int, float, np.number)) and not isinstance(
        folds, (bool, np.bool_))
    if not number or int(folds) != folds or folds < 2:
        raise ValueError(
            "`probe_folds` must be an integer >= 2 (inner cross-validation "
            f"folds of each training split). Received: probe_folds={folds!r}")
    return int(folds)


def inner_folds(labels, multi_label, folds, seed):
    """Stratified folds of one training split for the probes' inner
    cross-validation.

    `min(folds, smallest class count)` folds (positives per class for
    multi-hot labels): each class's images in random order, dealt to the
    folds in turn, continuing from class to class so that the folds differ
    in size by at most one image.

    Args:
        labels: the training split's `(n,)` or `(n, C)` labels.
        multi_label: whether `labels` are multi-hot (then the images are
            dealt in random order, without stratification).
        folds: the most folds.
        seed: seed of the random order.

    Returns:
        `(n,)` int64 fold of each image, or `None` when a class has a single
        image (no inner cross-validation is possible).
    """
    _, counts = class_counts(labels, multi_label)
    count = int(min(folds, counts.min()))
    if count < 2:
        return None
    rng = np.random.default_rng(int(seed))
    if multi_label:
        order = rng.permutation(len(labels))
    else:
        order = np.concatenate([rng.permutation(np.flatnonzero(labels == c))
                                for c in np.unique(labels)])
    assigned = np.empty(len(labels), dtype="int64")
    assigned[order] = np.arange(len(labels)) % count
    return assigned
