"""Weight constraints."""

from keras_zfnet.constraints.filter_rms import FilterRMS

__all__ = ["FilterRMS"]
