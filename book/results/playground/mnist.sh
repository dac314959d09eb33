#!/usr/bin/env bash
# The playground's MNIST grid (book chapter "Playground"): seed 0, beta in {0, 0.1, 1} for the MLP and CNN
# decoders with time and rate decoding, each at the learning rates and window it chose on validation in
# chapter "Naturalizing MNIST" (book/results/mnist/tuning, read with `vdib best`) and with that chapter's
# main-grid budget; beta = 0.001 is that chapter's own main-grid trial of seed 0.
# Usage: bash book/results/playground/mnist.sh time|rate   (the two side by side, one core each)
set -euo pipefail
cd "$(dirname "$0")/../../.."
V=${VDIB:-.venv/bin/vdib}
TUNING=book/results/mnist/tuning
decoding=${1:?usage: $0 time|rate}
for decoder in mlp cnn; do
  variant=(--estimator pathwise --encoder trained --decoder $decoder --decoding "$decoding")
  choice=$($V best mnist $TUNING --seed 100 --n-train 2000 --n-val 500 --n-test 500 --epochs 6 --patience 2 \
           "${variant[@]}" --metric val_bce --mode min --keys lr-encoder,lr-decoder,tau-d)
  $V sweep mnist --out book/results/playground/mnist --seed 0 --n-train 4000 --n-val 500 --epochs 12 --patience 3 \
    "${variant[@]}" $choice --beta 0,0.1,1
done
