"""The compiled projection passes: recording forward, seeding, backward.

One `Projector` per (input shape, seed layer, mode, XLA choice), built by
`Deconvnet` and cached there. Written on `keras.ops`; compiled by
`keras_zfnet.backend.compile_function`.
"""

from keras import ops

from keras_zfnet import backend
from keras_zfnet.deconv import engine
from keras_zfnet.ops import first_argmax_positions
from keras_zfnet.utils.compiled import one_trace_per_function


class Projector:
    """Runs the recording forward, then the backward on the `windows` for
    a batch of seeded items.

    Args:
        graph: the model's `Graph`.
        seed_id: the seed node.
        windows: the `Windows` of the pass.
        variant: the ReLU rule.
        portable: `keras.ops` forms only (XLA).
        part_items: the mirror of a batch runs in parts of this many items
            (`keras_zfnet.backend.map_parts`), or `None` for one call.
    """

    def __init__(self, graph, seed_id, windows, variant, portable,
                 part_items=None):
        self.graph = graph
        self.seed_id = seed_id
        self.windows = windows
        self.variant = variant
        self.portable = portable
        self.part_items = part_items
        shape = graph.nodes[seed_id].output_shape
        self.channels = shape[-1]
        self.spatial = len(shape) == 3
        # A windowed input: the passes return each item's input window
        # (and the seed positions), pasted into whole images on the host
        # (`engine.paste_windows`): no zero-filled images on the device,
        # nor their copy to the host (ZFNet conv5, 64 channels in one
        # call: JAX 366-396 -> 352-357 ms, TensorFlow 516-545 -> 470-511).
        self.host_paste = windows.windowed_at(0)

    def forward(self, images, shared=False):
        return engine.forward(self.graph, images, self.seed_id, self.variant,
                              self.portable, shared)

    def mirror(self, activations, records, item_images, item_channels,
               positions=None, maps=None):
        """Projects items `(image, channel)` seeded at `positions` (their
        own activation) or with whole `maps`. Items are independent, so
        the mirror runs in parts of `part_items` items."""
        return backend.map_parts(
            lambda *items: self._mirror(activations, records, *items),
            [item_images, item_channels, positions, maps], self.part_items)

    def _mirror(self, activations, records, item_images, item_channels,
                positions, maps):
        if self.windows.windowed:
            values = values_at(activations, item_images, item_channels,
                               positions)
            signal = ops.one_hot(item_channels, self.channels) * values[
                :, None]
            signal = signal[:, None, None, :]
        else:
            if maps is None:
                maps = point_maps(activations, item_images, item_channels,
                                  positions)
            signal = seed(maps, item_channels, self.channels, self.spatial)
        record = engine.window_record(records, item_images, self.windows,
                                      positions)
        return engine.backward(self.graph, self.seed_id, signal,
                               self.windows, record, positions,
                               self.variant, self.portable,
                               paste_input_window=not self.host_paste)

    def entries_function(self, shape, jit_compile):
        """`f(images, item_images, channels, positions)`: one given
        activation per item, items reading shared images (one forward per
        distinct image; all of an image's items in one mirror pass).
        Returns whole projections, or input windows where `host_paste`."""
        def project_entries(images, item_images, channels, positions):
            activations, records = self.forward(images, shared=not _fewer(
                item_images, images))
            return self.mirror(activations, records, item_images, channels,
                               positions=positions)

        # Built once per (layer, shape, mode): a fixed signature, one trace.
        return one_trace_per_function(backend.compile_function(
            project_entries,
            [((None, *shape), "float32"), ((None,), "int32"),
             ((None,), "int32"), ((None, 2), "int32")], jit_compile,
            self.graph.variables))

    def channels_function(self, shape, mode, jit_compile):
        """`f(images, channels)`: every channel of every image, seeded by
        its first maximum (`"max"`) or its whole map (`"all"`). Returns
        `(n, k, *shape)` projections, or where `host_paste` the
        `(n * k, *window)` input windows and `(n * k, 2)` seed positions."""
        def project(images, channels):
            # One channel per image: records read once (a static size, JAX).
            activations, records = self.forward(
                images, shared=channels.shape[0] != 1)
            n = ops.shape(images)[0]
            k = ops.shape(channels)[0]
            item_images = ops.repeat(ops.arange(n, dtype="int32"), k)
            item_channels = ops.tile(channels, [n])
            maps = positions = None
            if not self.spatial:
                maps = ops.reshape(ops.take(activations, channels, axis=1),
                                   (-1,))
            elif mode == "all":
                maps = channel_maps(activations, channels)
            else:
                positions = first_argmax_positions(
                    channel_maps(activations, channels))
            projections = self.mirror(activations, records, item_images,
                                      item_channels, positions, maps)
            if self.host_paste:
                return projections, positions
            return ops.reshape(projections, (n, k, *shape))

        return one_trace_per_function(backend.compile_function(
            project, [((None, *shape), "float32"), ((None,), "int32")],
            jit_compile, self.graph.variables))


def _fewer(items, images):
    """Whether `items` has statically at most as many rows as `images`."""
    count, distinct = items.shape[0], images.shape[0]
    return count is not None and distinct is not None and count <= distinct


def channel_maps(activations, channels):
    """`(n * k, h, w)` maps of the selected channels, image-major."""
    maps = ops.take(activations, channels, axis=3)
    maps = ops.transpose(maps, (0, 3, 1, 2))
    return ops.reshape(maps, (-1, activations.shape[1], activations.shape[2]))


def values_at(activations, item_images, item_channels, positions):
    """Each item's activation at its position and channel."""
    height, width, channels = activations.shape[1:]
    flat = (((ops.cast(item_images, "int32") * height + positions[:, 0])
             * width + positions[:, 1]) * channels + item_channels)
    return ops.take(ops.reshape(activations, (-1,)), flat)


def point_maps(activations, item_images, item_channels, positions):
    """`(batch, h, w)` maps holding only each item's seed value."""
    values = values_at(activations, item_images, item_channels, positions)
    height, width = activations.shape[1], activations.shape[2]
    flat = positions[:, 0] * width + positions[:, 1]
    maps = ops.one_hot(flat, height * width) * values[:, None]
    return ops.reshape(maps, (-1, height, width))


def seed(maps, item_channels, num_channels, spatial):
    """Places each item's map in its channel, zeros in all others."""
    hot = ops.one_hot(item_channels, num_channels)
    if spatial:
        return maps[:, :, :, None] * hot[:, None, None, :]
    return maps[:, None] * hot
