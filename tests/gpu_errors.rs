//! GPU failures are `volley::Error`s a user can act on, raised before anything is allocated.
//! (One test in this binary: it sets process environment variables.)

mod common;

use volley::prelude::*;

#[test]
fn gpu_errors_name_the_problem() {
    if !common::requested("gpu") {
        eprintln!("gpu not in VOLLEY_TEST_BACKENDS: this run asked for the CPU only");
        return;
    }
    // A buffer larger than the adapter allows per storage binding: 2000 neurons x 40 000
    // instances x 4 bytes = 320 MB, over every adapter's default 128 MiB binding limit
    // (llvmpipe: 128 MiB) and most hardware ones'.
    let mut net = Network::new(0);
    net.add_ensemble(Ensemble::new(2000, 1).label("big"))
        .unwrap();
    let err = Simulator::new(
        &net,
        SimConfig::default()
            .backend(BackendChoice::Gpu)
            .batch(40_000),
    )
    .err()
    .expect("a 320 MB buffer must be refused");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, Error::Backend { .. }));
    assert!(msg.contains("ens0.J"), "message names the buffer: {msg}");
    assert!(msg.contains("320000000"), "message gives the size: {msg}");
    assert!(
        msg.contains("max_storage_buffer_binding_size"),
        "message names the limit: {msg}"
    );

    // A chunk too long for the probe's ring (and its sample table): the error says that the
    // chunk, not the network, is too big.
    let mut net2 = Network::new(0);
    let a = net2.add_ensemble(Ensemble::new(3, 1)).unwrap();
    net2.probe(Probe::spikes(a)).unwrap();
    let mut cfg = SimConfig::default().backend(BackendChoice::Gpu);
    cfg.chunk_steps = 1 << 40;
    let msg = Simulator::new(&net2, cfg)
        .err()
        .expect("a ring of 2^40 samples must be refused")
        .to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains("probe0.ring") && msg.contains("chunk_steps"),
        "{msg}"
    );

    // An adapter name that matches nothing.
    // SAFETY: this binary has a single test, so no other thread reads the environment.
    unsafe { std::env::set_var("WGPU_ADAPTER_NAME", "no-such-adapter-xyz") };
    let err = Simulator::new(&net, SimConfig::default().backend(BackendChoice::Gpu))
        .err()
        .expect("an unknown adapter name must be an error");
    let msg = err.to_string();
    unsafe { std::env::remove_var("WGPU_ADAPTER_NAME") };
    eprintln!("{msg}");
    assert!(
        msg.contains("no-such-adapter-xyz") && msg.contains("WGPU_ADAPTER_NAME"),
        "{msg}"
    );
}
