//! MNIST with the Diehl & Cook network: training images per second (one instance, learning on)
//! and evaluation images per second (100 instances, learning off) for 100 and 400 excitatory
//! neurons, on each backend, with the full protocol (350 ms + 150 ms at dt 0.5 ms, retries).
//!
//! Needs MNIST (`bash scripts/fetch-mnist.sh`, or `VOLLEY_DATA_DIR`).
//! `cargo bench --bench mnist` (`VOLLEY_BENCH_BACKENDS=cpu` for the CPU only).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use volley::data::{find_data_dir, load_dir};
use volley::mnist::protocol::{Protocol, Wiring, present};
use volley::networks::{DiehlCookConfig, diehl_cook};
use volley::{SimConfig, Simulator};

fn mnist(c: &mut Criterion) {
    let dir = find_data_dir(None).unwrap_or_else(|e| panic!("{e}"));
    let data = load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let p = Protocol::default();
    let mut g = c.benchmark_group("mnist");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    for (_, be) in common::backends() {
        for n_exc in [100, 400] {
            for (mode, batch, images) in [("train", 1usize, 1usize), ("eval", 100, 100)] {
                let cfg = DiehlCookConfig {
                    n_exc,
                    ..Default::default()
                };
                let dc = diehl_cook(&cfg, 0).expect("network");
                let mut sim = Simulator::new(
                    &dc.net,
                    SimConfig::default()
                        .dt(p.dt)
                        .backend(be)
                        .batch(batch)
                        .learning(mode == "train"),
                )
                .unwrap_or_else(|e| panic!("{e} (VOLLEY_BENCH_BACKENDS=cpu skips the GPU)"));
                let w = Wiring {
                    input: dc.input,
                    exc_count: dc.p_exc_count,
                    n_input: cfg.n_input,
                    n_exc,
                };
                let mut next = 0usize;
                g.throughput(Throughput::Elements(images as u64));
                g.bench_function(format!("{mode}_{n_exc}_{be}"), |b| {
                    b.iter(|| {
                        let imgs: Vec<&[u8]> = (0..images)
                            .map(|k| data.train.image((next + k) % data.train.len()))
                            .collect();
                        next += images;
                        present(&mut sim, &w, &p, &imgs).expect("present")
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, mnist);
criterion_main!(benches);
