"""Receptive-field arithmetic: which input box a layer position sees."""

import collections

from keras_zfnet.deconv import graph as graph_lib
from keras_zfnet.deconv import windows
from keras_zfnet.deconv.model_graph import model_graph


class ReceptiveField(
    collections.namedtuple("ReceptiveField", ["size", "jump", "start"])
):
    """Receptive field of a layer, per axis `(rows, cols)`.

    Position `(i, j)` of the layer's map sees the input box with rows
    `[start[0] + i * jump[0], start[0] + i * jump[0] + size[0])` and columns
    likewise. `start` can be negative and the box can pass the far border:
    those parts lie in the forward pass's zero padding.

    Attributes:
        size: `(rows, cols)` side of the box in input pixels.
        jump: `(rows, cols)` input pixels between neighbouring positions.
        start: `(rows, cols)` input coordinate of position 0's box.
    """

    def box(self, i, j):
        """`((row_start, row_stop), (col_start, col_stop))` of position
        `(i, j)`, unclipped."""
        r0 = self.start[0] + i * self.jump[0]
        c0 = self.start[1] + j * self.jump[1]
        return (r0, r0 + self.size[0]), (c0, c0 + self.size[1])


def receptive_field(model, layer, input_shape=None):
    """Receptive field of a layer of a CNN: size, jump and start.

    For models with branches (ResNet, DenseNet, ...) the box is the union
    over every path from the input: it contains every input pixel the
    position depends on. A layer that depends on a whole map (through
    global pooling, e.g. a squeeze-and-excitation gate) sees the whole
    image: its boxes cover it from every position.

    Args:
        model: a Sequential or functional Keras model (see `Deconvnet`
            for supported layers).
        layer: a layer name or layer object with spatial maps.
        input_shape: per-image input shape, needed only when the model's
            input has no fixed size (`"same"` padding depends on it).

    Returns:
        A `ReceptiveField` `(size, jump, start)`, each a `(rows, cols)`
        pair, with `.box(i, j)` giving the input box of position `(i, j)`.

    Example:

    >>> rf = receptive_field(ZFNet(), "conv1")
    >>> rf
    ReceptiveField(size=(7, 7), jump=(2, 2), start=(-1, -1))
    >>> rf.box(0, 0)
    ((-1, 6), (-1, 6))
    """
    model_view = model_graph(model)
    shape = model_view.concrete_input_shape(input_shape, what="input_shape")
    target = model_view.get_layer(layer)
    graph = model_view.cached(("deconv_graph", shape),
                              lambda: graph_lib.parse(model_view, shape))
    spatial = []
    for node in graph.nodes[1:]:
        if len(node.output_shape) != 3 or node.name not in graph.by_name:
            continue
        try:
            windows.receptive_box(graph, node.id)
        except ValueError:
            continue
        spatial.append(node)
    nodes = [n for n in spatial if n.layer is target]
    if not nodes:
        raise ValueError(
            f"Layer '{target.name}' has no receptive-field box (it has no "
            "spatial map: it is at or after a Flatten / Dense / global "
            "pooling layer, or it cannot be projected). Layers "
            f"with receptive fields: {[n.name for n in spatial]}. "
            f"Received: layer={layer!r}")
    return ReceptiveField(*windows.receptive_box(graph, nodes[0].id))
