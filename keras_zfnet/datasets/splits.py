"""The paper's k-images-per-class train / test protocol (Tables 3-4)."""

import numpy as np


def k_per_class_split(labels, k, seed=0, max_test_per_class=None):
    """Splits indices into `k` training images per class and the rest.

    As in the paper's Caltech experiments: for every class, `k` images drawn
    at random train, the others test (optionally at most
    `max_test_per_class` of them). Different seeds give the paper's
    repeated random splits.

    Args:
        labels: 1-D array of integer class labels.
        k: int >= 1, training images per class.
        seed: the random seed of the split.
        max_test_per_class: optional cap on test images per class.

    Returns:
        `(train_indices, test_indices)`: sorted int64 arrays of positions in
        `labels`.

    Raises:
        ValueError: if a class has fewer than `k + 1` images, or for bad
            arguments.

    Example:

    >>> train, test = k_per_class_split(y, k=30, seed=0)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            "`labels` must be a non-empty 1-D array of class labels. "
            f"Received: labels.shape={labels.shape}"
        )
    if int(k) != k or k < 1:
        raise ValueError(f"`k` must be an integer >= 1. Received: k={k}")
    if max_test_per_class is not None and max_test_per_class < 1:
        raise ValueError(
            "`max_test_per_class` must be None or >= 1. "
            f"Received: max_test_per_class={max_test_per_class}"
        )
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    small = classes[counts <= k]
    if small.size:
        raise ValueError(
            f"`k`={k} needs at least {k + 1} images per class (k to train, "
            f"one or more to test); classes {small.tolist()} have "
            f"{counts[counts <= k].tolist()}. Received: k={k}"
        )
    train, test = [], []
    for label in classes:
        members = rng.permutation(np.flatnonzero(labels == label))
        train.append(members[:k])
        rest = members[k:]
        if max_test_per_class is not None:
            rest = rest[:max_test_per_class]
        test.append(rest)
    return (np.sort(np.concatenate(train)).astype("int64"),
            np.sort(np.concatenate(test)).astype("int64"))
