//! A plastic 784 -> 400 network in the Diehl & Cook layout (Poisson input, STDP, lateral
//! inhibition, adaptive thresholds), per simulated second, on each backend; and the same with a
//! sparse input connection (10 % of the synapses), without delays and with a delay per synapse
//! (0-10 ms; it then transmits and learns at arrival), and the latter frozen (learning off).
//! Throughput is in simulated timesteps (dt 0.5 ms; 2000 per simulated second).
//!
//! `cargo bench --bench plastic` (set `VOLLEY_BENCH_BACKENDS=cpu` to skip the GPU).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use std::time::Duration;
use volley::model::{Delays, Sparse};
use volley::networks::{DiehlCookConfig, diehl_cook};
use volley::prelude::*;
use volley::{SimConfig, Simulator};

/// An MNIST-like input: about 100 of 784 inputs at up to 63.75 Hz.
fn input_rates() -> Vec<f32> {
    (0..784)
        .map(|i| if (i * 7919) % 8 == 0 { 63.75 } else { 0.0 })
        .collect()
}

fn plastic(c: &mut Criterion) {
    let mut g = c.benchmark_group("plastic_784x400");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    // 0.1 simulated second per iteration: 200 steps.
    let steps = 200u64;
    g.throughput(Throughput::Elements(steps));
    for (_, be) in common::backends() {
        let cfg = DiehlCookConfig {
            n_exc: 400,
            ..Default::default()
        };
        let dc = diehl_cook(&cfg, 0).expect("network");
        let mut sim = match Simulator::new(&dc.net, SimConfig::default().dt(0.0005).backend(be)) {
            Ok(s) => s,
            Err(e) => panic!("{e} (set VOLLEY_BENCH_BACKENDS=cpu to skip this backend)"),
        };
        sim.set_poisson_rates(dc.input, &input_rates())
            .expect("rates");
        g.bench_function(format!("{be}"), |b| {
            b.iter(|| sim.run_steps(steps).expect("run"));
        });
    }
    g.finish();
}

/// 784 Poisson inputs -> 400 Diehl & Cook excitatory neurons through a sparse (10 %) plastic
/// connection, and all-but-self inhibition.
fn plastic_sparse(c: &mut Criterion) {
    sparse_group(c, false, true);
}

/// [`plastic_sparse`] with a delay per synapse (0-10 ms).
fn plastic_sparse_delayed(c: &mut Criterion) {
    sparse_group(c, true, true);
}

/// [`plastic_sparse_delayed`] with learning off (evaluation: a ring of future input).
fn frozen_sparse_delayed(c: &mut Criterion) {
    sparse_group(c, true, false);
}

fn sparse_group(c: &mut Criterion, delayed: bool, learning: bool) {
    let name = match (delayed, learning) {
        (false, _) => "plastic_sparse_784x400",
        (true, true) => "plastic_sparse_delayed_784x400",
        (true, false) => "frozen_sparse_delayed_784x400",
    };
    let mut g = c.benchmark_group(name);
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let steps = 200u64;
    g.throughput(Throughput::Elements(steps));
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut triplets = Vec::new();
    for i in 0..400 {
        for j in 0..784 {
            if r.random_bool(0.1) {
                triplets.push((i, j, r.random_range(0.0..0.3)));
            }
        }
    }
    let sp = Sparse::from_triplets(400, 784, &triplets).expect("sparse");
    let delays: Vec<f64> = (0..sp.nnz())
        .map(|_| r.random_range(0..=20) as f64 * 0.0005)
        .collect();
    let mut net = Network::new(0);
    let input = net.add_node(Node::poisson(vec![0.0; 784])).expect("input");
    let exc = net
        .add_ensemble(Ensemble::new(400, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
        .expect("ensemble");
    let mut conn = Connection::new(input, exc.neurons())
        .port(Port::Excitatory)
        .transform(Transform::Sparse(sp))
        .learning(volley::model::Stdp::diehl_cook())
        .normalize_incoming(7.8);
    if delayed {
        conn.delays = Some(Delays::PerSynapse(delays));
    }
    net.connect(conn).expect("input connection");
    net.connect(
        Connection::new(exc.neurons(), exc.neurons())
            .port(Port::Inhibitory)
            .transform(Transform::AllButSelf(17.0)),
    )
    .expect("inhibition");
    for (_, be) in common::backends() {
        let config = SimConfig::default()
            .dt(0.0005)
            .backend(be)
            .learning(learning);
        let mut sim = match Simulator::new(&net, config) {
            Ok(s) => s,
            Err(e) => panic!("{e} (set VOLLEY_BENCH_BACKENDS=cpu to skip this backend)"),
        };
        sim.set_poisson_rates(input, &input_rates()).expect("rates");
        g.bench_function(format!("{be}"), |b| {
            b.iter(|| sim.run_steps(steps).expect("run"));
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    plastic,
    plastic_sparse,
    plastic_sparse_delayed,
    frozen_sparse_delayed
);
criterion_main!(benches);
