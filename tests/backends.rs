//! Behaviour every backend must show, one test body per backend (`name::cpu`, `name::gpu`).

mod common;

use volley::prelude::*;

fn sim(net: &Network, be: BackendChoice, batch: usize, chunk: usize) -> Simulator {
    let mut cfg = SimConfig::default().backend(be).batch(batch);
    cfg.chunk_steps = chunk;
    Simulator::new(net, cfg)
        .unwrap_or_else(|e| panic!("{e}\n(to run the CPU tests only: VOLLEY_TEST_BACKENDS=cpu)"))
}

/// A small network with per-instance input, a decoded probe every 3 steps and a spike probe.
fn net(input: impl Fn(f64, usize) -> f64 + Send + Sync + 'static) -> (Network, ProbeId, ProbeId) {
    let mut net = Network::new(3);
    let u = net
        .add_node(Node::batched(1, move |t, b| vec![input(t, b)]))
        .unwrap();
    let a = net.add_ensemble(Ensemble::new(61, 1)).unwrap();
    net.connect(Connection::new(u, a)).unwrap();
    let p = net
        .probe(
            Probe::decoded(a)
                .synapse(Synapse::Alpha(0.01))
                .sample_every(0.003),
        )
        .unwrap();
    let s = net.probe(Probe::spikes(a)).unwrap();
    (net, p, s)
}

fn signal(t: f64, b: usize) -> f64 {
    (6.0 * t + b as f64).sin()
}

per_backend!(sample_every_and_trange, |be| {
    let (net, p, s) = net(signal);
    let mut sim = sim(&net, be, 1, 100);
    sim.run(0.5).unwrap();
    let d = sim.data_instance(p, 0).unwrap();
    assert_eq!(
        d.dim(),
        (166, 1),
        "500 steps sampled every 3 -> 166 samples"
    );
    let t = sim.probe_trange(p).unwrap();
    assert_eq!(t.len(), 166);
    assert!((t[0] - 0.003).abs() < 1e-12 && (t[165] - 0.498).abs() < 1e-12);
    assert_eq!(sim.data_instance(s, 0).unwrap().dim(), (500, 61));
    assert_eq!(sim.trange().len(), 500);
});

per_backend!(fractional_sample_every_follows_nengo, |be| {
    // Nengo records after step n when n % (sample_every / dt) < 1: 1.5 ms at dt 1 ms gives
    // steps 2, 3, 5, 6, ... and 0.4 ms every step (times from Nengo 4.1.0's `trange`).
    let mut net = Network::new(5);
    let u = net
        .add_node(Node::batched(1, |t, b| vec![(9.0 * t).sin() + b as f64]))
        .unwrap();
    let every = net.probe(Probe::decoded(u)).unwrap();
    let p15 = net.probe(Probe::decoded(u).sample_every(0.0015)).unwrap();
    let p25 = net.probe(Probe::decoded(u).sample_every(0.0025)).unwrap();
    let p04 = net.probe(Probe::decoded(u).sample_every(0.0004)).unwrap();
    // Odd chunks and a run in three parts: samples fall across chunk and run boundaries.
    let mut sim = sim(&net, be, 2, 7);
    sim.run_steps(11).unwrap();
    let t = sim.probe_trange(p15).unwrap().to_vec();
    let ms: Vec<f64> = t.iter().map(|s| (s * 1000.0).round()).collect();
    assert_eq!(ms, [2.0, 3.0, 5.0, 6.0, 8.0, 9.0, 11.0]);
    let t = sim.probe_trange(p25).unwrap().to_vec();
    let ms: Vec<f64> = t.iter().map(|s| (s * 1000.0).round()).collect();
    assert_eq!(ms, [3.0, 5.0, 8.0, 10.0]);
    // After take_data, samples and times start again from the next step.
    let first = sim.take_data(p15).unwrap();
    assert_eq!(first.dim(), (2, 7, 1));
    sim.run_steps(20).unwrap();
    sim.run_steps(9).unwrap();
    assert_eq!(sim.probe_trange(p04).unwrap(), sim.trange());
    let all = sim.data(every).unwrap();
    for (p, period, from) in [(p15, 1.5, 11u64), (p25, 2.5, 0), (p04, 0.4, 0)] {
        let steps: Vec<u64> = (from + 1..=40)
            .filter(|&k| k as f64 % period < 1.0)
            .collect();
        let t = sim.probe_trange(p).unwrap();
        assert_eq!(t.len(), steps.len(), "period {period}");
        let d = sim.data(p).unwrap();
        assert_eq!(d.dim(), (2, steps.len(), 1), "period {period}");
        for (i, &k) in steps.iter().enumerate() {
            assert!((t[i] - k as f64 * 0.001).abs() < 1e-12, "period {period}");
            for b in 0..2 {
                assert_eq!(
                    d[[b, i, 0]],
                    all[[b, k as usize - 1, 0]],
                    "period {period} step {k}"
                );
            }
        }
    }
});

per_backend!(chunking_does_not_change_results, |be| {
    // Odd chunk sizes and a run split in two give the same data as one run in one chunk.
    let (net, p, s) = net(signal);
    let mut a = sim(&net, be, 2, 1000);
    a.run(0.4).unwrap();
    let mut b = sim(&net, be, 2, 37);
    b.run(0.15).unwrap();
    b.run(0.25).unwrap();
    assert_eq!(a.data(p).unwrap(), b.data(p).unwrap());
    assert_eq!(a.data(s).unwrap(), b.data(s).unwrap());
});

per_backend!(reset_reproduces_the_first_run, |be| {
    let (net, p, _) = net(signal);
    let mut a = sim(&net, be, 1, 64);
    a.run(0.3).unwrap();
    let first = a.data(p).unwrap();
    a.reset().unwrap();
    assert_eq!(a.n_steps(), 0);
    a.run(0.3).unwrap();
    assert_eq!(first, a.data(p).unwrap());
});

per_backend!(batch_instances_match_single_runs, |be| {
    let (net3, p3, s3) = net(signal);
    let mut batched = sim(&net3, be, 3, 128);
    batched.run(0.3).unwrap();
    for b in 0..3 {
        let (net1, p1, s1) = net(move |t, _| signal(t, b));
        let mut single = sim(&net1, be, 1, 128);
        single.run(0.3).unwrap();
        assert_eq!(
            batched.data_instance(p3, b).unwrap(),
            single.data_instance(p1, 0).unwrap(),
            "instance {b}"
        );
        assert_eq!(
            batched.data_instance(s3, b).unwrap(),
            single.data_instance(s1, 0).unwrap(),
            "instance {b}"
        );
    }
    // Different inputs really make the instances differ.
    assert_ne!(
        batched.data_instance(p3, 0).unwrap(),
        batched.data_instance(p3, 1).unwrap()
    );
});

per_backend!(lif_fires_at_its_analytic_rate, |be| {
    // Neurons with gain 1 and known bias currents J; 2 s of simulation.
    let j: Vec<f64> = vec![0.5, 1.0, 1.01, 1.2, 1.5, 2.0, 3.0, 5.0, 10.0, 40.0, 150.0];
    let n = j.len();
    let mut net = Network::new(1);
    let a = net
        .add_ensemble(Ensemble::new(n, 1).gain_bias(vec![1.0; n], j.clone()))
        .unwrap();
    let s = net.probe(Probe::spikes(a)).unwrap();
    let mut sim = sim(&net, be, 1, 500);
    sim.run(2.0).unwrap();
    let d = sim.data_instance(s, 0).unwrap();
    for (i, &ji) in j.iter().enumerate() {
        let count = d.column(i).sum() * 0.001;
        let rate = if ji > 1.0 {
            1.0 / (0.002 + 0.02 * (1.0 / (ji - 1.0)).ln_1p())
        } else {
            0.0
        };
        // Initial voltage is Uniform(0, 1) (Nengo), so the first spike can come early: +-1 spike.
        assert!(
            (count - 2.0 * rate).abs() <= 1.0 + 1e-6,
            "J = {ji}: {count} spikes, analytic {}",
            2.0 * rate
        );
    }
});
