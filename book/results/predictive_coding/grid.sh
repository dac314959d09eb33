#!/usr/bin/env bash
# The predictive-coding results of book chapter "Efficient predictive coding", made with the `vdib` command
# line: each variant is tuned on validation (tuning seed 100, delta 0, a shortened budget that is the same for every
# variant: 1,000 training sequences, at most 30 passes, patience 3), then its main grid runs at the choice
# (2,000 training sequences, at most 60 passes, patience 5: the defaults).
# Usage: bash book/results/predictive_coding/grid.sh LANE   (lanes a and b run side by side, one core each;
# then c after a, then the playground's MLP grid and e; after b, the playground's linear grid and d)
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=book/results/predictive_coding
V=${VDIB:-.venv/bin/vdib}
TUNE_BUDGET=(--n-train 1000 --epochs 30 --patience 3)
GRID=(--lr-encoder 0.01,0.03,0.1 --lr-decoder 0.003,0.01,0.03)
CONTROL_GRID=(--lr-decoder 0.003,0.01,0.03 --readout-init-gain 3,10,30)
PATHWISE=(--estimator pathwise --encoder trained)  # a trained variant's choice never comes from a control's trials

# choice final|eq VARIANT_FLAGS... -> the variant's tuned flags ("eq": its choice at the paper's window tau_d = 5)
choice() {
  local stage=$1; shift
  $V best predictive-coding $R/tuning --seed 100 --delta 0 "${TUNE_BUDGET[@]}" "$@" \
    --keys lr-encoder,lr-decoder,readout-init-gain,tau-d $([ "$stage" = eq ] && echo --tau-d 5)
}

tune() {  # tune VARIANT_FLAGS...
  $V tune predictive-coding --out $R/tuning --seed 100 --delta 0 "${TUNE_BUDGET[@]}" "$@"
}

main() {  # main DELTAS VARIANT_FLAGS...: the variant at its tuned window, and at tau_d = 5
  local deltas=$1; shift
  $V sweep predictive-coding --out $R/main --delta="$deltas" --seed 0..4 "$@" $(choice final "$@")
  $V sweep predictive-coding --out $R/main --delta="$deltas" --seed 0..4 "$@" $(choice eq "$@")
}

case "${1:-}" in
  a)
    tune --decoder mlp --decoding time "${GRID[@]}" --then-tau-d 1..4
    tune --decoder mlp --decoding rate "${GRID[@]}" --then-tau-d 1..4
    main 0,1 --decoder mlp --decoding time
    main 0,1 --decoder mlp --decoding rate
    ;;
  b)
    tune --decoder linear --decoding time "${GRID[@]}" --then-tau-d 1..4
    tune --decoder linear --decoding rate "${GRID[@]}" --then-tau-d 1..4
    main 0,1 --decoder linear --decoding time
    main 0,1 --decoder linear --decoding rate
    for decoding in time rate; do
      tune --encoder frozen --decoder linear --decoding $decoding "${CONTROL_GRID[@]}" --then-tau-d 1..4
      main 0,1 --encoder frozen --decoder linear --decoding $decoding
    done
    for decoding in time rate; do
      tune --estimator score --decoder linear --decoding $decoding "${GRID[@]}" --then-tau-d 1..4
      main 0 --estimator score --decoder linear --decoding $decoding
    done
    ;;
  c)  # after lane a: the beta sweep
    $V sweep predictive-coding --out $R/beta --delta 0 --seed 0..4 --decoder linear --decoding time \
      $(choice final "${PATHWISE[@]}" --decoder linear --decoding time) --beta 0,0.01,0.1,1,10
    ;;
  d)  # after lane b (and the playground's linear grid): more deltas for the linear decoder and its controls
    for decoding in time rate; do
      main -1,2 "${PATHWISE[@]}" --decoder linear --decoding $decoding
      main -1,2 --encoder frozen --decoder linear --decoding $decoding
    done
    for decoding in time rate; do
      main -3,-2,3 "${PATHWISE[@]}" --decoder linear --decoding $decoding
    done
    ;;
  e)  # after lane c (and the playground's MLP grid): the MLP's controls, then more deltas for the MLP
    for decoding in time rate; do
      tune --encoder frozen --decoder mlp --decoding $decoding "${CONTROL_GRID[@]}" --then-tau-d 1..4
      main 0,1 --encoder frozen --decoder mlp --decoding $decoding
    done
    main -1,2 "${PATHWISE[@]}" --decoder mlp --decoding time
    main -1,2 "${PATHWISE[@]}" --decoder mlp --decoding rate
    ;;
  *) echo "usage: $0 a|b|c|d|e" >&2; exit 2 ;;
esac
