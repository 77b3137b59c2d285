"""The paper's training recipe: SGD with momentum, learning rate annealed on
validation plateaus, dropout, FilterRMS, crops and flips; resumable, and
distributed with the strategy the machine and backend support
(tf.distribute, keras.distribution or one device)."""

from keras_zfnet.training.data import AugmentedImages
from keras_zfnet.training.data import default_validation_size
from keras_zfnet.training.data import small_image_pipelines
from keras_zfnet.training.strategy import SingleDevice
from keras_zfnet.training.strategy import num_replicas
from keras_zfnet.training.strategy import strategy_from_environment
from keras_zfnet.training.trainer import ResumableReduceLROnPlateau
from keras_zfnet.training.trainer import compile_for_paper
from keras_zfnet.training.trainer import export_weights
from keras_zfnet.training.trainer import step_schedule
from keras_zfnet.training.trainer import train
from keras_zfnet.training.trainer import training_seconds

__all__ = [
    "AugmentedImages",
    "ResumableReduceLROnPlateau",
    "SingleDevice",
    "compile_for_paper",
    "default_validation_size",
    "export_weights",
    "num_replicas",
    "small_image_pipelines",
    "step_schedule",
    "strategy_from_environment",
    "train",
    "training_seconds",
]
