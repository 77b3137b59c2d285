"""The computations compared across backends (see `make_golden.py`)."""

import keras
import numpy as np

import keras_zfnet as kz
from keras_zfnet.datasets import fashion_mnist


def images():
    """40 shipped Fashion-MNIST test images with 8 repeated: positions
    32..39 hold images 0..7 again (exact ties between images)."""
    x, _ = fashion_mnist.load_sample(verbose=0)
    x = np.asarray(x[:32], "float32")[..., None]  # MiniZFNet reads 0..255
    return np.concatenate([x, x[:8]])


def residual_model():
    """A small graph model (a residual block with an average-pooled branch)
    with weights from a fixed generator: the same on every backend."""
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same",
                            activation="relu", name="stem")(inputs)
    y = keras.layers.Conv2D(6, 3, padding="same", activation="relu",
                            name="branch")(x)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="top")(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def compute():
    """Every compared result, as a dict of NumPy arrays."""
    x = images()
    model = kz.MiniZFNet(weights="fashion_mnist")
    dn = kz.Deconvnet(model)
    out = {}
    out["projection_conv5_max"] = keras.ops.convert_to_numpy(dn.project(
        x[:4], "conv5", channels=list(range(8)), mode="max", verbose=0))
    out["projection_conv2_all"] = keras.ops.convert_to_numpy(dn.project(
        x[:2], "conv2", channels=[0, 3], mode="all", verbose=0))
    tops = kz.top_activations(model, x, ["conv1", "conv5", "fc7"], k=9,
                              batch_size=16, verbose=0)
    for name, top in tops.items():
        out[f"top_{name}_values"] = top.values
        out[f"top_{name}_indices"] = top.indices
        out[f"top_{name}_positions"] = top.positions
    occlusion = kz.occlusion_sensitivity(model, x[:2], patch_size=7,
                                         stride=3, verbose=0)
    out["occlusion_probability"] = np.asarray(occlusion.probability)
    features = kz.extract_features(model, ["conv5", "fc7"], x[:16],
                                   pooling="avg", verbose=0)
    out["features_conv5"] = features["conv5"]
    out["features_fc7"] = features["fc7"]
    diagnosis = kz.diagnose(model, x[:16])
    numbers = sorted((k, float(v)) for k, v in diagnosis.measures.items()
                     if isinstance(v, (int, float, np.number))
                     and not isinstance(v, bool))
    out["diagnosis_measures"] = np.asarray([v for _, v in numbers],
                                           "float64")
    out["diagnosis_projections"] = np.asarray(diagnosis.projections)
    moved = kz.invariance(model, x[:6], "rotate", [0, 20],
                          ["conv1", "fc7"], verbose=0)
    out["invariance_conv1"] = np.asarray(moved.distance["conv1"])
    out["invariance_fc7"] = np.asarray(moved.distance["fc7"])
    out["invariance_probability"] = np.asarray(moved.probability)
    parts = {"top": [(2, 10, 8, 20)] * 6, "bottom": [(18, 26, 8, 20)] * 6}
    matched = kz.correspondence(model, x[:6], parts, ["conv5", "fc7"],
                                random_trials=3, verbose=0)
    out["correspondence_table"] = np.asarray(
        [[row[k] for k in sorted(row) if isinstance(row[k], (float, int))
          and not isinstance(row[k], bool)] for row in matched.table],
        "float64")
    graph = residual_model()
    out["graph_projection_top"] = keras.ops.convert_to_numpy(kz.Deconvnet(graph).project(
        x[:3], "top", channels=[0, 5], mode="max", verbose=0))
    top = kz.top_activations(graph, x, "add", k=4, verbose=0)
    out["graph_top_add_indices"] = top.indices
    out["graph_top_add_values"] = top.values
    return out
