"""Frozen-feature transfer (paper Sec. 5.2): a copied trunk, pinned to
inference mode, under a new classifier; and the from-scratch twin."""

import keras

from keras_zfnet.analysis.features import check_pooling
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.deconv.model_graph import require_graph_model
from keras_zfnet.utils import keras_internals

HEADS = ("softmax", "sigmoid")


@keras.saving.register_keras_serializable(package="keras_zfnet")
class FrozenFeatures(keras.layers.Layer):
    """Runs a feature model always in inference mode.

    Whatever `training` value the enclosing model is called with (e.g. by
    `fit`), the wrapped model runs with `training=False`: dropout is off and
    batch normalization uses its stored statistics. Whether its weights
    change is `trainable`'s business (`transfer_model` sets it).

    Args:
        features: a built `keras.Model` (one input, one output).
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, features, **kwargs):
        super().__init__(**kwargs)
        if isinstance(features, dict):
            features = keras.saving.deserialize_keras_object(features)
        self.features = features
        self.built = True

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        return self.features(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.features.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["features"] = keras.saving.serialize_keras_object(
            self.features)
        return config


def output_layers(model):
    """The layers whose output is the model's output (nested models
    expanded: a nested model producing the output and its own output
    layer)."""
    found = []
    current = model
    while True:
        functional = require_graph_model(current)
        layer = keras_internals.output_layer(functional)
        found.append(layer)
        if not isinstance(layer, keras.Model):
            return found
        current = layer


def _copy_trunk(graph, name):
    """A copy (own weights) of the model from its input to layer `name`."""
    taps = graph.feature_model([name])
    trunk = keras.Model(taps.inputs[0], taps.outputs[0],
                        name=f"{graph.model.name}_to_{name}".replace("/", "_"))
    copy = keras.models.clone_model(trunk)
    copy.set_weights(trunk.get_weights())
    return copy


def _check_head(head, num_classes):
    if head not in HEADS:
        raise ValueError(
            f"`head` must be one of {list(HEADS)} ('softmax': one label per "
            "image; 'sigmoid': multi-label, PASCAL style). "
            f"Received: head={head!r}"
        )
    try:
        valid = (not isinstance(num_classes, bool)
                 and int(num_classes) == num_classes and num_classes >= 1)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "`num_classes` must be an integer >= 1. "
            f"Received: num_classes={num_classes!r}"
        )
    if head == "softmax" and int(num_classes) < 2:
        raise ValueError(
            "A softmax head needs `num_classes` >= 2 (over one class it is "
            "constantly 1); use head='sigmoid' for one binary label. "
            f"Received: num_classes={num_classes!r}"
        )


def transfer_model(model, up_to, num_classes, head="softmax",
                   fine_tune=False, pooling=None):
    """A new model: `model`'s layers up to `up_to`, frozen, and a new head.

    The paper's transfer protocol (Sec. 5.2): keep the pretrained layers
    fixed and train a new classifier on top of their features. The layers
    from the input up to and including `up_to` are *copied* (the user's
    model, its weights and its `trainable` flags are not touched), made
    non-trainable and always run in inference mode (dropout off, batch norm
    statistics fixed), even inside `fit`. A new trainable `Dense` layer
    (`"transfer_predictions"`) classifies their (flattened or pooled)
    output.

    With `fine_tune=True` the copied layers stay trainable (their weights
    are updated by `fit`), still in inference mode, as Keras recommends for
    fine-tuning.

    Args:
        model: a built Sequential or functional Keras model.
        up_to: the last layer to keep (name, nested path or layer object);
            not the model's output layer.
        num_classes: the new head's number of outputs.
        head: `"softmax"` (one label per image) or `"sigmoid"` (multi-label,
            PASCAL style: one independent probability per class).
        fine_tune: whether the copied layers stay trainable.
        pooling: for a spatial `up_to`, `None` (flatten), `"avg"` or `"max"`
            (pooled over space) before the head.

    Returns:
        An uncompiled `keras.Model` taking the same images as `model`.

    Raises:
        ValueError: for an unknown `up_to` (listing the valid names), the
            output layer, `num_classes` < 1, or an unknown `head`.

    Example:

    >>> base = kz.MiniZFNet(weights="fashion_mnist")
    >>> net = kz.transfer_model(base, "fc7", num_classes=10)
    >>> net.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    >>> net.fit(train_ds, epochs=20)
    """
    graph = model_graph(model)
    name = graph.resolve(up_to, what="up_to")
    _check_head(head, num_classes)
    if not isinstance(fine_tune, bool):
        raise ValueError(
            "`fine_tune` must be True or False. Received: "
            f"fine_tune={fine_tune!r}")
    check_pooling(pooling)
    layer = graph.get_layer(name)
    if any(layer is out for out in output_layers(model)):
        raise ValueError(
            f"`up_to` must be a layer below the model's output (the new "
            f"head replaces the output). Received: up_to={name!r}, the "
            f"output layer of '{model.name}'"
        )
    frozen = FrozenFeatures(_copy_trunk(graph, name), name="frozen_features")
    frozen.trainable = fine_tune
    inputs = keras.Input(graph.input_shape, name="images")
    x = frozen(inputs)
    if len(x.shape) > 2:
        if pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(name="transfer_pool")(x) \
                if len(x.shape) == 4 else keras.layers.GlobalAveragePooling1D(
                    name="transfer_pool")(x)
        elif pooling == "max":
            x = keras.layers.GlobalMaxPooling2D(name="transfer_pool")(x) \
                if len(x.shape) == 4 else keras.layers.GlobalMaxPooling1D(
                    name="transfer_pool")(x)
        else:
            x = keras.layers.Flatten(name="transfer_flatten")(x)
    outputs = keras.layers.Dense(int(num_classes), activation=head,
                                 name="transfer_predictions")(x)
    return keras.Model(inputs, outputs, name=f"{model.name}_transfer")


def scratch_model(model, num_classes, head="softmax"):
    """The same architecture, randomly initialized, with a new classifier.

    The paper's "non-pretrained convnet" row: every layer of `model` is
    re-created from its config (fresh initial weights; the user's model is
    not touched) and its final classifier (`Dense`, with any trailing
    activation layers) is replaced by a `Dense(num_classes, head)`.

    Args:
        model: a built Sequential or functional model ending in a `Dense`
            classifier (optionally followed by `Activation` / `Softmax`).
        num_classes: outputs of the new classifier.
        head: `"softmax"` or `"sigmoid"`.

    Returns:
        An uncompiled `keras.Model`, all trainable.

    Example:

    >>> net = scratch_model(kz.MiniZFNet(weights="fashion_mnist"), 5)
    """
    _check_head(head, num_classes)
    require_graph_model(model)
    clone = keras.models.clone_model(model)
    functional = require_graph_model(clone)
    layer = keras_internals.output_layer(functional)
    while isinstance(layer, (keras.layers.Activation, keras.layers.Softmax)):
        layer = keras_internals.producing_layer(layer.input)
    if not isinstance(layer, keras.layers.Dense):
        raise ValueError(
            "A from-scratch baseline needs a model whose output comes from "
            "a Dense classifier (optionally followed by an activation). "
            f"Received: model '{model.name}' whose output comes from "
            f"'{layer.name}' ({type(layer).__name__})"
        )
    outputs = keras.layers.Dense(int(num_classes), activation=head,
                                 name="scratch_predictions")(layer.input)
    return keras.Model(functional.inputs[0], outputs,
                       name=f"{model.name}_scratch")
