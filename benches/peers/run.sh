#!/usr/bin/env bash
# Side-by-side CPU comparison, volley vs Brian2, on Diehl & Cook training with 400 excitatory
# neurons (full protocol), one after the other on the same machine. See README.md here.
#
#   bash benches/peers/run.sh [N]        # N training images, default 20
#
# Environment: BRIAN2_PYTHON (default ~/venv-brian2/bin/python), VOLLEY_DATA_DIR (default
# ~/.cache/volley/mnist), BRIAN2_MODES (default "cpp_standalone"; add "runtime" for Brian2's
# runtime mode with Cython as well), NEURONS (default 400).
set -euo pipefail

N="${1:-20}"
NEURONS="${NEURONS:-400}"
PY="${BRIAN2_PYTHON:-$HOME/venv-brian2/bin/python}"
DATA="${VOLLEY_DATA_DIR:-$HOME/.cache/volley/mnist}"
MODES="${BRIAN2_MODES:-cpp_standalone}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cd "$(dirname "$0")/../.."

load() { echo "# $(date -u +%H:%M:%S) $(uptime | sed 's/.*load average/load average/')" >&2; }

echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores" >&2
echo "# building volley (release; not timed)" >&2
cargo build --release -q

# volley_bench IMAGES: sets $volley_out to the bench's JSON line, and $cpu to the process's CPU
# time (user + sys; cargo run, MNIST load and network build included) when /usr/bin/time exists.
volley_bench() {
    local tfile out
    local timer=()
    tfile="$(mktemp)"
    if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f '%U %S' -o "$tfile"); fi
    out="$("${timer[@]}" cargo run --release -q -- bench "dc-train-$NEURONS" --backend cpu \
        --train-images "$1" --data "$DATA" | tail -n 1)"
    cpu=""
    if [ -s "$tfile" ]; then cpu="$(awk '{print $1 + $2}' "$tfile")"; fi
    rm -f "$tfile"
    volley_out="$out"
}

load
volley_bench "$N"
volley_line="$volley_out"
volley_cpu="$cpu"
load
echo "$volley_line"
# The same with 1 image: the difference is the CPU time of training on the other N - 1 images.
volley_bench 1
volley_cpu1="$cpu"

brian_lines=()
for mode in $MODES; do
    load
    line="$("$PY" benches/peers/brian2_dc.py --images "$N" --neurons "$NEURONS" --data "$DATA" \
        --mode "$mode" | tail -n 1)"
    load
    echo "$line"
    brian_lines+=("$line")
done

for line in "${brian_lines[@]}"; do
    "$PY" - "$volley_line" "$line" "$N" "$volley_cpu" "$volley_cpu1" <<'PYEOF'
import json, sys
v, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
n = int(sys.argv[3])
r = v["images_per_s"] / b["images_per_s"]
rs = v["images_per_s"] / b["images_per_s_sim_only"]
print(f"ratio volley/{b['simulator']}: {r:.2f}x images/s end to end "
      f"(volley {v['images_per_s']:.2f}, brian2 {b['images_per_s']:.2f}); "
      f"{rs:.2f}x against Brian2's simulation time alone ({b['images_per_s_sim_only']:.2f} images/s); "
      f"exc spikes/image volley {v['exc_spikes_per_image']:.2f}, brian2 {b['exc_spikes_per_image']:.2f}; "
      f"presentations volley {v['presentations']}, brian2 {b['presentations']}")
# Per CPU-second: less sensitive to other jobs on a shared machine than wall time.
if sys.argv[4] and sys.argv[5] and n > 1 and b.get("cpu_s"):
    vc = float(sys.argv[4]) - float(sys.argv[5])
    if vc > 0:
        v_ips = (n - 1) / vc
        b_ips = n / b["cpu_s"]
        line = (f"  per CPU-second: volley {v_ips:.2f} images (N-image minus 1-image process CPU), "
                f"brian2 {b_ips:.2f} end to end -> {v_ips / b_ips:.2f}x")
        if b.get("sim_cpu_s"):
            bs = n / b["sim_cpu_s"]
            line += f"; brian2 simulation alone {bs:.2f} -> {v_ips / bs:.2f}x"
        print(line)
PYEOF
done
