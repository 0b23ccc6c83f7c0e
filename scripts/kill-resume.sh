#!/usr/bin/env bash
# Kill a training run with SIGKILL at random moments (including during checkpoint writes), resume
# it each time, and check that the final weights and thresholds equal those of an uninterrupted
# run bit for bit (CPU backend), and that no checkpoint is ever half-written.
#
#   bash scripts/kill-resume.sh [KILLS] [DATA_DIR]     (default 20 kills; data as volley finds it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KILLS=${1:-20}
DATA=${2:-}
BIN=target/release/volley
cargo build --release --quiet
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ARGS=(mnist train --neurons 10 --train-images 150 --checkpoint-every 3 --test-images 0
    --label-images 1 --backend cpu --quiet --seed 4)
[[ -n $DATA ]] && ARGS+=(--data "$DATA")

"$BIN" "${ARGS[@]}" --out "$WORK/whole" >/dev/null
start=$(date +%s.%N)
"$BIN" "${ARGS[@]}" --out "$WORK/probe" >/dev/null
run_s=$(echo "$(date +%s.%N) - $start" | bc)

kills=0
starts=0
cycles=0
check_final() {
    for f in weights.npy theta.npy; do
        cmp -s "$WORK/whole/$f" "$WORK/killed/$f" || {
            echo "FAIL: $f differs from the uninterrupted run (cycle $cycles, $kills kills so far)" >&2
            exit 1
        }
    done
    cycles=$((cycles + 1))
    rm -rf "$WORK/killed"
}
while [[ $kills -lt $KILLS ]]; do
    # A random moment within one uninterrupted run's duration.
    delay=$(awk -v r="$RANDOM" -v t="$run_s" 'BEGIN { printf "%.3f", (r / 32768) * t }')
    "$BIN" "${ARGS[@]}" --out "$WORK/killed" --resume >/dev/null 2>&1 &
    pid=$!
    starts=$((starts + 1))
    sleep "$delay"
    killed=0
    if kill -9 "$pid" 2>/dev/null; then
        kills=$((kills + 1))
        killed=1
    fi
    status=0
    wait "$pid" 2>/dev/null || status=$?
    # Whatever is on disk must be a complete, valid checkpoint (or nothing yet).
    if [[ -f $WORK/killed/checkpoint.bin ]]; then
        if ! "$BIN" mnist eval --out "$WORK/killed" --test-images 1 --label-images 1 \
            --backend cpu --quiet ${DATA:+--data "$DATA"} >/dev/null 2>"$WORK/eval.err"; then
            echo "FAIL: invalid checkpoint after a kill: $(cat "$WORK/eval.err")" >&2
            exit 1
        fi
    fi
    # A run that finished before the kill: compare, then start a fresh cycle.
    if [[ $killed -eq 0 && $status -eq 0 && -f $WORK/killed/weights.npy ]]; then
        check_final
    fi
done
"$BIN" "${ARGS[@]}" --out "$WORK/killed" --resume >/dev/null
check_final
echo "ok: $kills kills in $starts starts over $cycles complete runs; every checkpoint valid; final weights and theta bit-identical to the uninterrupted run"
