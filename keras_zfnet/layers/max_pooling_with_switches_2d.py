"""`MaxPoolingWithSwitches2D`: max pooling that can also return its switches."""

import keras

from keras_zfnet import ops as zf_ops


@keras.saving.register_keras_serializable(package="keras_zfnet")
class MaxPoolingWithSwitches2D(keras.layers.MaxPooling2D):
    """Max pooling for 2D spatial data that can also return its switches.

    The forward output is exactly that of `keras.layers.MaxPooling2D` with the
    same arguments (it is a subclass). With `return_switches=True` the layer
    also returns the *switches* of the deconvnet (Zeiler & Fergus 2014,
    Sec. 2.1): for every pooled value, the location in the layer's input of
    the maximum that produced it.

    Switch format: an `int64` tensor with the shape of the pooled output.
    Each entry is the flat index `(y * W + x) * C + c` into *one image* of the
    layer's (unpadded) input of shape `(H, W, C)`, i.e. the batch index is not
    included. This is the format of `tf.nn.max_pool_with_argmax(...,
    include_batch_in_index=False)`. With `padding="same"` a switch never
    points into the padding.

    Ties: when a window has several equal maxima, the switch is the first of
    them in row-major window order (the choice TensorFlow's max-pool gradient
    makes too), so unpooling with these switches equals the gradient of max
    pooling.

    Switches are computed with `tf.nn.max_pool_with_argmax` (there is no
    `keras.ops` equivalent), so `return_switches=True` needs the TensorFlow
    backend and `data_format="channels_last"`.

    Args:
        pool_size: int or tuple of 2 ints, the pooling window.
        strides: int, tuple of 2 ints, or `None` (defaults to `pool_size`).
        padding: `"valid"` or `"same"`, as in `keras.layers.MaxPooling2D`.
        data_format: `"channels_last"` or `"channels_first"`.
        return_switches: bool. If `True`, `call` returns
            `(pooled, switches)`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a 4D tensor.

    Input shape:
        `(batch, H, W, C)` (channels last).

    Output shape:
        `(batch, H', W', C)`, the shape `MaxPooling2D` gives; with
        `return_switches=True`, a tuple of two tensors of that shape (the
        second of dtype `int64`).

    Example:

    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> pooled, switches = MaxPoolingWithSwitches2D(2, return_switches=True)(x)
    >>> switches[0, :, :, 0]  # flat indices of 5, 7, 13, 15
    """

    def __init__(
        self,
        pool_size=(2, 2),
        strides=None,
        padding="valid",
        data_format=None,
        return_switches=False,
        **kwargs,
    ):
        super().__init__(
            pool_size=pool_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            **kwargs,
        )
        if self.padding.lower() not in ("valid", "same"):
            raise ValueError(
                "`padding` must be 'valid' or 'same'. "
                f"Received: padding={padding}"
            )
        self.return_switches = bool(return_switches)
        if self.return_switches and self.data_format != "channels_last":
            raise ValueError(
                "Switches are only available with "
                "data_format='channels_last'. "
                f"Received: data_format={self.data_format}"
            )

    def call(self, inputs):
        if not self.return_switches:
            return super().call(inputs)
        pooled, switches = zf_ops.max_pool_with_switches(
            inputs, self.pool_size, self.strides, self.padding)
        return pooled, keras.ops.cast(switches, "int64")

    def compute_output_shape(self, input_shape):
        shape = super().compute_output_shape(input_shape)
        if self.return_switches:
            return shape, shape
        return shape

    def compute_output_spec(self, inputs):
        shape = self.compute_output_shape(inputs.shape)
        if self.return_switches:
            return (
                keras.KerasTensor(shape[0], dtype=inputs.dtype),
                keras.KerasTensor(shape[1], dtype="int64"),
            )
        return keras.KerasTensor(shape, dtype=inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config["return_switches"] = self.return_switches
        return config
