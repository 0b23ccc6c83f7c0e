#!/usr/bin/env python3
"""Checks that brian2_dc.py simulates the same model as volley: the Brian2 network of
brian2_dc.py is given volley's exact initial weights (ChaCha8, seed 0) and volley's exact input
spikes (Philox, seed 0, stream 0, global step counter) through a SpikeGeneratorGroup, runs the
training protocol on the first N images, and its accepted spike count per image and number of
presentations are compared with `volley bench dc-train-<n> --train-images k` for k = 1..N
(each a fresh, deterministic run, so the prefix sums must agree).

    python check_equivalence.py --images 10 [--neurons 400] [--delay-max-ms 10] [--at 5,8] [--float32] [--volley target/release/volley]

`--mode runtime` (default) runs Brian2 in runtime mode with the numpy target (no compilation;
slow, but this is a check, not a benchmark); `--mode cpp_standalone` runs the benchmark's own
code path (brian2_dc.Standalone: one compiled program run per presentation, the state carried
between runs with run_args), with the input spikes passed in as a TimedArray. volley computes in f32 and Brian2 in f64, so a spike whose voltage
crosses threshold by less than ~1e-5 mV could go either way; identical counts over many images
mean identical dynamics in practice.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brian2_dc as dc  # noqa: E402
from volley_rng import (volley_initial_weights, volley_input_delays_ms,  # noqa: E402
                        volley_poisson_spikes)


def brian2_counts_standalone(imgs, n_exc, build_dir, delay_max_ms=0.0, float32=False):
    """The same through brian2_dc.Standalone (one program run per presentation, state carried
    with run_args), with the input spikes given as a TimedArray."""
    import brian2 as b2
    b2.prefs.logging.console_log_level = "ERROR"
    if float32:
        b2.prefs.core.default_float_dtype = b2.float32
    sim = dc.Standalone(b2, n_exc, 0, build_dir, 0, spike_input=True,
                        w0=volley_initial_weights(n_exc),
                        delays_ms=volley_input_delays_ms(n_exc, delay_max_ms))
    n_present = round(dc.T_PRESENT_MS / dc.DT_MS)
    n_total = n_present + round(dc.T_REST_MS / dc.DT_MS)
    step = 0
    per_image = []
    for img in imgs:
        intensity, repeats = dc.INTENSITY, 0
        while True:
            rates = (img.astype(np.float64) / 8.0 * intensity).astype(np.float32)
            k, j = volley_poisson_spikes(rates, step, n_present, dt=dc.DT_MS * 1e-3)
            spikes = np.zeros((n_total, dc.N_INPUT))
            spikes[k, j] = 1.0
            counts = sim.present(rates.astype(np.float64), spikes)
            step += n_total
            repeats += 1
            if counts.sum() >= dc.MIN_SPIKES or repeats >= dc.MAX_REPEATS:
                per_image.append((int(counts.sum()), repeats))
                print(f"brian2 image {len(per_image) - 1}: {int(counts.sum())} spikes, "
                      f"{repeats} presentation(s)", file=sys.stderr, flush=True)
                break
            intensity += dc.INTENSITY_STEP
    return per_image


def brian2_counts(imgs, n_exc, delay_max_ms=0.0, float32=False):
    import brian2 as b2
    b2.prefs.logging.console_log_level = "ERROR"
    if float32:
        b2.prefs.core.default_float_dtype = b2.float32
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    inp = b2.SpikeGeneratorGroup(dc.N_INPUT, [], [] * b2.second, name="inp")
    w0 = volley_initial_weights(n_exc)
    o, _ = dc.build_network(b2, n_exc, 0, inp=inp, w0=w0,
                            delays_ms=volley_input_delays_ms(n_exc, delay_max_ms))
    net = b2.Network(list(o.values()))
    dt = dc.DT_MS * 1e-3
    n_present = round(dc.T_PRESENT_MS / dc.DT_MS)
    n_total = n_present + round(dc.T_REST_MS / dc.DT_MS)
    step = 0
    per_image = []  # (accepted count, presentations)
    for img in imgs:
        intensity, repeats = dc.INTENSITY, 0
        while True:
            w = np.asarray(o["syn"].w[:]).reshape(dc.N_INPUT, n_exc)
            o["syn"].w[:] = dc.normalize(w.copy()).ravel()
            rates = (img.astype(np.float64) / 8.0 * intensity).astype(np.float32)
            k, j = volley_poisson_spikes(rates, step, n_present, dt=dt)
            inp.set_spikes(j, (step + k) * dt * b2.second)
            o["exc"].count = 0
            o["exc"].counting = 1
            net.run(dc.T_PRESENT_MS * b2.ms, namespace={})
            counts = np.asarray(o["exc"].count[:]).copy()
            o["exc"].counting = 0
            net.run(dc.T_REST_MS * b2.ms, namespace={})
            step += n_total
            repeats += 1
            if counts.sum() >= dc.MIN_SPIKES or repeats >= dc.MAX_REPEATS:
                per_image.append((int(counts.sum()), repeats))
                print(f"brian2 image {len(per_image) - 1}: {int(counts.sum())} spikes, "
                      f"{repeats} presentation(s)", file=sys.stderr, flush=True)
                break
            intensity += dc.INTENSITY_STEP
    return per_image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--data", default=None)
    ap.add_argument("--mode", choices=["runtime", "cpp_standalone"], default="runtime",
                    help="runtime (numpy target, state kept in Python) or cpp_standalone (the "
                         "benchmark's code path: one program run per presentation)")
    ap.add_argument("--delay-max-ms", type=float, default=0.0,
                    help="volley's random input delays U(0, max) ms (--input-delay-max-ms), the "
                         "same per-synapse delays given to Brian2")
    ap.add_argument("--at", default=None,
                    help="compare the running totals only after these numbers of images "
                         "(comma-separated; --images is always one): volley trains from scratch "
                         "once for each, so the default, every image, costs images^2 / 2")
    ap.add_argument("--float32", action="store_true",
                    help="Brian2 computes in float32, as volley (default: float64, Brian2's own)")
    ap.add_argument("--build-dir", default="/tmp/brian2_dc_check")
    ap.add_argument("--volley", default=None,
                    help="volley binary (default: target/release/volley of this repository)")
    a = ap.parse_args()
    data = a.data or os.environ.get("VOLLEY_DATA_DIR") or os.path.expanduser("~/.cache/volley/mnist")
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    volley = a.volley or os.path.join(root, "target", "release", "volley")
    imgs = dc.load_images(data, a.images)

    at = sorted(set(range(1, a.images + 1)))
    if a.at:
        at = sorted({int(k) for k in a.at.split(",")} | {a.images})
        if at[0] < 1 or at[-1] > a.images:
            sys.exit(f"--at: image counts in 1..{a.images} (--images) are needed")
    vol = {}
    env = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    for k in at:
        out = subprocess.run(
            [volley, "bench", f"dc-train-{a.neurons}", "--backend", "cpu",
             "--train-images", str(k), "--data", data,
             "--input-delay-max-ms", str(a.delay_max_ms)],
            check=True, capture_output=True, text=True, env=env).stdout
        r = json.loads(out.strip().splitlines()[-1])
        vol[k] = (round(r["exc_spikes_per_image"] * k), r["presentations"])
    if a.mode == "runtime":
        b2c = brian2_counts(imgs, a.neurons, a.delay_max_ms, a.float32)
    else:
        b2c = brian2_counts_standalone(imgs, a.neurons, a.build_dir, a.delay_max_ms, a.float32)
    ok = True
    cs, cp = 0, 0
    print("images volley_cum_spikes brian2_cum_spikes  volley_cum_presentations brian2_cum_presentations")
    for k in range(a.images):
        cs += b2c[k][0]
        cp += b2c[k][1]
        if k + 1 not in vol:
            continue
        v = vol[k + 1]
        same = v == (cs, cp)
        ok &= same
        print(f"{k + 1:6d} {v[0]:17d} {cs:17d}  {v[1]:24d} {cp:24d}  {'same' if same else 'DIFFERENT'}")
    print("identical" if ok else "differences found")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
