//! Connectivity and delays: sparse (CSR) transmission, STDP and weight normalisation on sparse
//! weights, and synaptic delays (one per connection, or one per synapse), on both backends.
//!
//! Op tests run hand-made plans with odd sizes (not multiples of the workgroup size), several
//! instances, and a run that crosses both a chunk boundary and the 32-bit boundary of the step
//! counter (ring-buffer slots are computed from the 64-bit step). Network tests check exact
//! timing GeNN-style: a node's output `t` spikes at step `t`, and the connectivity spells `t` in
//! binary at the targets, so every arrival is predicted exactly.

mod common;

use common::{Tol, requested};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use volley::backend::cpu::CpuBackend;
use volley::backend::gpu::{AdapterPolicy, GpuBackend};
use volley::backend::{Backend, HostInputs, ProbeRecords};
use volley::compile::{
    BufId, Buffer, BufferKind, Op, Plan, ProbeSlot, Sampling, StdpConsts, f32_to_index,
    index_to_f32,
};
use volley::model::{Delays, MAX_DELAY_STEPS, Sparse};
use volley::prelude::*;

const BATCH: usize = 3;
const DT: f64 = 0.001;

fn gpu_wanted() -> bool {
    if !requested("gpu") {
        eprintln!("gpu not in VOLLEY_TEST_BACKENDS: this run asked for the CPU only");
        return false;
    }
    true
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn buf(name: &str, kind: BufferKind, init: Vec<f32>) -> Buffer {
    Buffer {
        name: name.into(),
        len: init.len(),
        kind,
        init,
    }
}

fn ibuf(name: &str, values: &[u32]) -> Buffer {
    buf(
        name,
        BufferKind::Index,
        values.iter().map(|&v| index_to_f32(v)).collect(),
    )
}

fn uniform(r: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

/// A random CSR structure (rows x cols) with about `density` of the entries, some rows empty.
fn random_csr(r: &mut ChaCha8Rng, rows: usize, cols: usize, density: f64) -> (Vec<u32>, Vec<u32>) {
    let mut indptr = vec![0u32];
    let mut indices = Vec::new();
    for i in 0..rows {
        if i % 7 != 3 {
            for j in 0..cols {
                if r.random::<f64>() < density {
                    indices.push(j as u32);
                }
            }
        }
        indptr.push(indices.len() as u32);
    }
    (indptr, indices)
}

fn plan(buffers: Vec<Buffer>, step: Vec<Op>, probes: Vec<ProbeSlot>) -> Plan {
    Plan {
        dt: DT,
        batch: BATCH,
        seed: 0x5EED_C0DE,
        keying: Default::default(),
        buffers,
        step,
        boundary: vec![],
        learn: None,
        host_inputs: vec![],
        probes,
    }
}

/// Runs `plan` on the CPU and, when `gpu`, on the GPU (chunks of 97 steps), after writing
/// `writes` (e.g. different weights per instance) and running the boundary ops once when
/// `boundary`. Returns every buffer and the probe records of each backend run.
fn run(
    plan: &Plan,
    gpu: bool,
    writes: &[(BufId, Vec<f32>)],
    boundary: bool,
    first_step: u64,
    steps: usize,
) -> Vec<(Vec<Vec<f32>>, ProbeRecords)> {
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(CpuBackend::new(plan).unwrap())];
    if gpu {
        backends.push(Box::new(
            GpuBackend::new(plan, AdapterPolicy::Any, 97).unwrap_or_else(|e| {
                panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)")
            }),
        ));
    }
    let mut out = Vec::new();
    for be in &mut backends {
        for (id, v) in writes {
            be.write(*id, v).unwrap();
        }
        if boundary {
            be.boundary().unwrap();
        }
        let mut rec = ProbeRecords::default();
        be.run(first_step, steps, &HostInputs::default(), &mut rec)
            .unwrap();
        let bufs = (0..plan.buffers.len())
            .map(|i| be.read(BufId(i)).unwrap())
            .collect();
        out.push((bufs, rec));
    }
    out
}

/// Compares two runs buffer by buffer (index buffers bit for bit) and probe by probe; panics at
/// the first mismatch with its position and values.
fn compare(
    plan: &Plan,
    a: &(Vec<Vec<f32>>, ProbeRecords),
    b: &(Vec<Vec<f32>>, ProbeRecords),
    tol: Tol,
) {
    for (i, buffer) in plan.buffers.iter().enumerate() {
        let (x, y) = (&a.0[i], &b.0[i]);
        assert_eq!(x.len(), y.len(), "buffer {} length", buffer.name);
        for k in 0..x.len() {
            let ok = if buffer.kind == BufferKind::Index {
                x[k].to_bits() == y[k].to_bits()
            } else {
                tol.ok(x[k], y[k])
            };
            assert!(
                ok,
                "buffer {} differs at index {k} (instance {}, element {}): cpu {} gpu {} (tol {tol:?})",
                buffer.name,
                k / buffer.len.max(1),
                k % buffer.len.max(1),
                x[k],
                y[k]
            );
        }
    }
    for (p, (x, y)) in a.1.values.iter().zip(&b.1.values).enumerate() {
        assert_eq!(x.len(), y.len(), "probe {p} length");
        for k in 0..x.len() {
            assert!(
                tol.ok(x[k], y[k]),
                "probe {p} differs at sample value {k}: cpu {} gpu {} (tol {tol:?})",
                x[k],
                y[k]
            );
        }
    }
}

// Sums of positive products in the same order on both backends: each product-add may be
// contracted into one fused multiply-add on the GPU (one rounding instead of two), a few ulp of
// the result over a row. Positive weights, so there is no cancellation to magnify that.
const SUMS: Tol = Tol {
    abs: 1e-6,
    rel: 2e-6,
};

#[test]
fn sparse_and_delay_ops_agree() {
    let mut r = rng(1);
    let (rows, cols) = (29, 67);
    let (indptr, indices) = random_csr(&mut r, rows, cols, 0.3);
    let nnz = indices.len();
    let sparse_slots = 7;
    let dense_slots = 13;
    let line_slots = 5;
    let sparse_delays: Vec<u32> = (0..nnz)
        .map(|_| r.random_range(0..sparse_slots as u32))
        .collect();
    let dense_delays: Vec<u32> = (0..rows * cols)
        .map(|_| r.random_range(0..dense_slots as u32))
        .collect();
    let buffers = vec![
        buf(
            "pre_rates",
            BufferKind::State,
            uniform(&mut r, cols, 0.0, 300.0),
        ), // 0
        buf("pre", BufferKind::Temp, vec![0.0; cols]), // 1
        ibuf("indptr", &indptr),                       // 2
        ibuf("indices", &indices),                     // 3
        buf(
            "w_shared",
            BufferKind::Param,
            uniform(&mut r, nnz, 0.1, 1.0),
        ), // 4
        buf("w_inst", BufferKind::State, vec![0.0; nnz]), // 5
        buf("y_sparse", BufferKind::Temp, vec![0.0; rows]), // 6
        buf("y_sparse_inst", BufferKind::Temp, vec![0.0; rows]), // 7
        ibuf("delays_sparse", &sparse_delays),         // 8
        buf(
            "ring_sparse",
            BufferKind::State,
            vec![0.0; sparse_slots * rows],
        ), // 9
        buf(
            "y_dsparse",
            BufferKind::State,
            uniform(&mut r, rows, 0.0, 1.0),
        ), // 10
        buf("m_dense", BufferKind::State, vec![0.0; rows * cols]), // 11
        ibuf("delays_dense", &dense_delays),           // 12
        buf(
            "ring_dense",
            BufferKind::State,
            vec![0.0; dense_slots * rows],
        ), // 13
        buf("y_ddense", BufferKind::Temp, vec![0.0; rows]), // 14
        buf("ring_line", BufferKind::State, vec![0.0; line_slots * rows]), // 15
        buf("y_line", BufferKind::Temp, vec![0.0; rows]), // 16
        buf(
            "m_shared",
            BufferKind::Param,
            uniform(&mut r, rows * cols, 0.1, 1.0),
        ), // 17
        buf(
            "ring_dense_shared",
            BufferKind::State,
            vec![0.0; dense_slots * rows],
        ), // 18
        buf(
            "ring_sparse_shared",
            BufferKind::State,
            vec![0.0; sparse_slots * rows],
        ), // 19
        buf("y_shared", BufferKind::Temp, vec![0.0; rows]), // 20
    ];
    let step = vec![
        Op::PoissonSpikes {
            rates: BufId(0),
            out: BufId(1),
            stream: 3,
        },
        Op::Zero { dst: BufId(6) },
        Op::SparseInc {
            indptr: BufId(2),
            indices: BufId(3),
            w: BufId(4),
            rows,
            cols,
            x: BufId(1),
            y: BufId(6),
            scale: 0.001,
        },
        Op::Zero { dst: BufId(7) },
        Op::SparseInc {
            indptr: BufId(2),
            indices: BufId(3),
            w: BufId(5),
            rows,
            cols,
            x: BufId(1),
            y: BufId(7),
            scale: 1.0,
        },
        Op::DelayedSparseInc {
            indptr: BufId(2),
            indices: BufId(3),
            w: BufId(5),
            delays: BufId(8),
            rows,
            cols,
            x: BufId(1),
            ring: BufId(9),
            slots: sparse_slots,
        },
        // Accumulates over the run (a state), scaled like a conductance port.
        Op::DelayRead {
            ring: BufId(9),
            slots: sparse_slots,
            y: BufId(10),
            scale: 0.001,
        },
        Op::DelayedMatVecInc {
            m: BufId(11),
            delays: BufId(12),
            rows,
            cols,
            x: BufId(1),
            ring: BufId(13),
            slots: dense_slots,
        },
        Op::Zero { dst: BufId(14) },
        Op::DelayRead {
            ring: BufId(13),
            slots: dense_slots,
            y: BufId(14),
            scale: 1.0,
        },
        Op::DelayWrite {
            x: BufId(6),
            ring: BufId(15),
            slots: line_slots,
            delay: line_slots - 1,
        },
        Op::Zero { dst: BufId(16) },
        Op::DelayRead {
            ring: BufId(15),
            slots: line_slots,
            y: BufId(16),
            scale: 1.0,
        },
        // Shared (evaluation-mode) weights with per-synapse delays.
        Op::DelayedMatVecInc {
            m: BufId(17),
            delays: BufId(12),
            rows,
            cols,
            x: BufId(1),
            ring: BufId(18),
            slots: dense_slots,
        },
        Op::DelayedSparseInc {
            indptr: BufId(2),
            indices: BufId(3),
            w: BufId(4),
            delays: BufId(8),
            rows,
            cols,
            x: BufId(1),
            ring: BufId(19),
            slots: sparse_slots,
        },
        Op::Zero { dst: BufId(20) },
        Op::DelayRead {
            ring: BufId(18),
            slots: dense_slots,
            y: BufId(20),
            scale: 1.0,
        },
        Op::DelayRead {
            ring: BufId(19),
            slots: sparse_slots,
            y: BufId(20),
            scale: 0.5,
        },
        Op::Probe {
            probe: 0,
            src: BufId(7),
            sampling: Sampling::EVERY_STEP,
        },
        Op::Probe {
            probe: 1,
            src: BufId(14),
            sampling: Sampling::EVERY_STEP,
        },
        Op::Probe {
            probe: 2,
            src: BufId(16),
            sampling: Sampling::EVERY_STEP,
        },
        Op::Probe {
            probe: 3,
            src: BufId(6),
            sampling: Sampling::EVERY_STEP,
        },
        Op::Probe {
            probe: 4,
            src: BufId(20),
            sampling: Sampling::EVERY_STEP,
        },
    ];
    let probes = [7, 14, 16, 6, 20]
        .iter()
        .enumerate()
        .map(|(probe, &src)| ProbeSlot {
            probe,
            src: BufId(src),
            len: rows,
            sampling: Sampling::EVERY_STEP,
        })
        .collect();
    let p = plan(buffers, step, probes);
    // Different weights in every instance (the per-instance strides).
    let writes = vec![
        (BufId(5), uniform(&mut r, BATCH * nnz, 0.1, 1.0)),
        (BufId(11), uniform(&mut r, BATCH * rows * cols, 0.1, 1.0)),
    ];
    // From 40 steps before the step counter's 32-bit boundary: the ring slots use all 64 bits.
    let first = (1u64 << 32) - 40;
    let steps = 150;
    let runs = run(&p, gpu_wanted(), &writes, false, first, steps);
    let cpu = &runs[0];

    // The interesting paths ran: spikes, and delayed input arriving from every ring.
    let rec = &cpu.1.values;
    assert!(rec[0].iter().any(|&v| v != 0.0), "no sparse input at all");
    for (k, name) in [
        (1, "dense per-synapse"),
        (2, "delay line"),
        (4, "shared per-synapse"),
    ] {
        let nonzero = rec[k].iter().filter(|&&v| v != 0.0).count();
        assert!(
            nonzero > rec[k].len() / 4,
            "{name}: only {nonzero} values arrived"
        );
    }
    // The delay line is the undelayed sum, `line_slots - 1` steps later, bit for bit.
    let d = line_slots - 1;
    let per_step = BATCH * rows;
    assert!(rec[2][..d * per_step].iter().all(|&v| v == 0.0));
    assert_eq!(&rec[2][d * per_step..], &rec[3][..(steps - d) * per_step]);
    // Per-synapse delays on the CPU, against a direct evaluation of their definition.
    // The Poisson spikes of buffer 1 (stream 3) at each step.
    let spikes = replay_spikes(&p, &p.buffers[0].init, 3, first, steps);
    let w = &writes[1].1;
    for t in 0..steps {
        for b in 0..BATCH {
            for i in 0..rows {
                let mut expected = 0.0f64;
                let mut arrived = false;
                for c in 0..cols {
                    let dly = dense_delays[i * cols + c] as usize;
                    if t >= dly && spikes[t - dly][b * cols + c] {
                        expected += w[(b * rows + i) * cols + c] as f64 * 1000.0;
                        arrived = true;
                    }
                }
                let got = rec[1][(t * BATCH + b) * rows + i] as f64;
                assert!(
                    (got - expected).abs() <= 1e-5 * expected,
                    "step {t} instance {b} row {i}: {got} arrived, expected {expected}"
                );
                assert_eq!(arrived, got != 0.0);
            }
        }
    }
    if runs.len() == 2 {
        compare(&p, &runs[0], &runs[1], SUMS);
    }
}

fn stdp_rules() -> [StdpConsts; 2] {
    let triplet = StdpConsts {
        decay_r1: 0.95,
        decay_r2: 0.99,
        decay_o1: 0.93,
        decay_o2: 0.98,
        a2_plus: 0.01,
        a3_plus: 0.005,
        a2_minus: 0.012,
        a3_minus: 0.002,
        w_min: 0.0,
        w_max: 1.0,
        nearest: false,
        multiplicative: true,
    };
    let dc = StdpConsts {
        decay_r1: 0.95,
        decay_r2: 1.0,
        decay_o1: 0.95,
        decay_o2: 0.975,
        a2_plus: 0.0,
        a3_plus: 0.01,
        a2_minus: 0.0001,
        a3_minus: 0.0,
        w_min: 0.0,
        w_max: 1.0,
        nearest: true,
        multiplicative: false,
    };
    [triplet, dc]
}

/// The trace updates of the STDP op tests' layout: pre spikes in buffer 1, post spikes in 3,
/// traces r1, r2, o1, o2 in buffers 5-8.
fn trace_ops(rule: &StdpConsts) -> Vec<Op> {
    [
        (5, 1, rule.decay_r1),
        (6, 1, rule.decay_r2),
        (7, 3, rule.decay_o1),
        (8, 3, rule.decay_o2),
    ]
    .into_iter()
    .map(|(x, sp, d)| Op::Trace {
        x: BufId(x),
        spikes: BufId(sp),
        decay: d,
        nearest: rule.nearest,
    })
    .collect()
}

#[test]
fn stdp_on_sparse_equals_stdp_on_dense_for_stored_entries() {
    let (rows, cols) = (29, 67);
    for (case, rule) in stdp_rules().into_iter().enumerate() {
        let mut r = rng(10 + case as u64);
        let (indptr, indices) = random_csr(&mut r, rows, cols, 0.35);
        let nnz = indices.len();
        let dense_w: Vec<f32> = uniform(&mut r, BATCH * rows * cols, 0.0, 1.0);
        // The sparse values are the dense matrix's stored entries, instance by instance.
        let stored = |w: &[f32]| -> Vec<f32> {
            let mut v = Vec::with_capacity(BATCH * nnz);
            for b in 0..BATCH {
                for i in 0..rows {
                    for k in indptr[i]..indptr[i + 1] {
                        v.push(w[(b * rows + i) * cols + indices[k as usize] as usize]);
                    }
                }
            }
            v
        };
        let buffers = vec![
            buf(
                "pre_rates",
                BufferKind::State,
                uniform(&mut r, cols, 0.0, 150.0),
            ), // 0
            buf("pre", BufferKind::Temp, vec![0.0; cols]), // 1
            buf(
                "post_rates",
                BufferKind::State,
                uniform(&mut r, rows, 0.0, 150.0),
            ), // 2
            buf("post", BufferKind::Temp, vec![0.0; rows]), // 3
            buf("w_dense", BufferKind::State, vec![0.0; rows * cols]), // 4
            buf("r1", BufferKind::State, vec![0.0; cols]), // 5
            buf("r2", BufferKind::State, vec![0.0; cols]), // 6
            buf("o1", BufferKind::State, vec![0.0; rows]), // 7
            buf("o2", BufferKind::State, vec![0.0; rows]), // 8
            buf("learn", BufferKind::Param, vec![1.0]),    // 9
            ibuf("indptr", &indptr),                       // 10
            ibuf("indices", &indices),                     // 11
            buf("w_sparse", BufferKind::State, vec![0.0; nnz]), // 12
        ];
        let mut step = vec![
            Op::PoissonSpikes {
                rates: BufId(0),
                out: BufId(1),
                stream: 1,
            },
            Op::PoissonSpikes {
                rates: BufId(2),
                out: BufId(3),
                stream: 2,
            },
            Op::Stdp {
                rule,
                w: BufId(4),
                rows,
                cols,
                pre: BufId(1),
                post: BufId(3),
                traces: [BufId(5), BufId(6), BufId(7), BufId(8)],
                learn: BufId(9),
            },
            Op::StdpSparse {
                rule,
                indptr: BufId(10),
                indices: BufId(11),
                w: BufId(12),
                rows,
                cols,
                pre: BufId(1),
                post: BufId(3),
                traces: [BufId(5), BufId(6), BufId(7), BufId(8)],
                learn: BufId(9),
            },
        ];
        step.extend(trace_ops(&rule));
        let p = plan(buffers, step, vec![]);
        let writes = vec![(BufId(4), dense_w.clone()), (BufId(12), stored(&dense_w))];
        let runs = run(&p, gpu_wanted(), &writes, false, 0, 300);
        for (be, (bufs, _)) in runs.iter().enumerate() {
            let want = stored(&bufs[4]);
            let got = &bufs[12];
            let changed = got.iter().zip(&writes[1].1).filter(|(a, b)| a != b).count();
            assert!(
                changed > got.len() / 2,
                "STDP changed only {changed} weights"
            );
            for k in 0..got.len() {
                // CPU: the same function on the same numbers, bit for bit. GPU: the same WGSL
                // function inlined into two kernels, which a compiler may contract differently.
                let ok = if be == 0 {
                    got[k] == want[k]
                } else {
                    (got[k] - want[k]).abs() <= 1e-6
                };
                assert!(
                    ok,
                    "rule {case}, backend {be}: sparse entry {k} = {} but dense = {}",
                    got[k], want[k]
                );
            }
        }
        if runs.len() == 2 {
            // 300 steps of accumulated f32 updates (each within a few ulp; FMA contraction on
            // the GPU), as in cross_backend's plasticity test.
            compare(
                &p,
                &runs[0],
                &runs[1],
                Tol {
                    abs: 1e-4,
                    rel: 1e-4,
                },
            );
        }
    }
}

/// Synapse-by-synapse reference of STDP at arrival (Brian's delayed `on_pre`): each synapse
/// keeps its own pre traces, updated when a spike arrives (`delays[i * cols + j]` steps after it
/// was emitted), and sees the post spike and traces of the step. `pre` and `post` are the spikes
/// of each step, `pre[t][b * cols + j]`, `post[t][b * rows + i]`. Returns the weights after the
/// run, instance by instance.
fn stdp_at_arrival_reference(
    rule: &StdpConsts,
    rows: usize,
    cols: usize,
    delays: &[u32],
    w0: &[f32],
    pre: &[Vec<bool>],
    post: &[Vec<bool>],
) -> Vec<f32> {
    let trace = |x: f32, decay: f32, spike: bool| {
        let d = x * decay;
        match (spike, rule.nearest) {
            (false, _) => d,
            (true, true) => 1.0,
            (true, false) => d + 1.0,
        }
    };
    let mut w = w0.to_vec();
    let mut r1 = vec![0.0f32; BATCH * rows * cols];
    let mut r2 = vec![0.0f32; BATCH * rows * cols];
    let mut o1 = vec![0.0f32; BATCH * rows];
    let mut o2 = vec![0.0f32; BATCH * rows];
    for t in 0..pre.len() {
        for b in 0..BATCH {
            for i in 0..rows {
                let bi = b * rows + i;
                let post_spike = post[t][bi];
                for j in 0..cols {
                    let d = delays[i * cols + j] as usize;
                    let arrives = t >= d && pre[t - d][b * cols + j];
                    let s = bi * cols + j;
                    if arrives || post_spike {
                        w[s] = volley::backend::cpu::stdp_synapse(
                            rule,
                            w[s],
                            arrives,
                            post_spike,
                            r1[s],
                            r2[s],
                            o1[bi] * rule.decay_o1,
                            o2[bi] * rule.decay_o2,
                            1.0,
                        );
                    }
                    r1[s] = trace(r1[s], rule.decay_r1, arrives);
                    r2[s] = trace(r2[s], rule.decay_r2, arrives);
                }
                o1[bi] = trace(o1[bi], rule.decay_o1, post_spike);
                o2[bi] = trace(o2[bi], rule.decay_o2, post_spike);
            }
        }
    }
    w
}

/// The spikes of a Poisson op (`rates` of `n` values, shared by the instances) at each step.
fn replay_spikes(p: &Plan, rates: &[f32], stream: u32, first: u64, steps: usize) -> Vec<Vec<bool>> {
    (0..steps)
        .map(|t| {
            (0..BATCH * rates.len())
                .map(|idx| {
                    let u = volley::rng::uniform(p.seed, stream, first + t as u64, idx as u32);
                    u < rates[idx % rates.len()] * DT as f32
                })
                .collect()
        })
        .collect()
}

#[test]
fn stdp_delayed_is_stdp_at_arrival_on_dense_and_sparse_weights() {
    // Odd sizes, 7 ring slots (delays 0-6 steps), a run across the 32-bit step boundary.
    let (rows, cols, slots, steps) = (13, 41, 7, 260);
    let first = (1u64 << 32) - 101;
    for (case, rule) in stdp_rules().into_iter().enumerate() {
        let mut r = rng(30 + case as u64);
        let (indptr, indices) = random_csr(&mut r, rows, cols, 0.4);
        let nnz = indices.len();
        let delays: Vec<u32> = (0..rows * cols)
            .map(|_| r.random_range(0..slots as u32))
            .collect();
        let pre_rates = uniform(&mut r, cols, 20.0, 200.0);
        let post_rates = uniform(&mut r, rows, 20.0, 200.0);
        let w0: Vec<f32> = uniform(&mut r, BATCH * rows * cols, 0.0, 1.0);
        // The sparse matrix's entries: the dense synapses (values and delays) it stores.
        let stored = |v: &[f32], per_instance: usize| -> Vec<f32> {
            let mut out = Vec::new();
            for b in 0..per_instance {
                for i in 0..rows {
                    for k in indptr[i]..indptr[i + 1] {
                        out.push(v[(b * rows + i) * cols + indices[k as usize] as usize]);
                    }
                }
            }
            out
        };
        let delays_f: Vec<f32> = delays.iter().map(|&d| index_to_f32(d)).collect();
        let m_fixed = uniform(&mut r, rows * cols, 0.1, 1.0);
        let buffers = vec![
            buf("pre_rates", BufferKind::State, pre_rates.clone()), // 0
            buf("pre", BufferKind::Temp, vec![0.0; cols]),          // 1
            buf("post_rates", BufferKind::State, post_rates.clone()), // 2
            buf("post", BufferKind::Temp, vec![0.0; rows]),         // 3
            buf("w_dense", BufferKind::State, vec![0.0; rows * cols]), // 4
            buf("r1", BufferKind::State, vec![0.0; cols]),          // 5
            buf("r2", BufferKind::State, vec![0.0; cols]),          // 6
            buf("o1", BufferKind::State, vec![0.0; rows]),          // 7
            buf("o2", BufferKind::State, vec![0.0; rows]),          // 8
            buf("learn", BufferKind::Param, vec![1.0]),             // 9
            ibuf("indptr", &indptr),                                // 10
            ibuf("indices", &indices),                              // 11
            buf("w_sparse", BufferKind::State, vec![0.0; nnz]),     // 12
            ibuf("delays", &delays),                                // 13
            buf("delays_sparse", BufferKind::Index, stored(&delays_f, 1)), // 14
            buf(
                "hist",
                BufferKind::State,
                vec![0.0; volley::backend::cpu::pre_history_len(slots, cols)],
            ), // 15
            ibuf("no_delays", &vec![0; rows * cols]),               // 16
            buf("w_undelayed", BufferKind::State, vec![0.0; rows * cols]), // 17
            buf("w_stdp", BufferKind::State, vec![0.0; rows * cols]), // 18
            // Transmission at arrival and through the ring of future input, fixed weights.
            buf("m_fixed", BufferKind::Param, m_fixed.clone()), // 19
            buf("y_arrival", BufferKind::Temp, vec![0.0; rows]), // 20
            buf("ring", BufferKind::State, vec![0.0; slots * rows]), // 21
            buf("y_ring", BufferKind::Temp, vec![0.0; rows]),   // 22
            buf("y_arrival_sparse", BufferKind::Temp, vec![0.0; rows]), // 23
            buf("ring_sparse", BufferKind::State, vec![0.0; slots * rows]), // 24
            buf("y_ring_sparse", BufferKind::Temp, vec![0.0; rows]), // 25
            buf("w_fixed_sparse", BufferKind::Param, stored(&m_fixed, 1)), // 26
        ];
        let rule_ops = |w: BufId, delays: BufId| Op::StdpDelayed {
            rule,
            w,
            delays,
            rows,
            cols,
            hist: BufId(15),
            slots,
            post: BufId(3),
            post_traces: [BufId(7), BufId(8)],
            learn: BufId(9),
        };
        let mut step = vec![
            Op::PoissonSpikes {
                rates: BufId(0),
                out: BufId(1),
                stream: 1,
            },
            Op::PoissonSpikes {
                rates: BufId(2),
                out: BufId(3),
                stream: 2,
            },
            Op::PreHistory {
                pre: BufId(1),
                r1: BufId(5),
                r2: BufId(6),
                hist: BufId(15),
                cols,
                slots,
            },
            Op::Zero { dst: BufId(20) },
            Op::ArrivalMatVecInc {
                m: BufId(19),
                delays: BufId(13),
                rows,
                cols,
                hist: BufId(15),
                slots,
                y: BufId(20),
                scale: DT as f32,
            },
            Op::DelayedMatVecInc {
                m: BufId(19),
                delays: BufId(13),
                rows,
                cols,
                x: BufId(1),
                ring: BufId(21),
                slots,
            },
            Op::Zero { dst: BufId(22) },
            Op::DelayRead {
                ring: BufId(21),
                slots,
                y: BufId(22),
                scale: DT as f32,
            },
            // The stored entries of m_fixed.
            Op::Zero { dst: BufId(23) },
            Op::ArrivalSparseInc {
                indptr: BufId(10),
                indices: BufId(11),
                w: BufId(26),
                delays: BufId(14),
                rows,
                cols,
                hist: BufId(15),
                slots,
                y: BufId(23),
                scale: DT as f32,
            },
            Op::DelayedSparseInc {
                indptr: BufId(10),
                indices: BufId(11),
                w: BufId(26),
                delays: BufId(14),
                rows,
                cols,
                x: BufId(1),
                ring: BufId(24),
                slots,
            },
            Op::Zero { dst: BufId(25) },
            Op::DelayRead {
                ring: BufId(24),
                slots,
                y: BufId(25),
                scale: DT as f32,
            },
            rule_ops(BufId(4), BufId(13)),
            Op::StdpSparseDelayed {
                rule,
                indptr: BufId(10),
                indices: BufId(11),
                w: BufId(12),
                delays: BufId(14),
                rows,
                cols,
                hist: BufId(15),
                slots,
                post: BufId(3),
                post_traces: [BufId(7), BufId(8)],
                learn: BufId(9),
            },
            // All delays 0: exactly the undelayed op.
            rule_ops(BufId(17), BufId(16)),
            Op::Stdp {
                rule,
                w: BufId(18),
                rows,
                cols,
                pre: BufId(1),
                post: BufId(3),
                traces: [BufId(5), BufId(6), BufId(7), BufId(8)],
                learn: BufId(9),
            },
        ];
        step.extend(trace_ops(&rule));
        let probed = [20, 22, 23, 25];
        for (probe, &src) in probed.iter().enumerate() {
            step.push(Op::Probe {
                probe,
                src: BufId(src),
                sampling: Sampling::EVERY_STEP,
            });
        }
        let probes = probed
            .iter()
            .enumerate()
            .map(|(probe, &src)| ProbeSlot {
                probe,
                src: BufId(src),
                len: rows,
                sampling: Sampling::EVERY_STEP,
            })
            .collect();
        let p = plan(buffers, step, probes);
        let writes = vec![
            (BufId(4), w0.clone()),
            (BufId(12), stored(&w0, BATCH)),
            (BufId(17), w0.clone()),
            (BufId(18), w0.clone()),
        ];
        let runs = run(&p, gpu_wanted(), &writes, false, first, steps);
        let pre = replay_spikes(&p, &pre_rates, 1, first, steps);
        let post = replay_spikes(&p, &post_rates, 2, first, steps);
        let want = stdp_at_arrival_reference(&rule, rows, cols, &delays, &w0, &pre, &post);
        for (be, (bufs, rec)) in runs.iter().enumerate() {
            // Transmission at arrival delivers what the ring of future input delivers (with
            // fixed weights; the sums in another order: SUMS). With plastic weights they differ
            // where STDP changed a weight while its spike was on the way (Brian reads it at
            // arrival).
            for (a, ring) in [(0, 1), (2, 3)] {
                let (x, y) = (&rec.values[a], &rec.values[ring]);
                assert_eq!(x.len(), steps * BATCH * rows);
                let arrived = x.iter().filter(|v| **v != 0.0).count();
                assert!(arrived > x.len() / 2, "only {arrived} inputs arrived");
                for (k, (u, v)) in x.iter().zip(y).enumerate() {
                    assert!(
                        SUMS.ok(*u, *v),
                        "rule {case}, backend {be}, probe {a}: value {k} is {u} at arrival, {v} through the ring"
                    );
                }
            }
            // CPU: the same f32 operations in the same order as the reference, bit for bit.
            // GPU: the same formula, which the compiler may contract into fused multiply-adds.
            let tol = if be == 0 { 0.0 } else { 1e-5 };
            let check = |name: &str, got: &[f32], want: &[f32]| {
                for (k, (g, w)) in got.iter().zip(want).enumerate() {
                    assert!(
                        (g - w).abs() <= tol,
                        "rule {case}, backend {be}: {name}[{k}] = {g}, expected {w}"
                    );
                }
            };
            // The ring's spike counts are its spikes, column by column, and the slot of each
            // column's latest spike is that of the last step it spiked.
            let len = volley::backend::cpu::pre_history_len(slots, cols);
            for (b, h) in bufs[15].chunks(len).enumerate() {
                for j in 0..cols {
                    let spikes = (0..slots).filter(|s| h[s * 3 * cols + j] != 0.0).count();
                    assert_eq!(
                        h[3 * cols * slots + j],
                        spikes as f32,
                        "instance {b} column {j}"
                    );
                    let t = (0..steps).rev().find(|&t| pre[t][b * cols + j]).unwrap();
                    let slot = ((first + t as u64) % slots as u64) as f32;
                    assert_eq!(
                        h[(3 * slots + 1) * cols + j],
                        slot,
                        "instance {b} column {j}"
                    );
                }
            }
            check("w_dense", &bufs[4], &want);
            check("w_sparse", &bufs[12], &stored(&want, BATCH));
            check("w_undelayed", &bufs[17], &bufs[18]);
            let changed = want.iter().zip(&w0).filter(|(a, b)| a != b).count();
            assert!(
                changed > want.len() / 2,
                "STDP changed only {changed} weights"
            );
            // Delays matter: at arrival differs from at emission for most synapses.
            let differ = want.iter().zip(&bufs[18]).filter(|(a, b)| a != b).count();
            assert!(differ > want.len() / 2, "only {differ} weights differ");
        }
        if runs.len() == 2 {
            compare(
                &p,
                &runs[0],
                &runs[1],
                Tol {
                    abs: 1e-4,
                    rel: 1e-4,
                },
            );
        }
    }
}

#[test]
fn sparse_normalisation_equals_dense_normalisation() {
    let mut r = rng(20);
    let (rows, cols) = (31, 45);
    let (indptr, indices) = random_csr(&mut r, rows, cols, 0.3);
    let nnz = indices.len();
    // Per instance: stored entries random (one row all zero, which is left alone), the rest 0.
    let mut dense = vec![0.0f32; BATCH * rows * cols];
    let mut sparse = vec![0.0f32; BATCH * nnz];
    for b in 0..BATCH {
        for i in 0..rows {
            for k in indptr[i] as usize..indptr[i + 1] as usize {
                let v = if i == 5 {
                    0.0
                } else {
                    r.random_range(0.0..1.0f32)
                };
                dense[(b * rows + i) * cols + indices[k] as usize] = v;
                sparse[b * nnz + k] = v;
            }
        }
    }
    let buffers = vec![
        buf("w_dense", BufferKind::State, vec![0.0; rows * cols]),
        ibuf("indptr", &indptr),
        buf("w_sparse", BufferKind::State, vec![0.0; nnz]),
        // Shared (evaluation-mode) weights are normalised once.
        buf("w_shared", BufferKind::Param, sparse[..nnz].to_vec()),
    ];
    let mut p = plan(buffers, vec![], vec![]);
    p.boundary = vec![
        Op::NormalizeRows {
            w: BufId(0),
            rows,
            cols,
            target: 7.8,
        },
        Op::NormalizeRowsSparse {
            indptr: BufId(1),
            w: BufId(2),
            rows,
            target: 7.8,
        },
        Op::NormalizeRowsSparse {
            indptr: BufId(1),
            w: BufId(3),
            rows,
            target: 7.8,
        },
    ];
    let writes = vec![(BufId(0), dense), (BufId(2), sparse)];
    let runs = run(&p, gpu_wanted(), &writes, true, 0, 0);
    for (be, (bufs, _)) in runs.iter().enumerate() {
        let (d, s) = (&bufs[0], &bufs[2]);
        for b in 0..BATCH {
            for i in 0..rows {
                let mut sum = 0.0f32;
                for k in indptr[i] as usize..indptr[i + 1] as usize {
                    let dv = d[(b * rows + i) * cols + indices[k] as usize];
                    let sv = s[b * nnz + k];
                    // The same sum and product on both layouts (adding the dense row's zeros
                    // changes nothing), so the same bits on every backend.
                    assert_eq!(dv.to_bits(), sv.to_bits(), "backend {be} row {i} entry {k}");
                    sum += sv;
                }
                let empty = indptr[i] == indptr[i + 1] || i == 5;
                assert!(
                    empty && sum == 0.0 || (sum - 7.8).abs() < 1e-5 * 7.8 * cols as f32,
                    "backend {be}: row {i} sums to {sum}"
                );
            }
        }
        assert_eq!(&bufs[3][..], &s[..nnz], "backend {be}: shared copy");
    }
}

/// A node whose output `j` is 1/dt at step `j` and 0 otherwise (step k is t = (k + 1) dt).
fn one_hot_node(n: usize) -> Node {
    Node::function(n, move |t| {
        let k = (t / DT).round() as usize - 1;
        (0..n)
            .map(|j| if j == k { 1.0 / DT } else { 0.0 })
            .collect()
    })
}

/// An ensemble of `n` neurons whose input current is exactly its input (gain 1, bias 0).
fn plain(n: usize) -> Ensemble {
    Ensemble::new(n, 1)
        .neuron_type(NeuronType::rectified_linear())
        .gain_bias(vec![1.0; n], vec![0.0; n])
}

/// Input currents probed at every step, shape (steps, n).
fn currents(sim: &Simulator, p: ProbeId) -> Array2<f64> {
    sim.data_instance(p, 0).unwrap()
}

fn simulator(net: &Network, be: BackendChoice) -> Simulator {
    Simulator::new(net, SimConfig::default().dt(DT).backend(be))
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"))
}

const BITS: usize = 7;
const N_PRE: usize = 100;

/// The connectivity that spells a pre neuron's index in binary: row `i` (bit `i`) holds every
/// pre `j` whose bit `i` is set, with weight 1.
fn binary_sparse() -> Sparse {
    let mut triplets = Vec::new();
    for j in 0..N_PRE {
        for i in 0..BITS {
            if j >> i & 1 == 1 {
                triplets.push((i, j, 1.0));
            }
        }
    }
    Sparse::from_triplets(BITS, N_PRE, &triplets).unwrap()
}

/// The delay in steps of synapse (i, j) in the delayed variants.
fn binary_delay(i: usize, j: usize, offset: usize) -> usize {
    offset + (i + 2 * j) % 5
}

per_backend!(binary_propagation_is_exact, |be| {
    // Pre j fires at step j only; target i receives 1/dt from pre j iff bit i of j is set, so at
    // step t the targets' currents spell t in binary, exactly (sums of 1000.0 in f32). Variants:
    // no delay; per-synapse delays (i + 2j) % 5 steps (some 0: transmitted before the target);
    // the same + 1 (all >= 1: transmitted in the synapse phase, read before the target); one
    // delay of 3 steps for the whole connection.
    let sp = binary_sparse();
    let mut net = Network::new(1);
    let node = net.add_node(one_hot_node(N_PRE)).unwrap();
    let mut probes = Vec::new();
    let variants: [(&str, Option<Delays>); 4] = [
        ("none", None),
        (
            "per synapse from 0",
            Some(Delays::PerSynapse(per_synapse_seconds(&sp, 0))),
        ),
        (
            "per synapse from 1",
            Some(Delays::PerSynapse(per_synapse_seconds(&sp, 1))),
        ),
        ("fixed 3", Some(Delays::Fixed(3.0 * DT))),
    ];
    for (_, delays) in &variants {
        let ens = net.add_ensemble(plain(BITS)).unwrap();
        let mut c = Connection::new(node, ens.neurons())
            .transform(Transform::Sparse(sp.clone()))
            .synapse(None);
        c.delays = delays.clone();
        net.connect(c).unwrap();
        probes.push(net.probe(Probe::input_current(ens)).unwrap());
    }
    let steps = N_PRE + 10;
    let mut sim = simulator(&net, be);
    sim.run_steps(steps as u64).unwrap();
    let text = format!("{}", sim.plan());
    for op in [
        "sparse_inc",
        "delayed_sparse_inc",
        "delay_write",
        "delay_read",
    ] {
        assert!(text.contains(op), "the plan has no {op}:\n{text}");
    }
    let x = (1.0 / DT) as f32 as f64;
    for (v, (name, delays)) in variants.iter().enumerate() {
        let j = currents(&sim, probes[v]);
        for t in 0..steps {
            for i in 0..BITS {
                let expected = match delays {
                    None => (t < N_PRE && t >> i & 1 == 1) as u32,
                    Some(Delays::Fixed(_)) => {
                        (t >= 3 && t - 3 < N_PRE && (t - 3) >> i & 1 == 1) as u32
                    }
                    Some(_) => {
                        let offset = if v == 1 { 0 } else { 1 };
                        (0..N_PRE)
                            .filter(|&p| p >> i & 1 == 1 && p + binary_delay(i, p, offset) == t)
                            .count() as u32
                    }
                };
                assert_eq!(
                    j[[t, i]],
                    expected as f64 * x,
                    "{name}: target {i} at step {t}"
                );
            }
        }
    }
});

/// Per-synapse delays in seconds, in stored-entry order, for [`binary_delay`].
fn per_synapse_seconds(sp: &Sparse, offset: usize) -> Vec<f64> {
    let mut v = Vec::new();
    for i in 0..sp.rows {
        for k in sp.indptr[i]..sp.indptr[i + 1] {
            v.push(binary_delay(i, sp.indices[k], offset) as f64 * DT);
        }
    }
    v
}

per_backend!(bad_delays_and_structure_writes_are_errors, |be| {
    // A delay past the connection's ring would index outside it (the CPU's arrival index, the
    // GPU's ring reads); a sparse matrix's structure is what its kernels were built for. Writing
    // either is an error naming the buffer, the entry and the allowed range, and nothing is
    // written; a delay within the ring is taken and used from the next step on.
    let sp = binary_sparse();
    let mut net = Network::new(1);
    let node = net.add_node(one_hot_node(N_PRE)).unwrap();
    let ens = net.add_ensemble(plain(BITS)).unwrap();
    let mut c = Connection::new(node, ens.neurons())
        .transform(Transform::Sparse(sp.clone()))
        .synapse(None);
    c.delays = Some(Delays::PerSynapse(per_synapse_seconds(&sp, 0)));
    net.connect(c).unwrap();
    let dense = net.add_ensemble(plain(BITS)).unwrap();
    let mut c = Connection::new(node, dense.neurons())
        .transform(Transform::Dense(Array2::ones((BITS, N_PRE))))
        .synapse(None);
    c.delays = Some(Delays::PerSynapse(
        (0..BITS * N_PRE).map(|k| (k % 5) as f64 * DT).collect(),
    ));
    net.connect(c).unwrap();
    let mut sim = simulator(&net, be);
    sim.run_steps(3).unwrap();
    for (name, n) in [("conn0.delays", sp.nnz()), ("conn1.delays", BITS * N_PRE)] {
        let before = sim.read_buffer(name).unwrap();
        // The ring holds delays 0-4 (5 slots) for both connections.
        let mut bad = before.clone();
        bad[n - 1] = index_to_f32(5);
        let err = sim.write_buffer(name, &bad).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, Error::InvalidParameter { object, param, value, allowed }
                if object == name
                    && param == &format!("delay of synapse {}", n - 1)
                    && value == "5 steps"
                    && allowed.contains("less than 5 steps")),
            "{msg}"
        );
        bad[n - 1] = index_to_f32(u32::MAX);
        assert!(sim.write_buffer(name, &bad).is_err());
        assert_eq!(sim.read_buffer(name).unwrap(), before, "{name} was changed");
        let mut good = before.clone();
        good[0] = index_to_f32(4);
        sim.write_buffer(name, &good).unwrap();
        assert_eq!(sim.read_buffer(name).unwrap(), good);
    }
    for name in ["conn0.indices", "conn0.indptr"] {
        let before = sim.read_buffer(name).unwrap();
        let mut bad = before.clone();
        bad[1] = index_to_f32(f32_to_index(bad[1]) + 1);
        let err = sim.write_buffer(name, &bad).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidParameter { object, param, .. }
                if object == name && param == "entry 1"),
            "{err}"
        );
        assert_eq!(sim.read_buffer(name).unwrap(), before, "{name} was changed");
        sim.write_buffer(name, &before).unwrap();
    }
    // A snapshot (which holds the index buffers) restores, and the run goes on; one with a
    // delay past the ring is refused as a whole, before anything is written.
    let snap = sim.snapshot().unwrap();
    sim.restore(&snap).unwrap();
    sim.run_steps(N_PRE as u64 / 2).unwrap();
    let now = sim.snapshot().unwrap();
    let mut bad = snap.clone();
    let last = bad
        .buffers
        .iter()
        .rposition(|(name, _)| name.ends_with(".delays"))
        .expect("a delays buffer");
    bad.buffers[last].1[0] = index_to_f32(9);
    assert!(sim.restore(&bad).is_err());
    let after = sim.snapshot().unwrap();
    assert!(
        now.buffers.iter().zip(&after.buffers).all(|(a, b)| a == b),
        "a refused snapshot changed the simulator"
    );
    assert!(
        snap.buffers.iter().zip(&now.buffers).any(|(a, b)| a != b),
        "the run must have changed some state, or the check above proves nothing"
    );
    sim.run_steps(N_PRE as u64 / 2).unwrap();
});

per_backend!(subnormal_outputs_in_a_spike_history_restore, |be| {
    // A node's subnormal output does not emit into the spike history of a delayed learning
    // connection (stored as 0, not counted), on every backend whether or not it flushes
    // subnormals, so a snapshot of a run that saw one restores (the check on the ring refused
    // it when the CPU counted it as 0 but stored it as it was).
    let mut net = Network::new(4);
    let node = net.add_node(Node::constant(vec![1e-40, 1.0])).unwrap();
    let ens = net
        .add_ensemble(Ensemble::new(3, 1).neuron_type(NeuronType::spiking_rectified_linear()))
        .unwrap();
    let c = Connection::new(node, ens.neurons())
        .transform(Transform::Dense(Array2::from_elem((3, 2), 0.1)))
        .synapse(None)
        .delays(vec![2.0 * DT; 6])
        .learning(volley::model::Stdp::diehl_cook());
    net.connect(c).unwrap();
    let mut sim = simulator(&net, be);
    sim.run_steps(5).unwrap();
    let ring = sim.read_buffer("conn0.pre_history").unwrap();
    let (cols, slots) = (2, 3);
    assert_eq!(ring.len(), (3 * slots + 2) * cols);
    for slot in 0..slots {
        assert_eq!(ring[slot * 3 * cols].to_bits(), 0, "column 0, slot {slot}");
        assert_eq!(ring[slot * 3 * cols + 1], 1.0, "column 1, slot {slot}");
    }
    assert_eq!(
        &ring[3 * slots * cols..3 * slots * cols + 2],
        &[0.0, 3.0],
        "counts"
    );
    let snap = sim.snapshot().unwrap();
    sim.run_steps(3).unwrap();
    sim.restore(&snap).unwrap();
    sim.run_steps(3).unwrap();
});

per_backend!(delayed_spike_arrives_exactly_d_steps_later, |be| {
    delayed_spike_timing(be, false);
});

per_backend!(
    delayed_spike_arrives_exactly_d_steps_later_when_learning,
    |be| {
        // With an STDP rule (of rate 0, so the weights stay) the delayed connections transmit at
        // arrival from the pre side's history (`arrival_matvec_inc`) instead of through a ring of
        // future input: the same timing on every kind of target.
        delayed_spike_timing(be, true);
    }
);

fn delayed_spike_timing(be: BackendChoice, stdp: bool) {
    // One spike at step 5, through connections delayed by 0, 1, 3 and 7 steps (one delay per
    // connection, and the same given per synapse), on three kinds of target: current without
    // synapse (arrives in the step it is transmitted), current through Lowpass(0.01) (the
    // filter's output is read one step later), and a conductance port (added to ge at the start
    // of the next step).
    let mut still = Stdp::diehl_cook();
    (still.a2_plus, still.a3_plus, still.a2_minus, still.a3_minus) = (0.0, 0.0, 0.0, 0.0);
    let with_delay = |c: Connection, s: f64, per_synapse: bool, synapses: usize| {
        let c = with_delay(c, s, per_synapse, synapses);
        if stdp { c.learning(still) } else { c }
    };
    const SPIKE: usize = 5;
    let delays = [0usize, 1, 3, 7];
    let mut net = Network::new(2);
    let node = net
        .add_node(Node::function(1, |t| {
            vec![if ((t / DT).round() as usize) == SPIKE + 1 {
                1.0 / DT
            } else {
                0.0
            }]
        }))
        .unwrap();
    let n = delays.len();
    // STDP needs spiking targets; the input currents probed do not depend on the neuron type.
    let plain = |n: usize| {
        if stdp {
            plain(n).neuron_type(NeuronType::spiking_rectified_linear())
        } else {
            plain(n)
        }
    };
    let direct = [
        net.add_ensemble(plain(n)).unwrap(),
        net.add_ensemble(plain(n)).unwrap(),
    ];
    let filtered = [
        net.add_ensemble(plain(n)).unwrap(),
        net.add_ensemble(plain(n)).unwrap(),
    ];
    let dc = net
        .add_ensemble(Ensemble::new(2 * n, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
        .unwrap();
    let row = |k: usize, rows: usize| {
        Transform::Dense(Array2::from_shape_fn((rows, 1), |(i, _)| {
            (i == k) as u8 as f64 * 0.25
        }))
    };
    for (k, &d) in delays.iter().enumerate() {
        let s = d as f64 * DT;
        for (per_synapse, ens) in [(false, direct[0]), (true, direct[1])] {
            let c = Connection::new(node, ens.neurons())
                .transform(row(k, n))
                .synapse(None);
            net.connect(with_delay(c, s, per_synapse, n)).unwrap();
        }
        for (per_synapse, ens) in [(false, filtered[0]), (true, filtered[1])] {
            let c = Connection::new(node, ens.neurons())
                .transform(row(k, n))
                .synapse(Some(Synapse::Lowpass(0.01)));
            net.connect(with_delay(c, s, per_synapse, n)).unwrap();
        }
        for per_synapse in [false, true] {
            let target = k + n * per_synapse as usize;
            let c = Connection::new(node, dc.neurons())
                .port(Port::Excitatory)
                .transform(row(target, 2 * n));
            net.connect(with_delay(c, s, per_synapse, 2 * n)).unwrap();
        }
    }
    let p_direct = direct.map(|e| net.probe(Probe::input_current(e)).unwrap());
    let p_filtered = filtered.map(|e| net.probe(Probe::input_current(e)).unwrap());
    let p_v = net.probe(Probe::voltage(dc)).unwrap();
    let steps = 30;
    let mut sim = simulator(&net, be);
    let plan = format!("{}", sim.plan());
    assert_eq!(plan.contains("arrival_matvec_inc"), stdp, "{plan}");
    let mut ge = Vec::new();
    for _ in 0..steps {
        sim.run_steps(1).unwrap();
        ge.push(sim.neuron_state(dc, "ge").unwrap().row(0).to_vec());
    }
    let v = currents(&sim, p_v);
    for (k, &d) in delays.iter().enumerate() {
        for per in 0..2 {
            let j = currents(&sim, p_direct[per]);
            for t in 0..steps {
                let want = if t == SPIKE + d { 250.0 } else { 0.0 };
                assert_eq!(
                    j[[t, k]],
                    want,
                    "direct, delay {d} (per synapse {per}), step {t}"
                );
            }
            // The filtered current is the undelayed one shifted by d steps, bit for bit.
            let f = currents(&sim, p_filtered[per]);
            for t in 0..steps {
                let want = if t >= d { f[[t - d, 0]] } else { 0.0 };
                assert_eq!(
                    f[[t, k]],
                    want,
                    "filtered, delay {d} (per synapse {per}), step {t}"
                );
                assert_eq!(
                    f[[t, k]] != 0.0,
                    t > SPIKE + d,
                    "filtered, delay {d}, step {t}"
                );
            }
            // Conductance: ge is 0 until the step after the delayed transmission.
            let target = k + n * per;
            let first = ge.iter().position(|g| g[target] != 0.0);
            assert_eq!(
                first,
                Some(SPIKE + d + 1),
                "conductance, delay {d} (per synapse {per})"
            );
            for t in 0..steps {
                let want = if t >= d {
                    v[[t - d, n * per]]
                } else {
                    v[[0, n * per]]
                };
                assert_eq!(
                    v[[t, target]],
                    want,
                    "voltage, delay {d} (per synapse {per}), step {t}"
                );
            }
        }
    }
}

fn with_delay(c: Connection, seconds: f64, per_synapse: bool, synapses: usize) -> Connection {
    if per_synapse {
        c.delays(vec![seconds; synapses])
    } else {
        c.delay(seconds)
    }
}

#[test]
fn delay_zero_is_exactly_no_delay() {
    let build = |delays: Option<Delays>| {
        let mut net = Network::new(3);
        let node = net.add_node(Node::poisson(vec![50.0; 9])).unwrap();
        let ens = net
            .add_ensemble(Ensemble::new(5, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
            .unwrap();
        let mut c = Connection::new(node, ens.neurons())
            .port(Port::Excitatory)
            .transform(Transform::Dense(Array2::from_elem((5, 9), 0.1)));
        c.delays = delays;
        net.connect(c).unwrap();
        volley::compile::compile(&net, DT, 2).unwrap().0
    };
    let plain = build(None);
    for d in [
        Delays::Fixed(0.0),
        Delays::PerSynapse(vec![0.0; 45]),
        Delays::Uniform {
            min: 0.0,
            max: 0.0004,
        },
    ] {
        assert_eq!(build(Some(d.clone())), plain, "{d}");
    }
}

#[test]
fn uniform_delays_are_drawn_within_the_range() {
    let build = |seed: u64, dt: f64, min: f64, max: f64| -> (Vec<u32>, usize) {
        let mut net = Network::new(seed);
        let node = net.add_node(Node::poisson(vec![10.0; 49])).unwrap();
        let ens = net
            .add_ensemble(Ensemble::new(13, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
            .unwrap();
        net.connect(
            Connection::new(node, ens.neurons())
                .port(Port::Excitatory)
                .transform(Transform::Dense(Array2::from_elem((13, 49), 0.1)))
                .delays_uniform(min, max),
        )
        .unwrap();
        let plan = volley::compile::compile(&net, dt, 1).unwrap().0;
        let find = |name: &str| plan.buffers.iter().find(|b| b.name == name).unwrap();
        let delays = find("conn0.delays");
        assert_eq!(delays.kind, BufferKind::Index);
        (
            delays.init.iter().map(|&x| f32_to_index(x)).collect(),
            find("conn0.delay_ring").len,
        )
    };
    // Diehl & Cook's 0-10 ms at dt 0.5 ms: 0 to 20 steps, each reached, mean near 10.
    let (d, ring) = build(7, 0.0005, 0.0, 0.010);
    assert_eq!(d.len(), 13 * 49);
    assert!(d.iter().all(|&s| s <= 20), "max {:?}", d.iter().max());
    for s in 0..=20 {
        assert!(d.contains(&s), "no synapse with a delay of {s} steps");
    }
    let mean = d.iter().map(|&s| s as f64).sum::<f64>() / d.len() as f64;
    assert!((mean - 10.0).abs() < 0.6, "mean delay {mean} steps");
    assert_eq!(ring, (20 + 1) * 13, "the ring holds max delay + 1 steps");
    // Fixed by the network's seed.
    assert_eq!(build(7, 0.0005, 0.0, 0.010).0, d);
    assert_ne!(build(8, 0.0005, 0.0, 0.010).0, d);
    // A range that is not whole steps: draws rounded to the nearest step (2.5 ms -> 2 or 3).
    let (d, _) = build(7, 0.001, 0.0025, 0.0041);
    assert!(d.iter().all(|&s| (2..=4).contains(&s)), "{d:?}");
    assert!(d.contains(&3) && d.contains(&4));
}

per_backend!(sparse_transform_equals_dense, |be| {
    // The same random connectivity as a Dense matrix (zeros included) and as a Sparse one (the
    // non-zero entries): Poisson -> LIF (current, filtered), LIF -> LIF (mixed signs), and
    // Poisson -> Diehl & Cook (conductance). Both layouts sum the same products in the same
    // order, so on the CPU every spike and current is identical; on a GPU the two kernels may
    // contract the sums differently (a few ulp), so currents are compared within 1e-5 and
    // spike counts within one.
    let build = |sparse: bool| {
        let mut r = rng(30);
        let mut net = Network::new(4);
        let node = net.add_node(Node::poisson(vec![80.0; 37])).unwrap();
        let bias: Vec<f64> = (0..23).map(|_| r.random_range(0.5..0.95)).collect();
        let a = net
            .add_ensemble(Ensemble::new(23, 1).gain_bias(vec![1.0; 23], bias))
            .unwrap();
        let b = net
            .add_ensemble(Ensemble::new(17, 1).gain_bias(vec![1.0; 17], vec![0.9; 17]))
            .unwrap();
        let c = net
            .add_ensemble(Ensemble::new(9, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
            .unwrap();
        let mut random = |rows: usize, cols: usize, p: f64, lo: f64, hi: f64| {
            Array2::from_shape_fn((rows, cols), |_| {
                if r.random::<f64>() < p {
                    r.random_range(lo..hi)
                } else {
                    0.0
                }
            })
        };
        let w_in = random(23, 37, 0.3, 0.0, 2e-3);
        let w_ab = random(17, 23, 0.4, -0.01, 0.02);
        let w_c = random(9, 37, 0.5, 0.0, 0.5);
        let t = |m: Array2<f64>| {
            if sparse {
                Transform::Sparse(Sparse::from_dense(&m))
            } else {
                Transform::Dense(m)
            }
        };
        net.connect(Connection::new(node, a.neurons()).transform(t(w_in)))
            .unwrap();
        net.connect(Connection::new(a.neurons(), b.neurons()).transform(t(w_ab)))
            .unwrap();
        net.connect(
            Connection::new(node, c.neurons())
                .port(Port::Excitatory)
                .transform(t(w_c)),
        )
        .unwrap();
        let probes = [
            net.probe(Probe::spikes(a)).unwrap(),
            net.probe(Probe::spikes(b)).unwrap(),
            net.probe(Probe::spikes(c)).unwrap(),
            net.probe(Probe::input_current(b)).unwrap(),
        ];
        (net, probes)
    };
    let mut results = Vec::new();
    for sparse in [false, true] {
        let (net, probes) = build(sparse);
        let mut sim = simulator(&net, be);
        sim.run(0.3).unwrap();
        results.push(probes.map(|p| currents(&sim, p)));
    }
    let (dense, sparse) = (&results[0], &results[1]);
    for (k, name) in ["A spikes", "B spikes", "C spikes"].iter().enumerate() {
        let total: f64 = dense[k].sum() * DT;
        assert!(total > 10.0, "{name}: only {total} spikes");
        if be == BackendChoice::Cpu {
            assert_eq!(dense[k], sparse[k], "{name}");
        } else {
            let dc = dense[k].sum_axis(ndarray::Axis(0)) * DT;
            let sc = sparse[k].sum_axis(ndarray::Axis(0)) * DT;
            for (i, (x, y)) in dc.iter().zip(&sc).enumerate() {
                assert!((x - y).abs() <= 1.0, "{name} neuron {i}: {x} vs {y} spikes");
            }
        }
    }
    if be == BackendChoice::Cpu {
        assert_eq!(dense[3], sparse[3], "B input current");
    } else {
        // Compare while the spikes feeding B have not diverged (first 50 steps).
        let tol = Tol {
            abs: 1e-5,
            rel: 1e-5,
        };
        for t in 0..50 {
            for i in 0..17 {
                let (x, y) = (dense[3][[t, i]] as f32, sparse[3][[t, i]] as f32);
                assert!(
                    tol.ok(x, y),
                    "B current at step {t}, neuron {i}: {x} vs {y}"
                );
            }
        }
    }
});

/// Poisson input -> Diehl & Cook excitatory neurons (mutual inhibition) with STDP and
/// normalisation; the input weights given by `transform`, with optional delays.
struct LearningNet {
    net: Network,
    input: NodeId,
    conn: ConnectionId,
    counts: ProbeId,
}

fn learning_net(transform: Transform, delays: Option<Delays>) -> LearningNet {
    let mut net = Network::new(5);
    let input = net.add_node(Node::poisson(vec![0.0; 31])).unwrap();
    let exc = net
        .add_ensemble(Ensemble::new(11, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
        .unwrap();
    let mut stdp = Stdp::diehl_cook();
    stdp.a3_plus = 0.05;
    let mut c = Connection::new(input, exc.neurons())
        .port(Port::Excitatory)
        .transform(transform)
        .learning(stdp)
        .normalize_incoming(12.0);
    c.delays = delays;
    let conn = net.connect(c).unwrap();
    net.connect(
        Connection::new(exc.neurons(), exc.neurons())
            .port(Port::Inhibitory)
            .transform(Transform::AllButSelf(2.0)),
    )
    .unwrap();
    let counts = net.probe(Probe::spike_count(exc)).unwrap();
    LearningNet {
        net,
        input,
        conn,
        counts,
    }
}

fn input_weights() -> Array2<f64> {
    let mut r = rng(40);
    Array2::from_shape_fn((11, 31), |_| r.random_range(0.0..0.3))
}

fn input_rates() -> Vec<f32> {
    let mut r = rng(41);
    (0..31).map(|_| r.random_range(0.0..200.0f32)).collect()
}

/// Runs a learning network for `steps` at dt 0.5 ms, normalising first; returns the input
/// weights as stored (dense row-major or sparse values) and the spike counts.
fn learn(n: &LearningNet, be: BackendChoice, steps: u64) -> (Vec<f32>, Vec<f64>) {
    let mut sim = Simulator::new(&n.net, SimConfig::default().dt(0.0005).backend(be))
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"));
    sim.set_poisson_rates(n.input, &input_rates()).unwrap();
    sim.boundary().unwrap();
    sim.run_steps(steps).unwrap();
    let w = sim
        .read_buffer(&format!("conn{}.weights", n.conn.index()))
        .unwrap();
    let counts = sim.take_counts(n.counts).unwrap().row(0).to_vec();
    (w, counts)
}

per_backend!(stdp_on_full_sparse_learns_like_dense, |be| {
    // A Sparse transform storing every entry is the Dense matrix: transmission, STDP and
    // normalisation all act on the same synapses in the same order, so the learned weights and
    // the spikes are the same (bit for bit on the CPU; within the ulps of two kernels' FMA
    // contraction on a GPU).
    let w0 = input_weights();
    let full = Sparse::new(
        11,
        31,
        (0..=11).map(|i| i * 31).collect(),
        (0..11 * 31).map(|k| k % 31).collect(),
        w0.iter().copied().collect(),
    )
    .unwrap();
    // Also with per-synapse delays (0-7 steps, in stored order = row-major order here), where
    // STDP runs at arrival (`stdp_delayed`, `stdp_sparse_delayed`).
    let per_synapse: Vec<f64> = (0..11 * 31)
        .map(|k| ((k * 5) % 8) as f64 * 0.0005)
        .collect();
    for delays in [None, Some(Delays::PerSynapse(per_synapse))] {
        let dense = learning_net(Transform::Dense(w0.clone()), delays.clone());
        let sparse = learning_net(Transform::Sparse(full.clone()), delays.clone());
        let (wd, cd) = learn(&dense, be, 1500);
        let (ws, cs) = learn(&sparse, be, 1500);
        let total: f64 = cd.iter().sum();
        eprintln!("full sparse STDP, delays {delays:?}: {total} spikes");
        assert!(total > 20.0, "the neurons must spike ({total} spikes)");
        if be == BackendChoice::Cpu {
            assert_eq!(wd, ws, "learned weights");
            assert_eq!(cd, cs, "spike counts");
        } else {
            let max_diff = wd
                .iter()
                .zip(&ws)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(max_diff < 2e-3, "weights differ by {max_diff}");
            for (a, b) in cd.iter().zip(&cs) {
                assert!((a - b).abs() <= 1.0, "spike counts {a} vs {b}");
            }
        }
    }
});

#[test]
fn a_fixed_delay_learns_like_the_same_delay_per_synapse() {
    // A fixed delay is transmitted by a delay line on the weighted sum, per-synapse delays by
    // the per-synapse ring; STDP runs at arrival in both. The same 3-step delay on every synapse
    // gives the same spikes and weights (bit for bit on the CPU).
    let w0 = input_weights();
    let (wf, cf) = learn(
        &learning_net(Transform::Dense(w0.clone()), Some(Delays::Fixed(0.0015))),
        BackendChoice::Cpu,
        1500,
    );
    let (wp, cp) = learn(
        &learning_net(
            Transform::Dense(w0.clone()),
            Some(Delays::PerSynapse(vec![0.0015; w0.len()])),
        ),
        BackendChoice::Cpu,
        1500,
    );
    let total: f64 = cf.iter().sum();
    assert!(total > 20.0, "the neurons must spike ({total} spikes)");
    assert_eq!(cf, cp, "spike counts");
    assert_eq!(wf, wp, "learned weights");
    let (wu, _) = learn(
        &learning_net(Transform::Dense(w0), None),
        BackendChoice::Cpu,
        1500,
    );
    assert_ne!(wf, wu, "the delay changed nothing");
}

#[test]
fn sparse_plastic_delayed_network_agrees_across_backends() {
    if !gpu_wanted() {
        return;
    }
    // Random 40 % connectivity with 0-5 ms per-synapse delays, STDP and normalisation: the
    // sparse, delayed and learning kernels together. A spike moved by one step changes the
    // traces it meets by ~2.5 %, i.e. at most ~a3_plus * 0.025 = 1.25e-3 per event, so the
    // weights must agree far closer than the learning step (as cross_backend's Diehl & Cook
    // test), and the spike counts within one.
    let sp = Sparse::from_dense_random(&input_weights(), 0.4, 9).unwrap();
    let nnz = sp.nnz();
    let n = learning_net(
        Transform::Sparse(sp),
        Some(Delays::Uniform {
            min: 0.0,
            max: 0.005,
        }),
    );
    let (wc, cc) = learn(&n, BackendChoice::Cpu, 1500);
    let (wg, cg) = learn(&n, BackendChoice::Gpu, 1500);
    assert_eq!(wc.len(), nnz);
    let total: f64 = cc.iter().sum();
    assert!(total > 20.0, "the neurons must spike ({total} spikes)");
    let max_diff = wc
        .iter()
        .zip(&wg)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("sparse delayed STDP: {total} spikes, max weight difference {max_diff:e}");
    assert!(max_diff < 2e-3, "weights differ by up to {max_diff}");
    for (a, b) in cc.iter().zip(&cg) {
        assert!((a - b).abs() <= 1.0, "spike counts {a} vs {b}");
    }
    // The delays matter: without them the network learns something else.
    let sp = Sparse::from_dense_random(&input_weights(), 0.4, 9).unwrap();
    let (wu, _) = learn(
        &learning_net(Transform::Sparse(sp), None),
        BackendChoice::Cpu,
        1500,
    );
    assert_ne!(wu, wc, "delays changed nothing");
}

#[test]
fn diehl_cook_with_input_delays_learns_alike() {
    if !gpu_wanted() {
        return;
    }
    // The published 0-10 ms input delays on a small Diehl & Cook network (49 inputs, 13
    // excitatory neurons, dt 0.5 ms): tolerances as cross_backend's undelayed test.
    let cfg = volley::networks::DiehlCookConfig {
        n_input: 49,
        n_exc: 13,
        normalize: 20.0,
        input_delays: Some((0.0, 0.010)),
        ..Default::default()
    };
    let dc = volley::networks::diehl_cook(&cfg, 5).unwrap();
    let mut r = rng(50);
    let rates: Vec<f32> = (0..49).map(|_| r.random_range(0.0..63.75f32)).collect();
    let mut weights = Vec::new();
    let mut counts = Vec::new();
    for be in [BackendChoice::Cpu, BackendChoice::Gpu] {
        let mut sim = Simulator::new(&dc.net, SimConfig::default().dt(0.0005).backend(be))
            .unwrap_or_else(|e| {
                panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)")
            });
        // Transmission and STDP at arrival (Brian's delayed on_pre).
        let plan = format!("{}", sim.plan());
        for op in ["pre_history", "arrival_matvec_inc", "stdp_delayed"] {
            assert!(plan.contains(op), "no {op} in the plan:\n{plan}");
        }
        sim.set_poisson_rates(dc.input, &rates).unwrap();
        sim.boundary().unwrap();
        sim.run_steps(1000).unwrap();
        let w = sim.weights(dc.conn_input).unwrap();
        assert_eq!(
            w.dim(),
            (1, 13, 49),
            "weights of the delayed plastic connection"
        );
        weights.push(w.iter().copied().collect::<Vec<f32>>());
        counts.push(sim.take_counts(dc.p_exc_count).unwrap().row(0).to_vec());
    }
    let total: f64 = counts[0].iter().sum();
    assert!(
        total > 5.0,
        "the excitatory neurons must spike ({total} spikes)"
    );
    for (a, b) in counts[0].iter().zip(&counts[1]) {
        assert!((a - b).abs() <= 1.0, "spike counts {a} vs {b}");
    }
    let max_diff = weights[0]
        .iter()
        .zip(&weights[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("diehl_cook with delays: {total} exc spikes, max weight difference {max_diff:e}");
    assert!(max_diff < 2e-3, "weights differ by up to {max_diff}");
}

per_backend!(
    delayed_loop_without_synapse_is_not_a_zero_delay_cycle,
    |be| {
        // A ring of three neurons without synapses: a cycle error without delay, but with every
        // synapse delayed by 2 steps it builds, and a spike goes round the ring in 2 steps a hop.
        let build = |delay: Option<f64>| {
            let mut net = Network::new(6);
            let kick = net
                .add_node(Node::function(1, |t| {
                    vec![if (t / DT).round() as usize == 1 {
                        1.0 / DT
                    } else {
                        0.0
                    }]
                }))
                .unwrap();
            let ens = net
                .add_ensemble(
                    Ensemble::new(3, 1)
                        .neuron_type(NeuronType::spiking_rectified_linear())
                        .gain_bias(vec![1.0; 3], vec![0.0; 3]),
                )
                .unwrap();
            net.connect(
                Connection::new(kick, ens.neurons())
                    .transform(Transform::Dense(
                        Array2::from_shape_vec((3, 1), vec![1.0, 0.0, 0.0]).unwrap(),
                    ))
                    .synapse(None),
            )
            .unwrap();
            let ring = Array2::from_shape_fn((3, 3), |(i, j)| ((i + 2) % 3 == j) as u8 as f64);
            let mut c = Connection::new(ens.neurons(), ens.neurons())
                .transform(Transform::Sparse(Sparse::from_dense(&ring)))
                .synapse(None);
            if let Some(d) = delay {
                c = c.delay(d);
            }
            net.connect(c).unwrap();
            let p = net.probe(Probe::spikes(ens)).unwrap();
            (net, p)
        };
        let (net, _) = build(None);
        let err = Simulator::new(&net, SimConfig::default().backend(be))
            .err()
            .expect("a cycle");
        assert!(err.to_string().contains("cycle"), "{err}");
        let (net, p) = build(Some(2.0 * DT));
        let mut sim = simulator(&net, be);
        sim.run_steps(12).unwrap();
        let s = currents(&sim, p);
        for t in 0..12 {
            for i in 0..3 {
                // Neuron 0 fires at step 0 (the kick), then neuron (t/2) % 3 every 2 steps.
                let fires = t % 2 == 0 && (t / 2) % 3 == i;
                assert_eq!(s[[t, i]] != 0.0, fires, "neuron {i} at step {t}");
            }
        }
    }
);

#[test]
fn sparse_constructors() {
    let m = ndarray::arr2(&[
        [0.0, 1.5, 0.0, -2.0],
        [0.0, 0.0, 0.0, 0.0],
        [3.0, 0.0, 0.25, 0.0],
    ]);
    let s = Sparse::from_dense(&m);
    assert_eq!(s.indptr, vec![0, 2, 2, 4]);
    assert_eq!(s.indices, vec![1, 3, 0, 2]);
    assert_eq!(s.data, vec![1.5, -2.0, 3.0, 0.25]);
    assert_eq!(s.to_dense(), m);
    let t = Sparse::from_triplets(
        3,
        4,
        &[(2, 2, 0.25), (0, 3, -2.0), (2, 0, 3.0), (0, 1, 1.5)],
    )
    .unwrap();
    assert_eq!(t, s);
    // Random connectivity keeps entries whatever their value (a 0 may grow by learning), with
    // the given probability, fixed by the seed.
    let z = Array2::zeros((40, 50));
    let a = Sparse::from_dense_random(&z, 0.2, 1).unwrap();
    assert_eq!(a, Sparse::from_dense_random(&z, 0.2, 1).unwrap());
    assert_ne!(a, Sparse::from_dense_random(&z, 0.2, 2).unwrap());
    let density = a.nnz() as f64 / 2000.0;
    assert!((density - 0.2).abs() < 0.03, "density {density}");
    assert_eq!(Sparse::from_dense_random(&m, 1.0, 0).unwrap().nnz(), 12);
    assert_eq!(Sparse::from_dense_random(&m, 0.0, 0).unwrap().nnz(), 0);
}

/// The fields of an `InvalidParameter` error.
fn invalid(e: Error) -> (String, String, String, String) {
    match e {
        Error::InvalidParameter {
            object,
            param,
            value,
            allowed,
        } => (object, param, value, allowed),
        other => panic!("expected an invalid parameter, got {other}"),
    }
}

#[test]
fn bad_sparse_matrices_are_refused() {
    let cases: Vec<(Result<Sparse>, &str, &str, &str)> = vec![
        (
            Sparse::new(2, 3, vec![0, 1, 2], vec![0, 3], vec![1.0, 1.0]),
            "indices",
            "indices[1] = 3",
            "[0, 3)",
        ),
        (
            Sparse::new(2, 3, vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0]),
            "indptr",
            "indptr[2] = 1 after indptr[1] = 2",
            "non-decreasing",
        ),
        (
            Sparse::new(2, 3, vec![0, 1], vec![0], vec![1.0]),
            "indptr",
            "2 values",
            "rows + 1 = 3",
        ),
        (
            Sparse::new(2, 3, vec![1, 1, 2], vec![0, 1], vec![1.0, 1.0]),
            "indptr",
            "indptr[0] = 1",
            "starting at 0",
        ),
        (
            Sparse::new(2, 3, vec![0, 1, 3], vec![0, 1], vec![1.0, 1.0]),
            "indptr",
            "indptr[2] = 3",
            "2 (the length of indices)",
        ),
        (
            Sparse::new(2, 3, vec![0, 1, 2], vec![0, 1], vec![1.0]),
            "data",
            "1 values",
            "2 values",
        ),
        (
            Sparse::new(1, 3, vec![0, 2], vec![2, 1], vec![1.0, 1.0]),
            "indices",
            "indices[1] = 1 after 2 in row 0",
            "strictly increasing",
        ),
        (
            Sparse::new(1, 3, vec![0, 1], vec![2], vec![f64::NAN]),
            "data",
            "data[0] = NaN",
            "finite",
        ),
        (
            Sparse::from_triplets(2, 3, &[(0, 1, 1.0), (2, 0, 1.0)]),
            "triplets[1]",
            "(2, 0, 1)",
            "(2, 3)",
        ),
        (
            Sparse::from_triplets(2, 3, &[(0, 1, 1.0), (0, 1, 2.0)]),
            "triplets[1]",
            "(0, 1)",
            "at most once",
        ),
        (
            Sparse::from_dense_random(&Array2::zeros((2, 2)), 1.5, 0),
            "p",
            "1.5",
            "[0, 1]",
        ),
    ];
    for (k, (r, param, value, allowed)) in cases.into_iter().enumerate() {
        let (object, p, v, a) = invalid(r.err().unwrap_or_else(|| panic!("case {k} accepted")));
        assert_eq!(object, "Sparse", "case {k}");
        assert_eq!(p, param, "case {k}");
        assert!(v.contains(value), "case {k}: value {v}");
        assert!(a.contains(allowed), "case {k}: allowed {a}");
    }
}

fn small_net() -> (Network, NodeId, EnsembleId, EnsembleId) {
    let mut net = Network::new(0);
    let node = net
        .add_node(Node::poisson(vec![10.0; 3]).label("in"))
        .unwrap();
    let ens = net.add_ensemble(Ensemble::new(2, 1).label("post")).unwrap();
    let dc = net
        .add_ensemble(Ensemble::new(2, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
        .unwrap();
    (net, node, ens, dc)
}

#[test]
fn bad_connectivity_and_delays_are_refused_at_connect() {
    let ok_sparse = || Sparse::new(2, 3, vec![0, 1, 2], vec![0, 2], vec![1.0, 1.0]).unwrap();
    let dense = || Transform::Dense(Array2::from_elem((2, 3), 0.1));
    type Make = Box<dyn Fn(NodeId, EnsembleId, EnsembleId) -> Connection>;
    let cases: Vec<(Make, &str, &str, &str)> = vec![
        (
            Box::new(move |n, e, _| {
                let mut s = ok_sparse();
                s.indices[1] = 7;
                Connection::new(n, e.neurons()).transform(Transform::Sparse(s))
            }),
            "transform.indices",
            "indices[1] = 7",
            "[0, 3)",
        ),
        (
            Box::new(move |n, e, _| {
                let s = Sparse::new(3, 3, vec![0, 1, 1, 2], vec![0, 2], vec![1.0, 1.0]).unwrap();
                Connection::new(n, e.neurons()).transform(Transform::Sparse(s))
            }),
            "transform",
            "shape (3, 3)",
            "shape (2, 3)",
        ),
        (
            Box::new(move |n, e, _| {
                let mut s = ok_sparse();
                s.indptr = vec![0, 2, 1];
                Connection::new(n, e.neurons()).transform(Transform::Sparse(s))
            }),
            "transform.indptr",
            "indptr[2] = 1",
            "non-decreasing",
        ),
        (
            Box::new(move |n, e, _| {
                Connection::new(n, e.neurons())
                    .transform(dense())
                    .delay(-0.001)
            }),
            "delay",
            "-0.001",
            ">= 0",
        ),
        (
            Box::new(move |n, e, _| {
                Connection::new(n, e.neurons())
                    .transform(dense())
                    .delay(f64::NAN)
            }),
            "delay",
            "NaN",
            ">= 0",
        ),
        (
            Box::new(move |n, e, _| {
                Connection::new(n, e.neurons())
                    .transform(dense())
                    .delays_uniform(0.005, 0.001)
            }),
            "delays max",
            "0.001",
            ">= min (0.005 s)",
        ),
        (
            Box::new(move |n, e, _| {
                Connection::new(n, e.neurons())
                    .transform(dense())
                    .delays(vec![0.0, 0.001, 0.002, 0.0, -1.0, 0.0])
            }),
            "delays[4]",
            "-1",
            ">= 0",
        ),
        (
            Box::new(move |n, e, _| {
                Connection::new(n, e.neurons())
                    .transform(dense())
                    .delays(vec![0.001; 5])
            }),
            "delays",
            "5 values",
            "6 values, one per synapse (post x pre, row-major)",
        ),
        (
            Box::new(move |n, e, _| {
                Connection::new(n, e.neurons())
                    .transform(Transform::Sparse(ok_sparse()))
                    .delays(vec![0.001; 3])
            }),
            "delays",
            "3 values",
            "2 values, one per synapse (one per stored entry",
        ),
        (
            Box::new(move |_, e, _| {
                Connection::new(e.neurons(), e.neurons())
                    .transform(Transform::Scalar(0.5))
                    .delays_uniform(0.0, 0.002)
            }),
            "delays",
            "with transform Scalar",
            "Dense or Sparse transform from .neurons() or a node",
        ),
        (
            Box::new(move |_, e, _| {
                Connection::new(e, e)
                    .transform(Transform::Dense(Array2::from_elem((1, 1), 0.5)))
                    .delays(vec![0.001])
            }),
            "delays",
            "from Ensemble 0 \"post\"",
            "Connection::delay (one delay for all) on any connection",
        ),
        (
            Box::new(move |n, e, _| {
                Connection::new(n, e.neurons())
                    .transform(Transform::Sparse(ok_sparse()))
                    .learning(Pes::new())
            }),
            "learning",
            "transform Sparse",
            "Dense transform",
        ),
        (
            Box::new(move |_, e, _| {
                Connection::new(e.neurons(), e.neurons())
                    .transform(Transform::Scalar(1.0))
                    .normalize_incoming(1.0)
            }),
            "normalize",
            "1",
            "Dense or Sparse",
        ),
    ];
    for (k, (make, param, value, allowed)) in cases.into_iter().enumerate() {
        let (mut net, node, ens, dc) = small_net();
        let conn = make(node, ens, dc);
        let (object, p, v, a) = invalid(
            net.connect(conn)
                .err()
                .unwrap_or_else(|| panic!("case {k} accepted")),
        );
        assert!(
            object.starts_with("Connection 0 ("),
            "case {k}: object {object}"
        );
        assert_eq!(p, param, "case {k}");
        assert!(v.contains(value), "case {k}: value {v}");
        assert!(a.contains(allowed), "case {k}: allowed {a}");
    }
}

#[test]
fn bad_delays_are_refused_at_build() {
    // Checks that need dt: whole steps, and the longest delay the ring buffers allow.
    let at = |delays: Delays, dt: f64| {
        let (mut net, node, _, dc) = small_net();
        let mut c = Connection::new(node, dc.neurons())
            .port(Port::Excitatory)
            .transform(Transform::Dense(Array2::from_elem((2, 3), 0.1)));
        c.delays = Some(delays);
        net.connect(c).unwrap();
        let e = Simulator::new(
            &net,
            SimConfig::default().dt(dt).backend(BackendChoice::Cpu),
        )
        .err()
        .expect("refused");
        invalid(e)
    };
    let max_s = MAX_DELAY_STEPS as f64 * 0.001;
    let cases = [
        (
            Delays::Fixed(0.0015),
            0.001,
            "delay",
            "0.0015",
            "a whole number of steps of dt = 0.001 s",
        ),
        (
            Delays::PerSynapse(vec![0.001, 0.002, 0.0025, 0.0, 0.0, 0.0]),
            0.001,
            "delays[2]",
            "0.0025",
            "a whole number of steps",
        ),
        (
            Delays::Fixed(100.0),
            0.001,
            "delay",
            "100",
            "at most 65535 steps",
        ),
        (
            Delays::Uniform {
                min: 0.0,
                max: max_s + 1.0,
            },
            0.001,
            "delays max",
            "66.535",
            "in [0, 65.535 s]",
        ),
    ];
    for (k, (d, dt, param, value, allowed)) in cases.into_iter().enumerate() {
        let (object, p, v, a) = at(d, dt);
        assert!(object.starts_with("Connection 0 ("), "case {k}: {object}");
        assert_eq!(p, param, "case {k}");
        assert!(v.contains(value), "case {k}: value {v}");
        assert!(a.contains(allowed), "case {k}: allowed {a}");
    }
    // Whole steps at a finer dt are fine: 1.5 ms is 3 steps of 0.5 ms.
    let (mut net, node, _, dc) = small_net();
    net.connect(
        Connection::new(node, dc.neurons())
            .port(Port::Excitatory)
            .transform(Transform::Dense(Array2::from_elem((2, 3), 0.1)))
            .delay(0.0015),
    )
    .unwrap();
    Simulator::new(
        &net,
        SimConfig::default().dt(0.0005).backend(BackendChoice::Cpu),
    )
    .unwrap();
}

per_backend!(spike_count_of_a_poisson_node_sums_its_spikes, |be| {
    // Probe::spike_count on a node counts its outputs (value x dt): for a Poisson input, its
    // spikes, per instance, equal to the per-step record summed.
    let mut net = Network::new(9);
    let input = net.add_node(Node::poisson(vec![0.0; 13])).unwrap();
    let counts = net.probe(Probe::spike_count(input)).unwrap();
    let record = net.probe(Probe::decoded(input)).unwrap();
    let mut sim = Simulator::new(&net, SimConfig::default().dt(0.0005).batch(2).backend(be))
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"));
    let rates: Vec<f32> = (0..26)
        .map(|i| (i % 13) as f32 * 15.0 + (i / 13) as f32 * 40.0)
        .collect();
    sim.set_poisson_rates(input, &rates).unwrap();
    sim.run_steps(301).unwrap();
    let c = sim.take_counts(counts).unwrap();
    let d = sim.data(record).unwrap();
    assert_eq!(c.dim(), (2, 13));
    for b in 0..2 {
        for i in 0..13 {
            let summed = (d.slice(ndarray::s![b, .., i]).sum() * 0.0005).round();
            assert_eq!(c[[b, i]], summed, "instance {b}, input {i}");
        }
    }
    assert_eq!(c[[0, 0]], 0.0, "rate 0 never spikes");
    assert!(c.sum() > 50.0, "{} spikes in all", c.sum());
    // take_counts resets.
    assert_eq!(sim.take_counts(counts).unwrap().sum(), 0.0);
});

per_backend!(spike_counts_stay_exact_over_long_runs, |be| {
    // A spike adds exactly 1 to its count (not 1/dt, whose f32 sum lost whole spikes once it
    // passed 2^24: 298,674 for 300,000 spikes at dt 1 ms). An input with a rate of 1/dt spikes
    // every step; a LIF neuron of amplitude 0.5 counts its spikes, not amplitude x spikes.
    // (At dt 0.3 ms the old sum of 3333.3333 per spike read 19,997 after 20,000 steps.) The
    // long case runs on the CPU only (two minutes on llvmpipe).
    let cases: &[(f64, u64)] = match be {
        BackendChoice::Cpu => &[(0.001, 300_000), (0.0003, 20_000)],
        _ => &[(0.0003, 20_000)],
    };
    for &(dt, steps) in cases {
        let mut net = Network::new(1);
        let input = net.add_node(Node::poisson(vec![2.0 / dt; 3])).unwrap();
        let ens = net
            .add_ensemble(Ensemble::new(4, 1).neuron_type(NeuronType::Lif(
                volley::model::LifParams {
                    amplitude: 0.5,
                    ..volley::model::LifParams::default()
                },
            )))
            .unwrap();
        let x = net.add_node(Node::constant(vec![0.9])).unwrap();
        net.connect(Connection::new(x, ens)).unwrap();
        let c_in = net.probe(Probe::spike_count(input)).unwrap();
        let c_ens = net.probe(Probe::spike_count(ens)).unwrap();
        let spikes = net.probe(Probe::spikes(ens).sample_every(dt)).unwrap();
        let mut sim =
            Simulator::new(&net, SimConfig::default().dt(dt).backend(be)).unwrap_or_else(|e| {
                panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)")
            });
        sim.run_steps(steps).unwrap();
        let c = sim.take_counts(c_in).unwrap();
        assert_eq!(c.row(0).to_vec(), vec![steps as f64; 3], "dt {dt}");
        let counted = sim.take_counts(c_ens).unwrap().row(0).to_vec();
        let d = sim.data_instance(spikes, 0).unwrap();
        for (i, &n) in counted.iter().enumerate() {
            let fired = d.column(i).iter().filter(|&&v| v > 0.0).count() as f64;
            assert_eq!(n, fired, "dt {dt}, neuron {i}");
        }
        assert!(counted.iter().sum::<f64>() > 1000.0, "{counted:?}");
    }
});
