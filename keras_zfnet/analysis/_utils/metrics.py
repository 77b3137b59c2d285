"""Scores of the paper's transfer experiments: mean per-class accuracy
(Caltech-101/256, Tables 3-4, 6) and mean average precision (PASCAL 2012,
Table 5)."""

import numpy as np

from keras_zfnet.utils.extras import require


def is_multi_hot(labels):
    """Whether `labels` is a 2-D 0/1 indicator matrix (multi-label)."""
    labels = np.asarray(labels)
    return labels.ndim == 2 and labels.size > 0 and bool(
        np.all((labels == 0) | (labels == 1)))


def _check_multi_hot(y_true, scores):
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype="float64")
    if y_true.ndim != 2 or not is_multi_hot(y_true):
        raise ValueError(
            "`y_true` must be a multi-hot (N, C) matrix of 0 / 1. "
            f"Received: y_true with shape {y_true.shape}"
            + ("" if y_true.ndim != 2 else
               f" and values {np.unique(y_true)[:5].tolist()}")
        )
    if scores.shape != y_true.shape:
        raise ValueError(
            "`scores` must have the shape of `y_true` (one score per image "
            f"and class). Received: scores.shape={scores.shape}, "
            f"y_true.shape={y_true.shape}"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("`scores` contains NaN or infinite values.")
    return y_true.astype("int64"), scores


def average_precision_per_class(y_true, scores):
    """Average precision of every class (PASCAL VOC style ranking score).

    Scikit-learn's `average_precision_score` (the area under the
    precision-recall curve as the mean of precisions at each positive) on
    each column.

    Args:
        y_true: multi-hot labels `(N, C)` of 0 / 1.
        scores: real-valued scores `(N, C)`, higher meaning more likely.

    Returns:
        A float64 array `(C,)`; `NaN` for a class without positives.

    Example:

    >>> average_precision_per_class([[1, 0], [0, 1]], [[.9, .1], [.2, .8]])
    array([1., 1.])
    """
    average_precision_score = require(
        "sklearn.metrics", "transfer",
        "average_precision_per_class").average_precision_score

    y_true, scores = _check_multi_hot(y_true, scores)
    result = np.full(y_true.shape[1], np.nan)
    for c in range(y_true.shape[1]):
        if y_true[:, c].any():
            result[c] = average_precision_score(y_true[:, c], scores[:, c])
    return result


def mean_average_precision(y_true, scores, return_per_class=False):
    """Mean over classes of the average precision (PASCAL 2012, Table 5).

    Classes with no positive image have no defined average precision and
    are left out of the mean.

    Args:
        y_true: multi-hot labels `(N, C)` of 0 / 1.
        scores: real-valued scores `(N, C)` (probabilities or SVM decision
            values), higher meaning more likely.
        return_per_class: also return the per-class values.

    Returns:
        The mAP as a float, or `(mAP, per_class)` with `per_class` a `(C,)`
        array (`NaN` for classes without positives).

    Raises:
        ValueError: for labels that are not multi-hot, mismatched shapes, or
            no class with a positive image.

    Example:

    >>> kz.mean_average_precision([[1, 0], [0, 1], [1, 1]],
    ...                           [[.9, .2], [.1, .7], [.4, .1]])
    0.9166...
    """
    per_class = average_precision_per_class(y_true, scores)
    if np.all(np.isnan(per_class)):
        raise ValueError(
            "`y_true` has no positive label in any class, so average "
            "precision is undefined. Received: y_true.sum()=0"
        )
    value = float(np.nanmean(per_class))
    return (value, per_class) if return_per_class else value


def mean_class_accuracy(y_true, y_pred):
    """Mean over classes of the per-class accuracy (recall): the paper's
    Caltech score, insensitive to unequal class sizes in the test set.

    Args:
        y_true: integer labels `(N,)`.
        y_pred: predicted labels `(N,)`.

    Returns:
        A float in [0, 1].
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c)
                          for c in classes]))
