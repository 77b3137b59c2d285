"""Linear classifiers on frozen features (paper Table 6): a linear SVM and a
softmax (multinomial logistic) classifier on standardized features.

With few training images (15-60 per class) and wide features (a flattened
conv map has tens of thousands of values) every L2-regularized linear model
has its optimal weights in the span of the (standardized) training
features. `project` rewrites the features in an orthonormal basis of that
span, `n_train` numbers per image instead of `D`: the classifiers fitted
there are the same classifiers as on the full features (same decision
values on every image), found in a fraction of the time.

The regularization `C` of the named classifiers is chosen by inner
cross-validation on the training split alone (`cross_validate`, `choose`):
each fold standardizes and projects with its own fitting part, as a
scikit-learn `Pipeline(StandardScaler(), classifier)` in a `GridSearchCV`
would.
"""

import warnings

import numpy as np

from keras_zfnet.analysis._utils import metrics
from keras_zfnet.utils.extras import require

CLASSIFIERS = ("svm", "softmax", "sigmoid")
# The probes' regularization grid (inverse strength, as scikit-learn's `C`).
DEFAULT_GRID = (0.01, 0.1, 1.0, 10.0)
# C when the training split is too small to cross-validate (scikit-learn's
# default, and the probes' former fixed value).
FALLBACK_C = 1.0


def check_classifiers(classifiers, multi_label):
    """Normalizes `classifiers` to a tuple of names / estimators.

    Raises:
        ValueError: for an unknown name, an empty list, or `"softmax"` with
            multi-hot labels.
    """
    items = (classifiers,) if isinstance(classifiers, str) or hasattr(
        classifiers, "fit") else tuple(classifiers)
    if not items:
        raise ValueError(
            "`classifiers` is empty; name at least one of "
            f"{list(CLASSIFIERS)}. Received: classifiers={classifiers!r}"
        )
    for item in items:
        if isinstance(item, str) and item not in CLASSIFIERS:
            raise ValueError(
                f"`classifiers` entries must be one of {list(CLASSIFIERS)} or "
                "a scikit-learn estimator. "
                f"Received: classifiers={classifiers!r}"
            )
        if not isinstance(item, str) and not hasattr(item, "fit"):
            raise ValueError(
                "`classifiers` entries must be names or scikit-learn "
                f"estimators. Received: classifiers={classifiers!r}"
            )
    if multi_label and "softmax" in items:
        raise ValueError(
            "`classifiers`: 'softmax' predicts one label per image, but "
            "`labels` are multi-hot (several labels per image); use 'sigmoid' "
            "(one logistic classifier per class) and / or 'svm'. "
            f"Received: classifiers={classifiers!r}"
        )
    return items


def classifier_name(item):
    return item if isinstance(item, str) else type(item).__name__


def check_grid(grid):
    """`grid` as a tuple of positive floats, or a `ValueError`."""
    values = (grid,) if np.ndim(grid) == 0 else tuple(grid)
    ok = bool(values) and all(
        isinstance(v, (int, float, np.number))
        and not isinstance(v, (bool, np.bool_)) and np.isfinite(v) and v > 0
        for v in values)
    if not ok:
        raise ValueError(
            "`probe_grid` must be a positive number or a list of them (the "
            f"probes' C values). Received: probe_grid={grid!r}")
    return tuple(float(v) for v in values)


def searches_c(item):
    """Whether `C` is searched for this classifier: the named ones; a
    scikit-learn estimator is used with its own settings."""
    return isinstance(item, str)


def make_classifier(item, C=FALLBACK_C):
    """A fresh scikit-learn estimator for a classifier name (with
    regularization `C`) or a clone of an estimator."""
    feature = "The linear probes"
    clone = require("sklearn.base", "transfer", feature).clone
    linear_model = require("sklearn.linear_model", "transfer", feature)
    LogisticRegression = linear_model.LogisticRegression
    multiclass = require("sklearn.multiclass", "transfer", feature)
    OneVsRestClassifier = multiclass.OneVsRestClassifier
    SVC = require("sklearn.svm", "transfer", feature).SVC

    if not isinstance(item, str):
        return clone(item)
    C = float(C)
    if item == "svm":
        # One-vs-rest linear SVMs (libsvm: on the few projected features it
        # converges in milliseconds where liblinear needs thousands of
        # iterations).
        return OneVsRestClassifier(SVC(kernel="linear", C=C))
    # Newton-CG to a tight tolerance: converged fits (lbfgs at its default
    # tolerance stops early on wide features, and then the projected and
    # the full features give different classifiers), at lbfgs' cost.
    logistic = LogisticRegression(C=C, solver="newton-cg", tol=1e-6,
                                  max_iter=2000)
    return logistic if item == "softmax" else OneVsRestClassifier(logistic)


def project(train, others, tolerance=1e-6):
    """Standardizes with the training statistics and projects on an
    orthonormal basis of the standardized training features' span.

    Args:
        train: `(n, D)` training features.
        others: `(m, D)` features to project the same way (e.g. the whole
            feature matrix; it is not copied).
        tolerance: relative eigenvalue threshold of the span.

    Returns:
        `(z_train (n, r), z_others (m, r))` with `r <= n`; inner products
        (hence every L2-regularized linear model's decision values) are
        those of the standardized features.
    """
    others = np.asarray(others)
    dtype = "float32" if others.dtype == np.float32 else "float64"
    train = np.asarray(train, dtype="float64")
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale[scale == 0] = 1.0
    centered = ((train - mean) / scale).astype(dtype)
    if centered.shape[1] <= centered.shape[0]:
        # Narrow features: the standardized features themselves.
        return (centered.astype("float64"),
                (others.astype("float64") - mean) / scale)
    gram = (centered @ centered.T).astype("float64")
    values, vectors = np.linalg.eigh(gram)
    keep = values > tolerance * max(values.max(), 1e-30)
    values, vectors = values[keep], vectors[:, keep]
    singular = np.sqrt(values)
    # Basis V = X^T U / s (D, r). The others are projected without a
    # standardized copy: ((T - mean) / scale) V = T (V / scale) - mean (...).
    weights = (centered.T @ vectors.astype(dtype)).astype("float64") \
        / singular / scale[:, None]
    offset = mean @ weights
    z_others = others @ weights.astype(dtype)
    return vectors * singular, z_others.astype("float64") - offset


def evaluate(item, z_train, y_train, z_test, y_test, multi_label,
             C=FALLBACK_C):
    """Fits one classifier and returns its score on the test set: mean
    per-class accuracy, or mean average precision for multi-hot labels."""
    exceptions = require("sklearn.exceptions", "transfer", "The linear probes")
    ConvergenceWarning = exceptions.ConvergenceWarning

    estimator = make_classifier(item, C)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Newton-CG's line search gives up once a step cannot improve the
        # loss at machine precision (the fit stops there, converged).
        warnings.filterwarnings("ignore", "Line Search failed")
        warnings.filterwarnings("ignore", "The line search algorithm")
        # A class without positives in a fold: a constant one-vs-rest part.
        warnings.filterwarnings("ignore", "Label .* is present in all")
        estimator.fit(z_train, y_train)
    if multi_label:
        if hasattr(estimator, "decision_function"):
            scores = estimator.decision_function(z_test)
        else:
            scores = estimator.predict_proba(z_test)
        return metrics.mean_average_precision(y_test, scores)
    return metrics.mean_class_accuracy(y_test, estimator.predict(z_test))


def cross_validate(items, train, labels, folds, grid, multi_label):
    """Inner cross-validation of every classifier on one training split.

    Args:
        items: classifier names / estimators.
        train: `(n, D)` raw training features (standardized and projected
            per fold with the fold's fitting part only).
        labels: their `(n,)` or `(n, C)` labels.
        folds: `(n,)` fold of each image (`0 .. folds - 1`).
        grid: the C values tried for the named classifiers.
        multi_label: whether `labels` are multi-hot.

    Returns:
        A list with one `(G,)` array per classifier of mean validation
        scores over the folds (one entry for an estimator, used as given).
    """
    sums = [np.zeros(len(grid) if searches_c(i) else 1) for i in items]
    counts = [np.zeros_like(v) for v in sums]
    for fold in np.unique(folds):
        held = folds == fold
        if multi_label and not labels[held].any():
            continue  # no positive to rank in this fold
        z_fit, z_held = project(train[~held], train[held])
        for item, total, count in zip(items, sums, counts):
            values = grid if searches_c(item) else (FALLBACK_C,)
            for g, C in enumerate(values):
                total[g] += evaluate(item, z_fit, labels[~held], z_held,
                                     labels[held], multi_label, C)
                count[g] += 1
    return [np.where(c > 0, t / np.maximum(c, 1), np.nan)
            for t, c in zip(sums, counts)]


def choose(scores, grid):
    """`(C, validation score)` of the best mean validation score; a tie goes
    to the earlier value of `grid` (the default grid ascends: to the
    stronger regularization, as `GridSearchCV` breaks ties)."""
    scores = np.asarray(scores, dtype="float64")
    if not np.isfinite(scores).any():
        return fixed_c(grid), float("nan")
    best = int(np.nanargmax(scores))
    return grid[best], float(scores[best])


def fixed_c(grid):
    """C without cross-validation: a one-value grid's value, else
    `FALLBACK_C`."""
    return grid[0] if len(grid) == 1 else FALLBACK_C


def probe_split(items, train, labels, others, test_rows, test_labels,
                multi_label, folds, grid):
    """Every classifier on one split: C chosen by inner cross-validation on
    the training features, then fitted on the whole training split and
    scored on the test rows.

    Args:
        items: classifier names / estimators.
        train: `(n, D)` training features; `labels` their labels.
        others: features the test rows index (e.g. every image's).
        test_rows: rows of `others` to test on; `test_labels` theirs.
        multi_label: whether labels are multi-hot.
        folds: `(n,)` inner folds, or `None` when the split is too small to
            cross-validate (C fixed, validation NaN).
        grid: the C values tried.

    Returns:
        One dict per classifier: `score` (test), `validation` (mean inner
        cross-validation score at the chosen C), `C` (NaN for an estimator
        used as given), `curve` (`(G,)` validation score per C, or `(1,)`
        for an estimator).
    """
    # One BLAS thread for the small fits and eigendecompositions (n up to a
    # few hundred): threads only wait for each other there, ten times slower
    # on a busy machine. The projection of all the images keeps them.
    one_thread = require("threadpoolctl", "transfer",
                         "The linear probes").threadpool_limits
    with one_thread(1):
        curves = (cross_validate(items, train, labels, folds, grid,
                                 multi_label) if folds is not None else
                  [np.full(len(grid) if searches_c(i) else 1, np.nan)
                   for i in items])
    z_train, z_all = project(train, others)
    z_test = z_all[test_rows]
    out = []
    for item, curve in zip(items, curves):
        if searches_c(item):
            C, validation = choose(curve, grid)
        else:
            C, validation = float("nan"), float(curve[0])
        with one_thread(1):
            score = evaluate(item, z_train, labels, z_test, test_labels,
                             multi_label, FALLBACK_C if np.isnan(C) else C)
        out.append(dict(score=score, validation=validation, C=float(C),
                        curve=curve))
    return out
