#!/usr/bin/env python3
"""What a Diehl & Cook network's excitatory neurons have learned, from volley checkpoints.

    python3 scripts/dc_checkpoint_stats.py --data DIR CHECKPOINT.bin [...]

For each checkpoint (a run's `checkpoint.bin`, or a copy taken during training) prints one line:
images trained on; "diffuse" neurons (the 150 largest of a neuron's input weights hold less than
40 % of its sum: the definition of `examples/dc_onset_spikes.rs`); "self-firing" neurons (theta
below `theta_offset + v_rest - v_thresh` = 7 mV with the paper's constants: a frozen threshold
below rest, see `volley::mnist::self_firing_neurons`); theta's percentiles (mV); and for the
self-firing neurons and the others, the median cosine between a neuron's weights and the mean
training image and the median share of its weight on "blank" pixels (mean intensity below 1 of
255 over the training set: the border, never inked). Needs numpy. The checkpoint layout is
`src/mnist/checkpoint.rs`'s: `VOLLEYCK`, u32 version, u64 header length, JSON header, f32 LE
buffers in header order, SHA-256.
"""

import argparse
import gzip
import json
import os
import struct

import numpy as np


def load_checkpoint(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"VOLLEYCK":
        raise SystemExit(f"{path}: not a volley checkpoint (magic {raw[:8]!r})")
    (hlen,) = struct.unpack("<Q", raw[12:20])
    header = json.loads(raw[20 : 20 + hlen])
    at, bufs = 20 + hlen, {}
    for name, n in header["buffers"]:
        bufs[name] = np.frombuffer(raw, dtype="<f4", count=n, offset=at)
        at += 4 * n
    return header, bufs


def train_images(data):
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        p = os.path.join(data, name)
        if os.path.exists(p):
            raw = (gzip.open if p.endswith(".gz") else open)(p, "rb").read()
            return np.frombuffer(raw[16:], dtype=np.uint8).reshape(-1, 784).astype(np.float64)
    raise SystemExit(f"{data}: no train-images-idx3-ubyte[.gz]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("VOLLEY_DATA_DIR"), help="MNIST directory")
    ap.add_argument("--self-firing-below", type=float, default=7.0, help="theta (mV)")
    ap.add_argument("checkpoints", nargs="+")
    a = ap.parse_args()
    if not a.data:
        raise SystemExit("give --data DIR (or set VOLLEY_DATA_DIR)")
    mean = train_images(a.data).mean(0)
    unit_mean, blank = mean / np.linalg.norm(mean), mean < 1.0
    for path in a.checkpoints:
        header, b = load_checkpoint(path)
        theta = (b["ens0.theta"] - b.get("ens0.theta_decay", 0.0)).astype(np.float64)
        w = b["conn0.weights"].reshape(len(theta), 784).astype(np.float64)
        top = -np.sort(-w, axis=1)[:, :150].sum(1) / np.maximum(w.sum(1), 1e-38)
        cos = (w @ unit_mean) / np.maximum(np.linalg.norm(w, axis=1), 1e-38)
        on_blank = w[:, blank].sum(1) / np.maximum(w.sum(1), 1e-38)
        sf = theta < a.self_firing_below

        def med(x, m):
            return f"{np.median(x[m]):.3f}" if m.any() else "-"

        pct = " ".join(f"{v:.2f}" for v in np.percentile(theta, [5, 25, 50, 75, 95]))
        print(
            f"{path}: images {header['state']['images_done']}, diffuse {int((top < 0.4).sum())}, "
            f"self-firing {int(sf.sum())} (of them diffuse {int((sf & (top < 0.4)).sum())}), "
            f"theta p5/25/50/75/95 {pct} mV; cosine to the mean image: self-firing "
            f"{med(cos, sf)}, others {med(cos, ~sf)}; weight on blank pixels: self-firing "
            f"{med(on_blank, sf)}, others {med(on_blank, ~sf)}"
        )


if __name__ == "__main__":
    main()
