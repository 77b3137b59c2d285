"""The paper's training recipe, resumable and distributed."""

import json
import math
import numbers
import os
import time

import keras

from keras_zfnet.training import strategy as strategy_lib
from keras_zfnet.training.strategy import strategy_from_environment
from keras_zfnet.utils import keras_internals
from keras_zfnet.utils.progress import ProgbarLogger


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """`ReduceLROnPlateau` that keeps its counters across interruptions.

    Its state (best value, epochs waited, cooldown) is written to
    `state_path` after every epoch and read back when training starts, so a
    resumed run anneals exactly as an uninterrupted one would.

    Args:
        state_path: a JSON file for the state.
        **kwargs: `keras.callbacks.ReduceLROnPlateau` arguments.
    """

    def __init__(self, state_path, **kwargs):
        super().__init__(**kwargs)
        self.state_path = state_path

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                state = json.load(f)
            self.best = state["best"]
            self.wait = state["wait"]
            self.cooldown_counter = state["cooldown_counter"]

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        state = dict(best=float(self.best), wait=int(self.wait),
                     cooldown_counter=int(self.cooldown_counter))
        with open(self.state_path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(self.state_path + ".tmp", self.state_path)


class StepAndEpochBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that saves every `save_freq` steps *and* at the
    end of every epoch.

    Keras' callback saves at one of the two; with both, an interruption
    between epochs resumes exactly at the next epoch, and one inside an
    epoch keeps the steps done up to the last backup (the interrupted epoch
    then runs again from its first batch, starting from those weights).
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":
            keras_internals.save_backup(self)


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (wall time of the epoch) to the epoch logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class DataEpoch(keras.callbacks.Callback):
    """Tells a dataset with `set_epoch` (e.g. `AugmentedImages`) which
    epoch begins, so a resumed run shuffles and augments as an
    uninterrupted one."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)


def compile_for_paper(model, learning_rate=1e-2, momentum=0.9):
    """Compiles `model` with the paper's optimizer (SGD, momentum 0.9)."""
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    return model


def step_schedule(learning_rate, drops, factor=0.1):
    """A `LearningRateScheduler` dividing the rate at the given epochs.

    The paper annealed its learning rate by hand; fixed drops (e.g. at
    epochs 12 and 16) are that, written down. Epochs are 0-based: a drop at
    12 applies from the 13th epoch on. Stateless, so resuming is exact.
    """
    drops = sorted(int(d) for d in drops)

    def schedule(epoch, lr):
        return float(learning_rate * factor ** sum(epoch >= d for d in drops))

    return keras.callbacks.LearningRateScheduler(schedule)


def train(build_model, train_data, validation_data, output_dir, epochs,
          learning_rate=1e-2, momentum=0.9, lr_factor=0.1, lr_patience=2,
          min_learning_rate=1e-5, lr_drops=None, backup_every=100,
          strategy=None, callbacks=(), verbose="auto"):
    """Trains a classifier with the paper's recipe; resumable.

    SGD with momentum 0.9, learning rate `learning_rate` (paper: 1e-2)
    divided by 10 when the validation loss stops improving (paper: annealed
    "throughout training manually" on validation plateaus). Dropout and
    `FilterRMS` come with the model (`ZFNet`, `MiniZFNet`). The model is
    built and compiled under `strategy` (chosen from the machine and the
    backend by default, see `strategy_from_environment`): `tf.distribute`
    on TensorFlow, `keras.distribution.DataParallel` on JAX, one device on
    PyTorch.

    Nothing is lost when a run is interrupted: the weights, the optimizer
    state and the epoch are backed up every `backup_every` steps and at
    every epoch end (two generations, `keras.callbacks.BackupAndRestore`),
    the plateau scheduler's counters every epoch, and the log is appended.
    Calling `train` again with the same `output_dir` continues from the last
    backup; a finished run is not trained again.

    Args:
        build_model: callable returning an uncompiled `keras.Model`.
        train_data: `(images, labels)` batches, already shuffled: a
            `tf.data.Dataset` or a `keras.utils.PyDataset`
            (`small_image_pipelines` makes either, for the backend).
        validation_data: a dataset of the same form.
        output_dir: folder for `backup/`, `log.csv` and
            `model.weights.h5`.
        epochs: total number of epochs.
        learning_rate, momentum: SGD settings.
        lr_factor, lr_patience, min_learning_rate: the plateau schedule.
        lr_drops: optional epochs at which to divide the learning rate by
            `1 / lr_factor` instead of waiting for plateaus (the paper's
            manual annealing, written down).
        backup_every: steps between mid-epoch backups.
        strategy: a `tf.distribute.Strategy` (TensorFlow backend), a
            `keras.distribution` distribution such as `DataParallel` (JAX
            backend; made current for the run), `SingleDevice()`, or
            `None` to choose from the machine and backend.
        callbacks: extra Keras callbacks.
        verbose: passed to `fit` ("auto", 0, 1, 2).

    Returns:
        The trained `keras.Model`.

    Example:

    >>> model = train(lambda: MiniZFNet(), train_ds, val_ds, "runs/mini", 12)
    """
    _check_train_arguments(
        epochs=epochs, learning_rate=learning_rate, momentum=momentum,
        lr_factor=lr_factor, lr_patience=lr_patience,
        min_learning_rate=min_learning_rate, lr_drops=lr_drops,
        backup_every=backup_every, verbose=verbose,
    )
    if strategy is not None:
        strategy_lib.check_strategy(strategy)
    os.makedirs(output_dir, exist_ok=True)
    strategy = strategy or strategy_from_environment()
    with strategy_lib.run_scope(strategy):
        return _train(build_model, train_data, validation_data, output_dir,
                      epochs, learning_rate, momentum, lr_factor,
                      lr_patience, min_learning_rate, lr_drops,
                      backup_every, strategy, callbacks, verbose)


def _train(build_model, train_data, validation_data, output_dir, epochs,
           learning_rate, momentum, lr_factor, lr_patience,
           min_learning_rate, lr_drops, backup_every, strategy, callbacks,
           verbose):
    with strategy_lib.build_scope(strategy):
        model = compile_for_paper(build_model(), learning_rate, momentum)
    backup = StepAndEpochBackup(
        os.path.join(output_dir, "backup"),
        save_freq=backup_every,
        double_checkpoint=True,
        delete_checkpoint=False,
    )
    if lr_drops:
        schedule = step_schedule(learning_rate, lr_drops, lr_factor)
    else:
        schedule = ResumableReduceLROnPlateau(
            os.path.join(output_dir, "plateau.json"),
            monitor="val_loss",
            factor=lr_factor,
            patience=lr_patience,
            min_lr=min_learning_rate,
            verbose=1,
        )
    log = keras.callbacks.CSVLogger(os.path.join(output_dir, "log.csv"),
                                    append=True)
    model.fit(
        train_data,
        validation_data=validation_data,
        epochs=epochs,
        # The datasets shuffle themselves (`small_image_pipelines`,
        # `image_folder`); Keras ignores `shuffle` for datasets and warns.
        shuffle=False,
        callbacks=[EpochTimer(), backup, schedule, log,
                   *_data_epoch(train_data), *callbacks,
                   *_progress_logger(callbacks)],
        verbose=verbose,
    )
    export_weights(build_model, model,
                   os.path.join(output_dir, "model.weights.h5"))
    return model


def _data_epoch(data):
    """A `DataEpoch` for data that follows the epoch, else nothing."""
    return [DataEpoch(data)] if callable(getattr(data, "set_epoch", None)) \
        else []


def _progress_logger(callbacks):
    """A plain-text-outside-a-terminal progress logger, unless one is given."""
    if any(isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks):
        return []
    return [ProgbarLogger()]


def _check_train_arguments(epochs, learning_rate, momentum, lr_factor,
                           lr_patience, min_learning_rate, lr_drops,
                           backup_every, verbose):
    """Rejects bad `train` arguments before anything is built or written."""

    def number(name, value, low, high=None, integer=False, low_open=False):
        ok = isinstance(value, numbers.Integral if integer else numbers.Real)
        ok = ok and not isinstance(value, bool) and math.isfinite(value)
        if ok:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high
        if not ok:
            kind = "an integer" if integer else "a number"
            bound = f"> {low}" if low_open else f">= {low}"
            if high is not None:
                bound += f" and < {high}"
            raise ValueError(f"`{name}` must be {kind} {bound}. "
                             f"Received: {name}={value!r}")

    number("epochs", epochs, 1, integer=True)
    number("learning_rate", learning_rate, 0, low_open=True)
    number("momentum", momentum, 0, 1)
    number("lr_factor", lr_factor, 0, 1, low_open=True)
    number("lr_patience", lr_patience, 0, integer=True)
    number("min_learning_rate", min_learning_rate, 0)
    number("backup_every", backup_every, 1, integer=True)
    if lr_drops is not None:
        drops = list(lr_drops)
        if not drops or not all(
                isinstance(d, numbers.Integral) and 0 <= d < epochs
                for d in drops):
            raise ValueError(
                f"`lr_drops` must be epochs (0-based integers) in [0, "
                f"{epochs - 1}]. Received: lr_drops={lr_drops!r}")
    if verbose not in ("auto", 0, 1, 2):
        raise ValueError("`verbose` must be 'auto', 0, 1 or 2. "
                         f"Received: verbose={verbose!r}")


def export_weights(build_model, model, path):
    """Saves the weights of `model` without its optimizer state.

    A compiled model's weights file also holds the optimizer's slots
    (momentum), doubling its size; a fresh uncompiled copy holds only what
    inference and fine-tuning from the preset need.
    """
    clean = build_model()
    clean.set_weights(model.get_weights())
    clean.save_weights(path)
    return path


def training_seconds(output_dir):
    """Total wall time of the epochs logged in `output_dir/log.csv`."""
    import csv

    path = os.path.join(output_dir, "log.csv")
    if not os.path.exists(path):
        return 0.0
    with open(path) as f:
        return sum(float(row.get("epoch_seconds") or 0)
                   for row in csv.DictReader(f))
