"""Argument types and checks shared by the subcommands.

Every check runs before any work (no model is built, no data is loaded) and
fails with a message naming the option and the value received.
"""

import argparse
import math


def _number(kind, minimum, inclusive=True):
    """An argparse `type` accepting `kind` values above `minimum`."""
    bound = f">= {minimum}" if inclusive else f"> {minimum}"
    noun = "an integer" if kind is int else "a number"

    def parse(text):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"must be {noun} {bound}. Received: {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"must be a finite number {bound}. Received: {text!r}")
        if value < minimum or (not inclusive and value == minimum):
            raise argparse.ArgumentTypeError(
                f"must be {noun} {bound}. Received: {text!r}")
        return value

    parse.__name__ = f"{kind.__name__} {bound}"
    return parse


positive_int = _number(int, 1)
non_negative_int = _number(int, 0)
positive_float = _number(float, 0.0, inclusive=False)
non_negative_float = _number(float, 0.0)


def verbose_level(text):
    """`auto`, 0, 1 or 2 (Keras' `verbose` values)."""
    if text == "auto":
        return text
    if text in ("0", "1", "2"):
        return int(text)
    raise argparse.ArgumentTypeError(
        f"must be auto, 0, 1 or 2. Received: {text!r}")
