"""`LocalResponseNormalization`: contrast normalization across feature maps."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_zfnet")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response (contrast) normalization across feature maps.

    Each activation is divided by a power of the summed squares of its
    neighbours along the channel axis (Krizhevsky et al. 2012, Sec. 3.3; the
    "contrast normalization across feature maps" of Zeiler & Fergus 2014):

        sqr_sum[..., c] = sum(x[..., c - r : c + r + 1] ** 2)
        y[..., c] = x[..., c] / (bias + alpha * sqr_sum[..., c]) ** beta

    This is the formula of `tf.nn.local_response_normalization` (note that
    `alpha` is *not* divided by the window size, unlike Caffe's LRN). The
    defaults are Krizhevsky's constants: n = 5 (`depth_radius=2`), k = 2,
    alpha = 1e-4, beta = 0.75. Written with `keras.ops`.

    Args:
        depth_radius: int >= 0, half-width of the channel window.
        bias: float > 0, the additive constant k.
        alpha: float >= 0, the scale of the summed squares.
        beta: float >= 0, the exponent.
        **kwargs: base layer keyword arguments.

    Input shape:
        Any tensor with channels last, e.g. `(batch, H, W, C)`.

    Output shape:
        Same as the input.

    Example:

    >>> x = np.random.rand(2, 5, 5, 8).astype("float32")
    >>> LocalResponseNormalization()(x).shape
    TensorShape([2, 5, 5, 8])
    """

    def __init__(
        self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs
    ):
        super().__init__(**kwargs)
        if int(depth_radius) != depth_radius or depth_radius < 0:
            raise ValueError(
                "`depth_radius` must be an integer >= 0. "
                f"Received: depth_radius={depth_radius}"
            )
        if bias <= 0 or alpha < 0 or beta < 0:
            raise ValueError(
                "Expected bias > 0, alpha >= 0 and beta >= 0. "
                f"Received: bias={bias}, alpha={alpha}, beta={beta}"
            )
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.supports_masking = True

    def call(self, inputs):
        radius = self.depth_radius
        squares = ops.square(inputs)
        channels = inputs.shape[-1]
        if radius:
            rank = len(inputs.shape)
            padded = ops.pad(squares, [[0, 0]] * (rank - 1) + [[radius, radius]])
            sqr_sum = padded[..., 0:channels]
            for shift in range(1, 2 * radius + 1):
                sqr_sum = sqr_sum + padded[..., shift : shift + channels]
        else:
            sqr_sum = squares
        scale = ops.power(self.bias + self.alpha * sqr_sum, -self.beta)
        return inputs * scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "depth_radius": self.depth_radius,
                "bias": self.bias,
                "alpha": self.alpha,
                "beta": self.beta,
            }
        )
        return config
