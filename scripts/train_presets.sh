#!/usr/bin/env bash
# Trains the shipped MiniZFNet presets with the package's own recipe.
# Each run is resumable: rerun the script after an interruption.
set -euo pipefail
OUT=${1:-runs}
keras-zfnet train --model mini_zfnet --first-layer zfnet \
  --dataset fashion_mnist --epochs 16 --learning-rate 0.03 --seed 0 \
  --output "$OUT/fashion_mnist" --verbose 2
python scripts/export_preset.py "$OUT/fashion_mnist" zfnet \
  keras_zfnet/applications/weights/mini_zfnet_fashion_mnist.weights.h5
keras-zfnet train --model mini_zfnet --first-layer alexnet \
  --dataset fashion_mnist --epochs 16 --learning-rate 0.03 --seed 0 \
  --output "$OUT/fashion_mnist_alexnet" --verbose 2
python scripts/export_preset.py "$OUT/fashion_mnist_alexnet" alexnet \
  keras_zfnet/applications/weights/mini_zfnet_fashion_mnist_alexnet.weights.h5
