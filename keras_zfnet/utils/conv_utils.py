"""Argument normalisation and convolution arithmetic shared across modules."""

import math


def standardize_pair(value, name, minimum=1):
    """Returns `value` as a tuple of two ints, each >= `minimum`.

    Args:
        value: an int or a sequence of two ints.
        name: the argument's name, used in the error message.
        minimum: the smallest allowed value.

    Returns:
        A tuple `(a, b)` of Python ints.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    else:
        try:
            pair = tuple(int(v) for v in value)
        except TypeError:
            pair = ()
        if len(pair) != 2 or any(p != v for p, v in zip(pair, value)):
            raise ValueError(
                f"`{name}` must be an int or a tuple of 2 ints. "
                f"Received: {name}={value}"
            )
    if min(pair) < minimum:
        raise ValueError(
            f"`{name}` must be >= {minimum}. Received: {name}={value}"
        )
    return pair


def output_length(length, window, stride, padding, dilation=1):
    """Output length of a convolution / pooling along one axis (Keras rules)."""
    effective = (window - 1) * dilation + 1
    if padding == "same":
        return int(math.ceil(length / stride))
    if length < effective:
        return 0
    return (length - effective) // stride + 1


def leading_pad(length, window, stride, padding, dilation=1):
    """Zeros TensorFlow adds *before* the input along one axis.

    For `"valid"` this is 0; for `"same"` it is half of the total padding,
    rounded down (TensorFlow puts the extra zero at the end).
    """
    if padding != "same":
        return 0
    effective = (window - 1) * dilation + 1
    out = output_length(length, window, stride, padding, dilation)
    total = max((out - 1) * stride + effective - length, 0)
    return total // 2
