"""One parsed view of a user's Keras model, shared by every analysis.

`model_graph(model)` returns the `ModelGraph` of a model, parsed once and
kept (weakly) for as long as the model lives. Everything in the package that
takes a layer argument (`Deconvnet`, `receptive_field`, `top_activations`,
`occlusion_sensitivity`, feature extraction, callbacks...) resolves it here,
so the same name means the same layer everywhere:

- a layer's own name, when it is unique in the model with nested models
  expanded (`"block5_conv3"` inside a `Sequential([VGG16(...), ...])`);
- a nested path `"outer/inner"` (always accepted, and the only way to name
  a layer whose name occurs in two nested models);
- the layer object itself.

The user's model is never modified: feature models are built from the
model's own symbolic tensors and from new sub-models, never by calling the
user's layers on new inputs.
"""

import weakref

import keras

from keras_zfnet.utils import keras_internals

_GRAPHS = weakref.WeakKeyDictionary()


def model_graph(model):
    """The (cached) `ModelGraph` of a Sequential or functional Keras model.

    Args:
        model: a built `keras.Sequential` or functional `keras.Model`.

    Returns:
        The model's `ModelGraph`, parsed once per model object.

    Raises:
        ValueError: for a subclassed or unbuilt model, or not a model.

    Example:

    >>> g = model_graph(keras.applications.VGG16(weights=None))
    >>> g.resolve("block5_conv3")
    'block5_conv3'
    """
    try:
        graph = _GRAPHS.get(model)
    except TypeError:
        graph = None
    if graph is None:
        graph = ModelGraph(model)
        _GRAPHS[model] = graph
    return graph


def _functional(model):
    """The functional graph of a model (Sequential's inner one), or None."""
    return keras_internals.functional(model)


def require_graph_model(model, what="model"):
    """Raises a clear `ValueError` unless `model` is a built Sequential or
    functional Keras model; returns its functional graph."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`{what}` must be a Keras model (Sequential or functional). "
            f"Received: {what}={model!r}"
        )
    functional = _functional(model)
    if functional is None:
        raise ValueError(
            f"keras_zfnet needs a functional or Sequential Keras model built "
            f"on an input shape: a subclassed model has no layer graph to "
            f"read, and an unbuilt Sequential has no shapes (give it an "
            f"`keras.Input`). Received: {what}='{model.name}' "
            f"({type(model).__name__})"
        )
    return functional


def _node_of(layer, functional):
    """The node of `layer` that belongs to `functional`'s graph."""
    node = keras_internals.node_in(layer, functional)
    if node is not None:
        return node
    raise ValueError(
        f"Layer '{layer.name}' is not called in model '{functional.name}'."
    )


class _Entry:
    __slots__ = ("path", "layer", "parents")

    def __init__(self, path, layer, parents):
        self.path = path          # tuple of names, outermost first
        self.layer = layer
        self.parents = parents    # tuple of enclosing models, outermost first


class ModelGraph:
    """The parsed view of one model: its layers (nested models expanded),
    layer resolution, shapes and multi-output feature models.

    Use `model_graph(model)` rather than this constructor: it caches one view
    per model.

    Args:
        model: a built Sequential or functional Keras model.
    """

    def __init__(self, model):
        self.model = model
        self._functional = require_graph_model(model)
        inputs = self._functional.inputs
        if len(inputs) != 1:
            raise ValueError(
                "keras_zfnet needs a model with a single image input. "
                f"Received: model '{model.name}' with {len(inputs)} inputs"
            )
        self.input_shape = tuple(inputs[0].shape[1:])
        self._entries = []
        self._collect(model, (), ())
        counts = {}
        for entry in self._entries:
            counts[entry.path[-1]] = counts.get(entry.path[-1], 0) + 1
        self._by_name = {}
        self._by_path = {}
        self._by_id = {}
        for entry in self._entries:
            full = "/".join(entry.path)
            self._by_path[full] = entry
            self._by_id.setdefault(id(entry.layer), entry)
            if counts[entry.path[-1]] == 1:
                self._by_name[entry.path[-1]] = entry
        self._feature_models = {}
        self._cache = {}

    # Shared per-model state ------------------------------------------------

    @property
    def functional(self):
        """The model's functional graph (a Sequential's inner one)."""
        return self._functional

    def cached(self, key, factory):
        """A per-model object (compiled functions, parsed graphs...), built
        once by `factory()` and kept as long as the model lives."""
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]

    def concrete_input_shape(self, images_shape=None, what="images"):
        """The per-image input shape, free sizes taken from `images_shape`
        (the shape of the images given, with or without the batch axis)."""
        shape = self.input_shape
        if images_shape is not None:
            given = tuple(images_shape)[-len(shape):]
            if len(tuple(images_shape)) >= len(shape):
                shape = tuple(g if d is None else d
                              for d, g in zip(shape, given))
        if any(d is None for d in shape):
            raise ValueError(
                f"Model '{self.model.name}' has no fixed input size "
                f"{self.input_shape}; the images give it. Pass images or "
                f"input_shape=(H, W, C). Received: {what} shape "
                f"{images_shape}"
            )
        return tuple(int(d) for d in shape)

    # Layers --------------------------------------------------------------

    def _collect(self, model, path, parents):
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            entry_path = path + (layer.name,)
            self._entries.append(_Entry(entry_path, layer, parents))
            if isinstance(layer, keras.Model):
                require_graph_model(layer, what="nested model")
                self._collect(layer, entry_path, parents + (layer,))

    def _canonical(self, entry):
        name = entry.path[-1]
        if self._by_name.get(name) is entry:
            return name
        return "/".join(entry.path)

    @property
    def layer_names(self):
        """Every addressable layer, in model order: its own name when unique
        in the expanded model, else its nested path `"outer/inner"`."""
        return [self._canonical(entry) for entry in self._entries]

    def _entry(self, layer, what="layer"):
        if isinstance(layer, str):
            entry = self._by_path.get(layer) or self._by_name.get(layer)
            if entry is not None:
                return entry
            ambiguous = [p for p, e in self._by_path.items()
                         if e.path[-1] == layer]
            if len(ambiguous) > 1:
                raise ValueError(
                    f"Layer name '{layer}' occurs in several nested models of "
                    f"'{self.model.name}'; name it by its full path, one of "
                    f"{ambiguous}. Received: {what}={layer!r}"
                )
            raise ValueError(
                f"Unknown {what} '{layer}' in model '{self.model.name}'. "
                f"Valid names: {self.layer_names}. Received: {what}={layer!r}"
            )
        if isinstance(layer, keras.layers.Layer):
            entry = self._by_id.get(id(layer))
            if entry is not None:
                return entry
            raise ValueError(
                f"Layer '{layer.name}' is not part of model "
                f"'{self.model.name}'. Valid names: {self.layer_names}. "
                f"Received: {what}={layer.name!r}"
            )
        raise ValueError(
            f"`{what}` must be a layer name, a nested path 'outer/inner' or "
            f"a Keras layer. Received: {what}={layer!r}"
        )

    def resolve(self, layer, what="layer"):
        """The canonical name of `layer` (a name, a nested path or a layer).

        Raises:
            ValueError: for an unknown layer (listing the valid names) or an
                ambiguous inner name (listing the full paths).
        """
        return self._canonical(self._entry(layer, what))

    def resolve_many(self, layers, what="layer"):
        """Resolves one layer or a list of layers.

        Returns:
            `(names, several)`: the canonical names and whether a list was
            given.

        Raises:
            ValueError: for an empty list, an unknown layer or a duplicate.
        """
        several = isinstance(layers, (list, tuple))
        requested = list(layers) if several else [layers]
        if not requested:
            raise ValueError(
                f"`{what}` is an empty list; name at least one layer. "
                f"Received: {what}={layers!r}"
            )
        names = [self.resolve(layer, what) for layer in requested]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"`{what}` names the same layer more than once: {duplicates}. "
                f"Received: {what}={layers!r}"
            )
        return names, several

    def get_layer(self, layer, what="layer"):
        """The Keras layer for a name, a nested path or a layer object."""
        return self._entry(layer, what).layer

    def path(self, layer):
        """The full nested path of a layer, e.g. `("vgg16", "block5_conv3")`."""
        return self._entry(layer).path

    def output_shape(self, layer):
        """The per-image output shape of a layer (`None` for free sizes)."""
        tensor = self._output_tensor(self._entry(layer))
        return tuple(tensor.shape[1:])

    @property
    def output_is_probability(self):
        """Whether the model's output is a softmax / sigmoid probability,
        looking through nested models and `Activation` / `Softmax` layers."""
        layer = self._last_layer(self.model)
        if isinstance(layer, keras.layers.Softmax):
            return True
        name = getattr(getattr(layer, "activation", None), "__name__", "")
        return name in ("softmax", "sigmoid")

    def _last_layer(self, model):
        functional = _functional(model)
        layer = keras_internals.output_layer(functional)
        if isinstance(layer, keras.Model):
            return self._last_layer(layer)
        return layer

    # Symbolic tensors ----------------------------------------------------

    def _output_tensor(self, entry):
        """A symbolic tensor of `entry`'s output on the outer model's input
        (the model's own tensor when the layer is not nested)."""
        return self._tensors([entry])[0]

    def _tensors(self, entries):
        """Symbolic outputs of `entries`, all computed from the model's own
        input tensor (nested models are entered through new sub-models)."""
        return _tensors_in(self.model, [e.path for e in entries])

    def feature_model(self, layers, include_output=False):
        """A `keras.Model` from the model's input to the outputs of `layers`.

        The layers' weights are shared (not copied) and the user's model is
        not modified. Cached per list of layers.

        Args:
            layers: a list of layer names, nested paths or layer objects.
            include_output: put the model's own output first.

        Returns:
            A functional `keras.Model` with one output per layer (a list,
            even for one layer).
        """
        names, _ = self.resolve_many(list(layers))
        key = (tuple(names), include_output)
        if key not in self._feature_models:
            entries = [self._entry(name) for name in names]
            outputs = self._tensors(entries)
            if include_output:
                outputs = [self._functional.outputs[0], *outputs]
            self._feature_models[key] = keras.Model(
                self._functional.inputs[0], outputs,
                name=f"{self.model.name}_features")
        return self._feature_models[key]

    def __repr__(self):
        return (f"<ModelGraph of '{self.model.name}': "
                f"{len(self._entries)} layers, input {self.input_shape}>")


def _tensors_in(model, paths):
    """Output tensors of the layers at `paths` (relative to `model`), in the
    symbolic graph of `model`'s own input."""
    functional = _functional(model)
    results = [None] * len(paths)
    nested = {}
    for i, path in enumerate(paths):
        layer = _child(model, path[0])
        node = _node_of(layer, functional)
        if len(path) == 1:
            outputs = node.outputs
            if len(outputs) != 1:
                raise ValueError(
                    f"Layer '{layer.name}' has {len(outputs)} outputs; "
                    "keras_zfnet reads single-output layers."
                )
            results[i] = outputs[0]
        else:
            nested.setdefault(path[0], []).append((i, path[1:]))
    for name, items in nested.items():
        inner = _child(model, name)
        node = _node_of(inner, functional)
        inner_outputs = _tensors_in(inner, [p for _, p in items])
        inner_inputs = _functional(inner).inputs
        sub = keras.Model(inner_inputs[0] if len(inner_inputs) == 1
                          else inner_inputs, inner_outputs,
                          name=f"{inner.name}_taps")
        values = sub(*node.input_tensors) if len(node.input_tensors) > 1 \
            else sub(node.input_tensors[0])
        if not isinstance(values, (list, tuple)):
            values = [values]
        for (i, _), value in zip(items, values):
            results[i] = value
    return results


def _child(model, name):
    for layer in model.layers:
        if layer.name == name:
            return layer
    raise ValueError(f"No layer '{name}' in model '{model.name}'.")
