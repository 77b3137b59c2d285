"""Copies a trained run's weights into the package without optimizer state.

Usage: python scripts/export_preset.py RUN_DIR FIRST_LAYER DEST
(used for the fashion_mnist preset, trained before the trainer exported
clean weights itself; prints the new file's SHA-256).
"""

import sys

import keras_zfnet as kz
from keras_zfnet.applications import presets
from keras_zfnet.training import export_weights

run_dir, first_layer, dest = sys.argv[1:4]
trained = kz.MiniZFNet(first_layer=first_layer)
trained.load_weights(f"{run_dir}/model.weights.h5")
export_weights(lambda: kz.MiniZFNet(first_layer=first_layer), trained, dest)
print(presets.file_sha256(dest))
