//! Backend throughput: one LIF ensemble (Nengo's default parameters) driven by a constant
//! node, no probes, stepped 100 steps per iteration, on the CPU and on the GPU backend (the timed
//! region ends after the device has finished: `run_steps` waits for the submission). Reported in
//! neuron updates per second (criterion's "elements/s"): `n_neurons * steps` per iteration.
//!
//! ```text
//! cargo bench --bench step                              # cpu and gpu
//! VOLLEY_BENCH_BACKENDS=cpu cargo bench --bench step    # cpu only
//! ```

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use volley::prelude::*;

/// Steps per measured iteration.
const STEPS: u64 = 100;
/// Ensemble sizes.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// A single `n`-neuron LIF ensemble fed a constant 0.5 through the default synapse.
fn simulator(n: usize, backend: BackendChoice) -> Simulator {
    let mut net = Network::new(0);
    let input = net
        .add_node(Node::constant(vec![0.5]).label("input"))
        .expect("constant node");
    let ens = net
        .add_ensemble(Ensemble::new(n, 1).label("ens"))
        .expect("ensemble");
    net.connect(Connection::new(input, ens))
        .expect("connection");
    Simulator::new(&net, SimConfig::default().backend(backend))
        .unwrap_or_else(|e| panic!("{e} (set VOLLEY_BENCH_BACKENDS=cpu to measure the CPU only)"))
}

fn lif_step(c: &mut Criterion) {
    for (name, backend) in common::backends() {
        let mut group = c.benchmark_group(format!("lif_step_{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for n in SIZES {
            let mut sim = simulator(n, backend);
            group.throughput(Throughput::Elements(n as u64 * STEPS));
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| sim.run_steps(black_box(STEPS)).expect("run"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, lif_step);
criterion_main!(benches);
