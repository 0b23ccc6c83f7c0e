//! A plastic 784 -> 400 network in the Diehl & Cook layout (Poisson input, STDP, lateral
//! inhibition, adaptive thresholds), per simulated second, on each backend. Throughput is in
//! simulated timesteps (dt 0.5 ms; 2000 per simulated second).
//!
//! `cargo bench --bench plastic` (set `VOLLEY_BENCH_BACKENDS=cpu` to skip the GPU).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use volley::networks::{DiehlCookConfig, diehl_cook};
use volley::{SimConfig, Simulator};

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
        // An MNIST-like input: about 100 of 784 inputs at up to 63.75 Hz.
        let rates: Vec<f32> = (0..784)
            .map(|i| if (i * 7919) % 8 == 0 { 63.75 } else { 0.0 })
            .collect();
        sim.set_poisson_rates(dc.input, &rates).expect("rates");
        g.bench_function(format!("{be}"), |b| {
            b.iter(|| sim.run_steps(steps).expect("run"));
        });
    }
    g.finish();
}

criterion_group!(benches, plastic);
criterion_main!(benches);
