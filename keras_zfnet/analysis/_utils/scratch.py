"""The paper's "non-pretrained convnet" baseline: the same architecture
trained from random initialization on the few training images."""

import keras
import numpy as np

from keras_zfnet.analysis._utils import metrics
from keras_zfnet.analysis.transfer import scratch_model


class _Crops(keras.utils.PyDataset):
    """Shuffled batches with random crops (zero padding of 1/14 of the
    side, the recipe's 2 pixels at 28x28); no flips, which would change
    the meaning of digits or text. NumPy with a seeded generator: the same
    batches on every backend."""

    def __init__(self, images, targets, batch_size, seed):
        super().__init__()
        self.images = np.asarray(images, "float32")
        self.targets = np.asarray(targets)
        self.batch_size = int(batch_size)
        self.pad = max(1, self.images.shape[1] // 14)
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.images))

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        chosen = self.order[index * self.batch_size:
                            (index + 1) * self.batch_size]
        pad, (height, width) = self.pad, self.images.shape[1:3]
        padded = np.pad(self.images[chosen],
                        [(0, 0), (pad, pad), (pad, pad), (0, 0)])
        rows = self.rng.integers(0, 2 * pad + 1, len(chosen))
        cols = self.rng.integers(0, 2 * pad + 1, len(chosen))
        crops = np.stack([p[r:r + height, c:c + width]
                          for p, r, c in zip(padded, rows, cols)])
        return crops, self.targets[chosen]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.images))


def _pipeline(images, targets, batch_size, seed):
    return _Crops(images, targets, batch_size, seed)


# The default search: Adam and SGD with momentum, two learning rates each,
# with and without weight decay (the probes' C is searched too).
DEFAULT_SEARCH = (
    dict(optimizer="adam", learning_rate=1e-3, weight_decay=0.0),
    dict(optimizer="adam", learning_rate=3e-4, weight_decay=1e-4),
    dict(optimizer="sgd", learning_rate=3e-2, weight_decay=0.0),
    dict(optimizer="sgd", learning_rate=1e-2, weight_decay=1e-4),
)


def check_search(search):
    """The search as a tuple of dicts, or a `ValueError`."""
    search = DEFAULT_SEARCH if search is None else tuple(search)
    if not search:
        raise ValueError("`baseline_search` must hold at least one setting. "
                         f"Received: baseline_search={search!r}")
    for item in search:
        ok = (isinstance(item, dict)
              and item.get("optimizer") in ("adam", "sgd")
              and isinstance(item.get("learning_rate"), (int, float))
              and item["learning_rate"] > 0
              and float(item.get("weight_decay", 0.0)) >= 0)
        if not ok:
            raise ValueError(
                "`baseline_search` must be dicts with optimizer 'adam' or "
                "'sgd', a positive learning_rate and an optional "
                f"weight_decay >= 0. Received: {item!r}")
    return search


def validation_split(labels, multi_label, fraction, seed):
    """Positions `(fit, validation)` of a training split: about `fraction`
    of each class (at least one image of every class with two or more)
    held out to choose the settings and the number of epochs."""
    rng = np.random.default_rng(int(seed))
    if multi_label:
        order = rng.permutation(len(labels))
        count = max(1, int(round(fraction * len(labels))))
        return np.sort(order[count:]), np.sort(order[:count])
    held = []
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        if len(members) >= 2:
            held.extend(members[:max(1, int(round(fraction * len(members))))])
    held = np.sort(np.asarray(held, dtype="int64"))
    return np.setdiff1d(np.arange(len(labels)), held), held


def _optimizer(setting):
    decay = float(setting.get("weight_decay", 0.0)) or None
    if setting["optimizer"] == "adam":
        return keras.optimizers.Adam(setting["learning_rate"],
                                     weight_decay=decay)
    return keras.optimizers.SGD(setting["learning_rate"], momentum=0.9,
                                weight_decay=decay)


class NetCache:
    """Compiled scratch nets, reused by the fits of one analysis.

    Compiling a fresh net for every fit retraced its train, test and
    predict functions (about 0.6 s per traced function on 2 CPU cores,
    several per fit: most of the demo's baseline time). A fit instead takes
    the cached net of its head and optimizer, copies in the variables of a
    freshly initialized net (weights and dropout seed states, so it starts
    exactly where a fresh net would), zeroes the optimizer's state and sets
    its learning rate: the same training, without the retracing.
    """

    # Where a reused net is checked to train exactly like a fresh one
    # (tests/analysis/test_layer_analysis.py). On JAX and PyTorch a reused
    # net ended with other weights (some training state outside the
    # variables copied here); they compile a fresh net per fit.
    BACKENDS = ("tensorflow",)
    # Larger nets train long enough that tracing is a small share, and a
    # cache would hold one net and its optimizer state per setting.
    MAX_PARAMS = 5_000_000

    def __init__(self):
        self._nets = {}

    def net(self, model, outputs, head, setting, loss, metrics):
        """A compiled net for one fit, freshly initialized."""
        fresh = scratch_model(model, outputs, head=head)
        key = (outputs, head, setting["optimizer"],
               float(setting.get("weight_decay", 0.0)))
        net = self._nets.get(key)
        if not self._reusable(net, fresh):
            fresh.compile(optimizer=_optimizer(setting), loss=loss,
                          metrics=metrics)
            if (keras.config.backend() in self.BACKENDS
                    and fresh.count_params() <= self.MAX_PARAMS):
                self._nets[key] = fresh
            return fresh
        for target, source in zip(net.variables, fresh.variables):
            target.assign(source)
        for variable in net.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        net.optimizer.learning_rate = float(setting["learning_rate"])
        return net

    @staticmethod
    def _reusable(net, fresh):
        """Whether the cached `net` (only kept on `BACKENDS`, below
        `MAX_PARAMS`) can take `fresh`'s state: the same variables, and an
        optimizer whose initial state is all zeros (a mixed-precision
        `LossScaleOptimizer` starts its loss scale at 2**15)."""
        if net is None or isinstance(net.optimizer,
                                     keras.optimizers.LossScaleOptimizer):
            return False
        return len(net.variables) == len(fresh.variables) and all(
            tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype
            for a, b in zip(net.variables, fresh.variables))


def _fit(model, images, targets, multi_label, classes, setting, epochs,
         seed, batch_size, validation=None, patience=None, cache=None):
    keras.utils.set_random_seed(int(seed))
    cache = NetCache() if cache is None else cache
    if multi_label:
        outputs, head = targets.shape[1], "sigmoid"
        loss, monitor = keras.losses.BinaryCrossentropy(), "val_loss"
    else:
        outputs, head = max(2, len(classes)), "softmax"
        loss = keras.losses.SparseCategoricalCrossentropy()
        monitor = "val_accuracy"
    net = cache.net(model, outputs, head, setting, loss,
                    None if multi_label else ["accuracy"])
    callbacks = []
    if validation is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode="min" if multi_label else "max",
            patience=patience, restore_best_weights=True))
    # The pipeline shuffles itself (Keras ignores `shuffle` for datasets).
    history = net.fit(_pipeline(images, targets, batch_size, int(seed)),
                      epochs=epochs, validation_data=validation,
                      callbacks=callbacks, shuffle=False, verbose=0)
    best = epochs
    if validation is not None:
        values = history.history[monitor]
        best = 1 + int(np.argmin(values) if multi_label
                       else np.argmax(values))
    return net, best


def _score(net, images, labels, multi_label, classes):
    outputs = net.predict(np.asarray(images, dtype="float32"),
                          batch_size=256, verbose=0)
    if multi_label:
        return metrics.mean_average_precision(labels, outputs)
    predicted = classes[np.argmax(outputs[:, :len(classes)], axis=1)]
    return metrics.mean_class_accuracy(labels, predicted)


def train_scratch(model, images, labels, multi_label, epochs, seed=0,
                  batch_size=32, search=None, patience=20,
                  validation_fraction=0.2, cache=None):
    """A fresh copy of `model`'s architecture, tuned and trained on
    `images` until its validation score stops improving.

    A validation part (`validation_fraction` of each class) is held out of
    the training images. Each setting of `search` (optimizer, learning
    rate, weight decay) is trained on the rest with random crops until the
    validation accuracy (loss, for multi-hot labels) has not improved for
    `patience` epochs (at most `epochs`); the setting with the best
    validation score wins, and the net is trained again with it on all the
    training images for its best number of epochs.

    Args:
        model: the (pretrained) model whose architecture to re-create.
        images: `(n, H, W, C)` float training images.
        labels: `(n,)` integer labels or `(n, C)` multi-hot labels.
        multi_label: whether `labels` are multi-hot (sigmoid head).
        epochs: the most epochs a setting trains.
        seed: seeds the split, the initialization, shuffling and crops.
        batch_size: batch size.
        search: settings to try (default `DEFAULT_SEARCH`).
        patience: epochs without improvement before a setting stops.
        validation_fraction: share of each class held out.
        cache: a `NetCache` shared by the fits of one analysis (a new
            one by default). The returned net belongs to it: the next fit
            through the same cache overwrites its weights.

    Returns:
        `(net, classes, info)`: the trained model, for single labels the
        sorted class values its outputs stand for, and a dict with the
        chosen `optimizer`, `learning_rate`, `weight_decay`, its
        `validation_score`, `epochs` and `steps` of the final training.
    """
    search = check_search(search)
    cache = NetCache() if cache is None else cache
    images = np.asarray(images, dtype="float32")
    if multi_label:
        classes, targets = None, np.asarray(labels, dtype="float32")
    else:
        classes, targets = np.unique(labels, return_inverse=True)
    fit, held = validation_split(np.asarray(labels), multi_label,
                                 validation_fraction, seed)
    best = None
    if len(held) and len(fit):
        validation = (images[held], targets[held])
        for setting in search:
            net, epoch = _fit(model, images[fit], targets[fit], multi_label,
                              classes, setting, epochs, seed, batch_size,
                              validation, patience, cache)
            score = _score(net, images[held], np.asarray(labels)[held],
                           multi_label, classes)
            if best is None or score > best[0]:
                best = (score, setting, epoch)
    else:
        best = (float("nan"), search[0], epochs)
    score, setting, epoch = best
    net, _ = _fit(model, images, targets, multi_label, classes, setting,
                  epoch, seed, batch_size, cache=cache)
    info = dict(optimizer=setting["optimizer"],
                learning_rate=float(setting["learning_rate"]),
                weight_decay=float(setting.get("weight_decay", 0.0)),
                validation_score=float(score), epochs=int(epoch),
                steps=int(epoch * -(-len(images) // batch_size)))
    return net, classes, info


def train_and_score(model, train_images, train_labels, test_images,
                    test_labels, multi_label, epochs, seed=0, search=None,
                    patience=20, cache=None):
    """Tunes and trains the scratch baseline and scores it like the linear
    probes (mean per-class accuracy, or mean average precision).

    Returns:
        `(score, info)` (see `train_scratch`).
    """
    net, classes, info = train_scratch(model, train_images, train_labels,
                                       multi_label, epochs, seed,
                                       search=search, patience=patience,
                                       cache=cache)
    return _score(net, test_images, test_labels, multi_label, classes), info
