#!/usr/bin/env bash
# The MNIST results of book chapter "Naturalizing MNIST" on the equal-footing protocol of chapter "Efficient
# predictive coding", made with the `vdib` command line.
# Tuning: each variant on validation (the last 500 of 2,000 training digits; tuning seed 100; at most 6 passes,
# patience 2: the same shortened budget for every variant), scored by the validation BCE; the learning rates on
# a log grid extended at an edge, then the window tau_d at their choice.
# Main grid: 5 seeds at each choice, 3,500 training and 500 validation digits, trained until validation stops
# improving (patience 3, at most 12 passes), 2,000 test digits; each variant beside its untrained-encoder
# control, tuned the same way (the decoder lr, then tau_d; the random readout fires at about 0.3 without a gain).
# Usage: bash book/results/mnist/grid.sh LANE, two lanes side by side (one core each):
#   a, b: the rate-coded digits' tuning (time, rate); then c, d: their controls and main grids;
#   e, f: the same for latency-coded digits (results in latency/); g: the score-function estimator.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=book/results/mnist
V=${VDIB:-.venv/bin/vdib}
TUNE_BUDGET=(--seed 100 --n-train 2000 --n-val 500 --n-test 500 --epochs 6 --patience 2)
MAIN_BUDGET=(--seed 0..4 --n-train 4000 --n-val 500 --epochs 12 --patience 3)
GRID=(--lr-encoder 3e-5,1e-4,3e-4 --lr-decoder 1e-4,3e-4,1e-3)
CONTROL_GRID=(--lr-decoder 1e-4,3e-4,1e-3)
PATHWISE=(--estimator pathwise --encoder trained)  # a trained variant's choice never comes from a control's trials
CONTROL=(--encoder frozen)
LATENCY=(--encoding latency --init calibrated)  # one spike per pixel: the hidden layer calibrated to fire

tune() {  # tune DIR GRID VARIANT_FLAGS...: stage 1 at the whole code (tau_d = T = 30), then shorter windows
  local dir=$1; shift
  $V tune mnist --out "$dir/tuning" "${TUNE_BUDGET[@]}" "$@" --then-tau-d 5,15 --metric val_bce --mode min
}

choice() {  # choice DIR VARIANT_FLAGS... -> the variant's tuned flags
  local dir=$1; shift
  $V best mnist "$dir/tuning" "${TUNE_BUDGET[@]}" "$@" --metric val_bce --mode min \
    --keys lr-encoder,lr-decoder,readout-init-gain,tau-d
}

main() {  # main DIR VARIANT_FLAGS...: 5 seeds at the choice, trained until validation stops improving
  local dir=$1; shift
  $V sweep mnist --out "$dir/equal_footing" "${MAIN_BUDGET[@]}" "$@" $(choice "$dir" "$@")
}

variants() {  # variants DIR DECODING [FLAGS...]: the MLP's and the CNN's tuning
  local dir=$1 decoding=$2; shift 2
  for decoder in mlp cnn; do tune "$dir" "${GRID[@]}" "${PATHWISE[@]}" "$@" --decoder $decoder --decoding "$decoding"; done
}

lane() {  # lane DIR DECODING [FLAGS...]: the controls' tuning, then the main grid, headline (MLP) cells first
  local dir=$1 decoding=$2; shift 2
  for decoder in mlp cnn; do
    tune "$dir" "${CONTROL_GRID[@]}" "${CONTROL[@]}" "$@" --decoder $decoder --decoding "$decoding"
  done
  for decoder in mlp cnn; do
    main "$dir" "${PATHWISE[@]}" "$@" --decoder $decoder --decoding "$decoding"
    main "$dir" "${CONTROL[@]}" "$@" --decoder $decoder --decoding "$decoding"
  done
}

case "${1:-}" in
  a) variants $R time ;;
  b) variants $R rate ;;
  c) lane $R time ;;
  d) lane $R rate ;;
  e) variants $R/latency time "${LATENCY[@]}"; lane $R/latency time "${LATENCY[@]}" ;;
  f) variants $R/latency rate "${LATENCY[@]}"; lane $R/latency rate "${LATENCY[@]}" ;;
  g) for decoding in time rate; do
       tune $R "${GRID[@]}" --estimator score --encoder trained --decoder mlp --decoding $decoding
       main $R --estimator score --encoder trained --decoder mlp --decoding $decoding
     done ;;
  *) echo "usage: $0 a|b|c|d|e|f|g" >&2; exit 2 ;;
esac
