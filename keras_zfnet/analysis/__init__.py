"""The paper's analyses: top-k activations, occlusion, and more."""

from keras_zfnet.analysis.top_activations import top_activations
from keras_zfnet.analysis.top_result import TopActivations

__all__ = ["TopActivations", "top_activations"]
