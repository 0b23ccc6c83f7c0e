//! The fused GPU path (one dispatch of the step interpreter per chunk, one workgroup per
//! instance) against the per-op GPU path and the CPU reference: whole networks, several chunks,
//! several instances, and the automatic fallback for plans the interpreter cannot take.
//!
//! Fused and per-op run the same WGSL maths functions (`shaders/common/`), so they must agree
//! bit for bit; against the CPU the networks agree as in tests/cross_backend.rs (spike counts
//! within one spike for 99% of neurons).

mod common;

use common::{assert_counts_within_one, requested};
use volley::backend::cpu::CpuBackend;
use volley::backend::gpu::{
    AdapterPolicy, FusedOptions, GpuBackend, GpuPath, fused_unsupported_reason,
};
use volley::backend::{Backend, HostInputs, ProbeRecords};
use volley::compile::{BufId, Buffer, BufferKind, Op, Plan, Sampling, compile_with};
use volley::model::NeuronType;
use volley::prelude::*;

fn gpu_wanted() -> bool {
    if !requested("gpu") {
        eprintln!("gpu not in VOLLEY_TEST_BACKENDS: this run asked for the CPU only");
        return false;
    }
    true
}

/// Which engine runs a plan.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Engine {
    Cpu,
    Gpu(GpuPath),
}

/// The result of a run: every buffer and every probe's records.
struct Run {
    buffers: Vec<Vec<f32>>,
    records: ProbeRecords,
}

/// Host values for every host slot: a smooth signal, different per instance and element.
fn host_values(plan: &Plan, steps: usize) -> HostInputs {
    let values = plan
        .host_inputs
        .iter()
        .map(|h| {
            let mut v = Vec::with_capacity(steps * plan.batch * h.size);
            for k in 0..steps {
                for b in 0..plan.batch {
                    for e in 0..h.size {
                        let t = k as f32 * plan.dt as f32;
                        v.push((6.0 * t + b as f32 + 0.7 * e as f32).sin());
                    }
                }
            }
            v
        })
        .collect();
    HostInputs { values }
}

/// Loads `plan` on `engine`, writes `writes`, runs the boundary ops, then `steps` steps in two
/// calls (chunks of 97 steps, so chunk boundaries fall mid-run).
fn run(plan: &Plan, engine: Engine, steps: usize, writes: &[(BufId, Vec<f32>)]) -> Run {
    let mut be: Box<dyn Backend> = match engine {
        Engine::Cpu => Box::new(CpuBackend::new(plan).unwrap()),
        Engine::Gpu(path) => {
            let g = GpuBackend::with_path(plan, AdapterPolicy::Any, 97, path).unwrap_or_else(|e| {
                panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)")
            });
            if path != GpuPath::Auto {
                assert_eq!(g.path(), path);
            }
            Box::new(g)
        }
    };
    for (b, data) in writes {
        be.write(*b, data).unwrap();
    }
    be.boundary().unwrap();
    let host = host_values(plan, steps);
    let mut records = ProbeRecords::default();
    let first = steps / 3;
    let split = |h: &HostInputs, a: usize, n: usize| HostInputs {
        values: plan
            .host_inputs
            .iter()
            .zip(&h.values)
            .map(|(s, v)| v[a * plan.batch * s.size..(a + n) * plan.batch * s.size].to_vec())
            .collect(),
    };
    be.run(0, first, &split(&host, 0, first), &mut records)
        .unwrap();
    be.run(
        first as u64,
        steps - first,
        &split(&host, first, steps - first),
        &mut records,
    )
    .unwrap();
    let buffers = (0..plan.buffers.len())
        .map(|i| be.read(BufId(i)).unwrap())
        .collect();
    Run { buffers, records }
}

/// Fused and per-op GPU results must be identical, bit for bit.
fn assert_bit_identical(plan: &Plan, fused: &Run, per_op: &Run) {
    for (i, (a, b)) in fused.buffers.iter().zip(&per_op.buffers).enumerate() {
        if let Some(k) = (0..a.len()).find(|&k| a[k].to_bits() != b[k].to_bits()) {
            let len = plan.buffers[i].len.max(1);
            panic!(
                "buffer {} differs at index {k} (instance {}, element {}): fused {} per-op {}",
                plan.buffers[i].name,
                k / len,
                k % len,
                a[k],
                b[k]
            );
        }
    }
    for (p, (a, b)) in fused
        .records
        .values
        .iter()
        .zip(&per_op.records.values)
        .enumerate()
    {
        assert_eq!(a.len(), b.len(), "probe {p} sample counts");
        if let Some(k) = (0..a.len()).find(|&k| a[k].to_bits() != b[k].to_bits()) {
            panic!("probe {p} differs at {k}: fused {} per-op {}", a[k], b[k]);
        }
    }
}

/// Spike counts per (instance, neuron) of every probe recording a spiking population.
fn spike_counts(plan: &Plan, r: &Run) -> Vec<Vec<f32>> {
    let spiking: Vec<BufId> = plan
        .step
        .iter()
        .filter_map(|op| match op {
            Op::Neurons {
                neuron: NeuronType::Lif(_) | NeuronType::DiehlCook(_),
                out,
                ..
            } => Some(*out),
            _ => None,
        })
        .collect();
    plan.probes
        .iter()
        .zip(&r.records.values)
        .filter(|(p, _)| spiking.contains(&p.src) && p.sampling == Sampling::EVERY_STEP)
        .map(|(p, v)| {
            let per = plan.batch * p.len;
            let mut c = vec![0.0f32; per];
            for s in v.chunks(per) {
                for (a, x) in c.iter_mut().zip(s) {
                    *a += x * plan.dt as f32;
                }
            }
            c
        })
        .collect()
}

/// Runs `plan` on the CPU and on both GPU paths: fused == per-op bit for bit, and the spike
/// counts agree with the CPU. Returns (cpu, fused).
fn check_plan(name: &str, plan: &Plan, steps: usize, writes: &[(BufId, Vec<f32>)]) -> (Run, Run) {
    assert_eq!(
        fused_unsupported_reason(plan),
        None,
        "{name} should be fusable"
    );
    let fused = run(plan, Engine::Gpu(GpuPath::Fused), steps, writes);
    let per_op = run(plan, Engine::Gpu(GpuPath::PerOp), steps, writes);
    assert_bit_identical(plan, &fused, &per_op);
    let cpu = run(plan, Engine::Cpu, steps, writes);
    let (cc, fc) = (spike_counts(plan, &cpu), spike_counts(plan, &fused));
    if cc.is_empty() {
        // No spike probe (e.g. Diehl & Cook counts spikes in a state buffer): the caller
        // compares the state it cares about.
        eprintln!("{name}: no spike probe; fused == per-op checked bit for bit");
        return (cpu, fused);
    }
    let total: f32 = cc.iter().flatten().sum();
    assert!(total > 0.0, "{name}: nothing spiked");
    for (i, (c, g)) in cc.iter().zip(&fc).enumerate() {
        assert_counts_within_one(&format!("{name} probe {i}"), c, g);
    }
    (cpu, fused)
}

#[test]
fn nef_minimal_fused_matches() {
    if !gpu_wanted() {
        return;
    }
    let m = volley::networks::nef_minimal(0).unwrap();
    let (plan, _) = compile_with(&m.net, 0.001, 1, true).unwrap();
    check_plan("nef_minimal", &plan, 1000, &[]);
}

#[test]
fn communication_channel_fused_matches() {
    if !gpu_wanted() {
        return;
    }
    let mut c = volley::networks::communication_channel(0).unwrap();
    c.net.probe(Probe::spikes(c.a)).unwrap();
    c.net.probe(Probe::spikes(c.b)).unwrap();
    let (plan, _) = compile_with(&c.net, 0.001, 2, true).unwrap();
    check_plan("channel", &plan, 600, &[]);
}

#[test]
fn recurrent_lif_fused_matches() {
    if !gpu_wanted() {
        return;
    }
    let r = volley::networks::recurrent_poisson(7).unwrap();
    let (plan, _) = compile_with(&r.net, 0.001, 1, true).unwrap();
    check_plan("recurrent", &plan, 300, &[]);
}

/// Passthrough nodes (a sum of Poisson spikes, routed into neurons and on to a second
/// passthrough node through a loop closed by a delay) and a spike-count probe: fused == per-op
/// bit for bit, counts like the CPU.
#[test]
fn passthrough_nodes_fused_match() {
    if !gpu_wanted() {
        return;
    }
    let mut net = Network::new(3);
    let input = net.add_node(Node::poisson(vec![40.0; 20])).unwrap();
    let p = net.add_node(Node::passthrough(20)).unwrap();
    let q = net.add_node(Node::passthrough(20)).unwrap();
    net.connect(Connection::new(input, p).synapse(None))
        .unwrap();
    net.connect(Connection::new(p, q).synapse(None)).unwrap();
    net.connect(
        Connection::new(q, p)
            .synapse(None)
            .delay(0.002)
            .transform(Transform::Scalar(0.25)),
    )
    .unwrap();
    let ens = net.add_ensemble(Ensemble::new(17, 1)).unwrap();
    net.connect(
        Connection::new(q, ens.neurons())
            .transform(Transform::Dense(ndarray::Array2::from_elem((17, 20), 0.02))),
    )
    .unwrap();
    net.probe(Probe::spikes(ens)).unwrap();
    let (plan, _) = compile_with(&net, 0.001, 2, true).unwrap();
    check_plan("passthrough", &plan, 400, &[]);
}

/// A small Diehl & Cook network (49 inputs, 13 excitatory neurons) learning, `batch` instances
/// with the given input rates.
fn dc_plan(batch: usize) -> (Plan, BufId) {
    dc_plan_learning(batch, true)
}

fn dc_plan_learning(batch: usize, learning: bool) -> (Plan, BufId) {
    dc_plan_with(batch, learning, None)
}

/// [`dc_plan_learning`] with per-synapse input delays drawn in `input_delays` (seconds).
fn dc_plan_with(batch: usize, learning: bool, input_delays: Option<(f64, f64)>) -> (Plan, BufId) {
    let cfg = volley::networks::DiehlCookConfig {
        n_input: 49,
        n_exc: 13,
        normalize: 20.0,
        input_delays,
        ..Default::default()
    };
    let dc = volley::networks::diehl_cook(&cfg, 5).unwrap();
    let (plan, _) = compile_with(&dc.net, 0.0005, batch, learning).unwrap();
    let rates = common::poisson_rates_buffer(&plan);
    (plan, rates)
}

/// The spike counts of a Diehl & Cook plan (its `.count` buffer) on the CPU and the fused path:
/// something spiked, and they agree within one spike.
fn assert_dc_counts_like_cpu(name: &str, plan: &Plan, cpu: &Run, fused: &Run) {
    let count = plan
        .buffers
        .iter()
        .position(|b| b.name.ends_with(".count"))
        .expect("a spike count");
    let (c, g) = (&cpu.buffers[count], &fused.buffers[count]);
    eprintln!("{name}: spike counts cpu {c:?} fused {g:?}");
    assert!(
        c.iter().sum::<f32>() > 0.0,
        "{name}: nothing spiked on the CPU"
    );
    assert!(
        g.iter().sum::<f32>() > 0.0,
        "{name}: nothing spiked on the GPU"
    );
    assert_counts_within_one(&format!("{name} counts"), c, g);
}

/// The learned STDP weights of `plan` on the fused path agree with the CPU's as in
/// tests/cross_backend.rs (within 2e-3) and moved from their initial values.
fn assert_weights_learned_like_cpu(name: &str, plan: &Plan, cpu: &Run, fused: &Run) {
    let w = common::stdp_weights_buffer(plan);
    let max_diff = cpu.buffers[w.0]
        .iter()
        .zip(&fused.buffers[w.0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("{name}: max weight difference cpu vs fused {max_diff:e}");
    assert!(
        max_diff < 2e-3,
        "{name}: weights differ by up to {max_diff}"
    );
    let init = &plan.buffers[w.0].init;
    assert!(
        fused.buffers[w.0]
            .iter()
            .zip(init.iter().cycle())
            .any(|(a, b)| a != b),
        "{name}: the weights must learn"
    );
}

fn dc_rates(seed: u32) -> Vec<f32> {
    (0..49u32)
        .map(|i| ((i * 37 + seed * 11) % 64) as f32)
        .collect()
}

#[test]
fn diehl_cook_learning_fused_matches() {
    if !gpu_wanted() {
        return;
    }
    let (plan, rates) = dc_plan(1);
    let (cpu, fused) = check_plan("diehl_cook", &plan, 1000, &[(rates, dc_rates(0))]);
    assert_weights_learned_like_cpu("diehl_cook", &plan, &cpu, &fused);
}

#[test]
fn instances_are_independent() {
    if !gpu_wanted() {
        return;
    }
    let (plan, rates) = dc_plan(3);
    let rates_a: Vec<f32> = [dc_rates(0), dc_rates(1), dc_rates(2)].concat();
    let rates_b: Vec<f32> = [dc_rates(0), dc_rates(5), vec![0.0; 49]].concat();
    let fa = run(
        &plan,
        Engine::Gpu(GpuPath::Fused),
        400,
        &[(rates, rates_a.clone())],
    );
    let pa = run(&plan, Engine::Gpu(GpuPath::PerOp), 400, &[(rates, rates_a)]);
    assert_bit_identical(&plan, &fa, &pa);
    let fb = run(&plan, Engine::Gpu(GpuPath::Fused), 400, &[(rates, rates_b)]);
    let mut other_differs = false;
    for (i, b) in plan.buffers.iter().enumerate() {
        if !b.batched() || b.len == 0 {
            continue;
        }
        let len = b.len;
        assert_eq!(
            fa.buffers[i][..len]
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            fb.buffers[i][..len]
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            "instance 0 of {} depends on the other instances",
            b.name
        );
        other_differs |= fa.buffers[i][len..] != fb.buffers[i][len..];
    }
    assert!(other_differs, "the other instances' inputs changed nothing");
}

#[test]
fn unsupported_op_falls_back_to_per_op() {
    if !gpu_wanted() {
        return;
    }
    let buf = |name: &str, kind, init: Vec<f32>| Buffer {
        name: name.into(),
        len: init.len(),
        kind,
        init,
    };
    let (rows, cols) = (5, 7);
    let plan = Plan {
        dt: 0.001,
        batch: 2,
        seed: 3,
        keying: Default::default(),
        buffers: vec![
            buf(
                "err",
                BufferKind::State,
                (0..rows).map(|i| i as f32 - 2.0).collect(),
            ),
            buf(
                "pre",
                BufferKind::State,
                (0..cols).map(|i| 0.1 * i as f32).collect(),
            ),
            buf("delta", BufferKind::Temp, vec![0.0; rows * cols]),
            buf("learn", BufferKind::Param, vec![1.0]),
        ],
        step: vec![
            Op::Pes {
                alpha: -0.01,
                rows,
                cols,
                error: BufId(0),
                pre: BufId(1),
                delta: BufId(2),
                learn: BufId(3),
            },
            Op::Lowpass {
                a: 0.9,
                x: BufId(0),
                y: BufId(1),
            },
        ],
        boundary: vec![],
        learn: Some(BufId(3)),
        host_inputs: vec![],
        probes: vec![],
    };
    let reason = fused_unsupported_reason(&plan).expect("pes is not fusable");
    assert!(reason.contains("pes"), "{reason}");
    let auto = GpuBackend::with_path(&plan, AdapterPolicy::Any, 97, GpuPath::Auto).unwrap();
    assert_eq!(auto.path(), GpuPath::PerOp);
    let e = GpuBackend::with_path(&plan, AdapterPolicy::Any, 97, GpuPath::Fused)
        .err()
        .expect("forcing the fused path on an unsupported plan fails");
    assert!(e.to_string().contains("pes"), "{e}");
    // The fallback runs exactly the per-op path.
    let g = run(&plan, Engine::Gpu(GpuPath::Auto), 50, &[]);
    let p = run(&plan, Engine::Gpu(GpuPath::PerOp), 50, &[]);
    assert_bit_identical(&plan, &g, &p);
    assert!(
        g.buffers[2].iter().any(|&x| x != 0.0),
        "pes must write deltas"
    );
}

#[test]
fn short_poisson_plan_fused_matches_per_op() {
    if !gpu_wanted() {
        return;
    }
    let buf = |name: &str, kind, init: Vec<f32>| Buffer {
        name: name.into(),
        len: init.len(),
        kind,
        init,
    };
    // Besides every step, Nengo's fractional sample periods (irregular samples, across the
    // chunk boundaries of `run`) and one under a step (every step).
    let periods = [1.5, 2.5, 0.4, 7.0, 33.3];
    for n in [5usize, 200, 2000] {
        let plan = Plan {
            dt: 0.001,
            batch: 2,
            seed: 3,
            keying: Default::default(),
            buffers: vec![
                buf("out", BufferKind::Temp, vec![0.0; n]),
                buf("rates", BufferKind::State, vec![300.0; n]),
                buf("count", BufferKind::State, vec![0.0; n]),
            ],
            step: vec![
                Op::PoissonSpikes {
                    rates: BufId(1),
                    out: BufId(0),
                    stream: 0,
                },
                Op::AddInc {
                    x: BufId(0),
                    y: BufId(2),
                },
                Op::Probe {
                    probe: 0,
                    src: BufId(0),
                    sampling: Sampling::EVERY_STEP,
                },
            ]
            .into_iter()
            .chain(periods.iter().enumerate().map(|(i, &period)| Op::Probe {
                probe: i + 1,
                src: BufId(0),
                sampling: Sampling { period },
            }))
            .collect(),
            boundary: vec![],
            learn: None,
            host_inputs: vec![],
            probes: std::iter::once(1.0)
                .chain(periods)
                .enumerate()
                .map(|(probe, period)| volley::compile::ProbeSlot {
                    probe,
                    src: BufId(0),
                    len: n,
                    sampling: Sampling { period },
                })
                .collect(),
        };
        assert_eq!(fused_unsupported_reason(&plan), None);
        let f = run(&plan, Engine::Gpu(GpuPath::Fused), 150, &[]);
        let p = run(&plan, Engine::Gpu(GpuPath::PerOp), 150, &[]);
        assert_bit_identical(&plan, &f, &p);
        let c = run(&plan, Engine::Cpu, 150, &[]);
        assert_bit_identical(&plan, &f, &c);
        // Each sampled probe holds the rows of the every-step probe at the steps k (from 1)
        // with k % period < 1 (Nengo's rule).
        let per = plan.batch * n;
        for (i, &period) in periods.iter().enumerate() {
            let rows: Vec<&[f32]> = (1..=150u64)
                .filter(|&k| (k as f64) % period < 1.0)
                .map(|k| &f.records.values[0][(k as usize - 1) * per..k as usize * per])
                .collect();
            assert_eq!(f.records.values[i + 1], rows.concat(), "period {period}");
        }
    }
}

#[test]
fn frozen_batched_diehl_cook_fused_matches() {
    // Evaluation: learning off (shared weights, theta frozen), several instances.
    if !gpu_wanted() {
        return;
    }
    let (plan, rates) = dc_plan_learning(3, false);
    let r: Vec<f32> = [dc_rates(0), dc_rates(1), dc_rates(2)].concat();
    let (cpu, fused) = check_plan("frozen diehl_cook", &plan, 600, &[(rates, r)]);
    assert_dc_counts_like_cpu("frozen diehl_cook", &plan, &cpu, &fused);
}

/// The interpreter's width (invocations per workgroup) and weight layout change who computes
/// what and where the weights lie, never the result: a Diehl & Cook network with learning, 1,100
/// inputs (35 mask words, so at 32 invocations the mask clearing takes several words each) and
/// 77 neurons, bit for bit at 32, 256 and 1024 invocations (where the adapter allows), with the
/// input weights presynaptic-major (the default) and row-major, also against the per-op path.
#[test]
fn fused_results_do_not_depend_on_the_workgroup_width() {
    if !gpu_wanted() {
        return;
    }
    let cfg = volley::networks::DiehlCookConfig {
        n_input: 1100,
        n_exc: 77,
        normalize: 60.0,
        ..Default::default()
    };
    let dc = volley::networks::diehl_cook(&cfg, 3).unwrap();
    let (plan, _) = compile_with(&dc.net, 0.0005, 2, true).unwrap();
    let rates = common::poisson_rates_buffer(&plan);
    let r: Vec<f32> = (0..2 * 1100u32)
        .map(|i| {
            if i % 3 == 0 {
                ((i * 53) % 90) as f32 * 0.9
            } else {
                0.0
            }
        })
        .collect();
    let w = common::stdp_weights_buffer(&plan);
    let run_width = |path: GpuPath, width: Option<u32>, presynaptic_major: bool| {
        let opts = FusedOptions {
            width,
            presynaptic_major,
        };
        let mut g = match GpuBackend::with_options(&plan, AdapterPolicy::Any, 97, path, opts) {
            Ok(g) => g,
            Err(e) if e.to_string().contains("power of two") => return None,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(g.path(), path);
        if path == GpuPath::Fused {
            assert_eq!(
                g.fused_width(),
                width,
                "the width asked for is the width used"
            );
        }
        assert_eq!(
            g.presynaptic_major_buffers().contains(&w),
            path == GpuPath::Fused && presynaptic_major,
            "the layout asked for is the layout used"
        );
        g.write(rates, &r).unwrap();
        g.boundary().unwrap();
        let mut records = ProbeRecords::default();
        g.run(0, 300, &HostInputs::default(), &mut records).unwrap();
        Some(Run {
            buffers: (0..plan.buffers.len())
                .map(|i| g.read(BufId(i)).unwrap())
                .collect(),
            records,
        })
    };
    let per_op = run_width(GpuPath::PerOp, None, true).unwrap();
    // Weights move only through post spikes (depression scales with the post trace), so a
    // change shows that the excitatory neurons fired and STDP ran.
    let init = &plan.buffers[w.0].init;
    assert!(
        per_op.buffers[w.0]
            .iter()
            .zip(init.iter().cycle())
            .any(|(a, b)| a != b),
        "the weights must learn"
    );
    for width in [32, 256, 1024] {
        for presynaptic_major in [true, false] {
            match run_width(GpuPath::Fused, Some(width), presynaptic_major) {
                Some(fused) => assert_bit_identical(&plan, &fused, &per_op),
                None => {
                    assert!(width > 256, "every adapter the interpreter takes runs 256");
                    eprintln!("width {width}: beyond this adapter's limit, skipped");
                }
            }
        }
    }
    let opts = FusedOptions {
        width: Some(100),
        ..Default::default()
    };
    let e = GpuBackend::with_options(&plan, AdapterPolicy::Any, 97, GpuPath::PerOp, opts)
        .err()
        .expect("width 100 is refused, whatever the path");
    assert!(e.to_string().contains("fused_width"), "{e}");
}

/// The ops of `plan`'s step, by name.
fn op_names(plan: &Plan) -> Vec<&'static str> {
    plan.step.iter().map(|op| op.name()).collect()
}

/// Diehl & Cook with the paper's input delays (a delay per synapse, here 0-5 ms: up to 10
/// steps): learning (the pre_history ring, transmission and STDP at arrival) and frozen (the ring
/// of future input), 2 instances, across chunk boundaries: fused == per-op bit for bit, spike
/// counts (and learned weights) as the CPU's.
#[test]
fn delayed_diehl_cook_fused_matches() {
    if !gpu_wanted() {
        return;
    }
    for learning in [true, false] {
        let (plan, rates) = dc_plan_with(2, learning, Some((0.0, 0.005)));
        let names = op_names(&plan);
        let want: &[&str] = if learning {
            &["pre_history", "arrival_matvec_inc", "stdp_delayed"]
        } else {
            &["delayed_matvec_inc", "delay_read"]
        };
        for w in want {
            assert!(
                names.contains(w),
                "learning {learning}: no {w} in {names:?}"
            );
        }
        let r: Vec<f32> = [dc_rates(0), dc_rates(3)].concat();
        let name = format!("delayed diehl_cook (learning {learning})");
        let (cpu, fused) = check_plan(&name, &plan, 700, &[(rates, r)]);
        assert_dc_counts_like_cpu(&name, &plan, &cpu, &fused);
        if learning {
            assert_weights_learned_like_cpu(&name, &plan, &cpu, &fused);
        }
    }
}

/// Delays without learning elsewhere: a fixed delay on a decoded connection (a whole signal
/// through one ring) and a delay per synapse on a neuron-to-neuron connection, in the
/// communication channel: fused == per-op bit for bit, spike counts as the CPU's.
#[test]
fn delayed_channel_fused_matches() {
    if !gpu_wanted() {
        return;
    }
    let mut c = volley::networks::communication_channel(0).unwrap();
    c.net
        .connect(
            Connection::new(c.a, c.b)
                .transform(Transform::Scalar(-0.5))
                .delay(0.003),
        )
        .unwrap();
    let m = ndarray::Array2::from_shape_fn((100, 100), |(i, j)| {
        if (i * 7 + j * 3) % 5 == 0 { 0.02 } else { 0.0 }
    });
    c.net
        .connect(
            Connection::new(c.a.neurons(), c.b.neurons())
                .transform(Transform::Dense(m))
                .delays_uniform(0.0, 0.004),
        )
        .unwrap();
    c.net.probe(Probe::spikes(c.a)).unwrap();
    c.net.probe(Probe::spikes(c.b)).unwrap();
    let (plan, _) = compile_with(&c.net, 0.001, 2, true).unwrap();
    let names = op_names(&plan);
    for w in ["delay_write", "delay_read", "delayed_matvec_inc"] {
        assert!(names.contains(&w), "no {w} in {names:?}");
    }
    check_plan("delayed channel", &plan, 600, &[]);
}
