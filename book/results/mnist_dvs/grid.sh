#!/usr/bin/env bash
# The MNIST-DVS results of book chapter "Naturalizing MNIST-DVS" on the equal-footing protocol of chapter
# "Efficient predictive coding", made with the `vdib` command line (emulated recordings, dt = 25 ms, T = 80).
# Tuning: each variant on validation (100 recordings per digit, the last 20 of each held out; tuning seed 100; at
# most 6 passes, patience 2: the same shortened budget for every variant), scored by the validation BCE; the
# learning rates on a log grid extended at an edge, then the window tau_d (10, 40 steps, next to the whole
# recording) at their choice. Main grid: 5 seeds at each choice with the default data (300 recordings per digit,
# 30 of them for validation, 100 test recordings per digit), trained until validation stops improving (patience
# 3, at most 15 passes); each variant beside its untrained-encoder control, tuned the same way.
# Anomaly (lanes d, e): the earlier grid's rate arm fell below its untrained control. At that grid's settings (3
# passes, lr 1e-4 / 1e-3, the whole recording as window, no early stopping), 5 seeds of the rate arm and its
# control without (d) and with (e) the decoder's output started at the mean image; each trained encoder is then
# refitted with a fresh decoder (--refit 1), which measures what its code holds apart from its decoder. Lanes h (the
# trained arm, refitted) and i (its control): the same with the earlier grid's decoder input as well (centred, not
# standardised), output start off, which is the earlier grid's model with today's code.
# Ablations (lanes f, g), each arm at its tuned choice on the tuning data (800 training and 200 validation recordings,
# at most 6 passes, patience 2) with 100 test recordings per digit: the default initial gain against the calibrated
# start (f, 2 seeds), and beta (g, 1 seed): descriptions, not verdicts.
# Usage: bash book/results/mnist_dvs/grid.sh LANE, lanes a and b side by side (one core each); then d, e, h, i, f, g, j
# (in the order of COMMANDS.md); c has not run yet.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=book/results/mnist_dvs
V=${VDIB:-.venv/bin/vdib}
TUNE_BUDGET=(--seed 100 --train-per-digit 100 --val-per-digit 20 --test-per-digit 20 --epochs 6 --patience 2)
MAIN_BUDGET=(--seed 0..4 --epochs 15 --patience 3)
GRID=(--lr-encoder 3e-5,1e-4,3e-4 --lr-decoder 1e-4,3e-4,1e-3)
CONTROL_GRID=(--lr-decoder 1e-4,3e-4,1e-3 --readout-init-gain 1,3,10)
PATHWISE=(--estimator pathwise --encoder trained)  # a trained variant's choice never comes from a control's trials
CONTROL=(--encoder frozen)
EARLIER=(--seed 0..4 --epochs 3 --lr-encoder 1e-4 --lr-decoder 1e-3 --decoding rate)  # the earlier grid's settings

tune() {  # tune GRID VARIANT_FLAGS...: stage 1 at the whole recording (tau_d = T), then shorter windows
  $V tune mnist-dvs --out $R/tuning "${TUNE_BUDGET[@]}" "$@" --then-tau-d 10,40 --metric val_bce --mode min
}

choice() {  # choice VARIANT_FLAGS... -> the variant's tuned flags
  $V best mnist-dvs $R/tuning "${TUNE_BUDGET[@]}" "$@" --metric val_bce --mode min \
    --keys lr-encoder,lr-decoder,readout-init-gain,tau-d
}

main() {  # main OUT VARIANT_FLAGS... [EXTRA]: 5 seeds at the choice, trained until validation stops improving
  local out=$1; shift
  $V sweep mnist-dvs --out "$out" "${MAIN_BUDGET[@]}" "$@" $(choice "$@")
}

lane() {  # lane DECODING: the variant's and its control's tuning, then both main grids
  local decoding=$1
  tune "${GRID[@]}" "${PATHWISE[@]}" --decoding "$decoding"
  tune "${CONTROL_GRID[@]}" "${CONTROL[@]}" --decoding "$decoding"
  main $R/equal_footing "${PATHWISE[@]}" --decoding "$decoding"
  main $R/equal_footing "${CONTROL[@]}" --decoding "$decoding"
}

case "${1:-}" in
  a) lane time ;;
  b) lane rate ;;
  c)  # the anomaly of the earlier grid: the rate arm with the paper's estimator, tuned like the others
    tune "${GRID[@]}" --estimator score --encoder trained --decoding rate
    main $R/equal_footing --estimator score --encoder trained --decoding rate
    ;;
  h)  # the anomaly with the earlier grid's decoder input too (centred, not standardised), output start off
    $V sweep mnist-dvs --out $R/anomaly "${EARLIER[@]}" --output-prior 0 --decoder-input centre "${PATHWISE[@]}" --refit 1
    ;;
  i)  # its control
    $V sweep mnist-dvs --out $R/anomaly "${EARLIER[@]}" --output-prior 0 --decoder-input centre "${CONTROL[@]}"
    ;;
  d|e)
    start=$([ "$1" = e ] && echo 1 || echo 0)
    $V sweep mnist-dvs --out $R/anomaly "${EARLIER[@]}" --output-prior $start "${PATHWISE[@]}" --refit 1
    $V sweep mnist-dvs --out $R/anomaly "${EARLIER[@]}" --output-prior $start "${CONTROL[@]}"
    ;;
  f|g)
    ABLATION=(--train-per-digit 100 --val-per-digit 20 --test-per-digit 100 --epochs 6 --patience 2)
    for decoding in ${DECODINGS:-time rate}; do  # DECODINGS=rate: one arm only (to split a lane in two)
      if [ "$1" = f ]; then axis=(--seed 0..1 --init gain,calibrated); else axis=(--seed 0 --beta 0,1e-3,1e-2,1e-1); fi
      $V sweep mnist-dvs --out $R/ablations "${ABLATION[@]}" "${axis[@]}" "${PATHWISE[@]}" --decoding $decoding \
        $(choice "${PATHWISE[@]}" --decoding $decoding)
    done
    ;;
  j)  # the tuning's upper edges (both arms' lr_encoder, the rate control's readout gain, after the two extensions of
      # lanes a, b): two more extensions, in a copy of the tuning record (tuning_edge/), so that the main grid's
      # choices in tuning/ stay what they were; `vdib best` on tuning_edge/ says whether a choice moves
    mkdir -p $R/tuning_edge
    cp -n $R/tuning/*.json $R/tuning_edge/
    for decoding in time rate; do
      $V tune mnist-dvs --out $R/tuning_edge "${TUNE_BUDGET[@]}" "${GRID[@]}" "${PATHWISE[@]}" --decoding $decoding \
        --then-tau-d 10,40 --metric val_bce --mode min --max-extensions 4
    done
    $V tune mnist-dvs --out $R/tuning_edge "${TUNE_BUDGET[@]}" "${CONTROL_GRID[@]}" "${CONTROL[@]}" --decoding rate \
      --then-tau-d 10,40 --metric val_bce --mode min --max-extensions 4
    ;;
  *) echo "usage: $0 a|b|c|d|e|f|g|h|i|j" >&2; exit 2 ;;
esac
