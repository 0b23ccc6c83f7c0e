//!include common/math.wgsl
//!include common/lif_one.wgsl
//!include common/dc_one.wgsl
//!include common/stdp_row.wgsl
//!include common/elementwise.wgsl
//!include common/draws.wgsl
//!include common/matvec_row.wgsl
//!include common/sum_all.wgsl
//!include common/normalize_row.wgsl
//!include common/ring.wgsl
//!include common/stdp_arrival.wgsl
//!include common/pre_history_one.wgsl
//!include common/probe_sample.wgsl
// fused_steps: a step interpreter that runs a whole chunk of timesteps in one dispatch. One
// workgroup per instance (b = workgroup index); for each step, each op of the plan (a
// descriptor in `ops`) loops over its elements with stride FUSED_WG; a storage + workgroup
// barrier comes before the ops whose descriptor asks for one (those that depend on an earlier
// op of the current phase, see fused::descriptors). Matvec, STDP and all-but-self sums first
// build a bit mask of their input's non-zeros in workgroup memory and visit only those
// (event-driven: O(spikes x fan-out) per step); their delayed forms (transmission and STDP at
// arrival) mask the columns with a spike anywhere in their pre_history ring. Every plan buffer
// lives in `arena` at a fixed offset (batched buffers laid out [instance][len], Index buffers
// as f32 bits); an op only touches its own instance's slices and shared read-only parameters,
// so workgroups never interact.
// The per-element maths are the functions of shaders/common shared with the per-op kernels.
// Twin: backend::gpu (FusedOp codes and descriptor layout, `fused_descriptor`).

const FUSED_WG: u32 = 256u;
// Columns up to MASK_WORDS * 32 go through the workgroup spike mask (event-driven matvec, STDP
// and all-but-self sums); wider ones take the dense loops of shaders/common.
const MASK_WORDS: u32 = 256u;
// Words per op descriptor: [0] code, [1] n (elements or rows per instance), [2..8] u32
// parameters, [8 + 2k], [9 + 2k] offset and per-instance stride of buffer k (k < 12),
// [32..64] f32 parameters.
const OP_WORDS: u32 = 64u;
// Set in word [0] above the op code when a storage + workgroup barrier must precede the op
// (twin: fused::BARRIER_BEFORE, which decides where from the ops' buffers).
const BARRIER_BEFORE: u32 = 65536u;
fn op_code(o: u32) -> u32 { return ops[o] & 65535u; }

const OP_ZERO: u32 = 1u;
const OP_BROADCAST: u32 = 2u;
const OP_HOST_INPUT: u32 = 3u;
const OP_POISSON: u32 = 4u;
const OP_UNIFORM_NOISE: u32 = 5u;
const OP_ADD_INC: u32 = 6u;
const OP_SCALE_INC: u32 = 7u;
const OP_MATVEC_INC: u32 = 8u;
const OP_ALL_BUT_SELF_INC: u32 = 9u;
const OP_STDP: u32 = 10u;
const OP_TRACE: u32 = 11u;
const OP_LIF: u32 = 12u;
const OP_LIF_RATE: u32 = 13u;
const OP_ADAPTIVE_LIF: u32 = 14u;
const OP_DIEHL_COOK: u32 = 15u;
const OP_LOWPASS: u32 = 16u;
const OP_ALPHA: u32 = 17u;
const OP_PROBE: u32 = 18u;
const OP_NORMALIZE_ROWS: u32 = 19u;
const OP_PRE_HISTORY: u32 = 20u;
const OP_ARRIVAL_MATVEC_INC: u32 = 21u;
const OP_STDP_DELAYED: u32 = 22u;
const OP_DELAYED_MATVEC_INC: u32 = 23u;
const OP_DELAY_WRITE: u32 = 24u;
const OP_DELAY_READ: u32 = 25u;

// Twin: backend::gpu::kernels::FusedParams.
struct FusedParams {
    n_steps: u32,
    op_begin: u32,
    op_end: u32,
    batch: u32,
    seed_lo: u32,
    seed_hi: u32,
    k_begin: u32,
    // Profiling only (VOLLEY_FUSED_SKIP): bit c skips the ops of code c, bit 0 the mask builds.
    skip: u32,
    // 1: instance b draws with key seed + b, index e (see draw_key).
    per_instance: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}
@group(0) @binding(0) var<uniform> fp: FusedParams;
@group(0) @binding(1) var<storage, read> ops: array<u32>;
// ctrl[1], ctrl[2]: the chunk's first step (lo, hi); from ctrl[3]: the probes' sample tables
// (common/probe_sample.wgsl).
@group(0) @binding(2) var<storage, read> ctrl: array<u32>;
@group(0) @binding(3) var<storage, read> host: array<f32>;
@group(0) @binding(4) var<storage, read_write> arena: array<f32>;
@group(0) @binding(5) var<storage, read_write> rings: array<f32>;

// Two spike masks, used in turn by the mask ops of a dispatch (mask m = words m * MASK_WORDS..):
// bit c % 32 of word c / 32 is set where the op's input vector (matvec x, STDP pre spikes,
// all-but-self x) is non-zero. Before each mask op, `clear_mask` clears the other mask (the one
// the previous mask op read: every mask op has a barrier before it, so those reads are done)
// and `set_mask` sets this op's bits in parallel (one element per invocation); the barrier after
// preparation separates that clearing from the next mask op's setting. Workgroup memory starts
// zeroed (wgpu's default zero_initialize_workgroup_memory), so both masks are clear when a
// dispatch begins. The clearing runs even for ops skipped by `fp.skip`, so a skipped op never
// leaves stale bits for a later one.
var<workgroup> wmask: array<atomic<u32>, 2u * MASK_WORDS>;

fn mv_m(i: u32) -> f32 { return arena[i]; }
fn mv_x(i: u32) -> f32 { return arena[i]; }
fn abs_x(i: u32) -> f32 { return arena[i]; }
fn nr_w(i: u32) -> f32 { return arena[i]; }
fn nr_set_w(i: u32, v: f32) { arena[i] = v; }
fn st_pre(i: u32) -> f32 { return arena[i]; }
fn st_r1(i: u32) -> f32 { return arena[i]; }
fn st_r2(i: u32) -> f32 { return arena[i]; }
fn st_w(i: u32) -> f32 { return arena[i]; }
fn st_set_w(i: u32, v: f32) { arena[i] = v; }
fn ar_hist(i: u32) -> f32 { return arena[i]; }
fn ar_set_hist(i: u32, v: f32) { arena[i] = v; }
// Index buffers (delays) hold u32 bit patterns in the arena.
fn arena_u32(i: u32) -> u32 { return bitcast<u32>(arena[i]); }

// u32 parameter `i` of the op at `o`.
fn pu(o: u32, i: u32) -> u32 { return ops[o + 2u + i]; }
// f32 parameter `i` of the op at `o`.
fn pf(o: u32, i: u32) -> f32 { return bitcast<f32>(ops[o + 32u + i]); }
// Arena offset of instance b's slice of buffer `k` of the op at `o`.
fn at(o: u32, k: u32, b: u32) -> u32 { return ops[o + 8u + 2u * k] + b * ops[o + 9u + 2u * k]; }

fn lif_params(o: u32) -> LifParams {
    return LifParams(0u, pf(o, 0u), pf(o, 1u), pf(o, 2u), pf(o, 3u), pf(o, 4u), pf(o, 5u), pf(o, 6u));
}

// The STDP rule of an OP_STDP or OP_STDP_DELAYED descriptor (flags in u32 parameter 1, the
// f32 parameters as StdpConsts::values orders them; 2 and 3 are the post-trace decays).
fn stdp_rule(o: u32) -> StdpRule {
    return StdpRule(pu(o, 1u), pf(o, 0u), pf(o, 1u), pf(o, 4u), pf(o, 5u), pf(o, 6u), pf(o, 7u), pf(o, 8u), pf(o, 9u));
}

// Whether the op at `o` reads a spike mask (and so needs `clear_mask`, `set_mask` and a barrier first).
fn uses_mask(o: u32) -> bool {
    let code = op_code(o);
    return code == OP_MATVEC_INC || code == OP_STDP || code == OP_ALL_BUT_SELF_INC
        || code == OP_ARRIVAL_MATVEC_INC || code == OP_STDP_DELAYED || code == OP_DELAYED_MATVEC_INC;
}

// The vector (arena offset, length) whose non-zeros the mask holds for the op at `o`.
fn mask_source(o: u32, b: u32) -> vec2<u32> {
    let code = op_code(o);
    if (code == OP_MATVEC_INC) { return vec2<u32>(at(o, 1u, b), pu(o, 0u)); }
    if (code == OP_STDP) { return vec2<u32>(at(o, 0u, b), pu(o, 0u)); }
    // At arrival: the columns with a spike anywhere in the pre_history ring (its spike counts,
    // after the ring's 3 * slots * cols values); any spike arriving now is among them.
    if (code == OP_ARRIVAL_MATVEC_INC) { return vec2<u32>(at(o, 2u, b) + 3u * pu(o, 1u) * pu(o, 0u), pu(o, 0u)); }
    if (code == OP_STDP_DELAYED) { return vec2<u32>(at(o, 1u, b) + 3u * pu(o, 2u) * pu(o, 0u), pu(o, 0u)); }
    if (code == OP_DELAYED_MATVEC_INC) { return vec2<u32>(at(o, 2u, b), pu(o, 0u)); }
    return vec2<u32>(at(o, 1u, b), ops[o + 1u]);
}

fn mask_fits(len: u32) -> bool { return len <= MASK_WORDS * 32u; }

// Clears mask `m` (0 or MASK_WORDS).
fn clear_mask(lid: u32, m: u32) {
    for (var wd = lid; wd < MASK_WORDS; wd = wd + FUSED_WG) { atomicStore(&wmask[m + wd], 0u); }
}

// Sets the bits of mask `m` (0 or MASK_WORDS, cleared before) for the op at `o`.
fn set_mask(o: u32, b: u32, lid: u32, m: u32) {
    let src = mask_source(o, b);
    if (!mask_fits(src.y)) { return; }
    for (var c = lid; c < src.y; c = c + FUSED_WG) {
        if (arena[src.x + c] != 0.0) { atomicOr(&wmask[m + c / 32u], 1u << (c % 32u)); }
    }
}

// matvec_row over the mask: the same terms in the same (column) order, visiting only non-zero x.
fn matvec_row_masked(mk: u32, m0: u32, m_step: u32, x0: u32, cols: u32) -> f32 {
    var acc = 0.0;
    let words = (cols + 31u) / 32u;
    for (var wd = 0u; wd < words; wd = wd + 1u) {
        var bits = atomicLoad(&wmask[mk + wd]);
        while (bits != 0u) {
            let c = wd * 32u + firstTrailingBit(bits);
            acc = acc + mv_m(m0 + c * m_step) * mv_x(x0 + c);
            bits = bits & (bits - 1u);
        }
    }
    return acc;
}

// sum_all over the mask (adding the skipped zeros would not change the sum).
fn sum_all_masked(mk: u32, x0: u32, n: u32) -> f32 {
    var total = 0.0;
    let words = (n + 31u) / 32u;
    for (var wd = 0u; wd < words; wd = wd + 1u) {
        var bits = atomicLoad(&wmask[mk + wd]);
        while (bits != 0u) {
            total = total + abs_x(x0 + wd * 32u + firstTrailingBit(bits));
            bits = bits & (bits - 1u);
        }
    }
    return total;
}

// stdp_row for a row whose post neuron did not spike, over the mask: only the columns whose pre
// neuron spiked change, each exactly as in stdp_row.
fn stdp_row_masked(mk: u32, q: StdpRule, w0: u32, w_step: u32, r10: u32, r20: u32, cols: u32, o1: f32, o2: f32, l: f32) {
    let words = (cols + 31u) / 32u;
    for (var wd = 0u; wd < words; wd = wd + 1u) {
        var bits = atomicLoad(&wmask[mk + wd]);
        while (bits != 0u) {
            let j = wd * 32u + firstTrailingBit(bits);
            st_set_w(w0 + j * w_step, stdp_synapse(q, st_w(w0 + j * w_step), true, false, st_r1(r10 + j), st_r2(r20 + j), o1, o2, l));
            bits = bits & (bits - 1u);
        }
    }
}

// Row r of arrival_matvec_inc.wgsl over the mask (columns with a spike in the ring): the same
// terms in the same (column) order; `mask_fits(cols)` false: every column.
fn arrival_row(mk: u32, masked: bool, m0: u32, m_step: u32, d0: u32, hb: u32, now: u32, slots: u32, cols: u32) -> f32 {
    var acc = 0.0;
    let words = (cols + 31u) / 32u;
    for (var wd = 0u; wd < words; wd = wd + 1u) {
        var bits = 0xFFFFFFFFu;
        if (masked) { bits = atomicLoad(&wmask[mk + wd]); }
        while (bits != 0u) {
            let c = wd * 32u + firstTrailingBit(bits);
            bits = bits & (bits - 1u);
            if (c >= cols) { break; }
            let xv = arena[arrival_at(hb, now, arena_u32(d0 + c), slots, cols, c)];
            if (xv != 0.0) { acc = acc + arena[m0 + c * m_step] * xv; }
        }
    }
    return acc;
}

// Row i of stdp_delayed.wgsl: every column when the post neuron spiked (or the mask does not
// fit), else only the columns of the mask (a spike in the ring), each exactly as stdp_delayed.
fn stdp_delayed_row(mk: u32, masked: bool, q: StdpRule, w0: u32, w_step: u32, d0: u32, hb: u32, now: u32, slots: u32, cols: u32, post_spike: bool, o1: f32, o2: f32, l: f32) {
    let words = (cols + 31u) / 32u;
    let all = post_spike || !masked;
    for (var wd = 0u; wd < words; wd = wd + 1u) {
        var bits = 0xFFFFFFFFu;
        if (!all) { bits = atomicLoad(&wmask[mk + wd]); }
        while (bits != 0u) {
            let j = wd * 32u + firstTrailingBit(bits);
            bits = bits & (bits - 1u);
            if (j >= cols) { break; }
            stdp_at_arrival(q, w0 + j * w_step, arrival_at(hb, now, arena_u32(d0 + j), slots, cols, j), cols, post_spike, o1, o2, l);
        }
    }
}

// Row r of delayed_matvec_inc.wgsl over the mask of x (or every column): each non-zero x_c
// adds m[r, c] * x_c to the ring slot where it arrives, in column order.
fn delayed_row(mk: u32, masked: bool, m0: u32, m_step: u32, d0: u32, d_step: u32, x0: u32, ring0: u32, k: u32, slots: u32, rows: u32, cols: u32) {
    let words = (cols + 31u) / 32u;
    for (var wd = 0u; wd < words; wd = wd + 1u) {
        var bits = 0xFFFFFFFFu;
        if (masked) { bits = atomicLoad(&wmask[mk + wd]); }
        while (bits != 0u) {
            let c = wd * 32u + firstTrailingBit(bits);
            bits = bits & (bits - 1u);
            if (c >= cols) { break; }
            let xv = arena[x0 + c];
            if (xv != 0.0) {
                let at_r = ring0 + ring_slot(k, ctrl[1], ctrl[2], arena_u32(d0 + c * d_step), slots) * rows;
                arena[at_r] = arena[at_r] + arena[m0 + c * m_step] * xv;
            }
        }
    }
}

// `mk`: the mask the op reads (0 or MASK_WORDS), if it reads one.
fn run_op(o: u32, b: u32, k: u32, step: vec2<u32>, lid: u32, mk: u32) {
    let code = op_code(o);
    let n = ops[o + 1u];
    switch code {
        case OP_ZERO: {
            let y = at(o, 0u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) { arena[y + e] = 0.0; }
        }
        case OP_BROADCAST: {
            let s = at(o, 0u, b);
            let y = at(o, 1u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) { arena[y + e] = arena[s + e]; }
        }
        case OP_HOST_INPUT: {
            let y = at(o, 0u, b);
            let h = pu(o, 0u) + k * fp.batch * n + b * n;
            for (var e = lid; e < n; e = e + FUSED_WG) { arena[y + e] = host[h + e]; }
        }
        case OP_POISSON: {
            let r = at(o, 0u, b);
            let y = at(o, 1u, b);
            let seed = vec2<u32>(fp.seed_lo, fp.seed_hi);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                let dk = draw_key(seed, fp.per_instance, b, n, e);
                arena[y + e] = poisson_one(dk.seed, pu(o, 0u), step, dk.index, arena[r + e], pf(o, 0u));
            }
        }
        case OP_UNIFORM_NOISE: {
            let y = at(o, 0u, b);
            let seed = vec2<u32>(fp.seed_lo, fp.seed_hi);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                let dk = draw_key(seed, fp.per_instance, b, n, e);
                arena[y + e] = uniform_noise_one(dk.seed, pu(o, 0u), step, dk.index, pf(o, 0u), pf(o, 1u));
            }
        }
        case OP_ADD_INC: {
            let x = at(o, 0u, b);
            let y = at(o, 1u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) { arena[y + e] = add_inc_one(arena[y + e], arena[x + e]); }
        }
        case OP_SCALE_INC: {
            let s = at(o, 0u, b);
            let x = at(o, 1u, b);
            let y = at(o, 2u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                arena[y + e] = scale_inc_one(arena[y + e], arena[s + e], arena[x + e]);
            }
        }
        case OP_MATVEC_INC: {
            let cols = pu(o, 0u);
            // Row r, column c at m + r * row_step + c * col_step (row-major or presynaptic-major).
            let row_step = pu(o, 1u);
            let col_step = pu(o, 2u);
            let m = at(o, 0u, b);
            let x = at(o, 1u, b);
            let y = at(o, 2u, b);
            if (mask_fits(cols)) {
                for (var r = lid; r < n; r = r + FUSED_WG) {
                    arena[y + r] = arena[y + r] + pf(o, 0u) * matvec_row_masked(mk, m + r * row_step, col_step, x, cols);
                }
            } else {
                for (var r = lid; r < n; r = r + FUSED_WG) {
                    arena[y + r] = arena[y + r] + pf(o, 0u) * matvec_row(m + r * row_step, col_step, x, cols);
                }
            }
        }
        case OP_ALL_BUT_SELF_INC: {
            let s = at(o, 0u, b);
            let x = at(o, 1u, b);
            let y = at(o, 2u, b);
            var total = 0.0;
            if (mask_fits(n)) { total = sum_all_masked(mk, x, n); } else { total = sum_all(x, n); }
            for (var e = lid; e < n; e = e + FUSED_WG) {
                arena[y + e] = arena[y + e] + arena[s + e] * (total - arena[x + e]);
            }
        }
        case OP_STDP: {
            let l = arena[at(o, 6u, b)];
            if (l != 0.0) {
                let cols = pu(o, 0u);
                let rule = stdp_rule(o);
                let pre = at(o, 0u, b);
                let post = at(o, 1u, b);
                let r1 = at(o, 2u, b);
                let r2 = at(o, 3u, b);
                let o1s = at(o, 4u, b);
                let o2s = at(o, 5u, b);
                let w = at(o, 7u, b);
                let row_step = pu(o, 2u);
                let col_step = pu(o, 3u);
                let masked = mask_fits(cols);
                for (var r = lid; r < n; r = r + FUSED_WG) {
                    let post_spike = arena[post + r] != 0.0;
                    let o1 = arena[o1s + r] * pf(o, 2u);
                    let o2 = arena[o2s + r] * pf(o, 3u);
                    let w0 = w + r * row_step;
                    if (post_spike || !masked) {
                        stdp_row(rule, w0, col_step, pre, r1, r2, cols, post_spike, o1, o2, l);
                    } else {
                        stdp_row_masked(mk, rule, w0, col_step, r1, r2, cols, o1, o2, l);
                    }
                }
            }
        }
        case OP_TRACE: {
            let s = at(o, 0u, b);
            let x = at(o, 1u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                arena[x + e] = trace_one(arena[x + e], arena[s + e], pf(o, 0u), pu(o, 0u) != 0u);
            }
        }
        case OP_LIF: {
            let q = lif_params(o);
            let j = at(o, 0u, b);
            let y = at(o, 1u, b);
            let v = at(o, 2u, b);
            let rf = at(o, 3u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                let r = lif_one(q, arena[j + e], arena[v + e], arena[rf + e]);
                arena[y + e] = r.x;
                arena[v + e] = r.y;
                arena[rf + e] = r.z;
            }
        }
        case OP_LIF_RATE: {
            let q = lif_params(o);
            let j = at(o, 0u, b);
            let y = at(o, 1u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) { arena[y + e] = lif_rate_one(q, arena[j + e]); }
        }
        case OP_ADAPTIVE_LIF: {
            let q = lif_params(o);
            let j = at(o, 0u, b);
            let y = at(o, 1u, b);
            let v = at(o, 2u, b);
            let rf = at(o, 3u, b);
            let na = at(o, 4u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                let r = lif_one(q, arena[j + e] - arena[na + e], arena[v + e], arena[rf + e]);
                arena[y + e] = r.x;
                arena[v + e] = r.y;
                arena[rf + e] = r.z;
                arena[na + e] = adaptive_n_one(q, arena[na + e], r.x);
            }
        }
        case OP_DIEHL_COOK: {
            let c = DcConsts(pf(o, 0u), pf(o, 1u), pf(o, 2u), pf(o, 3u), pf(o, 4u), pf(o, 5u), pf(o, 6u),
                pf(o, 7u), pf(o, 8u), pf(o, 9u), pf(o, 10u), pf(o, 11u), pf(o, 12u), pf(o, 13u));
            let l = arena[at(o, 0u, b)];
            let y = at(o, 1u, b);
            let v = at(o, 2u, b);
            let ge = at(o, 3u, b);
            let gi = at(o, 4u, b);
            let th = at(o, 5u, b);
            let td = at(o, 6u, b);
            let rf = at(o, 7u, b);
            let gei = at(o, 8u, b);
            let gii = at(o, 9u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                let r = dc_one(c, l, arena[v + e], arena[ge + e], arena[gi + e], arena[th + e],
                    arena[td + e], arena[rf + e], arena[gei + e], arena[gii + e]);
                arena[gei + e] = 0.0;
                arena[gii + e] = 0.0;
                arena[y + e] = r.out;
                arena[v + e] = r.v;
                arena[ge + e] = r.ge;
                arena[gi + e] = r.gi;
                arena[th + e] = r.theta;
                arena[td + e] = r.theta_decay;
                arena[rf + e] = r.refr;
            }
        }
        case OP_LOWPASS: {
            let x = at(o, 0u, b);
            let y = at(o, 1u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) { arena[y + e] = lowpass_one(pf(o, 0u), arena[y + e], arena[x + e]); }
        }
        case OP_ALPHA: {
            let x = at(o, 0u, b);
            let z = at(o, 1u, b);
            let y = at(o, 2u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                let yz = alpha_one(pf(o, 0u), pf(o, 1u), pf(o, 2u), arena[x + e], arena[z + e], arena[y + e]);
                arena[y + e] = yz.x;
                arena[z + e] = yz.y;
            }
        }
        case OP_PROBE: {
            // u: ring offset, sample table in ctrl (twin: probe.wgsl).
            let sample = probe_sample(pu(o, 1u), k);
            if (sample != NO_SAMPLE) {
                let s = at(o, 0u, b);
                let dst = pu(o, 0u) + sample * fp.batch * n + b * n;
                for (var e = lid; e < n; e = e + FUSED_WG) { rings[dst + e] = arena[s + e]; }
            }
        }
        case OP_NORMALIZE_ROWS: {
            let cols = pu(o, 0u);
            let w = at(o, 0u, b);
            for (var r = lid; r < n; r = r + FUSED_WG) { normalize_row(w + r * pu(o, 1u), pu(o, 2u), cols, pf(o, 0u)); }
        }
        case OP_PRE_HISTORY: {
            // u: slots; buffers: pre, r1, r2, hist (n = cols).
            let slots = pu(o, 0u);
            let x = at(o, 0u, b);
            let r1 = at(o, 1u, b);
            let r2 = at(o, 2u, b);
            let hb = at(o, 3u, b);
            let slot = ring_slot(k, ctrl[1], ctrl[2], 0u, slots);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                pre_history_one(hb, slot, slots, n, e, arena[x + e], arena[r1 + e], arena[r2 + e]);
            }
        }
        case OP_ARRIVAL_MATVEC_INC: {
            // u: cols, slots, row step, column step of m; f: scale; buffers: m, delays (row-major),
            // hist, y.
            let cols = pu(o, 0u);
            let slots = pu(o, 1u);
            let m = at(o, 0u, b);
            let d = at(o, 1u, b);
            let hb = at(o, 2u, b);
            let y = at(o, 3u, b);
            let now = ring_slot(k, ctrl[1], ctrl[2], 0u, slots);
            let masked = mask_fits(cols);
            for (var r = lid; r < n; r = r + FUSED_WG) {
                arena[y + r] = arena[y + r] + pf(o, 0u) * arrival_row(mk, masked, m + r * pu(o, 2u), pu(o, 3u), d + r * cols, hb, now, slots, cols);
            }
        }
        case OP_STDP_DELAYED: {
            // u: cols, flags, slots, row step, column step of w; f: the rule as for OP_STDP;
            // buffers: delays (row-major), hist, post, post traces (2), learn, w.
            let l = arena[at(o, 5u, b)];
            if (l != 0.0) {
                let cols = pu(o, 0u);
                let slots = pu(o, 2u);
                let rule = stdp_rule(o);
                let d = at(o, 0u, b);
                let hb = at(o, 1u, b);
                let post = at(o, 2u, b);
                let o1s = at(o, 3u, b);
                let o2s = at(o, 4u, b);
                let w = at(o, 6u, b);
                let now = ring_slot(k, ctrl[1], ctrl[2], 0u, slots);
                let masked = mask_fits(cols);
                for (var r = lid; r < n; r = r + FUSED_WG) {
                    let o1 = arena[o1s + r] * pf(o, 2u);
                    let o2 = arena[o2s + r] * pf(o, 3u);
                    stdp_delayed_row(mk, masked, rule, w + r * pu(o, 3u), pu(o, 4u), d + r * cols, hb, now, slots, cols, arena[post + r] != 0.0, o1, o2, l);
                }
            }
        }
        case OP_DELAYED_MATVEC_INC: {
            // u: cols, slots, row step and column step of m, then of the delays; buffers: m,
            // delays, x, ring.
            let cols = pu(o, 0u);
            let slots = pu(o, 1u);
            let m = at(o, 0u, b);
            let d = at(o, 1u, b);
            let x = at(o, 2u, b);
            let ring = at(o, 3u, b);
            let masked = mask_fits(cols);
            for (var r = lid; r < n; r = r + FUSED_WG) {
                delayed_row(mk, masked, m + r * pu(o, 2u), pu(o, 3u), d + r * pu(o, 4u), pu(o, 5u), x, ring + r, k, slots, n, cols);
            }
        }
        case OP_DELAY_WRITE: {
            // u: slots, delay; buffers: x, ring (n values per slot).
            let x = at(o, 0u, b);
            let ring = at(o, 1u, b) + ring_slot(k, ctrl[1], ctrl[2], pu(o, 1u), pu(o, 0u)) * n;
            for (var e = lid; e < n; e = e + FUSED_WG) { arena[ring + e] = arena[ring + e] + arena[x + e]; }
        }
        case OP_DELAY_READ: {
            // u: slots; f: scale; buffers: ring, y. What arrives now, then the slot is cleared.
            let ring = at(o, 0u, b) + ring_slot(k, ctrl[1], ctrl[2], 0u, pu(o, 0u)) * n;
            let y = at(o, 1u, b);
            for (var e = lid; e < n; e = e + FUSED_WG) {
                arena[y + e] = arena[y + e] + pf(o, 0u) * arena[ring + e];
                arena[ring + e] = 0.0;
            }
        }
        default: {}
    }
}

@compute @workgroup_size(FUSED_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let b = wid.x + wid.y * nwg.x;
    // Every invocation reaches every barrier (no early return); spare workgroups do no work.
    let in_batch = b < fp.batch;
    // The mask the next mask op fills (0 or MASK_WORDS); uniform across the workgroup.
    var mk = 0u;
    for (var k = fp.k_begin; k < fp.k_begin + fp.n_steps; k = k + 1u) {
        let step = global_step(k, ctrl[1], ctrl[2]);
        for (var op = fp.op_begin; op < fp.op_end; op = op + 1u) {
            let o = op * OP_WORDS;
            if ((ops[o] & BARRIER_BEFORE) != 0u) {
                storageBarrier();
                workgroupBarrier();
            }
            let run = in_batch && (fp.skip & (1u << op_code(o))) == 0u;
            if (uses_mask(o)) {
                mk = MASK_WORDS - mk;
                if (in_batch) {
                    clear_mask(lid, MASK_WORDS - mk);
                    if (run && (fp.skip & 1u) == 0u) {
                        set_mask(o, b, lid, mk);
                    }
                }
                workgroupBarrier();
            }
            if (run) {
                run_op(o, b, k, step, lid, mk);
            }
        }
    }
}
