#!/usr/bin/env bash
# The MNIST results of book chapter "Naturalizing MNIST" on the equal-footing protocol of chapter "Efficient
# predictive coding", made with the `vdib` command line. Tuning: each variant on validation (the last 500 of
# 2,000 training digits; tuning seed 100; at most 6 passes, patience 2; the same shortened budget for every
# variant), scored by the validation BCE; then (lanes c, d) its main grid at the choice.
# Usage: bash book/results/mnist/grid.sh LANE   (lanes a and b side by side, one core each; then c and d)
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=book/results/mnist
V=${VDIB:-.venv/bin/vdib}
TUNE_BUDGET=(--seed 100 --n-train 2000 --n-val 500 --n-test 500 --epochs 6 --patience 2)
GRID=(--lr-encoder 3e-5,1e-4,3e-4 --lr-decoder 1e-4,3e-4,1e-3)
PATHWISE=(--estimator pathwise --encoder trained)

tune() {  # tune VARIANT_FLAGS...: stage 1 at the whole recording (tau_d = T = 30), then shorter windows
  $V tune mnist --out $R/tuning "${TUNE_BUDGET[@]}" "$@" "${GRID[@]}" --then-tau-d 5,15 --metric val_bce --mode min
}

choice() {  # choice VARIANT_FLAGS... -> the variant's tuned flags
  $V best mnist $R/tuning "${TUNE_BUDGET[@]}" "$@" --metric val_bce --mode min --keys lr-encoder,lr-decoder,tau-d
}

main() {  # main VARIANT_FLAGS...: 5 seeds at the choice, trained until validation stops improving
  $V sweep mnist --out $R/equal_footing --seed 0..4 --epochs 30 --patience 3 "$@" $(choice "$@")
}

case "${1:-}" in
  a) for decoder in mlp cnn; do tune "${PATHWISE[@]}" --decoder $decoder --decoding time; done ;;
  b) for decoder in mlp cnn; do tune "${PATHWISE[@]}" --decoder $decoder --decoding rate; done ;;
  c) for decoder in mlp cnn; do main "${PATHWISE[@]}" --decoder $decoder --decoding time; done ;;
  d) for decoder in mlp cnn; do main "${PATHWISE[@]}" --decoder $decoder --decoding rate; done ;;
  *) echo "usage: $0 a|b|c|d" >&2; exit 2 ;;
esac
