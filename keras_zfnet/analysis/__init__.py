"""The paper's analyses: top-k activations, occlusion, and more."""

from keras_zfnet.analysis.correspondence import CorrespondenceResult
from keras_zfnet.analysis.correspondence import correspondence
from keras_zfnet.analysis.diagnosis import diagnose
from keras_zfnet.analysis.diagnosis_result import Diagnosis
from keras_zfnet.analysis.diagnosis_result import Finding
from keras_zfnet.analysis.features import extract_features
from keras_zfnet.analysis.layer_analysis import layer_analysis
from keras_zfnet.analysis.layer_result import LayerAnalysis
from keras_zfnet.analysis._utils.metrics import mean_average_precision
from keras_zfnet.analysis.transfer import FrozenFeatures
from keras_zfnet.analysis.transfer import transfer_model
from keras_zfnet.analysis.invariance import InvarianceResult
from keras_zfnet.analysis.invariance import invariance
from keras_zfnet.analysis.occlusion_result import OcclusionResult
from keras_zfnet.analysis.occlusion import occlusion_sensitivity
from keras_zfnet.analysis.top_activations import top_activations
from keras_zfnet.analysis.top_result import TopActivations

__all__ = [
    "Diagnosis",
    "Finding",
    "CorrespondenceResult",
    "correspondence",
    "diagnose",
    "extract_features",
    "FrozenFeatures",
    "layer_analysis",
    "LayerAnalysis",
    "mean_average_precision",
    "transfer_model",
    "InvarianceResult",
    "invariance",
    "OcclusionResult",
    "TopActivations",
    "occlusion_sensitivity",
    "top_activations",
]
