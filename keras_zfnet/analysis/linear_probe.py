"""Linear classifiers on frozen features (paper Table 6): a linear SVM and a
softmax (multinomial logistic) classifier on standardized features.

With few training images (15-60 per class) and wide features (a flattened
conv map has tens of thousands of values) every L2-regularized linear model
has its optimal weights in the span of the (standardized) training
features. `project` rewrites the features in an orthonormal basis of that
span, `n_train` numbers per image instead of `D`: the classifiers fitted
there are the same classifiers as on the full features (same decision
values on every image), found in a fraction of the time.
"""

import warnings

import numpy as np

from keras_zfnet.analysis import metrics
from keras_zfnet.utils.extras import require

CLASSIFIERS = ("svm", "softmax", "sigmoid")


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


def make_classifier(item):
    """A fresh scikit-learn estimator for a classifier name or estimator."""
    feature = "The linear probes"
    clone = require("sklearn.base", "transfer", feature).clone
    linear_model = require("sklearn.linear_model", "transfer", feature)
    LogisticRegression = linear_model.LogisticRegression
    multiclass = require("sklearn.multiclass", "transfer", feature)
    OneVsRestClassifier = multiclass.OneVsRestClassifier
    SVC = require("sklearn.svm", "transfer", feature).SVC

    if not isinstance(item, str):
        return clone(item)
    if item == "svm":
        # One-vs-rest linear SVMs (libsvm: on the few projected features it
        # converges in milliseconds where liblinear needs thousands of
        # iterations).
        return OneVsRestClassifier(SVC(kernel="linear", C=1.0))
    if item == "softmax":
        return LogisticRegression(C=1.0, max_iter=2000)
    return OneVsRestClassifier(LogisticRegression(C=1.0, max_iter=2000))


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


def evaluate(item, z_train, y_train, z_test, y_test, multi_label):
    """Fits one classifier and returns its score on the test set: mean
    per-class accuracy, or mean average precision for multi-hot labels."""
    exceptions = require("sklearn.exceptions", "transfer", "The linear probes")
    ConvergenceWarning = exceptions.ConvergenceWarning

    estimator = make_classifier(item)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(z_train, y_train)
    if multi_label:
        if hasattr(estimator, "decision_function"):
            scores = estimator.decision_function(z_test)
        else:
            scores = estimator.predict_proba(z_test)
        return metrics.mean_average_precision(y_test, scores)
    return metrics.mean_class_accuracy(y_test, estimator.predict(z_test))
