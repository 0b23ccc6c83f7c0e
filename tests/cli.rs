//! The `volley` command line refuses bad flags with a non-zero exit and a one-line message that
//! names the flag and what is allowed, and creates no output files when it does.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn volley(args: &[&str], out: &Path) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp")
        .env("VOLLEY_DATA_DIR", out.join("no-such-data"))
        .output()
        .expect("runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volley-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn numeric_flags_refuse_zero_negative_and_non_numbers() {
    let out = scratch("flags");
    let o = out.join("out");
    let o = o.to_str().unwrap();
    for flag in [
        "--neurons",
        "--train-images",
        "--epochs",
        "--eval-batch",
        "--label-images",
        "--instances",
    ] {
        for value in ["0", "-3", "abc", "1.5"] {
            let (ok, err) = volley(&["mnist", "train", "--out", o, flag, value], &out);
            assert!(!ok, "mnist train {flag} {value} must fail");
            let msg = err.trim();
            assert!(
                msg.contains(flag.trim_start_matches("--")) || msg.contains(value),
                "mnist train {flag} {value}: message does not name the flag or value: {msg}"
            );
        }
    }
    // Flags where 0 means something (no evaluation, checkpoint only at the end, no delays,
    // seed 0) still refuse negative numbers and non-numbers, in train and in eval.
    for (cmd, flag) in [
        ("train", "--test-images"),
        ("train", "--checkpoint-every"),
        ("train", "--input-delay-max-ms"),
        ("train", "--min-interval-ms"),
        ("train", "--theta-offset-mv"),
        ("train", "--seed"),
        ("eval", "--test-images"),
        ("eval", "--label-images"),
        ("eval", "--eval-batch"),
        ("eval", "--seed"),
    ] {
        for value in ["-3", "abc", "nan"] {
            let (ok, err) = volley(&["mnist", cmd, "--out", o, flag, value], &out);
            assert!(!ok, "mnist {cmd} {flag} {value} must fail");
            let msg = err.trim();
            assert_eq!(msg.lines().count(), 1, "one line: {msg}");
            assert!(
                msg.contains(flag.trim_start_matches("--")) || msg.contains(value),
                "mnist {cmd} {flag} {value}: message does not name the flag or value: {msg}"
            );
        }
    }
    // A spike gate shorter than one step (0.5 ms), or longer than its timer counts (2^23
    // steps), is refused before anything is written.
    for value in ["0.2", "1e300", "4194304.5"] {
        let (ok, err) = volley(
            &["mnist", "train", "--out", o, "--min-interval-ms", value],
            &out,
        );
        assert!(
            !ok && err.contains("--min-interval-ms")
                && err.contains("one step")
                && err.contains("4194304"),
            "{err}"
        );
    }
    for value in ["0", "-3", "abc"] {
        let (ok, _) = volley(&["mnist", "eval", "--out", o, "--eval-batch", value], &out);
        assert!(!ok, "mnist eval --eval-batch {value} must fail");
    }
    for flag in ["--steps", "--train-images", "--eval-images", "--eval-batch"] {
        for value in ["0", "-1", "x"] {
            let (ok, err) = volley(&["bench", "lif-step-1k", flag, value], &out);
            assert!(!ok, "bench {flag} {value} must fail: {err}");
        }
    }
    for value in ["-1", "nan", "inf"] {
        let (ok, err) = volley(
            &["bench", "lif-step-1k", "--input-delay-max-ms", value],
            &out,
        );
        assert!(
            !ok && err.contains("--input-delay-max-ms") && err.contains("from 0 to"),
            "bench --input-delay-max-ms {value} must fail: {err}"
        );
    }
    assert!(
        !out.join("out").exists(),
        "a refused command must not create its output directory"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn unknown_backend_workload_and_network_are_named() {
    let out = scratch("names");
    let (ok, err) = volley(&["bench", "lif-step-1k", "--backend", "tpu"], &out);
    assert!(
        !ok && err.contains("tpu") && err.contains("cpu, gpu, auto"),
        "{err}"
    );
    let (ok, err) = volley(&["bench", "no-such-workload"], &out);
    assert!(!ok && err.contains("no-such-workload"), "{err}");
    let (ok, err) = volley(&["plan", "no-such-network"], &out);
    assert!(!ok && err.contains("no-such-network"), "{err}");
    let (ok, err) = volley(&["plan", "diehl-cook", "--dt", "0"], &out);
    assert!(!ok && err.contains("--dt") && err.contains("> 0"), "{err}");
    // Backend names in any case.
    let (ok, err) = volley(
        &["bench", "lif-step-1k", "--backend", "CPU", "--steps", "1"],
        &out,
    );
    assert!(ok, "{err}");
    let o = out.join("out");
    let (ok, err) = volley(
        &[
            "mnist",
            "train",
            "--backend",
            "tpu",
            "--out",
            o.to_str().unwrap(),
        ],
        &out,
    );
    assert!(!ok && err.contains("tpu"), "{err}");
    assert!(!o.exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn missing_data_says_what_to_run_and_writes_nothing() {
    let out = scratch("data");
    let o = out.join("out");
    let (ok, err) = volley(&["mnist", "train", "--out", o.to_str().unwrap()], &out);
    assert!(!ok);
    assert!(
        err.contains("fetch-mnist.sh"),
        "the message must say what to run: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!o.exists(), "no output before the data is found");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn eval_without_a_checkpoint_and_with_a_corrupt_one() {
    let out = scratch("ckpt");
    let o = out.join("out");
    let (ok, err) = volley(&["mnist", "eval", "--out", o.to_str().unwrap()], &out);
    assert!(!ok && err.contains("checkpoint.bin"), "{err}");
    std::fs::create_dir_all(&o).unwrap();
    std::fs::write(o.join("checkpoint.bin"), b"VOLLEYCK garbage").unwrap();
    let (ok, err) = volley(&["mnist", "eval", "--out", o.to_str().unwrap()], &out);
    assert!(!ok && err.contains("checkpoint"), "{err}");
    assert_eq!(
        std::fs::read(o.join("checkpoint.bin")).unwrap(),
        b"VOLLEYCK garbage",
        "a refused checkpoint is left as it was"
    );
    assert!(!o.join("eval.json").exists());
    let _ = std::fs::remove_dir_all(&out);
}

/// A valid dataset of two 28x28 images per split (IDX, uncompressed).
fn tiny_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for split in ["train", "t10k"] {
        let images = common::images_bytes(2, 28, 28, &common::pixels(2 * 784, 0));
        std::fs::write(dir.join(format!("{split}-images-idx3-ubyte")), images).unwrap();
        let labels = common::labels_bytes(&[3, 7]);
        std::fs::write(dir.join(format!("{split}-labels-idx1-ubyte")), labels).unwrap();
    }
}

#[test]
fn an_output_directory_that_cannot_be_written_is_named() {
    let out = scratch("unwritable");
    let data = out.join("data");
    tiny_dataset(&data);
    // A file where the output directory would go: nothing can be created below it (whoever
    // runs the test, root included).
    let blocker = out.join("blocker");
    std::fs::write(&blocker, b"keep me").unwrap();
    let target = blocker.join("run");
    let (ok, err) = volley(
        &[
            "mnist",
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            target.to_str().unwrap(),
            "--train-images",
            "1",
            "--test-images",
            "0",
            "--quiet",
        ],
        &out,
    );
    assert!(!ok, "must fail");
    let msg = err.trim();
    assert_eq!(msg.lines().count(), 1, "one line: {msg}");
    assert!(
        msg.contains(blocker.to_str().unwrap()),
        "names the path: {msg}"
    );
    assert_eq!(std::fs::read(&blocker).unwrap(), b"keep me");
    let _ = std::fs::remove_dir_all(&out);
}

/// Runs `volley args`: (success, stdout, stderr).
fn run(args: &[String]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp")
        .output()
        .expect("runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// Runs `volley args`, which must succeed; its stdout.
fn run_ok(args: &[String]) -> String {
    let (ok, out, err) = run(args);
    assert!(ok, "volley {args:?} failed: {err}");
    out
}

/// Runs `volley args`, which must fail; its stderr.
fn run_err(args: &[String]) -> String {
    let (ok, _, err) = run(args);
    assert!(!ok, "volley {args:?} must fail");
    err
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// `mnist train` on the tiny dataset in `data`: `neurons` neurons, both images for training,
/// labelling and testing, CPU, `--json`, into `dir`, then `extra`.
fn tiny_train(data: &Path, dir: &Path, neurons: &str, extra: &[&str]) -> Vec<String> {
    let mut v = strings(&[
        "mnist",
        "train",
        "--backend",
        "cpu",
        "--neurons",
        neurons,
        "--train-images",
        "2",
        "--label-images",
        "2",
        "--test-images",
        "2",
        "--quiet",
        "--json",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    v.extend(strings(extra));
    v
}

/// `mnist eval` of the run in `dir` on the tiny dataset in `data`: both images for labelling and
/// testing, CPU, then `extra`.
fn tiny_eval(data: &Path, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = strings(&[
        "mnist",
        "eval",
        "--backend",
        "cpu",
        "--label-images",
        "2",
        "--test-images",
        "2",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    v.extend(strings(extra));
    v
}

/// The JSON object on the last line of a command's stdout.
fn last_json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// A 5-neuron network trained with seed 4 on the tiny dataset, under a fresh scratch folder
/// `name`: (scratch folder, data, run folder, the training's JSON).
fn tiny_seed4_run(name: &str) -> (PathBuf, PathBuf, PathBuf, serde_json::Value) {
    let out = scratch(name);
    let data = out.join("data");
    tiny_dataset(&data);
    let dir = out.join("run");
    let trained = last_json(&run_ok(&tiny_train(&data, &dir, "5", &["--seed", "4"])));
    (out, data, dir, trained)
}

/// Each `seeds` instance in `many/seed-<s>/` has the weights and thresholds of that seed trained
/// alone (`args(dir, extra)` is the command line for an output directory).
fn same_as_alone(
    out: &Path,
    many: &Path,
    seeds: &[u64],
    args: &dyn Fn(&Path, &[&str]) -> Vec<String>,
) {
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for seed in seeds {
        let alone = out.join(format!("alone-{seed}"));
        run_ok(&args(&alone, &["--seed", &seed.to_string()]));
        let inst = many.join(format!("seed-{seed}"));
        for f in ["weights.npy", "theta.npy"] {
            assert_eq!(read(&inst, f), read(&alone, f), "seed {seed}: {f}");
        }
    }
}

/// `--instances K` trains K networks (seeds --seed ..): each instance's weights and thresholds
/// are bit-identical to the same seed trained alone, the instances differ from each other, the
/// summary holds every instance, and a second run refuses the directories unless --resume.
#[test]
fn instances_equal_the_same_seeds_trained_alone() {
    let out = scratch("instances");
    let data = out.join("data");
    tiny_dataset(&data);
    let args = |dir: &Path, extra: &[&str]| tiny_train(&data, dir, "7", extra);
    let many = out.join("many");
    let line = run_ok(&args(&many, &["--instances", "3", "--seed", "4"]));
    let summary = last_json(&line);
    assert_eq!(summary["instances"], 3);
    assert_eq!(summary["seeds"], serde_json::json!([4, 5, 6]));
    assert!(summary["accuracy"].is_number(), "{summary}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(many.join("instances.json")).unwrap()).unwrap();
    assert_eq!(file["per_instance"].as_array().unwrap().len(), 3);
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    same_as_alone(&out, &many, &[4, 6], &args);
    assert_ne!(
        read(&many.join("seed-4"), "weights.npy"),
        read(&many.join("seed-5"), "weights.npy")
    );
    // Again without --resume: refused, naming the summary (or, without it, a directory); with
    // it: the same weights.
    let before = read(&many.join("seed-5"), "weights.npy");
    let err = run_err(&args(&many, &["--instances", "3", "--seed", "4"]));
    assert!(
        err.contains("instances.json") && err.contains("--resume"),
        "{err}"
    );
    let other = out.join("other");
    std::fs::create_dir_all(other.join("seed-5")).unwrap();
    std::fs::copy(
        many.join("seed-5").join("checkpoint.bin"),
        other.join("seed-5").join("checkpoint.bin"),
    )
    .unwrap();
    let err = run_err(&args(&other, &["--instances", "3", "--seed", "4"]));
    assert!(err.contains("seed-5") && err.contains("--resume"), "{err}");
    assert!(
        !other.join("seed-4").exists(),
        "every directory is checked before any is created"
    );
    run_ok(&args(
        &many,
        &["--instances", "3", "--seed", "4", "--resume"],
    ));
    assert_eq!(read(&many.join("seed-5"), "weights.npy"), before);
    // One more instance than before, without --resume: refused before anything trains (the new
    // seed-7 gets no checkpoint).
    run_err(&args(&many, &["--instances", "4", "--seed", "4"]));
    assert!(!many.join("seed-7").join("checkpoint.bin").exists());
    // --resume with seeds that leave out some of the run's: refused, and its summary kept.
    let summary_before = read(&many, "instances.json");
    let err = run_err(&args(
        &many,
        &["--instances", "2", "--seed", "5", "--resume"],
    ));
    assert!(
        err.contains("seeds 4 to 6") && err.contains("seeds 5 to 6") && err.contains("--seed"),
        "{err}"
    );
    assert_eq!(read(&many, "instances.json"), summary_before);
    assert!(!many.join("seed-7").exists());
    // A run killed before its summary was written: its seed directories' checkpoints count.
    let killed = out.join("killed");
    for s in ["4", "6"] {
        std::fs::create_dir_all(killed.join(format!("seed-{s}"))).unwrap();
        std::fs::copy(
            many.join(format!("seed-{s}")).join("checkpoint.bin"),
            killed.join(format!("seed-{s}")).join("checkpoint.bin"),
        )
        .unwrap();
    }
    let err = run_err(&args(
        &killed,
        &["--instances", "2", "--seed", "5", "--resume"],
    ));
    assert!(err.contains("[4, 6]"), "{err}");
    assert!(!killed.join("seed-5").exists() && !killed.join("instances.json").exists());
    // More seeds than before may be added: the earlier ones resume, the new one trains.
    run_ok(&args(
        &many,
        &["--instances", "4", "--seed", "4", "--resume"],
    ));
    assert_eq!(read(&many.join("seed-5"), "weights.npy"), before);
    let file: serde_json::Value = serde_json::from_slice(&read(&many, "instances.json")).unwrap();
    assert_eq!(file["seeds"], serde_json::json!([4, 5, 6, 7]));
    // Seeds past u64::MAX are refused, naming the flag.
    let seed = u64::MAX.to_string();
    let err = run_err(&args(
        &out.join("overflow"),
        &["--instances", "2", "--seed", &seed],
    ));
    assert!(
        err.contains("instances") && err.contains("at most 1"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// On a GPU, `--instances K` trains the K networks as one batch: each instance's weights and
/// thresholds are bit-identical to its seed trained alone on the GPU, and `--resume` of the
/// finished batch gives them again.
#[test]
fn gpu_instances_train_as_one_batch_and_equal_the_seeds_alone() {
    if !common::requested("gpu") {
        eprintln!("gpu not in VOLLEY_TEST_BACKENDS: this run asked for the CPU only");
        return;
    }
    let out = scratch("gpu-instances");
    let data = out.join("data");
    tiny_dataset(&data);
    let args = |dir: &Path, extra: &[&str]| {
        let mut v = tiny_train(&data, dir, "7", extra);
        let b = v.iter().position(|a| a == "--backend").unwrap();
        v[b + 1] = "gpu".into();
        v
    };
    let many = out.join("many");
    let line = run_ok(&args(&many, &["--instances", "3", "--seed", "9"]));
    let summary = last_json(&line);
    assert_eq!(summary["concurrency"], "one GPU batch", "{summary}");
    assert_eq!(summary["backend"], "gpu", "{summary}");
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    same_as_alone(&out, &many, &[9, 11], &args);
    let before = read(&many.join("seed-10"), "weights.npy");
    run_ok(&args(
        &many,
        &["--instances", "3", "--seed", "9", "--resume"],
    ));
    assert_eq!(read(&many.join("seed-10"), "weights.npy"), before);
    let _ = std::fs::remove_dir_all(&out);
}

/// The two runs' `weights.npy` and `theta.npy` are byte for byte the same.
fn assert_same_network(a: &Path, b: &Path) {
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for f in ["weights.npy", "theta.npy"] {
        assert_eq!(
            read(a, f),
            read(b, f),
            "{f}: {} vs {}",
            a.display(),
            b.display()
        );
    }
}

/// A run trained with `--min-interval-ms 5` (the refractory period, so no spike gate) continues
/// with `--min-interval-ms 0`, the same dynamics: the weights of a run with 0 from the start.
/// A gate that differs is refused, naming the flag.
#[test]
fn resume_accepts_a_min_interval_with_the_same_gate() {
    let out = scratch("same-gate");
    let data = out.join("data");
    tiny_dataset(&data);
    let args = |dir: &Path, extra: &[&str]| tiny_train(&data, dir, "5", extra);
    let (resumed, straight) = (out.join("resumed"), out.join("straight"));
    let first = last_json(&run_ok(&args(
        &resumed,
        &["--epochs", "1", "--min-interval-ms", "5"],
    )));
    assert_eq!(
        first["min_interval_ms"], 5.0,
        "recorded in metrics: {first}"
    );
    let err = run_err(&args(&resumed, &["--epochs", "2", "--resume"]));
    assert!(
        err.contains("--min-interval-ms 5 in the checkpoint, 50 here"),
        "{err}"
    );
    run_ok(&args(
        &resumed,
        &["--epochs", "2", "--resume", "--min-interval-ms", "0"],
    ));
    run_ok(&args(
        &straight,
        &["--epochs", "2", "--min-interval-ms", "0"],
    ));
    assert_same_network(&resumed, &straight);
    let _ = std::fs::remove_dir_all(&out);
}

/// `--theta-offset-mv 0` (the paper's threshold `v_thresh + theta`) trains another network
/// than the default 20 (Diehl & Cook's code), is recorded in the run (a resume with another
/// offset is refused naming the flag), and evaluation rebuilds the network with it: from the
/// checkpoint, and from the .npy files with the same flag (with the default offset instead the
/// same thresholds lie 20 mV lower, below rest: every neuron counts as self-firing).
#[test]
fn theta_offset_is_trained_recorded_and_evaluated_with() {
    let out = scratch("theta-offset");
    let data = out.join("data");
    tiny_dataset(&data);
    let args = |dir: &Path, extra: &[&str]| tiny_train(&data, dir, "5", extra);
    let (zero, code) = (out.join("zero"), out.join("code"));
    let trained = last_json(&run_ok(&args(&zero, &["--theta-offset-mv", "0"])));
    run_ok(&args(&code, &[]));
    assert_eq!(trained["theta_offset_mv"], 0.0, "{trained}");
    assert_eq!(trained["self_firing_neurons"], 0, "{trained}");
    // The rest of the model is in the metrics too (the defaults: the spike gate, no delays).
    assert_eq!(trained["min_interval_ms"], 50.0, "{trained}");
    assert_eq!(trained["input_delay_max_ms"], 0.0, "{trained}");
    let delayed = out.join("delayed");
    let d = last_json(&run_ok(&args(&delayed, &["--input-delay-max-ms", "10"])));
    assert_eq!(d["input_delay_max_ms"], 10.0, "{d}");
    let d = last_json(&run_ok(&tiny_eval(&data, &delayed, &["--json"])));
    assert_eq!(
        d["input_delay_max_ms"], 10.0,
        "evaluated with the run's delays: {d}"
    );
    let theta = |dir: &Path| -> Vec<f32> {
        let t: ndarray::Array1<f32> = ndarray_npy::read_npy(dir.join("theta.npy")).unwrap();
        t.to_vec()
    };
    assert_ne!(
        theta(&zero),
        theta(&code),
        "the offset changes the training"
    );
    let err = run_err(&args(&zero, &["--epochs", "2", "--resume"]));
    assert!(
        err.contains("--theta-offset-mv 0 in the checkpoint, 20 here"),
        "{err}"
    );
    let again = last_json(&run_ok(&tiny_eval(&data, &zero, &["--json"])));
    for key in [
        "accuracy",
        "accuracy_proportion",
        "neurons_per_class",
        "theta_offset_mv",
        "min_interval_ms",
        "input_delay_max_ms",
    ] {
        assert_eq!(again[key], trained[key], "{key}: {again} vs {trained}");
    }
    let (w, t) = (zero.join("weights.npy"), zero.join("theta.npy"));
    let (w, t) = (w.to_str().unwrap(), t.to_str().unwrap());
    let npy = |name: &str, extra: &[&str]| {
        let mut v = vec!["--json", "--seed", "0", "--weights", w, "--theta", t];
        v.extend(extra);
        last_json(&run_ok(&tiny_eval(&data, &out.join(name), &v)))
    };
    let same = npy("npy0", &["--theta-offset-mv", "0"]);
    for key in [
        "accuracy",
        "accuracy_proportion",
        "neurons_per_class",
        "theta_offset_mv",
    ] {
        assert_eq!(same[key], trained[key], "{key}: {same} vs {trained}");
    }
    assert_eq!(npy("npy20", &[])["self_firing_neurons"], 5);
    for value in ["101", "inf"] {
        let err = run_err(&args(&out.join("bad"), &["--theta-offset-mv", value]));
        assert!(
            err.contains("--theta-offset-mv") && err.contains("from 0 to 100"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// A finished run resumed with more epochs continues where it stopped: the same weights as a run
/// with that many epochs from the start, checkpoints that load again (`mnist eval`), and fewer
/// epochs than already done are refused, naming the flag.
#[test]
fn resume_with_more_epochs_equals_the_longer_run() {
    let out = scratch("more-epochs");
    let data = out.join("data");
    tiny_dataset(&data);
    let args = |dir: &Path, extra: &[&str]| tiny_train(&data, dir, "5", extra);
    let (resumed, straight) = (out.join("resumed"), out.join("straight"));
    run_ok(&args(&resumed, &["--epochs", "1"]));
    run_ok(&args(&resumed, &["--epochs", "3", "--resume"]));
    run_ok(&args(&straight, &["--epochs", "3"]));
    assert_same_network(&resumed, &straight);
    run_ok(&tiny_eval(&data, &resumed, &[]));
    let err = run_err(&args(&resumed, &["--epochs", "2", "--resume"]));
    assert!(
        err.contains("epochs") && err.contains("at least 3"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// `mnist eval` evaluates with the seed the checkpoint was trained with (its random draws are
/// those of the training run's own evaluation, so it reproduces that run's figures) unless
/// `--seed` says otherwise.
#[test]
fn eval_reuses_the_training_seed_unless_told_otherwise() {
    let (out, data, dir, trained) = tiny_seed4_run("eval-seed");
    let eval = |extra: &[&str]| {
        let mut v = vec!["--json"];
        v.extend(extra);
        last_json(&run_ok(&tiny_eval(&data, &dir, &v)))
    };
    let again = eval(&[]);
    assert_eq!(again["seed"], 4, "{again}");
    for key in ["accuracy", "accuracy_proportion", "neurons_per_class"] {
        assert_eq!(again[key], trained[key], "{key}: {again} vs {trained}");
    }
    // --seed changes the evaluation's own draws; the network (its input delays) stays the
    // one trained with seed 4.
    let other = eval(&["--seed", "7"]);
    assert_eq!(other["seed"], 7);
    assert_eq!(other["network_seed"], 4, "{other}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn eval_of_npy_files_equals_eval_of_the_checkpoint_and_refuses_bad_ones() {
    let (out, data, dir, trained) = tiny_seed4_run("eval-npy");
    let (wp, tp) = (dir.join("weights.npy"), dir.join("theta.npy"));
    let w: ndarray::Array2<f32> = ndarray_npy::read_npy(&wp).unwrap();
    let theta: ndarray::Array1<f32> = ndarray_npy::read_npy(&tp).unwrap();
    let npy = out.join("npy");
    std::fs::create_dir_all(&npy).unwrap();
    let put = |name: &str, f: &dyn Fn(&Path)| -> String {
        let p = npy.join(name);
        f(&p);
        p.to_str().unwrap().to_string()
    };
    // float64 files, as numpy writes by default, and a theta under which no neuron can fire.
    let w64 = put("w64.npy", &|p| {
        ndarray_npy::write_npy(p, &w.mapv(f64::from)).unwrap()
    });
    let t64 = put("t64.npy", &|p| {
        ndarray_npy::write_npy(p, &theta.mapv(f64::from)).unwrap()
    });
    let t_high = put("t_high.npy", &|p| {
        ndarray_npy::write_npy(p, &theta.mapv(|_| 1e4f32)).unwrap()
    });
    let eval = |name: &str, w: &str, t: &str| {
        let e = out.join(name);
        let args = tiny_eval(
            &data,
            &e,
            &["--json", "--seed", "4", "--weights", w, "--theta", t],
        );
        last_json(&run_ok(&args))
    };
    let (ws, ts) = (wp.to_str().unwrap(), tp.to_str().unwrap());
    for (name, w, t) in [("e32", ws, ts), ("e64", w64.as_str(), t64.as_str())] {
        let e = eval(name, w, t);
        for key in [
            "accuracy",
            "accuracy_proportion",
            "neurons_per_class",
            "n_exc",
        ] {
            assert_eq!(e[key], trained[key], "{name} {key}: {e} vs {trained}");
        }
        assert_eq!(e["weights"], w, "{e}");
        assert_eq!(e["min_interval_ms"], 50.0, "{e}");
        assert!(out.join(name).join("eval.json").exists());
    }
    let silent = eval("silent", ws, &t_high);
    assert_ne!(
        silent["neurons_per_class"], trained["neurons_per_class"],
        "{silent}"
    );
    // Bad files: an error naming the flag, the file and what is allowed; nothing written.
    let mut bad_w = w.clone();
    bad_w[(2, 7)] = 1.5;
    let bad_w = put("bad_w.npy", &|p| ndarray_npy::write_npy(p, &bad_w).unwrap());
    let short = put("short.npy", &|p| {
        ndarray_npy::write_npy(p, &w.slice(ndarray::s![.., ..700]).to_owned()).unwrap()
    });
    let t4 = put("t4.npy", &|p| {
        ndarray_npy::write_npy(p, &theta.slice(ndarray::s![..4]).to_owned()).unwrap()
    });
    let ints = put("ints.npy", &|p| {
        ndarray_npy::write_npy(p, &w.mapv(|v| v as i32)).unwrap()
    });
    // One byte a value: the wrong type, not "truncated".
    let bytes = put("bytes.npy", &|p| {
        ndarray_npy::write_npy(p, &w.mapv(|v| (v * 100.0) as u8)).unwrap()
    });
    // float32 in native order ('=f4', which numpy never writes): named, not misread.
    let native = put("native.npy", &|p| {
        let b = std::fs::read(&wp).unwrap();
        let at = b.windows(5).position(|x| x == b"'<f4'").unwrap();
        let mut b = b;
        b[at + 1] = b'=';
        std::fs::write(p, b).unwrap()
    });
    // A header whose shape asks for terabytes: an error, not an attempt to allocate them.
    let huge = put("huge.npy", &|p| {
        let mut b = std::fs::read(&wp).unwrap();
        let at = b.windows(8).position(|x| x == b"(5, 784)").unwrap();
        let end = b.iter().position(|&c| c == b'\n').unwrap();
        b.drain(end - 12..end); // padding spaces, so that the header keeps its length
        b.splice(at..at + 8, b"(5000000000000, 784)".iter().copied());
        std::fs::write(p, b).unwrap()
    });
    let e = out.join("refused");
    for (w, t, needles) in [
        (
            bad_w.as_str(),
            ts,
            vec!["--weights", "bad_w.npy", "(2, 7)", "1.5", "[0, 1]"],
        ),
        (
            short.as_str(),
            ts,
            vec!["--weights", "short.npy", "shape", "(5, 700)", "784"],
        ),
        (
            ws,
            t4.as_str(),
            vec!["--theta", "t4.npy", "length", "4", "5 (one per row"],
        ),
        (ints.as_str(), ts, vec!["ints.npy", "float32 or float64"]),
        (
            bytes.as_str(),
            ts,
            vec!["--weights", "bytes.npy", "'|u1'", "float32 or float64"],
        ),
        (
            native.as_str(),
            ts,
            vec!["--weights", "native.npy", "'=f4'", "'<f4'"],
        ),
        (
            huge.as_str(),
            ts,
            vec!["--weights", "huge.npy", "5000000000000", "784)"],
        ),
        (ws, huge.as_str(), vec!["--theta", "huge.npy", "(5,)"]),
        (ws, "/no/such/theta.npy", vec!["/no/such/theta.npy"]),
    ] {
        let err = run_err(&tiny_eval(&data, &e, &["--weights", w, "--theta", t]));
        for n in needles {
            assert!(err.contains(n), "{n:?} not in {err}");
        }
        assert!(!e.join("eval.json").exists());
    }
    let err = run_err(&tiny_eval(&data, &e, &["--weights", ws]));
    assert!(err.contains("--theta"), "{err}");
    let err = run_err(&tiny_eval(&data, &e, &["--min-interval-ms", "5"]));
    assert!(err.contains("--weights"), "{err}");
    let err = run_err(&tiny_eval(
        &data,
        &e,
        &["--weights", ws, "--theta", ts, "--min-interval-ms", "0.1"],
    ));
    assert!(
        err.contains("--min-interval-ms") && err.contains("0.1"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Nothing a run or an evaluation wrote is overwritten by another command: `mnist eval` writes
/// eval.json and eval_confusion.png beside a run's own metrics.json, and `mnist train` refuses a
/// directory that holds another run's or an evaluation's outputs, with or without a checkpoint;
/// a resume with other flags names each flag that differs.
#[test]
fn outputs_of_another_run_are_never_overwritten() {
    let (out, data, dir, _) = tiny_seed4_run("no-overwrite");
    let read = |p: &Path| std::fs::read(p).unwrap();
    let metrics = read(&dir.join("metrics.json"));
    run_ok(&tiny_eval(&data, &dir, &["--json"]));
    assert_eq!(read(&dir.join("metrics.json")), metrics);
    assert!(dir.join("eval.json").exists() && dir.join("eval_confusion.png").exists());
    // An evaluation's directory is not a training run's.
    let ev = out.join("ev");
    let (w, t) = (dir.join("weights.npy"), dir.join("theta.npy"));
    let (w, t) = (w.to_str().unwrap(), t.to_str().unwrap());
    run_ok(&tiny_eval(&data, &ev, &["--weights", w, "--theta", t]));
    let eval_json = read(&ev.join("eval.json"));
    for extra in [&[][..], &["--resume"][..]] {
        let err = run_err(&tiny_train(&data, &ev, "5", extra));
        assert!(err.contains("eval.json") && err.contains("--out"), "{err}");
        assert_eq!(read(&ev.join("eval.json")), eval_json);
    }
    // A run whose checkpoint is gone keeps its outputs.
    std::fs::remove_file(dir.join("checkpoint.bin")).unwrap();
    let err = run_err(&tiny_train(&data, &dir, "5", &["--resume", "--seed", "4"]));
    assert!(err.contains("metrics.json"), "{err}");
    assert_eq!(read(&dir.join("metrics.json")), metrics);
    // A resume with other flags names them.
    let again = out.join("again");
    run_ok(&tiny_train(&data, &again, "5", &["--seed", "4"]));
    let err = run_err(&tiny_train(
        &data,
        &again,
        "6",
        &["--seed", "3", "--resume"],
    ));
    for needle in [
        "--neurons 5 in the checkpoint, 6 here",
        "--seed 4 in the checkpoint, 3 here",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    assert!(!err.contains("DiehlCookConfig"), "{err}");
    // A network too large for 32-bit indices is refused before anything is written.
    let big = out.join("big");
    let err = run_err(&tiny_train(&data, &big, "6000000", &[]));
    assert!(err.contains("n_exc") && err.contains("5478274"), "{err}");
    assert!(!big.exists());
    let _ = std::fs::remove_dir_all(&out);
}

/// `volley` or `volley mnist` alone lists the commands there are; output piped into a reader
/// that stops early ends volley without a panic.
#[test]
fn a_missing_command_shows_the_commands_and_a_closed_pipe_is_no_panic() {
    for (args, needle) in [(&[][..], "mnist"), (&["mnist"][..], "eval")] {
        let (ok, _, err) = run(&strings(args));
        assert!(
            !ok && err.contains("Commands:") && err.contains(needle),
            "{err}"
        );
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["plan", "diehl-cook"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take()); // the reader is gone before volley writes
    let o = child.wait_with_output().expect("ends");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// `volley plan` shows the Diehl & Cook network at the step `mnist train` runs it at (0.5 ms)
/// and the others at 1 ms, unless --dt says otherwise.
#[test]
fn plan_uses_each_network_s_own_step() {
    for (args, dt) in [
        (&["plan", "diehl-cook"][..], "dt = 0.0005 s"),
        (&["plan"][..], "dt = 0.001 s"),
        (&["plan", "diehl-cook", "--dt", "0.001"][..], "dt = 0.001 s"),
    ] {
        let out = run_ok(&strings(args));
        assert!(out.contains(dt), "{args:?}: {out}");
    }
}

/// Counts beyond the data use all of it, say so on stderr, and the JSON reports what was used.
#[test]
fn counts_beyond_the_data_use_all_of_it_and_say_so() {
    let out = scratch("capped");
    let data = out.join("data");
    tiny_dataset(&data);
    let mut args = tiny_train(&data, &out.join("run"), "3", &[]);
    for (flag, value) in [
        ("--train-images", "5"),
        ("--label-images", "4"),
        ("--test-images", "3"),
    ] {
        let i = args.iter().position(|a| a == flag).unwrap();
        args[i + 1] = value.into();
    }
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    for n in [
        "--train-images 5: ",
        "--label-images 4: ",
        "--test-images 3: ",
        "has 2 training images",
        "has 2 test images",
    ] {
        assert!(stderr.contains(n), "{n:?} not in {stderr}");
    }
    let m = last_json(&stdout);
    assert_eq!(
        (m["train_images"].as_u64(), m["test_images"].as_u64()),
        (Some(2), Some(2)),
        "{m}"
    );
    // The same for an evaluation of that run.
    let mut args = tiny_eval(&data, &out.join("run"), &[]);
    let i = args.iter().position(|a| a == "--test-images").unwrap();
    args[i + 1] = "9".into();
    let (ok, _, stderr) = run(&args);
    assert!(ok && stderr.contains("--test-images 9: "), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Mixed-up output directories and flags are refused before anything trains or is written:
/// an `--instances` run and a single run never share a directory, `eval --weights` never
/// replaces a training run's evaluation, a workload name is checked before the first
/// workload runs, epochs that overflow are named, `--out` naming a file is said so, and bad
/// data leaves no output directory.
#[test]
fn mixed_up_directories_and_flags_are_refused_up_front() {
    let (out, data, dir, _) = tiny_seed4_run("mixed-up");
    // A single run into an --instances run's directory, and the reverse.
    let inst = out.join("inst");
    run_ok(&tiny_train(&data, &inst, "5", &["--instances", "2"]));
    for extra in [&[][..], &["--resume"][..]] {
        let err = run_err(&tiny_train(&data, &inst, "5", extra));
        assert!(err.contains("--instances run of seeds 0 to 1"), "{err}");
    }
    assert!(!inst.join("checkpoint.bin").exists() && !inst.join("metrics.json").exists());
    let err = run_err(&tiny_train(
        &data,
        &dir,
        "5",
        &["--instances", "2", "--resume", "--seed", "4"],
    ));
    assert!(err.contains("single run"), "{err}");
    assert!(!dir.join("seed-4").exists());
    // --instances --resume with other flags: refused before any seed trains (seed 2 is new).
    let err = run_err(&tiny_train(
        &data,
        &inst,
        "6",
        &["--instances", "3", "--resume"],
    ));
    assert!(
        err.contains("seed 0") && err.contains("--neurons 5"),
        "{err}"
    );
    assert!(!inst.join("seed-2").exists(), "no seed trained");
    // eval --weights into a training run's directory.
    let (w, t) = (dir.join("weights.npy"), dir.join("theta.npy"));
    let (w, t) = (w.to_str().unwrap(), t.to_str().unwrap());
    let before = std::fs::read(dir.join("metrics.json")).unwrap();
    let err = run_err(&tiny_eval(&data, &dir, &["--weights", w, "--theta", t]));
    assert!(err.contains("training run"), "{err}");
    assert!(!dir.join("eval.json").exists());
    assert_eq!(std::fs::read(dir.join("metrics.json")).unwrap(), before);
    // ... and over another network's evaluation; the same network's is re-evaluated.
    let ev = out.join("ev");
    run_ok(&tiny_eval(&data, &ev, &["--weights", w, "--theta", t]));
    // The same file by another name is the same network.
    let w_again = dir.join(".").join("weights.npy");
    run_ok(&tiny_eval(
        &data,
        &ev,
        &["--weights", w_again.to_str().unwrap(), "--theta", t],
    ));
    // Nor into an --instances run's directory.
    let err = run_err(&tiny_eval(&data, &inst, &["--weights", w, "--theta", t]));
    assert!(err.contains("--instances run"), "{err}");
    assert!(!inst.join("eval.json").exists());
    let w2 = out.join("w2.npy");
    std::fs::copy(w, &w2).unwrap();
    let err = run_err(&tiny_eval(
        &data,
        &ev,
        &["--weights", w2.to_str().unwrap(), "--theta", t],
    ));
    assert!(err.contains("another network"), "{err}");
    // A bad workload name, after a good one: nothing runs.
    let (ok, stdout, err) = run(&strings(&[
        "bench",
        "lif-step-1k",
        "no-such-workload",
        "--steps",
        "10",
    ]));
    assert!(
        !ok && err.contains("no-such-workload") && stdout.is_empty(),
        "{err}"
    );
    // Epochs whose product with the images overflows.
    let err = run_err(&tiny_train(
        &data,
        &out.join("e"),
        "5",
        &["--epochs", "9223372036854775809"],
    ));
    assert!(
        err.contains("--epochs") && err.contains("--train-images 2"),
        "{err}"
    );
    assert!(!out.join("e").exists());
    // --out naming a file.
    let file = out.join("a-file");
    std::fs::write(&file, b"keep").unwrap();
    let err = run_err(&tiny_train(&data, &file, "5", &[]));
    assert!(err.contains("a file, not a directory"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    // Truncated data: the error names the file, and no output directory is made.
    let bad = out.join("bad-data");
    tiny_dataset(&bad);
    let images = bad.join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&images).unwrap();
    std::fs::write(&images, &bytes[..bytes.len() - 10]).unwrap();
    let fresh = out.join("fresh");
    let err = run_err(&tiny_train(&bad, &fresh, "5", &[]));
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    assert!(!fresh.exists());
    let _ = std::fs::remove_dir_all(&out);
}
