"""Private helpers shared across keras_zfnet modules (not public API)."""
