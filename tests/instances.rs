//! Several independent networks in one batch: with `Keying::PerInstance` and
//! `Simulator::restore_instances`, instance k of a batch built from seed s runs bit for bit as
//! the lone network of seed s + k, on each backend.

mod common;

use volley::networks::{DiehlCook, DiehlCookConfig, diehl_cook};
use volley::prelude::*;

fn dc(seed: u64, delays: bool) -> DiehlCook {
    let cfg = DiehlCookConfig {
        n_input: 49,
        n_exc: 13,
        normalize: 20.0,
        input_delays: delays.then_some((0.0, 0.004)),
        ..Default::default()
    };
    diehl_cook(&cfg, seed).unwrap()
}

fn cfg(be: BackendChoice) -> SimConfig {
    SimConfig::default().dt(0.0005).backend(be)
}

/// Instance k's input: a different pattern per instance, up to 63.75 Hz.
fn rates(k: usize) -> Vec<f32> {
    (0..49)
        .map(|i| ((i * 7 + k * 13) % 17) as f32 * 3.75)
        .collect()
}

/// Two presentations with rest between, normalisation before each (the MNIST protocol's
/// shape), instance j shown input `rates(inputs[j])`; returns the spike counts of each
/// presentation, per instance.
fn drive(sim: &mut Simulator, d: &DiehlCook, inputs: &[usize]) -> Vec<Vec<f64>> {
    let on: Vec<f32> = inputs.iter().flat_map(|&k| rates(k)).collect();
    let mut counts = vec![Vec::new(); inputs.len()];
    for _ in 0..2 {
        sim.boundary().unwrap();
        sim.set_poisson_rates(d.input, &on).unwrap();
        let _ = sim.take_counts(d.p_exc_count).unwrap();
        sim.run_steps(450).unwrap();
        let c = sim.take_counts(d.p_exc_count).unwrap();
        for (k, row) in c.rows().into_iter().enumerate() {
            counts[k].extend(row.iter().copied());
        }
        sim.set_poisson_rates(d.input, &vec![0.0; on.len()])
            .unwrap();
        sim.run_steps(151).unwrap();
    }
    counts
}

fn bits(s: &Snapshot) -> Vec<(String, Vec<u32>)> {
    s.buffers
        .iter()
        .map(|(n, v)| (n.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// Runs seeds `seed .. seed + k` in one batch with `keying`; returns each instance's snapshot
/// and spike counts.
fn batched(
    be: BackendChoice,
    seed: u64,
    k: usize,
    keying: Keying,
) -> (Vec<Snapshot>, Vec<Vec<f64>>) {
    let d = dc(seed, false);
    let mut sim = Simulator::new(&d.net, cfg(be).batch(k).keying(keying))
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"));
    let starts: Vec<Snapshot> = (0..k as u64)
        .map(|i| Simulator::initial_snapshot(&dc(seed + i, false).net, cfg(be)).unwrap())
        .collect();
    sim.restore_instances(&starts).unwrap();
    let counts = drive(&mut sim, &d, &(0..k).collect::<Vec<_>>());
    let snap = sim.snapshot().unwrap();
    let parts = (0..k)
        .map(|i| sim.instance_snapshot(&snap, i).unwrap())
        .collect();
    (parts, counts)
}

per_backend!(each_instance_is_its_seed_run_alone, |be| {
    let (k, seed) = (3, u64::MAX - 1); // the seeds wrap: MAX - 1, MAX, 0
    let (parts, counts) = batched(be, seed, k, Keying::PerInstance);
    for (i, part) in parts.iter().enumerate() {
        let s = seed.wrapping_add(i as u64);
        let d = dc(s, false);
        let mut lone = Simulator::new(&d.net, cfg(be)).unwrap();
        let lone_counts = drive(&mut lone, &d, &[i]).remove(0);
        let lone_snap = lone.snapshot().unwrap();
        assert_eq!(
            lone_counts, counts[i],
            "instance {i} (seed {s}): spike counts"
        );
        assert!(
            bits(part) == bits(&lone_snap),
            "instance {i} (seed {s}): state differs from the lone run's"
        );
        assert!(lone_counts.iter().sum::<f64>() > 0.0, "seed {s}: no spikes");
    }
    assert!(
        bits(&parts[0]) != bits(&parts[1]),
        "instances 0 and 1 must differ"
    );
    // The shared stream (evaluation's keying) does not give the lone runs: the check above can
    // fail.
    let (shared, _) = batched(be, seed, k, Keying::Shared);
    assert!(bits(&shared[1]) != bits(&parts[1]));
});

#[test]
fn restore_instances_refuses_what_a_batch_cannot_share() {
    let be = BackendChoice::Cpu;
    // Input delays are drawn from the seed and shared by a batch: two seeds cannot share one.
    let d = dc(1, true);
    let mut sim = Simulator::new(&d.net, cfg(be).batch(2)).unwrap();
    let starts: Vec<Snapshot> = [1, 2]
        .iter()
        .map(|&s| Simulator::initial_snapshot(&dc(s, true).net, cfg(be)).unwrap())
        .collect();
    let e = sim.restore_instances(&starts).unwrap_err().to_string();
    assert!(
        e.contains("snapshot 1 buffer") && e.contains("shared"),
        "{e}"
    );
    // One snapshot per instance, at one step.
    let e = sim.restore_instances(&starts[..1]).unwrap_err().to_string();
    assert!(e.contains("one per instance (2)"), "{e}");
    let mut later = starts[0].clone();
    later.n_steps = 5;
    let e = sim
        .restore_instances(&[starts[0].clone(), later])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("snapshot 1 step") && e.contains("lockstep"),
        "{e}"
    );
    // The same seed twice is fine, and instance_snapshot gives back what went in.
    sim.restore_instances(&[starts[0].clone(), starts[0].clone()])
        .unwrap();
    let snap = sim.snapshot().unwrap();
    assert!(bits(&sim.instance_snapshot(&snap, 1).unwrap()) == bits(&starts[0]));
    let e = sim.instance_snapshot(&snap, 2).unwrap_err().to_string();
    assert!(e.contains("instance") && e.contains("< batch (2)"), "{e}");
}
