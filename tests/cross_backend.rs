//! The GPU backend against the CPU reference: every op on the same seeded inputs (odd sizes that
//! are not multiples of the workgroup size, several instances), the random generator bit for bit,
//! and whole networks.
//!
//! GPU tests never skip silently: with no adapter they fail with a message saying to install
//! `mesa-vulkan-drivers` or to set `VOLLEY_TEST_BACKENDS=cpu`.

mod common;

use common::{Tol, assert_counts_within_one, requested};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use volley::backend::cpu::CpuBackend;
use volley::backend::gpu::{AdapterPolicy, GpuBackend, GpuPath};
use volley::backend::{Backend, HostInputs, ProbeRecords};
use volley::compile::{BufId, Buffer, BufferKind, Op, Plan, ProbeSlot, Sampling};
use volley::model::{LifParams, NeuronType};
use volley::prelude::*;

const BATCH: usize = 3;

fn gpu_wanted() -> bool {
    if !requested("gpu") {
        eprintln!("gpu not in VOLLEY_TEST_BACKENDS: this run asked for the CPU only");
        return false;
    }
    true
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(12345)
}

fn buf(name: &str, kind: BufferKind, init: Vec<f32>) -> Buffer {
    Buffer {
        name: name.into(),
        len: init.len(),
        kind,
        init,
    }
}

fn uniform(r: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

/// A hand-made plan: batched buffers start equal in every instance; the random ops make
/// instances differ.
fn plan(buffers: Vec<Buffer>, step: Vec<Op>, probes: Vec<ProbeSlot>) -> Plan {
    Plan {
        dt: 0.001,
        batch: BATCH,
        seed: 0xDEAD_BEEF_1234,
        keying: Default::default(),
        buffers,
        step,
        boundary: vec![],
        learn: None,
        host_inputs: vec![],
        probes,
    }
}

/// Runs `plan` for `steps` steps from `first_step` on both backends; returns every buffer and the
/// probe records of each.
fn run_both(plan: &Plan, first_step: u64, steps: usize) -> [(Vec<Vec<f32>>, ProbeRecords); 2] {
    let mut cpu = CpuBackend::new(plan).unwrap();
    let mut gpu = GpuBackend::new(plan, AdapterPolicy::Any, 97)
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"));
    let host = HostInputs::default();
    let mut out = Vec::new();
    for be in [&mut cpu as &mut dyn Backend, &mut gpu as &mut dyn Backend] {
        let mut rec = ProbeRecords::default();
        be.run(first_step, steps, &host, &mut rec).unwrap();
        let bufs = (0..plan.buffers.len())
            .map(|i| be.read(BufId(i)).unwrap())
            .collect();
        out.push((bufs, rec));
    }
    let gpu_out = out.pop().unwrap();
    let cpu_out = out.pop().unwrap();
    [cpu_out, gpu_out]
}

/// Compares every buffer of the two runs; prints the first mismatch with its index.
fn compare(plan: &Plan, cpu: &[Vec<f32>], gpu: &[Vec<f32>], tol: Tol, allowed_mismatches: usize) {
    for (i, b) in plan.buffers.iter().enumerate().take(cpu.len()) {
        let (c, g) = (&cpu[i], &gpu[i]);
        assert_eq!(c.len(), g.len(), "buffer {} length", b.name);
        let bad: Vec<usize> = (0..c.len()).filter(|&k| !tol.ok(c[k], g[k])).collect();
        if bad.len() > allowed_mismatches {
            let k = bad[0];
            panic!(
                "buffer {} differs at {} of {} elements (allowed {allowed_mismatches}); first at index {k} (instance {}, element {}): cpu {} gpu {} (tol {tol:?})",
                b.name,
                bad.len(),
                c.len(),
                k / b.len,
                k % b.len,
                c[k],
                g[k]
            );
        }
    }
}

// Element-wise arithmetic may be contracted into fused multiply-adds on the GPU: 1-2 ulp.
const ARITH: Tol = Tol {
    abs: 1e-6,
    rel: 1e-6,
};

#[test]
fn linear_ops_agree() {
    if !gpu_wanted() {
        return;
    }
    let mut r = rng();
    let (n, rows, cols) = (77, 37, 53);
    let buffers = vec![
        buf("x", BufferKind::State, uniform(&mut r, n, -2.0, 2.0)),
        buf("y_zero", BufferKind::State, uniform(&mut r, n, -2.0, 2.0)),
        buf("src", BufferKind::Param, uniform(&mut r, n, -2.0, 2.0)),
        buf("y_bcast", BufferKind::Temp, vec![0.0; n]),
        buf("y_add", BufferKind::State, uniform(&mut r, n, -2.0, 2.0)),
        buf("s", BufferKind::Param, uniform(&mut r, n, -2.0, 2.0)),
        buf("y_scale", BufferKind::State, uniform(&mut r, n, -2.0, 2.0)),
        buf(
            "m",
            BufferKind::Param,
            uniform(&mut r, rows * cols, -1.0, 1.0),
        ),
        buf("xm", BufferKind::State, uniform(&mut r, cols, -1.0, 1.0)),
        buf("y_mv", BufferKind::State, uniform(&mut r, rows, -1.0, 1.0)),
        buf("lp", BufferKind::State, uniform(&mut r, n, -1.0, 1.0)),
        buf("az", BufferKind::State, uniform(&mut r, n, -1.0, 1.0)),
        buf("ay", BufferKind::State, uniform(&mut r, n, -1.0, 1.0)),
    ];
    let step = vec![
        Op::Zero { dst: BufId(1) },
        Op::Broadcast {
            src: BufId(2),
            dst: BufId(3),
        },
        Op::AddInc {
            x: BufId(0),
            y: BufId(4),
        },
        Op::ScaleInc {
            s: BufId(5),
            x: BufId(0),
            y: BufId(6),
        },
        Op::MatVecInc {
            m: BufId(7),
            rows,
            cols,
            x: BufId(8),
            y: BufId(9),
            scale: 1.0,
        },
        Op::Lowpass {
            a: 0.9,
            x: BufId(0),
            y: BufId(10),
        },
        Op::Alpha {
            a: 0.8,
            c1: 0.05,
            c2: 0.15,
            x: BufId(0),
            z: BufId(11),
            y: BufId(12),
        },
    ];
    let p = plan(buffers, step, vec![]);
    let [(c, _), (g, _)] = run_both(&p, 0, 7);
    // Seven steps of accumulation: allow the per-op error to grow a little.
    compare(
        &p,
        &c,
        &g,
        Tol {
            abs: 1e-5,
            rel: 1e-5,
        },
        0,
    );
    compare(&p, &c[..4], &g[..4], ARITH, 0);
}

/// Runs a neuron op for `steps` steps from random states; returns (cpu, gpu) buffers and checks
/// that something spiked.
fn neuron_case(
    neuron: NeuronType,
    n: usize,
    j: Vec<f32>,
    state: Vec<Vec<f32>>,
    steps: usize,
) -> (Plan, Vec<Vec<f32>>, Vec<Vec<f32>>, usize) {
    let mut buffers = vec![
        buf("J", BufferKind::State, j),
        buf("out", BufferKind::Temp, vec![0.0; n]),
    ];
    let mut ids = Vec::new();
    for (k, s) in state.into_iter().enumerate() {
        ids.push(BufId(2 + k));
        buffers.push(buf(&format!("state{k}"), BufferKind::State, s));
    }
    // A spike counter: acc += out (counts in units of 1/dt).
    buffers.push(buf("count", BufferKind::State, vec![0.0; n]));
    let count = BufId(buffers.len() - 1);
    let step = vec![
        Op::Neurons {
            neuron,
            n,
            j: BufId(0),
            out: BufId(1),
            state: ids,
            learn: None,
        },
        Op::AddInc {
            x: BufId(1),
            y: count,
        },
    ];
    let p = plan(buffers, step, vec![]);
    let [(c, _), (g, _)] = run_both(&p, 0, steps);
    let spikes = c[count.0].iter().filter(|&&x| x > 0.0).count();
    (p, c, g, spikes)
}

#[test]
fn lif_one_step_agrees() {
    if !gpu_wanted() {
        return;
    }
    let mut r = rng();
    let n = 1001;
    let j = uniform(&mut r, n, 0.0, 40.0);
    let v = uniform(&mut r, n, 0.0, 1.0);
    // A third of the neurons mid-refractory, some ending within this step.
    let refr: Vec<f32> = (0..n)
        .map(|i| {
            if i % 3 == 0 {
                r.random_range(0.0..0.003)
            } else {
                0.0
            }
        })
        .collect();
    let (p, c, g, spikes) = neuron_case(NeuronType::lif(), n, j, vec![v, refr], 1);
    assert!(
        spikes > 50,
        "the case must exercise spiking ({spikes} neurons spiked)"
    );
    // One step: exact except for expm1/log1p, which differ by a few ulp between Rust's libm and
    // the WGSL versions; a neuron within that of threshold may flip (allow 2 of 3003).
    compare(
        &p,
        &c,
        &g,
        Tol {
            abs: 2e-5,
            rel: 2e-5,
        },
        2,
    );
}

/// Spike counts over many steps: chaotic divergence is impossible (no coupling), but an ulp-level
/// difference can move one spike across a step boundary, so counts agree within one spike.
fn counts_agree(c: &[f32], g: &[f32], dt: f32) {
    let bad = c
        .iter()
        .zip(g)
        .filter(|(a, b)| ((*a - *b) * dt).abs() > 1.0 + 1e-3)
        .count();
    assert!(
        bad * 100 <= c.len(),
        "{bad} of {} neurons differ by more than one spike",
        c.len()
    );
    let exact = c
        .iter()
        .zip(g)
        .filter(|(a, b)| ((*a - *b) * dt).abs() < 1e-3)
        .count();
    assert!(
        exact * 100 >= 95 * c.len(),
        "only {exact} of {} counts agree exactly",
        c.len()
    );
}

#[test]
fn neuron_types_agree_over_200_steps() {
    if !gpu_wanted() {
        return;
    }
    let mut r = rng();
    let n = 333;
    let lif = LifParams::default();
    let cases: Vec<(NeuronType, Vec<f32>, Vec<Vec<f32>>)> = vec![
        (
            NeuronType::Lif(lif),
            uniform(&mut r, n, 0.0, 10.0),
            vec![uniform(&mut r, n, 0.0, 1.0), vec![0.0; n]],
        ),
        (
            NeuronType::LifRate(lif),
            uniform(&mut r, n, 0.0, 10.0),
            vec![],
        ),
        (
            NeuronType::adaptive_lif(),
            uniform(&mut r, n, 0.0, 10.0),
            vec![uniform(&mut r, n, 0.0, 1.0), vec![0.0; n], vec![0.0; n]],
        ),
        (
            NeuronType::spiking_rectified_linear(),
            uniform(&mut r, n, -50.0, 300.0),
            vec![uniform(&mut r, n, 0.0, 1.0)],
        ),
        (
            NeuronType::rectified_linear(),
            uniform(&mut r, n, -5.0, 5.0),
            vec![],
        ),
        (
            NeuronType::izhikevich(),
            uniform(&mut r, n, 0.0, 20.0),
            vec![vec![-65.0; n], vec![-13.0; n]],
        ),
    ];
    for (neuron, j, state) in cases {
        let (p, c, g, spikes) = neuron_case(neuron, n, j, state, 200);
        let count = p.buffers.len() - 1;
        assert!(
            spikes > n * BATCH / 4,
            "{neuron}: too few neurons active ({spikes} of {})",
            n * BATCH
        );
        if neuron.is_spiking() {
            counts_agree(&c[count], &g[count], 0.001);
        } else {
            // Rates: deterministic function of J; summed over 200 steps.
            compare(
                &p,
                &c,
                &g,
                Tol {
                    abs: 1e-3,
                    rel: 1e-5,
                },
                0,
            );
        }
        eprintln!("{neuron}: {spikes} of {} active, counts agree", n * BATCH);
    }
}

/// A plan that draws uniform noise in [low, high) (stream 3) and Poisson spikes at `rates`
/// (stream 4), probing both every step.
fn draws_plan(rates_kind: BufferKind, rates: Vec<f32>, low: f32, high: f32) -> Plan {
    let n = rates.len();
    let buffers = vec![
        buf("noise", BufferKind::Temp, vec![0.0; n]),
        buf("rates", rates_kind, rates),
        buf("spikes", BufferKind::Temp, vec![0.0; n]),
    ];
    let step = vec![
        Op::UniformNoise {
            low,
            high,
            out: BufId(0),
            stream: 3,
        },
        Op::PoissonSpikes {
            rates: BufId(1),
            out: BufId(2),
            stream: 4,
        },
        Op::Probe {
            probe: 0,
            src: BufId(0),
            sampling: Sampling::EVERY_STEP,
        },
        Op::Probe {
            probe: 1,
            src: BufId(2),
            sampling: Sampling::EVERY_STEP,
        },
    ];
    let probes = (0..2)
        .map(|k| ProbeSlot {
            probe: k,
            src: BufId(2 * k),
            len: n,
            sampling: Sampling::EVERY_STEP,
        })
        .collect();
    plan(buffers, step, probes)
}

#[test]
fn random_draws_agree_bit_for_bit_across_the_32_bit_step_boundary() {
    if !gpu_wanted() {
        return;
    }
    // 1000 outputs x 1000 steps = one million uniform draws; the steps straddle 2^32 so the
    // high word of the step counter is exercised; chunks of 97 steps (odd) on the GPU.
    let n = 1000;
    let rates = (0..n).map(|i| (i % 500) as f32 * 2.0).collect();
    let mut p = draws_plan(BufferKind::Param, rates, 0.0, 1.0);
    p.batch = 1;
    let first = (1u64 << 32) - 500;
    let [(_, cr), (_, gr)] = run_both(&p, first, 1000);
    assert_eq!(cr.values[0].len(), 1_000_000);
    let cpu_bits: Vec<u32> = cr.values[0].iter().map(|x| x.to_bits()).collect();
    let gpu_bits: Vec<u32> = gr.values[0].iter().map(|x| x.to_bits()).collect();
    if let Some(k) = (0..cpu_bits.len()).find(|&k| cpu_bits[k] != gpu_bits[k]) {
        panic!(
            "draw {k} (step {}, index {}) differs: cpu {:#x} gpu {:#x}",
            first + (k / n) as u64,
            k % n,
            cpu_bits[k],
            gpu_bits[k]
        );
    }
    // The CPU op draws exactly rng::uniform.
    assert_eq!(
        cr.values[0][5 * n + 7],
        volley::rng::uniform(p.seed, 3, first + 5, 7)
    );
    assert_eq!(cr.values[1], gr.values[1], "Poisson spike trains differ");
    let total: f32 = cr.values[1].iter().sum::<f32>() * 0.001;
    // Expected spikes: sum of rate*dt over 1000 steps = sum of rates = 2 * 2 * (0+..+499) * 0.001 * 1000.
    let expected: f32 = (0..n).map(|i| (i % 500) as f32 * 2.0).sum::<f32>();
    assert!(
        (total - expected).abs() < 5.0 * expected.sqrt(),
        "{total} spikes, expected {expected}"
    );
}

#[test]
fn per_instance_draws_agree_and_are_the_lone_runs_draws() {
    if !gpu_wanted() {
        return;
    }
    // Keying::PerInstance: instance b draws with key seed + b and index i (the seed's high word
    // carries), on the CPU and on both GPU paths (per-op kernels and the fused interpreter).
    let n = 101;
    let mut p = draws_plan(BufferKind::State, vec![900.0; n], -1.0, 2.0);
    p.seed = u32::MAX as u64 - 1; // instance 2's key carries into the high word
    p.keying = volley::rng::Keying::PerInstance;
    let steps = 37;
    let host = HostInputs::default();
    let mut cr = ProbeRecords::default();
    CpuBackend::new(&p)
        .unwrap()
        .run(1000, steps, &host, &mut cr)
        .unwrap();
    for path in [GpuPath::PerOp, GpuPath::Fused] {
        let mut gpu = GpuBackend::with_path(&p, AdapterPolicy::Any, 13, path).unwrap_or_else(|e| {
            panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)")
        });
        let mut gr = ProbeRecords::default();
        gpu.run(1000, steps, &host, &mut gr).unwrap();
        for k in 0..2 {
            let c: Vec<u32> = cr.values[k].iter().map(|x| x.to_bits()).collect();
            let g: Vec<u32> = gr.values[k].iter().map(|x| x.to_bits()).collect();
            assert_eq!(c.len(), steps * BATCH * n);
            assert!(c == g, "{path:?}, probe {k}: CPU and GPU draws differ");
        }
    }
    // Sample t, instance b, element i is the lone draw of seed + b.
    for (t, b, i) in [(0, 0, 0), (5, 2, 7), (36, 1, 100)] {
        let v = cr.values[0][(t * BATCH + b) * n + i];
        let u = volley::rng::uniform(p.seed + b as u64, 3, 1000 + t as u64, i as u32);
        assert_eq!(v, -1.0 + 3.0 * u, "sample {t}, instance {b}, element {i}");
    }
}

fn spike_counts(sim: &Simulator, p: ProbeId) -> Vec<f32> {
    let d = sim.data_instance(p, 0).unwrap();
    d.columns()
        .into_iter()
        .map(|c| (c.sum() * sim.dt()) as f32)
        .collect()
}

fn run_net(net: &Network, backend: BackendChoice, seconds: f64) -> Simulator {
    let mut sim = Simulator::new(net, SimConfig::default().backend(backend))
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"));
    sim.run(seconds).unwrap();
    sim
}

fn assert_rmse_close(name: &str, c: f64, g: f64) {
    eprintln!("{name}: rmse cpu {c:.5} gpu {g:.5}");
    assert!(
        (c - g).abs() <= 0.1 * c.max(g),
        "{name}: rmse cpu {c} gpu {g} differ by more than 10%"
    );
}

#[test]
fn nef_minimal_agrees() {
    if !gpu_wanted() {
        return;
    }
    let mut m = volley::networks::nef_minimal(0).unwrap();
    let pb = m.net.probe(Probe::spikes(m.b)).unwrap();
    let dt = 0.001;
    let mut rmses = Vec::new();
    let mut counts = Vec::new();
    for be in [BackendChoice::Cpu, BackendChoice::Gpu] {
        let sim = run_net(&m.net, be, 10.0);
        let x = sim.data_instance(m.p_input, 0).unwrap().column(0).to_vec();
        let sq: Vec<f64> = x.iter().map(|v| v * v).collect();
        let mut ideal = volley::networks::lowpass_filter(&sq, 0.005, dt);
        ideal = volley::networks::lowpass_filter(&ideal, 0.1, dt);
        ideal = volley::networks::lowpass_filter(&ideal, 0.1, dt);
        let out = sim.data_instance(m.p_b, 0).unwrap().column(0).to_vec();
        rmses.push(volley::networks::rmse(&out[500..], &ideal[500..]));
        counts.push((spike_counts(&sim, m.p_a_spikes), spike_counts(&sim, pb)));
    }
    assert_counts_within_one("nef_minimal A", &counts[0].0, &counts[1].0);
    assert_counts_within_one("nef_minimal B", &counts[0].1, &counts[1].1);
    assert_rmse_close("nef_minimal", rmses[0], rmses[1]);
}

#[test]
fn communication_channel_agrees() {
    if !gpu_wanted() {
        return;
    }
    let mut c = volley::networks::communication_channel(0).unwrap();
    let pa = c.net.probe(Probe::spikes(c.a)).unwrap();
    let pb = c.net.probe(Probe::spikes(c.b)).unwrap();
    let dt = 0.001;
    let mut rmses = Vec::new();
    let mut counts = Vec::new();
    for be in [BackendChoice::Cpu, BackendChoice::Gpu] {
        let sim = run_net(&c.net, be, 2.0);
        let x = sim.data_instance(c.p_input, 0).unwrap().column(0).to_vec();
        let mut ideal = volley::networks::lowpass_filter(&x, 0.005, dt);
        ideal = volley::networks::lowpass_filter(&ideal, 0.005, dt);
        ideal = volley::networks::lowpass_filter(&ideal, 0.01, dt);
        let out = sim.data_instance(c.p_b, 0).unwrap().column(0).to_vec();
        rmses.push(volley::networks::rmse(&out, &ideal));
        counts.push((spike_counts(&sim, pa), spike_counts(&sim, pb)));
    }
    assert_counts_within_one("channel A", &counts[0].0, &counts[1].0);
    assert_counts_within_one("channel B", &counts[0].1, &counts[1].1);
    assert_rmse_close("channel", rmses[0], rmses[1]);
}

/// Passthrough nodes, a node's function on a connection and a state probe, on both backends:
/// the passthrough sums are the same f32 values, the ensemble fed by them spikes alike.
#[test]
fn passthrough_and_node_functions_agree() {
    if !gpu_wanted() {
        return;
    }
    let mut net = Network::new(5);
    let x = net
        .add_node(Node::function(1, |t| vec![(5.0 * t).sin()]))
        .unwrap();
    let p = net.add_node(Node::passthrough(2)).unwrap();
    net.connect(
        Connection::new(x, p)
            .function(|v| vec![v[0] * v[0], 0.5 * v[0]])
            .synapse(None),
    )
    .unwrap();
    net.connect(Connection::new(x, p).transform(Transform::Dense(ndarray::array![[0.25], [-1.0]])))
        .unwrap();
    let ens = net
        .add_ensemble(Ensemble::new(31, 2).neuron_type(NeuronType::adaptive_lif()))
        .unwrap();
    net.connect(Connection::new(p, ens).synapse(None)).unwrap();
    let pp = net.probe(Probe::decoded(p)).unwrap();
    let ps = net.probe(Probe::spikes(ens)).unwrap();
    let pa = net.probe(Probe::state(ens, "adaptation")).unwrap();
    let sims = [BackendChoice::Cpu, BackendChoice::Gpu].map(|be| run_net(&net, be, 0.5));
    assert_eq!(sims[0].data(pp).unwrap(), sims[1].data(pp).unwrap());
    let counts = sims.each_ref().map(|s| spike_counts(s, ps));
    assert!(counts[0].iter().sum::<f32>() > 0.0);
    assert_counts_within_one("passthrough", &counts[0], &counts[1]);
    let a = sims.each_ref().map(|s| sims_last(s, pa));
    let scale = a[0].iter().cloned().fold(0.0, f64::max);
    for (c, g) in a[0].iter().zip(&a[1]) {
        assert!(
            (c - g).abs() <= 0.05 * scale,
            "adaptation {c} vs {g} (largest {scale})"
        );
    }
}

/// Nodes with an input function (`Node::with_input`) on both backends, in a batch of two: an
/// ensemble's decoded value squared on the host in the same step (synapse None) drives a second
/// ensemble through a function on the connection (also on the host), and a node loops into
/// itself through a synapse. The host computes the same f64 function of the same f32 sums, so the node outputs
/// agree as the ensembles' decoded values do (the first ensemble's spikes agree bit for bit up
/// to the f32 rounding of the LIF update; counts within one spike).
#[test]
fn nodes_with_input_functions_agree() {
    if !gpu_wanted() {
        return;
    }
    let mut net = Network::new(11);
    let x = net
        .add_node(Node::batched(1, |t, b| {
            vec![(8.0 * t).sin() * (1.0 - 0.5 * b as f64)]
        }))
        .unwrap();
    let a = net.add_ensemble(Ensemble::new(29, 1)).unwrap();
    net.connect(Connection::new(x, a)).unwrap();
    let sq = net
        .add_node(Node::with_input(1, 1, |_, v| vec![v[0] * v[0]]))
        .unwrap();
    net.connect(Connection::new(a, sq).synapse(None)).unwrap();
    let b = net.add_ensemble(Ensemble::new(19, 1)).unwrap();
    net.connect(
        Connection::new(sq, b)
            .function(|v| vec![2.0 * v[0] - 0.2])
            .synapse(None),
    )
    .unwrap();
    let lp = net
        .add_node(Node::with_input(1, 1, |t, v| vec![t + 0.5 * v[0]]))
        .unwrap();
    net.connect(Connection::new(lp, lp).synapse(Some(Synapse::Lowpass(0.01))))
        .unwrap();
    let ps = net.probe(Probe::spikes(b)).unwrap();
    let pq = net.probe(Probe::decoded(sq)).unwrap();
    let pl = net.probe(Probe::decoded(lp)).unwrap();
    let sims = [BackendChoice::Cpu, BackendChoice::Gpu].map(|be| {
        let mut sim = Simulator::new(&net, SimConfig::default().backend(be).batch(2))
            .unwrap_or_else(|e| {
                panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)")
            });
        sim.run(0.15).unwrap();
        sim
    });
    // The loop's values depend on nothing the backends round differently: the same f32s.
    assert_eq!(sims[0].data(pl).unwrap(), sims[1].data(pl).unwrap());
    let q = sims.each_ref().map(|s| s.data(pq).unwrap());
    assert_eq!(q[0].shape(), &[2, 150, 1]);
    assert!(q[0].iter().any(|&v| v > 0.01));
    // Tolerance: 2e-3 absolute on values up to ~1: a decoded value that one LIF rounding
    // moves by a spike's contribution (decoder x 1/dt filtered over 5 ms) before it is squared.
    let worst = q[0]
        .iter()
        .zip(q[1].iter())
        .map(|(c, g)| (c - g).abs())
        .fold(0.0, f64::max);
    eprintln!("{:?}: largest difference {worst}", sims[1].backend_name());
    assert!(
        worst <= 2e-3,
        "squared decoded value: largest difference {worst}"
    );
    for inst in 0..2 {
        let counts = sims.each_ref().map(|s| {
            let d = s.data_instance(ps, inst).unwrap();
            d.sum_axis(ndarray::Axis(0))
                .mapv(|v| (v * 0.001).round() as f32)
                .to_vec()
        });
        assert!(counts[0].iter().sum::<f32>() > 0.0);
        assert_counts_within_one("node with input", &counts[0], &counts[1]);
    }
}

/// The last sample of `probe` (instance 0).
fn sims_last(sim: &Simulator, probe: ProbeId) -> Vec<f64> {
    let d = sim.data_instance(probe, 0).unwrap();
    d.row(d.nrows() - 1).to_vec()
}

#[test]
fn recurrent_lif_with_poisson_input_agrees() {
    if !gpu_wanted() {
        return;
    }
    let net_and_probe = volley::networks::recurrent_poisson(7).unwrap();
    let mut counts = Vec::new();
    let mut inputs = Vec::new();
    for be in [BackendChoice::Cpu, BackendChoice::Gpu] {
        let sim = run_net(&net_and_probe.net, be, 1.0);
        counts.push(spike_counts(&sim, net_and_probe.p_spikes));
        inputs.push(sim.data(net_and_probe.p_input).unwrap());
    }
    assert_eq!(
        inputs[0], inputs[1],
        "Poisson input spikes differ between backends"
    );
    let active = counts[0].iter().filter(|&&c| c > 0.0).count();
    assert!(active > 500, "only {active} of 1000 neurons spiked");
    assert_counts_within_one("recurrent", &counts[0], &counts[1]);
}

#[test]
fn plasticity_ops_agree() {
    if !gpu_wanted() {
        return;
    }
    // Odd sizes; per-instance weights; spikes at 1/dt = 1000 (dt = 1 ms). The random-input ops
    // make the spike trains differ per instance and per step.
    let mut r = rng();
    let (rows, cols) = (29, 67);
    let rule = volley::compile::StdpConsts {
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
    let pre_rates: Vec<f32> = uniform(&mut r, cols, 0.0, 150.0);
    let post_rates: Vec<f32> = uniform(&mut r, rows, 0.0, 150.0);
    let buffers = vec![
        buf("pre_rates", BufferKind::State, pre_rates),
        buf("pre", BufferKind::Temp, vec![0.0; cols]),
        buf("post_rates", BufferKind::State, post_rates),
        buf("post", BufferKind::Temp, vec![0.0; rows]),
        buf(
            "w",
            BufferKind::State,
            uniform(&mut r, rows * cols, 0.0, 1.0),
        ),
        buf("r1", BufferKind::State, vec![0.0; cols]),
        buf("r2", BufferKind::State, vec![0.0; cols]),
        buf("o1", BufferKind::State, vec![0.0; rows]),
        buf("o2", BufferKind::State, vec![0.0; rows]),
        buf("learn", BufferKind::Param, vec![1.0]),
        buf("y", BufferKind::State, vec![0.0; rows]),
        buf(
            "lateral_s",
            BufferKind::Param,
            uniform(&mut r, rows, -2.0, 0.0),
        ),
        buf("lateral_y", BufferKind::State, vec![0.0; rows]),
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
        Op::MatVecInc {
            m: BufId(4),
            rows,
            cols,
            x: BufId(1),
            y: BufId(10),
            scale: 0.001,
        },
        Op::AllButSelfInc {
            s: BufId(11),
            x: BufId(3),
            y: BufId(12),
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
    ];
    for (x, sp, d) in [(5, 1, 0.95), (6, 1, 0.99), (7, 3, 0.93), (8, 3, 0.98)] {
        step.push(Op::Trace {
            x: BufId(x),
            spikes: BufId(sp),
            decay: d,
            nearest: false,
        });
    }
    let mut p = plan(buffers, step, vec![]);
    p.boundary = vec![Op::NormalizeRows {
        w: BufId(4),
        rows,
        cols,
        target: 7.8,
    }];
    let [(c, _), (g, _)] = run_both(&p, 0, 300);
    // 300 steps of accumulated f32 updates (each within a few ulp; FMA contraction on the GPU).
    compare(
        &p,
        &c,
        &g,
        Tol {
            abs: 1e-4,
            rel: 1e-4,
        },
        0,
    );
    let w0 = &p.buffers[4].init;
    let changed = c[4][..rows * cols]
        .iter()
        .zip(w0)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        changed > rows * cols / 2,
        "STDP must have changed most weights ({changed})"
    );

    // Normalisation after learning: every row sums to 7.8 on both backends.
    let mut cpu = CpuBackend::new(&p).unwrap();
    let mut gpu = GpuBackend::new(&p, AdapterPolicy::Any, 64).unwrap();
    for be in [&mut cpu as &mut dyn Backend, &mut gpu as &mut dyn Backend] {
        be.run(0, 50, &HostInputs::default(), &mut ProbeRecords::default())
            .unwrap();
        be.boundary().unwrap();
        let w = be.read(BufId(4)).unwrap();
        for row in w.chunks(cols) {
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - 7.8).abs() < 1e-5 * 7.8 * cols as f32,
                "row sums to {sum}"
            );
        }
    }
}

/// The eight state buffers of a Diehl & Cook population in `Op::Neurons` order (v, ge, gi,
/// theta at 20 mV, theta_decay, the refractory counter, ge_in, gi_in), starting from `v`.
fn dc_state_buffers(v: Vec<f32>) -> Vec<Buffer> {
    let n = v.len();
    vec![
        buf("v", BufferKind::State, v),
        buf("ge", BufferKind::State, vec![0.0; n]),
        buf("gi", BufferKind::State, vec![0.0; n]),
        buf("theta", BufferKind::State, vec![20.0; n]),
        buf("theta_decay", BufferKind::State, vec![0.0; n]),
        buf("refr", BufferKind::State, vec![0.0; n]),
        buf("ge_in", BufferKind::State, vec![0.0; n]),
        buf("gi_in", BufferKind::State, vec![0.0; n]),
    ]
}

#[test]
fn diehl_cook_neurons_agree() {
    if !gpu_wanted() {
        return;
    }
    let mut r = rng();
    let n = 201;
    let exc = volley::model::DcParams::excitatory();
    let mut buffers = vec![
        buf(
            "ge_rates",
            BufferKind::State,
            uniform(&mut r, n, 0.0, 400.0),
        ),
        buf("ge_spikes", BufferKind::Temp, vec![0.0; n]),
        buf("learn", BufferKind::Param, vec![1.0]),
        buf("out", BufferKind::Temp, vec![0.0; n]),
    ];
    buffers.extend(dc_state_buffers(uniform(&mut r, n, -70.0, -50.0)));
    buffers.extend([
        buf("count", BufferKind::State, vec![0.0; n]),
        buf("gi_scale", BufferKind::Param, vec![-0.002; n]),
        buf("one", BufferKind::Param, vec![0.0005; n]),
    ]);
    let step = vec![
        Op::PoissonSpikes {
            rates: BufId(0),
            out: BufId(1),
            stream: 9,
        },
        // Each input spike adds 0.5 to ge (0.0005 * 1000).
        Op::ScaleInc {
            s: BufId(14),
            x: BufId(1),
            y: BufId(10),
        },
        Op::Neurons {
            neuron: NeuronType::DiehlCook(exc),
            n,
            j: BufId(3),
            out: BufId(3),
            state: (4..12).map(BufId).collect(),
            learn: Some(BufId(2)),
        },
        // Lateral inhibition through gi (all-but-self, -0.002 * 1000 per spike -> 2.0 after sign).
        Op::AllButSelfInc {
            s: BufId(13),
            x: BufId(3),
            y: BufId(11),
        },
        Op::AddInc {
            x: BufId(3),
            y: BufId(12),
        },
    ];
    let p = plan(buffers, step, vec![]);
    let [(c, _), (g, _)] = run_both(&p, 0, 400);
    let spikes = c[12].iter().filter(|&&x| x > 0.0).count();
    assert!(
        spikes > n,
        "too few active neurons: {spikes} of {}",
        n * BATCH
    );
    counts_agree(&c[12], &g[12], 0.001);
    // Theta grows by 0.05 mV per spike; compare it within a spike's worth.
    let close = c[7]
        .iter()
        .zip(&g[7])
        .filter(|(a, b)| (*a - *b).abs() <= 0.05 + 1e-4)
        .count();
    assert!(
        close * 100 >= 99 * c[7].len(),
        "theta differs for {} neurons",
        c[7].len() - close
    );
}

/// The spike gate of `DcParams::min_interval` (Diehl & Cook's `timer`), exactly, on both
/// backends: a neuron driven far above threshold fires on the first step the gate allows,
/// s + round(min_interval / dt) + 1 after a spike at s (Brian2's `timer > refrac_e` with
/// `dtimer/dt = 0.1` first holds 101 steps after a spike at dt 0.5 ms), and its voltage is held
/// for the refractory period only (10 steps), then integrates while the gate is still closed.
#[test]
fn diehl_cook_spike_gate_is_exact() {
    let n = 7;
    for (min_interval, period) in [(0.05, 101usize), (0.0, 11), (0.02, 41), (0.004, 11)] {
        let exc = volley::model::DcParams {
            min_interval,
            ..volley::model::DcParams::excitatory()
        };
        let mut buffers = vec![
            buf("drive", BufferKind::State, vec![50.0; n]),
            buf("learn", BufferKind::Param, vec![1.0]),
            buf("out", BufferKind::Temp, vec![0.0; n]),
        ];
        buffers.extend(dc_state_buffers(vec![-65.0; n]));
        buffers.push(buf("count", BufferKind::State, vec![0.0; n]));
        let step = vec![
            Op::AddInc {
                x: BufId(0),
                y: BufId(9),
            },
            Op::Neurons {
                neuron: NeuronType::DiehlCook(exc),
                n,
                j: BufId(2),
                out: BufId(2),
                state: (3..11).map(BufId).collect(),
                learn: Some(BufId(1)),
            },
            Op::AddInc {
                x: BufId(2),
                y: BufId(11),
            },
        ];
        let p = Plan {
            dt: 0.0005,
            ..plan(buffers, step, vec![])
        };
        let steps = 1000;
        // Spikes on steps 0, period, 2 * period, ...; the last one `since` steps before the
        // last step.
        let spikes = (steps - 1) / period + 1;
        let since = (steps - 1) % period;
        // Both backends when the GPU is wanted (run_both runs the CPU too), else the CPU alone.
        let runs: Vec<Vec<Vec<f32>>> = if gpu_wanted() {
            run_both(&p, 0, steps).map(|(bufs, _)| bufs).to_vec()
        } else {
            let mut cpu = CpuBackend::new(&p).unwrap();
            cpu.run(
                0,
                steps,
                &HostInputs::default(),
                &mut ProbeRecords::default(),
            )
            .unwrap();
            vec![
                (0..p.buffers.len())
                    .map(|i| cpu.read(BufId(i)).unwrap())
                    .collect(),
            ]
        };
        for (r, bufs) in runs.iter().enumerate() {
            let what = format!("min_interval {min_interval} s, backend {r} (0 cpu, 1 gpu)");
            for &c in &bufs[11] {
                assert_eq!((c * 0.0005).round() as usize, spikes, "{what}: spike count");
            }
            // theta rose by 0.05 mV per spike (and decayed by about 1e-3 mV in 0.5 s).
            for &t in &bufs[6] {
                assert!(
                    (t - 20.0 - 0.05 * spikes as f32).abs() < 2e-3,
                    "{what}: theta {t}"
                );
            }
            for &v in &bufs[3] {
                if since <= 10 {
                    assert_eq!(
                        v, -65.0,
                        "{what}: held at reset {since} steps after a spike"
                    );
                } else {
                    assert!(
                        v > -52.0,
                        "{what}: {v} mV {since} steps after a spike: not integrating"
                    );
                }
            }
        }
    }
}

#[test]
fn diehl_cook_network_learns_alike() {
    if !gpu_wanted() {
        return;
    }
    // A small Diehl & Cook network (49 inputs, 13 excitatory neurons) for 1000 steps at dt 0.5 ms.
    let cfg = volley::networks::DiehlCookConfig {
        n_input: 49,
        n_exc: 13,
        normalize: 20.0,
        ..Default::default()
    };
    let dc = volley::networks::diehl_cook(&cfg, 5).unwrap();
    let mut r = rng();
    let rates: Vec<f32> = (0..49).map(|_| r.random_range(0.0..63.75f32)).collect();
    let mut weights = Vec::new();
    let mut counts = Vec::new();
    let mut thetas = Vec::new();
    for be in [BackendChoice::Cpu, BackendChoice::Gpu] {
        let mut sim = Simulator::new(&dc.net, SimConfig::default().dt(0.0005).backend(be))
            .unwrap_or_else(|e| {
                panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)")
            });
        sim.set_poisson_rates(dc.input, &rates).unwrap();
        sim.boundary().unwrap();
        sim.run_steps(1000).unwrap();
        weights.push(sim.weights(dc.conn_input).unwrap());
        counts.push(
            sim.take_counts(dc.p_exc_count)
                .unwrap()
                .row(0)
                .iter()
                .map(|&c| c as f32)
                .collect::<Vec<f32>>(),
        );
        thetas.push(sim.neuron_state(dc.exc, "theta").unwrap());
    }
    let total: f32 = counts[0].iter().sum();
    assert!(
        total > 5.0,
        "the excitatory neurons must spike ({total} spikes)"
    );
    assert_counts_within_one("diehl_cook exc", &counts[0], &counts[1]);
    let (wc, wg) = (&weights[0], &weights[1]);
    let max_diff = wc
        .iter()
        .zip(wg.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("diehl_cook: {total} exc spikes, max weight difference {max_diff:e}");
    // A spike moved by one step changes the traces it meets by a factor exp(-dt/tau) ~ 2.5%,
    // i.e. at most ~nu_post * 0.025 = 2.5e-4 per event; the weights agree far closer than the
    // 0.01 learning step, and the learned change is much larger than the difference.
    assert!(max_diff < 2e-3, "weights differ by up to {max_diff}");
    let changed = wc.iter().filter(|&&w| w > 0.0).count();
    assert!(changed > 0);
    let tdiff = thetas[0]
        .iter()
        .zip(thetas[1].iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(tdiff <= 0.05 + 1e-4, "theta differs by {tdiff}");
}

#[test]
fn cpu_poisson_draws_equal_the_op_when_its_groups_are_kept_across_steps() {
    // The CPU backend keeps the elements that draw while the rates stay the same (one piece,
    // or pieces of 4,096 on rayon's threads from 16,384 elements: the 6,007-element case, whose
    // pieces straddle instances). Every step must still be `poisson_spikes` of the rates of
    // that step, through rate changes written between runs, with both keyings.
    for keying in [
        volley::rng::Keying::Shared,
        volley::rng::Keying::PerInstance,
    ] {
        for n in [101usize, 6_007] {
            let rates = |shift: usize| -> Vec<f32> {
                (0..n * BATCH)
                    .map(|i| match (i + shift) % 5 {
                        0 | 1 => 0.0,
                        2 => 40.0,
                        _ => ((i * 7 + shift) % 97) as f32 * 3.0,
                    })
                    .collect()
            };
            let mut p = draws_plan(BufferKind::State, rates(0)[..n].to_vec(), 0.0, 1.0);
            p.keying = keying;
            let mut cpu = CpuBackend::new(&p).unwrap();
            let host = HostInputs::default();
            let mut step = 500u64;
            for (k, shift) in [0usize, 0, 3, 3, 0, 1].into_iter().enumerate() {
                let r = rates(shift);
                cpu.write(BufId(1), &r).unwrap();
                let mut rec = ProbeRecords::default();
                cpu.run(step, 7, &host, &mut rec).unwrap();
                for t in 0..7 {
                    let mut want = vec![f32::NAN; n * BATCH];
                    volley::backend::cpu::poisson_spikes(
                        p.seed,
                        keying,
                        n,
                        4,
                        step + t as u64,
                        p.dt as f32,
                        &r,
                        &mut want,
                    );
                    let got = &rec.values[1][t * n * BATCH..(t + 1) * n * BATCH];
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(got),
                        bits(&want),
                        "{keying:?}, n {n}, run {k}, step {t}"
                    );
                    assert!(want.iter().any(|&x| x != 0.0), "no spikes at all");
                }
                step += 7;
            }
        }
    }
}
