"""Trains the `fashion_mnist` preset recipe and records its feature evolution.

Usage:

    python scripts/train_evolution_record.py train RUN_DIR
    python scripts/train_evolution_record.py record RUN_DIR DEST.npz

`train` runs exactly the preset's recipe (`scripts/train_presets.sh`:
`keras-zfnet train --model mini_zfnet --first-layer zfnet --dataset
fashion_mnist --epochs 16 --learning-rate 0.03 --seed 0`), resumable, with
one extra callback that keeps the weights at the end of every epoch
(`RUN_DIR/epochs/epoch_NN.weights.h5`); it reads no random numbers, so the
run is the preset's recipe. `record` then drives
`keras_zfnet.callbacks.FeatureEvolution` through those epochs, exactly as
if it had been attached to `fit` (its result depends only on the weights at
the end of each listed epoch), and writes the record shipped with the
package. The preset's own weights are not replaced.
"""

import json
import os
import sys

import keras

EPOCHS = (1, 2, 3, 5, 8, 10, 13, 16)
PROBE_IMAGES = 2000
FEATURES = 9
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
RECIPE = [
    "train", "--model", "mini_zfnet", "--first-layer", "zfnet",
    "--dataset", "fashion_mnist", "--epochs", "16",
    "--learning-rate", "0.03", "--seed", "0", "--verbose", "2",
]


class EpochWeights(keras.callbacks.Callback):
    """Saves the model's weights at the end of every epoch (1-based)."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"epoch_{epoch + 1:02d}.weights.h5")
        self.model.save_weights(path)


def train(run_dir):
    from keras_zfnet import training
    from keras_zfnet.cli import build_parser
    from keras_zfnet.cli import train as cli_train

    args = build_parser().parse_args(RECIPE + ["--output", run_dir])
    keras.utils.set_random_seed(args.seed)
    train_ds, val_ds, test, input_shape, classes = cli_train._data(args)
    model = training.train(
        cli_train._build(args, input_shape, classes), train_ds, val_ds,
        run_dir, args.epochs, learning_rate=args.learning_rate,
        lr_patience=args.lr_patience, backup_every=args.backup_every,
        callbacks=[EpochWeights(os.path.join(run_dir, "epochs"))],
        verbose=2,
    )
    _, accuracy = model.evaluate(*test, batch_size=256, verbose=0)
    summary = dict(command="keras-zfnet " + " ".join(RECIPE),
                   test_accuracy=round(float(accuracy), 4),
                   train_seconds=round(training.training_seconds(run_dir), 1))
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


def record(run_dir, dest):
    import keras_zfnet as kz
    from keras_zfnet.applications.presets import file_sha256
    from keras_zfnet.callbacks import FeatureEvolution
    from keras_zfnet.callbacks import save_history

    _, (x_test, _) = kz.datasets.fashion_mnist.load_data()
    probe = x_test[:PROBE_IMAGES, ..., None].astype("float32")
    model = kz.MiniZFNet(first_layer="zfnet")
    callback = FeatureEvolution(probe, list(LAYERS), features=FEATURES,
                                epochs=EPOCHS, seed=0)
    callback.set_model(model)
    callback.set_params({"epochs": 16})
    callback.on_train_begin()
    for epoch in EPOCHS:
        model.load_weights(
            os.path.join(run_dir, "epochs", f"epoch_{epoch:02d}.weights.h5"))
        callback.on_epoch_end(epoch - 1)
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    settled = callback.summary()
    save_history(dest, callback.history, images=callback.images(),
                 metadata=dict(summary, probe="fashion_mnist test[:2000]",
                               features=FEATURES, seed=0,
                               settle_epochs=settled))
    print(dest, os.path.getsize(dest), "bytes, sha256",
          file_sha256(dest))
    print("settle epochs:", settled)


if __name__ == "__main__":
    if sys.argv[1:2] == ["train"] and len(sys.argv) == 3:
        train(sys.argv[2])
    elif sys.argv[1:2] == ["record"] and len(sys.argv) == 4:
        record(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
