"""`keras-zfnet demo --train`: a short training run with the callbacks, for
Fig. 4 from this machine instead of the shipped record."""

import os


def train_with_callbacks(ctx):
    """Trains a fresh MiniZFNet for a few epochs with `FeatureEvolution` and
    `FilterMonitor` (records in `OUTPUT/training/`).

    Returns:
        `(history, images, origin)` for the Fig. 4 section.
    """
    import keras

    import keras_zfnet as kz
    from keras_zfnet.datasets import fashion_mnist

    s = ctx.settings
    if ctx.source == "full":
        (x, y), _ = fashion_mnist.load_data(download=False, verbose=0)
        origin = f"{s['train_images']} Fashion-MNIST training images"
    else:  # only the shipped test sample: train on its second half
        x, y = fashion_mnist.load_sample(verbose=0)
        x, y = x[len(x) // 2:], y[len(y) // 2:]
        origin = f"{len(x)} images of the shipped sample"
    x = x[:s["train_images"], ..., None].astype("float32")
    y = y[:s["train_images"]]
    keras.utils.set_random_seed(ctx.seed)
    model = kz.MiniZFNet(weights=None)
    model.compile(optimizer=keras.optimizers.SGD(0.03, momentum=0.9),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    folder = os.path.join(ctx.args.output, "training")
    epochs = s["train_epochs"]
    evolution = kz.callbacks.FeatureEvolution(
        ctx.x[:1000], ["conv1", "conv3", "conv5"], features=4,
        epochs=tuple(range(1, epochs + 1)),
        output_dir=os.path.join(folder, "evolution"), seed=ctx.seed,
        verbose=0)
    monitor = kz.callbacks.FilterMonitor(
        output_dir=os.path.join(folder, "filters"))
    log = keras.callbacks.CSVLogger(os.path.join(folder, "log.csv"))
    model.fit(x, y, batch_size=128, epochs=epochs, shuffle=True,
              callbacks=[evolution, monitor, log], verbose=ctx.verbose)
    return (evolution.history, evolution.images(),
            f"a {epochs}-epoch training run on {origin}, written to "
            "training/")
