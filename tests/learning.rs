//! Learning against known results and invariants, on every backend (`name::cpu`, `name::gpu`):
//!
//! - the pair-STDP window measured with the classic pairing protocol (the one of
//!   `examples/stdp_window.rs`) fits the rule's amplitudes and time constants within 5 %;
//! - a plastic Diehl & Cook run never leaves the weight bounds;
//! - normalisation makes every row of the input weights sum to its target;
//! - with learning off (at build time or at run time) the adaptive thresholds never move;
//! - a learning rate of zero leaves the weights bit-identical.

mod common;

use volley::model::Stdp;
use volley::networks::{DiehlCookConfig, diehl_cook};
use volley::prelude::*;

use volley::stdp_window::{fit_side, stdp_window};

fn sim_or_explain(net: &Network, config: SimConfig) -> Simulator {
    Simulator::new(net, config)
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"))
}

// The window of `Stdp::pair(a_plus, a_minus, tau_plus, tau_minus)`: Bi & Poo's time constants,
// distinct amplitudes and time constants on the two sides so that a swap fails the fit. The
// example runs 60 pairings per Δt in 5 ms steps; here 20 pairings in 10 ms steps keep the
// software-GPU run short (each pairing gives the same dw: the traces decay to below e^-26
// between pairings, 1 s apart). Weights start at 0 with bounds [-1, 1]: 20 pairings move them
// by at most 0.1, so clipping never happens.
per_backend!(stdp_window_fits_the_rule, |be| {
    let (a_plus, a_minus, tau_plus, tau_minus) = (0.005, 0.003, 0.0168, 0.0337);
    let pairings = 20;
    let deltas: Vec<i64> = (-10..=10).map(|i| i * 10).collect();
    let rule = Stdp::pair(a_plus, a_minus, tau_plus, tau_minus).bounds(-1.0, 1.0);
    let points = stdp_window(be, rule, 0.0, &deltas, pairings, 1.0, 0.001)
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"));
    for p in &points {
        assert_eq!(
            p.spikes,
            (pairings, pairings),
            "Δt {} ms: pre and post must spike once per pairing",
            p.delta * 1e3
        );
        assert!(
            (p.measured_delta - p.delta).abs() < 1e-9,
            "Δt {} ms: the spikes came {} ms apart",
            p.delta * 1e3,
            p.measured_delta * 1e3
        );
    }
    let side = |positive: bool| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| {
                if positive {
                    p.delta > 0.0
                } else {
                    p.delta < 0.0
                }
            })
            .map(|p| (p.delta, p.dw))
            .collect()
    };
    let (pos, neg) = (side(true), side(false));
    assert!(
        pos.iter().all(|p| p.1 > 0.0),
        "Δt > 0 must potentiate: {pos:?}"
    );
    assert!(
        neg.iter().all(|p| p.1 < 0.0),
        "Δt < 0 must depress: {neg:?}"
    );
    let (fa_plus, ftau_plus) = fit_side(&pos);
    let (fa_minus, ftau_minus) = fit_side(&neg);
    eprintln!(
        "fit: A+ {fa_plus:.6} (rule {a_plus}), tau+ {:.4} ms (rule {} ms), A- {fa_minus:.6} \
         (rule {a_minus}), tau- {:.4} ms (rule {} ms)",
        ftau_plus * 1e3,
        tau_plus * 1e3,
        ftau_minus * 1e3,
        tau_minus * 1e3
    );
    for (name, fit, truth) in [
        ("A+", fa_plus, a_plus),
        ("tau+", ftau_plus, tau_plus),
        ("A-", fa_minus, a_minus),
        ("tau-", ftau_minus, tau_minus),
    ] {
        assert!(
            ((fit - truth) / truth).abs() < 0.05,
            "{name}: fit {fit} is not within 5 % of the rule's {truth}"
        );
    }
});

/// Inputs of the small Diehl & Cook networks below.
const N_INPUT: usize = 49;
/// Excitatory neurons of the small networks.
const N_EXC: usize = 13;
/// Timestep of the Diehl & Cook runs (the paper's).
const DC_DT: f64 = 0.0005;

/// A small Diehl & Cook network: 49 inputs, 13 excitatory neurons, the normalisation target
/// scaled from the paper's 78 for 784 inputs (mean weight 0.1 either way), and a faster
/// potentiation (nu_post 0.05) and no spike gate (`min_interval` 0: a winner fires every 5.5 ms
/// instead of every 50.5) so that weights reach the upper bound within a short run.
fn small_dc() -> DiehlCookConfig {
    let mut stdp = Stdp::diehl_cook();
    stdp.a3_plus = 0.05;
    let mut exc = volley::model::DcParams::excitatory();
    exc.min_interval = 0.0;
    DiehlCookConfig {
        exc,
        n_input: N_INPUT,
        n_exc: N_EXC,
        normalize: 78.0 * N_INPUT as f64 / 784.0,
        stdp,
        ..DiehlCookConfig::default()
    }
}

/// Strong input: per instance a random pattern, 60 % of the inputs at 300 to 600 Hz (a new one
/// per `image`).
fn strong_rates(batch: usize, image: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 + image);
    (0..batch * N_INPUT)
        .map(|_| {
            if rng.random::<f64>() < 0.6 {
                rng.random_range(300.0..600.0)
            } else {
                0.0
            }
        })
        .collect()
}

// Every 100 steps of a plastic run with normalisation before each "image" (350 ms of strong
// input, 150 ms of rest), two instances with different inputs: every weight stays in
// [w_min, w_max] of the rule. The run must learn for the check to mean anything: the test also
// asserts that neurons spiked and that some weights reached the upper bound's neighbourhood.
per_backend!(diehl_cook_weights_stay_within_bounds, |be| {
    let cfg = small_dc();
    let (w_min, w_max) = (cfg.stdp.w_min as f32, cfg.stdp.w_max as f32);
    let m = diehl_cook(&cfg, 7).unwrap();
    let batch = 2;
    let mut sim = sim_or_explain(
        &m.net,
        SimConfig::default().dt(DC_DT).backend(be).batch(batch),
    );
    let check = |sim: &mut Simulator, when: &str| -> f32 {
        let w = sim.weights(m.conn_input).unwrap();
        assert_eq!(w.shape(), &[batch, N_EXC, N_INPUT]);
        if let Some(((b, i, j), x)) = w
            .indexed_iter()
            .find(|(_, x)| !(w_min..=w_max).contains(*x))
        {
            panic!(
                "{when}: weight of instance {b}, neuron {i}, input {j} is {x}, outside \
                 [{w_min}, {w_max}]"
            );
        }
        w.iter().cloned().fold(f32::MIN, f32::max)
    };
    let (mut spikes, mut largest) = (0.0, 0.0f32);
    for image in 0..6 {
        sim.boundary().unwrap();
        largest = largest.max(check(&mut sim, &format!("after normalisation {image}")));
        sim.set_poisson_rates(m.input, &strong_rates(batch, image))
            .unwrap();
        for k in 0..7 {
            sim.run_steps(100).unwrap();
            largest = largest.max(check(&mut sim, &format!("image {image}, step {}", k * 100)));
        }
        spikes += sim.take_counts(m.p_exc_count).unwrap().sum();
        sim.set_poisson_rates(m.input, &[0.0; N_INPUT]).unwrap();
        for k in 0..3 {
            sim.run_steps(100).unwrap();
            check(
                &mut sim,
                &format!("rest after image {image}, step {}", k * 100),
            );
        }
    }
    eprintln!("{spikes} excitatory spikes; largest weight seen {largest}");
    assert!(
        spikes > 100.0,
        "the excitatory neurons hardly spiked ({spikes} spikes)"
    );
    assert!(
        largest > 0.9 * w_max,
        "no weight came near the upper bound (largest {largest}): the run did not test it"
    );
});

// `Simulator::boundary` scales each excitatory neuron's input weights, in each instance, to sum
// to the target: checked after learning has moved the sums (small network) and on the initial
// random weights of a full-size input (784 inputs, the paper's target 78). The sums are taken in
// f64 over f32 weights: 1e-5 relative is ~100 float32 roundings, far above the error of one
// scaling pass.
per_backend!(normalisation_sets_row_sums_to_the_target, |be| {
    let check = |sim: &mut Simulator, m: &volley::networks::DiehlCook, target: f64, what: &str| {
        let w = sim.weights(m.conn_input).unwrap();
        for ((b, i), row) in w.outer_iter().enumerate().flat_map(|(b, inst)| {
            inst.outer_iter()
                .enumerate()
                .map(move |(i, r)| ((b, i), r.to_owned()))
                .collect::<Vec<_>>()
        }) {
            let sum: f64 = row.iter().map(|&x| x as f64).sum();
            assert!(
                ((sum - target) / target).abs() <= 1e-5,
                "{what}: instance {b}, neuron {i}: row sum {sum}, target {target}"
            );
        }
    };
    // Small network after learning.
    let cfg = small_dc();
    let m = diehl_cook(&cfg, 11).unwrap();
    let batch = 2;
    let mut sim = sim_or_explain(
        &m.net,
        SimConfig::default().dt(DC_DT).backend(be).batch(batch),
    );
    sim.boundary().unwrap();
    sim.set_poisson_rates(m.input, &strong_rates(batch, 0))
        .unwrap();
    sim.run_steps(700).unwrap();
    let w = sim.weights(m.conn_input).unwrap();
    let off = w
        .outer_iter()
        .flat_map(|inst| {
            inst.outer_iter()
                .map(|r| r.iter().map(|&x| x as f64).sum::<f64>())
                .collect::<Vec<_>>()
        })
        .map(|s| ((s - cfg.normalize) / cfg.normalize).abs())
        .fold(0.0, f64::max);
    assert!(
        off > 1e-3,
        "learning did not move any row sum away from the target (largest relative offset \
         {off}): the check below would be vacuous"
    );
    sim.boundary().unwrap();
    check(&mut sim, &m, cfg.normalize, "49 inputs after learning");

    // Full-size input rows, initial (unnormalised) weights.
    let cfg = DiehlCookConfig {
        n_exc: 5,
        ..DiehlCookConfig::default()
    };
    let m = diehl_cook(&cfg, 12).unwrap();
    let mut sim = sim_or_explain(&m.net, SimConfig::default().dt(DC_DT).backend(be));
    sim.boundary().unwrap();
    check(&mut sim, &m, cfg.normalize, "784 inputs, initial weights");
});

// Learning off freezes the adaptive thresholds: built without learning (evaluation mode), theta
// keeps its initial value exactly while the neurons spike; built with learning and switched off
// with `set_learning(false)`, theta and the plastic weights keep their values exactly, and
// switching learning back on moves theta again (so the frozen run did spike into a live rule).
per_backend!(frozen_learning_keeps_theta_and_weights, |be| {
    let cfg = small_dc();
    let m = diehl_cook(&cfg, 5).unwrap();
    let rates = strong_rates(1, 3);

    // (a) built without learning.
    let config = SimConfig::default().dt(DC_DT).backend(be).learning(false);
    let mut sim = sim_or_explain(&m.net, config);
    let theta0 = sim.neuron_state(m.exc, "theta").unwrap();
    assert!(theta0.iter().all(|&t| t == cfg.exc.theta_offset as f32));
    sim.set_poisson_rates(m.input, &rates).unwrap();
    let mut spikes = 0.0;
    for _ in 0..10 {
        sim.run_steps(100).unwrap();
        assert_eq!(sim.neuron_state(m.exc, "theta").unwrap(), theta0);
        spikes += sim.take_counts(m.p_exc_count).unwrap().sum();
    }
    assert!(spikes > 10.0, "learning(false): only {spikes} spikes");

    // (b) built with learning, switched off at run time.
    let config = SimConfig::default().dt(DC_DT).backend(be);
    let mut sim = sim_or_explain(&m.net, config);
    sim.boundary().unwrap();
    sim.set_learning(false).unwrap();
    let theta0 = sim.neuron_state(m.exc, "theta").unwrap();
    let w0 = sim.weights(m.conn_input).unwrap();
    sim.set_poisson_rates(m.input, &rates).unwrap();
    let mut spikes = 0.0;
    for _ in 0..10 {
        sim.run_steps(100).unwrap();
        assert_eq!(sim.neuron_state(m.exc, "theta").unwrap(), theta0);
        let w = sim.weights(m.conn_input).unwrap();
        assert!(
            w.iter().zip(&w0).all(|(a, b)| a.to_bits() == b.to_bits()),
            "set_learning(false): the weights changed"
        );
        spikes += sim.take_counts(m.p_exc_count).unwrap().sum();
    }
    assert!(spikes > 10.0, "set_learning(false): only {spikes} spikes");
    sim.set_learning(true).unwrap();
    sim.run_steps(1000).unwrap();
    let theta1 = sim.neuron_state(m.exc, "theta").unwrap();
    assert!(
        theta1.iter().zip(&theta0).any(|(a, b)| a > b),
        "after set_learning(true) theta should grow with spikes: {theta0:?} -> {theta1:?}"
    );
});

// STDP with every amplitude 0 leaves the weights bit-identical however much the neurons spike
// (no normalisation is run: it is not part of the learning rule).
per_backend!(zero_learning_rate_leaves_weights_bit_identical, |be| {
    let mut cfg = small_dc();
    cfg.stdp.a2_plus = 0.0;
    cfg.stdp.a3_plus = 0.0;
    cfg.stdp.a2_minus = 0.0;
    cfg.stdp.a3_minus = 0.0;
    let m = diehl_cook(&cfg, 9).unwrap();
    let batch = 2;
    let mut sim = sim_or_explain(
        &m.net,
        SimConfig::default().dt(DC_DT).backend(be).batch(batch),
    );
    let w0 = sim.weights(m.conn_input).unwrap();
    let mut spikes = 0.0;
    for image in 0..3 {
        sim.set_poisson_rates(m.input, &strong_rates(batch, image))
            .unwrap();
        sim.run_steps(700).unwrap();
        spikes += sim.take_counts(m.p_exc_count).unwrap().sum();
    }
    let w = sim.weights(m.conn_input).unwrap();
    assert_eq!(w.shape(), w0.shape());
    let changed = w
        .iter()
        .zip(&w0)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(
        changed, 0,
        "{changed} weights changed with a learning rate of 0"
    );
    assert!(
        spikes > 50.0,
        "only {spikes} spikes: the rule was hardly exercised"
    );
});

/// Theta decays with tau_theta even though one step's decay (theta * 5e-8 at dt 0.5 ms) is below
/// f32 resolution: after 150 s without spikes theta = 20 exp(-150/1e4) mV.
#[test]
fn theta_decay_is_exact_over_long_runs() {
    let mut net = Network::new(1);
    let exc = net
        .add_ensemble(Ensemble::new(3, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
        .unwrap();
    let mut sim = Simulator::new(&net, SimConfig::default().dt(0.0005)).unwrap();
    sim.run(150.0).unwrap();
    let theta = sim.neuron_state(exc, "theta").unwrap();
    let acc = sim.neuron_state(exc, "theta_decay").unwrap();
    let expected = 20.0 * (-150.0f64 / 1e4).exp();
    for (t, a) in theta.iter().zip(acc.iter()) {
        let eff = (t - a) as f64;
        // f32 rounding of 300 000 accumulations of ~1e-6 into a sum below 1e-3: ~1e-5 relative.
        assert!(
            (eff - expected).abs() < 1e-4 * expected,
            "theta {eff} after 150 s, expected {expected}"
        );
    }
}

per_backend!(theta_decay_folds_alike_on_every_backend, |be| {
    // A fast tau_theta makes the accumulated decay fold into theta many times in 2000 steps.
    let mut p = volley::model::DcParams::excitatory();
    p.tau_theta = 0.5;
    p.theta_plus = 0.0; // the neurons start firing once theta falls; keep theta a pure decay
    let mut net = Network::new(1);
    let exc = net
        .add_ensemble(Ensemble::new(5, 1).neuron_type(NeuronType::DiehlCook(p)))
        .unwrap();
    let mut sim = Simulator::new(&net, SimConfig::default().dt(0.0005).backend(be)).unwrap();
    sim.run_steps(2000).unwrap();
    let theta = sim.neuron_state(exc, "theta").unwrap();
    let acc = sim.neuron_state(exc, "theta_decay").unwrap();
    let expected = 20.0 * (-1.0f64 / 0.5).exp();
    for (t, a) in theta.iter().zip(acc.iter()) {
        let eff = (t - a) as f64;
        assert!(
            (eff - expected).abs() < 1e-4 * 20.0,
            "theta {eff}, expected {expected}"
        );
    }
});

/// The CPU backend keeps Diehl & Cook's input weights presynaptic-major (one contiguous column
/// per input spike; with delays, in the arrival order of the delays); running with that layout
/// and with the plain row-major one must give the same state, bit for bit: a network of 101
/// inputs and 23 neurons, 2 instances, normalisation and 700 steps with Poisson input, evaluated
/// through `Backend::read`; learning and frozen, without delays and with a delay per input
/// synapse (at arrival when learning, the ring of future input when frozen).
#[test]
fn cpu_weight_layouts_run_bit_identically() {
    use volley::backend::cpu::CpuBackend;
    use volley::backend::{Backend, HostInputs, ProbeRecords};
    use volley::compile::{BufId, Op, compile_with};
    for learning in [true, false] {
        for input_delays in [None, Some((0.0, 0.005))] {
            let case = format!("learning {learning}, delays {input_delays:?}");
            let cfg = DiehlCookConfig {
                n_input: 101,
                n_exc: 23,
                normalize: 25.0,
                input_delays,
                ..Default::default()
            };
            let dc = diehl_cook(&cfg, 4).unwrap();
            let (plan, _) = compile_with(&dc.net, 0.0005, 2, learning).unwrap();
            let rates = common::poisson_rates_buffer(&plan);
            // The input matrix, which the CPU keeps presynaptic-major.
            let shaped: Vec<BufId> = plan
                .step
                .iter()
                .find_map(|op| match op {
                    Op::MatVecInc { m, .. }
                    | Op::ArrivalMatVecInc { m, .. }
                    | Op::DelayedMatVecInc { m, .. } => Some(vec![*m]),
                    _ => None,
                })
                .expect("an input matrix");
            let r: Vec<f32> = (0..2 * 101u32)
                .map(|i| {
                    if i % 2 == 1 {
                        ((i * 29) % 70) as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            // With delays the CPU keeps the input weights in the arrival order of their
            // delays; new delays written mid-run move them.
            let arrival = plan.step.iter().find_map(|op| match op {
                Op::ArrivalMatVecInc { m, delays, .. } | Op::DelayedMatVecInc { m, delays, .. } => {
                    Some((*m, *delays))
                }
                _ => None,
            });
            assert_eq!(arrival.is_some(), input_delays.is_some());
            let run = |transposed: bool| {
                let mut be = CpuBackend::with_layout(&plan, transposed).unwrap();
                let kept = be.presynaptic_major_buffers();
                assert!(
                    shaped.iter().all(|b| kept.contains(b) == transposed),
                    "{case}"
                );
                if let Some((w, _)) = arrival {
                    let expected = if transposed { vec![w] } else { vec![] };
                    assert_eq!(be.arrival_ordered_buffers(), expected, "{case}");
                }
                be.write(rates, &r).unwrap();
                let mut rec = ProbeRecords::default();
                for k in 0..2 {
                    be.boundary().unwrap();
                    be.run(0, 350, &HostInputs::default(), &mut rec).unwrap();
                    if let (0, Some((w, d))) = (k, arrival) {
                        let before = be.read(w).unwrap();
                        let mut delays = be.read(d).unwrap();
                        delays.reverse();
                        be.write(d, &delays).unwrap();
                        assert_eq!(be.read(w).unwrap(), before, "{case}");
                    }
                }
                (0..plan.buffers.len())
                    .map(|i| be.read(BufId(i)).unwrap())
                    .collect::<Vec<_>>()
            };
            let (a, b) = (run(false), run(true));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(x),
                    bits(y),
                    "buffer {} differs ({case})",
                    plan.buffers[i].name
                );
            }
            let count = plan
                .buffers
                .iter()
                .position(|b| b.name.ends_with(".count"))
                .expect("a spike count");
            assert!(
                a[count].iter().sum::<f32>() > 0.0,
                "nothing spiked ({case})"
            );
            if learning {
                let w = common::stdp_weights_buffer(&plan);
                assert_ne!(
                    a[w.0][..plan.buffers[w.0].len],
                    plan.buffers[w.0].init,
                    "the weights must learn ({case})"
                );
            }
        }
    }
}

/// A sparse connection: the CPU's indexed transmission and STDP (the default layout: entries by
/// column, and by delay where there are delays) and its full scans of every stored entry
/// (`with_layout(.., false)`) give bit-identical runs, two instances (learning their own
/// weights when plastic), over 600 steps with spikes on both sides: plastic without delays,
/// and frozen with and without 0-5 ms delays.
#[test]
fn cpu_sparse_column_index_runs_bit_identically() {
    use rand::{Rng, SeedableRng};
    use volley::backend::cpu::CpuBackend;
    use volley::backend::{Backend, HostInputs, ProbeRecords};
    use volley::compile::{BufId, Op, compile_with};
    use volley::model::{Delays, Sparse};
    let (n_in, n_exc) = (97, 29);
    let mut g = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let mut triplets = Vec::new();
    for i in 0..n_exc {
        for j in 0..n_in {
            if g.random_bool(0.3) {
                triplets.push((i, j, g.random_range(0.0..0.6)));
            }
        }
    }
    let sp = Sparse::from_triplets(n_exc, n_in, &triplets).unwrap();
    let delays: Vec<f64> = (0..sp.nnz())
        .map(|_| g.random_range(0..=10) as f64 * 0.0005)
        .collect();
    let cases: [(bool, bool, &[&str]); 3] = [
        (false, true, &["sparse_inc", "stdp_sparse"]),
        (false, false, &["sparse_inc"]),
        (true, false, &["delayed_sparse_inc"]),
    ];
    for (delayed, learning, ops) in cases {
        let case = format!("delays {delayed}, learning {learning}");
        let mut net = Network::new(2);
        let input = net.add_node(Node::poisson(vec![0.0; n_in])).unwrap();
        let exc = net
            .add_ensemble(Ensemble::new(n_exc, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
            .unwrap();
        let mut conn = Connection::new(input, exc.neurons())
            .port(Port::Excitatory)
            .transform(Transform::Sparse(sp.clone()))
            .learning(Stdp::diehl_cook())
            .normalize_incoming(8.0);
        if delayed {
            conn.delays = Some(Delays::PerSynapse(delays.clone()));
        }
        net.connect(conn).unwrap();
        net.connect(
            Connection::new(exc.neurons(), exc.neurons())
                .port(Port::Inhibitory)
                .transform(Transform::AllButSelf(5.0)),
        )
        .unwrap();
        let (plan, _) = compile_with(&net, 0.0005, 2, learning).unwrap();
        for op in ops {
            assert!(
                plan.step.iter().any(|o| o.name() == *op),
                "no {op} op ({case})"
            );
        }
        let rates = common::poisson_rates_buffer(&plan);
        let r: Vec<f32> = (0..2 * n_in as u32)
            .map(|i| ((i * 37) % 90) as f32)
            .collect();
        let index = plan
            .step
            .iter()
            .find_map(|op| match op {
                Op::SparseInc { indices, .. } => Some(*indices),
                Op::DelayedSparseInc { delays, .. } => Some(*delays),
                _ => None,
            })
            .unwrap();
        let run = |indexed: bool| {
            let mut be = CpuBackend::with_layout(&plan, indexed).unwrap();
            let expected = if indexed { vec![index] } else { vec![] };
            assert_eq!(be.indexed_sparse_buffers(), expected, "{case}");
            be.write(rates, &r).unwrap();
            let mut rec = ProbeRecords::default();
            for _ in 0..2 {
                be.boundary().unwrap();
                be.run(0, 300, &HostInputs::default(), &mut rec).unwrap();
            }
            (0..plan.buffers.len())
                .map(|i| be.read(BufId(i)).unwrap())
                .collect::<Vec<_>>()
        };
        let (a, b) = (run(false), run(true));
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(
                bits(x),
                bits(y),
                "buffer {} differs ({case})",
                plan.buffers[i].name
            );
        }
        let buf = |name: &str| {
            plan.buffers
                .iter()
                .position(|b| b.name == name)
                .unwrap_or_else(|| panic!("no {name}"))
        };
        // Transmission reached every instance: the conductances moved.
        let ge = buf("ens0.ge");
        for (k, inst) in a[ge].chunks(n_exc).enumerate() {
            assert!(
                inst.iter().any(|&x| x > 0.0),
                "instance {k} got no input ({case})"
            );
        }
        if learning {
            // The adaptive thresholds rise only with spikes.
            let theta = buf("ens0.theta");
            let init = &plan.buffers[theta].init;
            for (k, inst) in a[theta].chunks(n_exc).enumerate() {
                assert!(
                    inst.iter().zip(init).filter(|(x, y)| x > y).count() >= 3,
                    "several neurons of instance {k} must spike ({case})"
                );
            }
            let w = plan
                .step
                .iter()
                .find_map(|op| match op {
                    Op::StdpSparse { w, .. } => Some(*w),
                    _ => None,
                })
                .unwrap();
            let init = &plan.buffers[w.0].init;
            for (k, inst) in a[w.0].chunks(init.len()).enumerate() {
                assert_ne!(inst, &init[..], "instance {k}'s weights must learn");
            }
            assert_ne!(
                a[w.0][..init.len()],
                a[w.0][init.len()..],
                "the instances must differ"
            );
        }
    }
}
