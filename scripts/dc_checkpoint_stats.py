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
255 over the training set: the border, never inked). With `--tiles OUT.png`, also draws the
input weights of the first 40 self-firing neurons (top) and of the first 40 with theta of 20 mV
or more (bottom) of the last checkpoint, one 28x28 tile each (dark = strong). Needs numpy. The checkpoint layout is
`src/mnist/checkpoint.rs`'s: `VOLLEYCK`, u32 version, u64 header length, JSON header, f32 LE
buffers in header order, SHA-256.
"""

import argparse
import gzip
import json
import os
import struct
import zlib

import numpy as np


def load_checkpoint(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"VOLLEYCK":
        raise SystemExit(f"{path}: not a volley checkpoint (magic {raw[:8]!r})")
    (version,) = struct.unpack("<I", raw[8:12])
    if version != 1:
        raise SystemExit(f"{path}: checkpoint format version {version}; this script reads 1")
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


def write_tiles(path, w, groups, cols=10):
    """Gray PNG of `groups` (lists of neuron indices into `w`), each a block of 28x28 tiles."""
    blocks = []
    for idx in groups:
        rows = max(1, -(-len(idx) // cols))
        img = np.ones((rows * 30, cols * 30))
        for k, i in enumerate(idx):
            r, c = divmod(k, cols)
            t = w[i].reshape(28, 28)
            img[r * 30 + 1 : r * 30 + 29, c * 30 + 1 : c * 30 + 29] = t / max(t.max(), 1e-9)
        blocks += [img, np.zeros((20, cols * 30))]
    a = (255 * (1 - np.kron(np.vstack(blocks[:-1]), np.ones((2, 2))))).astype(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in a)

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", a.shape[1], a.shape[0], 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(png + chunk(b"IEND", b""))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("VOLLEY_DATA_DIR"), help="MNIST directory")
    ap.add_argument("--self-firing-below", type=float, default=7.0, help="theta (mV)")
    ap.add_argument("--tiles", help="PNG of self-firing and learned neurons' weights")
    ap.add_argument("checkpoints", nargs="+")
    a = ap.parse_args()
    if not a.data:
        raise SystemExit("give --data DIR (or set VOLLEY_DATA_DIR)")
    mean = train_images(a.data).mean(0)
    unit_mean, blank = mean / np.linalg.norm(mean), mean < 1.0
    for path in a.checkpoints:
        header, b = load_checkpoint(path)
        theta = (b["ens0.theta"] - b.get("ens0.theta_decay", 0.0)).astype(np.float64)
        n_exc = header["state"].get("n_exc", len(theta))
        w = b["conn0.weights"].reshape(n_exc, 784).astype(np.float64)
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
    if a.tiles:
        write_tiles(a.tiles, w, [np.flatnonzero(sf)[:40], np.flatnonzero(theta >= 20.0)[:40]])


if __name__ == "__main__":
    main()
