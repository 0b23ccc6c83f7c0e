//! Faults during a run: a GPU device lost mid-training (a real `wgpu::Device::destroy`, injected
//! with `VOLLEY_GPU_LOSE_DEVICE_AT_STEP`) and a state value that turns non-finite. The error says
//! what happened, the last checkpoint stays valid, and `--resume` continues on another backend.
//!
//! The device-loss test needs MNIST (as tests/mnist.rs) and a GPU adapter (llvmpipe will do).

mod common;

use std::process::Command;
use volley::prelude::*;

fn volley() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_volley"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

fn train_args(out: &std::path::Path, backend: &str) -> Vec<String> {
    [
        "mnist",
        "train",
        "--neurons",
        "20",
        "--train-images",
        "12",
        "--checkpoint-every",
        "3",
        "--test-images",
        "0",
        "--quiet",
        "--json",
        "--backend",
        backend,
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

#[test]
fn device_loss_keeps_the_checkpoint_and_resume_continues_on_the_cpu() {
    if !common::requested("gpu") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("volley-device-loss-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // 1000 steps per presentation: the device goes at step 6500, during the seventh image, after
    // the checkpoint of image 6.
    let lost = volley()
        .args(train_args(&dir, "gpu"))
        .env(volley::backend::gpu::LOSE_DEVICE_ENV, "6500")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&lost.stderr);
    assert!(!lost.status.success(), "the run must fail: {stderr}");
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.contains("device lost"), "says what happened: {line}");
    assert!(
        line.contains("--resume") && line.contains("(6 of 12 images)"),
        "says what is kept and how to continue: {line}"
    );
    let ckpt = dir.join("checkpoint.bin");
    let (state, _) = volley::mnist::checkpoint::load(&ckpt).expect("the checkpoint is valid");
    assert_eq!(state.images_done, 6);

    let resumed = volley()
        .args(train_args(&dir, "cpu"))
        .arg("--resume")
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    let m: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(m["train_images"], 12);
    assert_eq!(m["backend"], "cpu");
    let _ = std::fs::remove_dir_all(&dir);
}

per_backend!(a_non_finite_state_value_is_reported_by_name, |be| {
    let mut net = Network::new(0);
    let u = net.add_node(Node::constant(vec![0.5])).unwrap();
    let a = net.add_ensemble(Ensemble::new(7, 1)).unwrap();
    net.connect(Connection::new(u, a)).unwrap();
    let mut sim = Simulator::new(&net, SimConfig::default().backend(be)).unwrap();
    sim.run_steps(5).unwrap();
    assert!(sim.check_finite().unwrap() > 0);
    // A user's write of a non-finite value is refused, naming the buffer and the index...
    let mut v = sim.neuron_state(a, "voltage").unwrap();
    v[[0, 3]] = f32::NAN;
    let err = sim
        .set_neuron_state(a, "voltage", v.as_slice().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("voltage") && err.contains("data[3]"), "{err}");
    // ... and one that gets into the state anyway (here through a snapshot) is found.
    let mut snap = sim.snapshot().unwrap();
    let (_, data) = snap
        .buffers
        .iter_mut()
        .find(|(n, _)| n.ends_with(".voltage"))
        .unwrap();
    data[3] = f32::NAN;
    sim.restore(&snap).unwrap();
    match sim.check_finite() {
        Err(Error::NonFinite {
            buffer,
            index,
            step,
            ..
        }) => {
            assert!(buffer.ends_with(".voltage"), "{buffer}");
            assert_eq!((index, step), (3, 5));
        }
        other => panic!("expected Error::NonFinite, got {other:?}"),
    }
});
