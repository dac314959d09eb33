#!/usr/bin/env bash
# The playground's predictive-coding grid (book chapter "Playground"): delta 0, seed 0, beta x tau_d for each
# variant at the learning rates it chose on validation in chapter "Efficient predictive coding"
# (book/results/predictive_coding/tuning, read with `vdib best`); rate decoding is not run at tau_d = 1, where
# it is the same model as time decoding. Usage: bash book/results/playground/predictive_coding.sh linear|mlp
set -euo pipefail
cd "$(dirname "$0")/../../.."
V=${VDIB:-.venv/bin/vdib}
TUNING=book/results/predictive_coding/tuning
decoder=${1:?usage: $0 linear|mlp}
for decoding in time rate; do
  variant=(--estimator pathwise --encoder trained --decoder "$decoder" --decoding $decoding)
  lrs=$($V best predictive-coding $TUNING --seed 100 --delta 0 --n-train 1000 --epochs 30 --patience 3 \
        "${variant[@]}" --keys lr-encoder,lr-decoder)
  taus=$([ $decoding = time ] && echo 1,3,5,10 || echo 3,5,10)
  $V sweep predictive-coding --out book/results/playground/predictive_coding --delta 0 --seed 0 "${variant[@]}" \
    $lrs --beta 0,0.001,0.01,0.1,1 --tau-d $taus
done
