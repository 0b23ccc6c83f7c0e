"""NumPy twins of the two generators volley uses for the Diehl & Cook benchmark, so that a Brian2
run can be fed exactly volley's initial weights and input spikes (see check_equivalence.py):

- `chacha8_f64(seed, n)`: `rand_chacha::ChaCha8Rng::seed_from_u64(seed)` then `n` draws of
  `rng.random::<f64>()` (rand 0.9), as `volley::networks::diehl_cook` draws the initial weights;
- `philox_uniform(seed, stream, step, index)`: `volley::rng::uniform`, the Philox4x32-10 draw
  behind every Poisson input spike (`backend::cpu::poisson_spikes`);
- `volley_input_delays(n_exc, max_ms)`: the per-synapse input delays (steps) volley draws for
  `--input-delay-max-ms`.
"""

import numpy as np

M64 = (1 << 64) - 1


def _pcg32_seed(state, words):
    """rand_core 0.9 `SeedableRng::seed_from_u64`: the seed bytes from PCG32 outputs."""
    mul, inc = 6364136223846793005, 11634580027462260723
    out = []
    for _ in range(words):
        state = (state * mul + inc) & M64
        xorshifted = (((state >> 18) ^ state) >> 27) & 0xFFFFFFFF
        rot = state >> 59
        out.append(((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & 0xFFFFFFFF)
    return out


def _chacha_blocks(key, first_block, n_blocks, rounds=8):
    """ChaCha (64-bit block counter in words 12-13, stream 0 in words 14-15) keystream words of
    blocks first_block .. first_block + n_blocks, as a flat uint32 array in output order."""
    const = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    ctr = np.arange(first_block, first_block + n_blocks, dtype=np.uint64)
    x = np.zeros((16, n_blocks), dtype=np.uint32)
    for i, c in enumerate(const):
        x[i] = c
    for i, k in enumerate(key):
        x[4 + i] = k
    x[12] = (ctr & 0xFFFFFFFF).astype(np.uint32)
    x[13] = (ctr >> np.uint64(32)).astype(np.uint32)
    init = x.copy()

    def rotl(v, r):
        return (v << np.uint32(r)) | (v >> np.uint32(32 - r))

    def qr(a, b, c, d):
        x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 16)
        x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 12)
        x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 8)
        x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 7)

    with np.errstate(over="ignore"):
        for _ in range(rounds // 2):
            qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
            qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
        x += init
    return x.T.ravel()


def chacha8_f64(seed, n):
    """`n` successive `random::<f64>()` of `ChaCha8Rng::seed_from_u64(seed)`."""
    key = _pcg32_seed(seed, 8)
    words = _chacha_blocks(key, 0, (2 * n + 15) // 16)[: 2 * n].astype(np.uint64)
    u64 = words[0::2] | (words[1::2] << np.uint64(32))
    return (u64 >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85


def philox_uniform(seed, stream, step, index):
    """`volley::rng::uniform(seed, stream, step, index)` (f32 in [0, 1)); step and index may be
    broadcastable arrays."""
    step = np.asarray(step, dtype=np.uint64)
    index = np.asarray(index, dtype=np.uint64)
    step, index = np.broadcast_arrays(step, index)
    lo32 = np.uint64(0xFFFFFFFF)
    c0 = index & lo32
    c1 = step & lo32
    c2 = step >> np.uint64(32)
    c3 = np.full(c0.shape, stream, dtype=np.uint64)
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for r in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & lo32
        hi1, lo1 = p1 >> np.uint64(32), p1 & lo32
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint64(k0), lo1, hi0 ^ c3 ^ np.uint64(k1), lo0
        if r < 9:
            k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return (c0 >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def volley_initial_weights(n_exc, n_input=784, seed=0, scale=0.3, offset=0.01, w_max=1.0):
    """`volley::networks::diehl_cook(&cfg, seed)`'s initial input weights, as stored (f32),
    returned as an (n_input, n_exc) float64 matrix."""
    u = chacha8_f64(seed, n_exc * n_input).reshape(n_exc, n_input)
    return np.clip((u + offset) * scale, 0.0, w_max).astype(np.float32).astype(np.float64).T.copy()


def volley_poisson_spikes(rates_f32, first_step, n_steps, dt=0.0005, seed=0, stream=0):
    """Spikes of volley's Poisson node with the given per-input rates (f32, Hz) over steps
    first_step .. first_step + n_steps: (step offsets, input indices) of every spike."""
    steps = np.arange(first_step, first_step + n_steps, dtype=np.uint64)[:, None]
    idx = np.arange(len(rates_f32), dtype=np.uint64)[None, :]
    u = philox_uniform(seed, stream, steps, idx)
    p = np.asarray(rates_f32, dtype=np.float32)[None, :] * np.float32(dt)
    k, j = np.nonzero(u < p)
    return k, j


def _object_seed(seed, kind, index):
    """`volley::compile::object_rng`'s seed: the network seed mixed with the object's kind and
    index (splitmix64's finaliser)."""
    z = (seed ^ ((kind * 0x9E3779B97F4A7C15) & M64) ^ ((index * 0xD1B54A32D192ED03) & M64)) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def volley_input_delays(n_exc, max_ms, n_input=784, seed=0, dt=0.0005, conn=0):
    """The per-synapse delays in steps that volley draws for `Delays::Uniform { min: 0, max }`
    on connection `conn` (the Diehl & Cook input connection is 0) of a network with `seed`:
    `random::<f64>()` of `object_rng(seed, RNG_DELAYS = 3, conn)`, `round(max * u / dt)` (half
    away from zero, as Rust's `f64::round`). Returned as an (n_exc, n_input) int matrix (post,
    pre), volley's row-major order."""
    u = chacha8_f64(_object_seed(seed, 3, conn), n_exc * n_input)
    x = (0.0 + (max_ms / 1000.0 - 0.0) * u) / dt
    f = np.floor(x)
    steps = np.where(x - f >= 0.5, f + 1.0, f)
    return np.minimum(steps, 65535).astype(np.int64).reshape(n_exc, n_input)


def volley_input_delays_ms(n_exc, max_ms, seed=0, dt=0.0005):
    """`volley_input_delays` in milliseconds, in Brian2's synapse order (pre-major: an
    (n_input, n_exc) matrix, as `Synapses(inp, exc)` connected all to all); None for no delays."""
    if max_ms <= 0:
        return None
    return volley_input_delays(n_exc, max_ms, seed=seed, dt=dt).T * (dt * 1e3)


if __name__ == "__main__":
    # Known answers: Random123's Philox4x32-10 vector (as in volley's rng tests) and the first
    # draws of ChaCha8Rng::seed_from_u64(0) printed by rand 0.9.5 / rand_chacha 0.9.0.
    v = chacha8_f64(0, 201)
    assert np.allclose(v[:5], [0.7090754154265618, 0.46592172228961015, 0.6991432426747317,
                               0.0601711656341718, 0.8791107179586186], rtol=0, atol=0), v[:5]
    assert v[200] == 0.4662418317649637, v[200]
    assert philox_uniform(0, 0, 0, 0) == (0x6627E8D5 >> 8) / 2**24
    assert philox_uniform(M64, 0xFFFFFFFF, M64, 0xFFFFFFFF) == (0x408F276D >> 8) / 2**24
    assert philox_uniform(0xA4093822 | (0x299F31D0 << 32), 0x03707344,
                          0x85A308D3 | (0x13198A2E << 32), 0x243F6A88) == (0xD16CFE09 >> 8) / 2**24
    # volley's delays for `DiehlCookConfig { n_exc: 100, input_delays: Some((0.0, 0.01)) }`
    # with seed 0 (read from the `conn0.delays` buffer at commit b8fab0a): the first twelve and
    # a weighted sum of all 78,400.
    d = volley_input_delays(100, 10.0).ravel()
    assert list(d[:12]) == [6, 12, 9, 19, 18, 3, 1, 15, 3, 16, 8, 15], d[:12]
    assert int(np.sum((np.arange(d.size) % 97 + 1) * d)) == 38297410
    print("chacha8, philox and delay known answers ok")
