"""Training callbacks: feature evolution (paper Fig. 4) and first-layer
filter monitoring (Fig. 6), to files and TensorBoard."""

from keras_zfnet.callbacks.feature_evolution import FeatureEvolution
from keras_zfnet.callbacks.filter_monitor import FilterMonitor
from keras_zfnet.callbacks.filter_monitor import filter_statistics
from keras_zfnet.callbacks.history_io import load_history
from keras_zfnet.callbacks.history_io import save_history
from keras_zfnet.callbacks.history_io import settle_epochs
from keras_zfnet.callbacks.records import load_evolution_record

__all__ = [
    "FeatureEvolution",
    "FilterMonitor",
    "filter_statistics",
    "load_evolution_record",
    "load_history",
    "save_history",
    "settle_epochs",
]
