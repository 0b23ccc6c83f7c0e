//! Bad files: damaged, foreign and hand-edited checkpoints, IDX files that `tests/idx.rs` does not
//! already cover, and the inputs the fuzz targets (`fuzz/`) found. Every case must be an `Err`
//! that names the file and the problem, never a panic, and must leave the file as it was.
//!
//! CPU only, no MNIST: the checkpoints are written here by short training runs on synthetic
//! images (10-step presentations), the IDX files are built byte by byte.

mod common;

use common::{TempDir, gz, images_header, labels_bytes, write_dataset};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use volley::data::{
    Dataset, FILE_NAMES, Images, Split, images_from_bytes, labels_from_bytes, load_dir,
    read_images, read_labels,
};
use volley::mnist::checkpoint::{self, FORMAT_VERSION};
use volley::mnist::protocol::Protocol;
use volley::mnist::{TrainConfig, train};
use volley::networks::{DiehlCookConfig, diehl_cook};
use volley::{BackendChoice, Error, SimConfig, Simulator};

// ---------------------------------------------------------------------------------------------
// Helpers

/// The error's message, checked to name `file`, with `file` replaced by `<file>` (so that words
/// in the path cannot satisfy the checks on the message).
fn err_naming<T: std::fmt::Debug>(result: Result<T, Error>, file: &Path) -> (Error, String) {
    let e = result.expect_err("expected an error");
    let msg = e.to_string();
    let name = file.display().to_string();
    assert!(msg.contains(&name), "error does not name {name}: {msg}");
    let msg = msg.replace(&name, "<file>");
    (e, msg)
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected {p:?} in: {msg}");
    }
}

/// A checkpoint file's bytes, compared with the file after each attempt to read it.
struct Guarded {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Guarded {
    fn new(dir: &TempDir, name: &str, bytes: &[u8]) -> Guarded {
        Guarded {
            path: dir.write(name, bytes),
            bytes: bytes.to_vec(),
        }
    }

    fn assert_unchanged(&self) {
        let now = fs::read(&self.path).unwrap();
        assert!(
            now == self.bytes,
            "{} changed on disk ({} bytes, was {})",
            self.path.display(),
            now.len(),
            self.bytes.len()
        );
    }

    /// `checkpoint::load` fails: the error (an `Error::Other` naming the file) and its message
    /// with the path replaced by `<file>`; the file must be unchanged.
    fn load_err(&self) -> String {
        let (e, msg) = err_naming(checkpoint::load(&self.path), &self.path);
        assert!(matches!(e, Error::Other(_)), "{e:?}");
        assert!(msg.starts_with("checkpoint <file>: "), "{msg}");
        self.assert_unchanged();
        msg
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/// Presentations of 10 steps, no rest, no retries: a training image costs milliseconds.
fn quick_protocol() -> Protocol {
    Protocol {
        t_present: 0.005,
        t_rest: 0.0,
        min_spikes: 0,
        max_repeats: 1,
        ..Protocol::default()
    }
}

fn quick_config(n_input: usize, n_exc: usize) -> TrainConfig {
    TrainConfig {
        network: DiehlCookConfig {
            n_input,
            n_exc,
            ..Default::default()
        },
        protocol: quick_protocol(),
        seed: 5,
        train_images: 2,
        epochs: 1,
        backend: BackendChoice::Cpu,
        checkpoint_every: 0,
        update_interval: 1,
        check_finite: false,
    }
}

/// A synthetic dataset of `n` images of `side x side` pixels (no file behind it).
fn synthetic(side: usize, n: usize) -> Dataset {
    let pixels = (0..n * side * side)
        .map(|i| ((i * 37) % 256) as u8)
        .collect();
    let split = Split {
        images: Images {
            n,
            rows: side,
            cols: side,
            pixels,
        },
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    };
    Dataset {
        train: split.clone(),
        test: split,
        dir: PathBuf::from("synthetic"),
        verified: false,
    }
}

/// Trains `cfg` on synthetic images, writing its final checkpoint to `path`.
fn train_checkpoint(cfg: &TrainConfig, side: usize, path: &Path) {
    let data = synthetic(side, 2);
    train(cfg, &data, Some(path), false, &mut |_, _, _| true).unwrap();
}

/// The bytes of a real checkpoint: a 100-neuron Diehl & Cook network on 28 x 28 images after two
/// training images (written once, shared by the tests).
fn checkpoint_100() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let tmp = TempDir::new("ckpt100");
        let path = tmp.path().join("checkpoint.bin");
        train_checkpoint(&quick_config(784, 100), 28, &path);
        let bytes = fs::read(&path).unwrap();
        checkpoint::decode(&path, &bytes).expect("a fresh checkpoint loads");
        bytes
    })
}

/// The header length (bytes 12..20) and the end of the JSON header.
fn header_end(bytes: &[u8]) -> usize {
    20 + u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize
}

/// `body` with its correct SHA-256 appended (what a careful hand-editor would do).
fn reseal(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&Sha256::digest(body));
    out
}

/// Checkpoint `full` with its JSON header replaced by `header`, re-sealed.
fn with_header(full: &[u8], header: &serde_json::Value) -> Vec<u8> {
    let hend = header_end(full);
    let header = serde_json::to_vec(header).unwrap();
    let mut body = full[..20].to_vec();
    body[12..20].copy_from_slice(&(header.len() as u64).to_le_bytes());
    body.extend_from_slice(&header);
    body.extend_from_slice(&full[hend..full.len() - 32]);
    reseal(&body)
}

#[test]
fn truncated_checkpoints_are_refused_and_left_as_they_are() {
    let full = checkpoint_100();
    let n = full.len();
    let hend = header_end(full);
    let tmp = TempDir::new("ckpt-trunc");
    let cases = [
        (0, "truncated: 0 bytes, shorter than the 20-byte preamble"),
        (5, "truncated: 5 bytes, shorter than the 20-byte preamble"),
        (12, "truncated: 12 bytes, shorter than the 20-byte preamble"),
        (20, "truncated or corrupt: its header length field says"),
        (
            20 + (hend - 20) / 2,
            "truncated or corrupt: its header length field says",
        ),
        (hend, "truncated or corrupt: its header length field says"),
        (hend + 32, "truncated: "),
        ((hend + n) / 2, "truncated: "),
        (n - 32, "truncated: "),
        (n - 1, "truncated: "),
    ];
    for (len, expected) in cases {
        let ck = Guarded::new(&tmp, &format!("cut-{len}.bin"), &full[..len]);
        let msg = ck.load_err();
        assert_contains(&msg, &[expected]);
        if len >= hend + 32 {
            // The header still parses: the message gives both sizes.
            assert_contains(
                &msg,
                &[&format!("{len} bytes, but its header describes {n}")],
            );
        }
    }

    // A truncated checkpoint stops a resumed run before it starts, and is kept.
    let ck = Guarded::new(&tmp, "resume.bin", &full[..n / 2]);
    let r = train(
        &quick_config(784, 100),
        &synthetic(28, 2),
        Some(&ck.path),
        true,
        &mut |_, _, _| true,
    );
    let (_, msg) = err_naming(r.map(|_| ()), &ck.path);
    assert_contains(&msg, &["truncated"]);
    ck.assert_unchanged();
}

#[test]
fn checkpoint_of_a_delayed_run_that_learned_at_emission_is_refused() {
    // Before STDP at arrival, a delayed input connection kept a ring of future input
    // (`conn0.delay_ring`) where it now keeps the pre side's history: such a run cannot be
    // continued by this model, and the refusal says what can be done with it.
    let tmp = TempDir::new("ckpt-emission");
    let path = tmp.path().join("checkpoint.bin");
    let mut cfg = quick_config(784, 100);
    cfg.network.input_delays = Some((0.0, 0.002));
    train_checkpoint(&cfg, 28, &path);
    let (state, mut snap) = checkpoint::load(&path).unwrap();
    let renamed = snap
        .buffers
        .iter_mut()
        .filter(|(n, _)| n.ends_with(".pre_history"))
        .map(|(n, _)| *n = n.replace(".pre_history", ".delay_ring"))
        .count();
    assert_eq!(renamed, 1);
    checkpoint::save(&path, &state, &snap).unwrap();
    let ck = Guarded::new(&tmp, "checkpoint.bin", &fs::read(&path).unwrap());
    let r = train(
        &cfg,
        &synthetic(28, 2),
        Some(&ck.path),
        true,
        &mut |_, _, _| panic!("the run must not start"),
    );
    let (e, msg) = err_naming(r.map(|_| ()), &ck.path);
    assert!(matches!(e, Error::Resume(_)), "{e:?}");
    assert_contains(&msg, &["when a spike was emitted", "mnist eval", "--out"]);
    ck.assert_unchanged();
}

#[test]
fn checkpoint_with_an_impossible_spike_history_is_refused() {
    // The pre side's spike history of a delayed learning run ends in each column's spike count
    // in the ring and the slot of its latest spike, from which the CPU finds the spikes to
    // deliver. A crafted file (its checksum valid) whose counts or slots the ring cannot have
    // produced made a resumed run index past the ring (a panic); now the resume is refused
    // before anything is written, naming the buffer, the entry and what is allowed.
    let tmp = TempDir::new("ckpt-history");
    let path = tmp.path().join("checkpoint.bin");
    let mut cfg = quick_config(784, 100);
    cfg.network.input_delays = Some((0.0, 0.002));
    train_checkpoint(&cfg, 28, &path);
    let (mut state, snap) = checkpoint::load(&path).unwrap();
    // One image left, so that a resumed run restores the history and steps on from it.
    state.images_done = 1;
    let at = snap
        .buffers
        .iter()
        .position(|(n, _)| n.ends_with(".pre_history"))
        .expect("a delayed learning run keeps a spike history");
    let (name, ring) = snap.buffers[at].clone();
    let cols = 784;
    let slots = (ring.len() / cols - 2) / 3;
    assert_eq!(ring.len(), (3 * slots + 2) * cols);
    let (counts, last) = (3 * slots * cols, (3 * slots + 1) * cols);
    // A column with exactly one spike on the way: its latest slot is the one the CPU reads.
    let c = (0..cols)
        .find(|&c| ring[counts + c] == 1.0)
        .expect("some input column spiked once in the last steps");
    // (ring, index of the column's count, of its latest slot, slots)
    // The ring as the run left it (spikes on the way) resumes.
    let ok = tmp.path().join("as-left.bin");
    checkpoint::save(&ok, &state, &snap).unwrap();
    train(&cfg, &synthetic(28, 2), Some(&ok), true, &mut |_, _, _| {
        true
    })
    .expect("the ring a run left resumes");
    type Edit = fn(&mut [f32], usize, usize, usize);
    let edits: [(&str, Edit, String); 4] = [
        (
            "slot",
            |r, _, l, _| r[l] = 1.0e9,
            format!("latest spike slot of instance 0, column {c}"),
        ),
        (
            "empty-slot",
            |r, _, l, slots| r[l] = ((r[l] as usize + 1) % slots) as f32,
            format!("latest spike slot of instance 0, column {c}"),
        ),
        (
            "count",
            |r, n, _, _| r[n] = 2.0,
            format!("spike count of instance 0, column {c}"),
        ),
        (
            "subnormal",
            |r, _, _, _| r[0] = 1.0e-40,
            "output of instance 0, column 0, slot 0".to_string(),
        ),
    ];
    for (what, edit, expected) in edits {
        let mut bad = snap.clone();
        edit(&mut bad.buffers[at].1, counts + c, last + c, slots);
        let file = tmp.path().join(format!("{what}.bin"));
        checkpoint::save(&file, &state, &bad).unwrap();
        let ck = Guarded::new(&tmp, &format!("{what}.bin"), &fs::read(&file).unwrap());
        let r = train(
            &cfg,
            &synthetic(28, 2),
            Some(&ck.path),
            true,
            &mut |_, _, _| true,
        );
        let e = r
            .map(|_| ())
            .expect_err("an impossible history must be refused");
        let msg = e.to_string();
        assert_contains(&msg, &[name.as_str(), expected.as_str()]);
        ck.assert_unchanged();
    }
}

#[test]
fn checkpoint_of_another_network_size_is_refused() {
    let tmp = TempDir::new("ckpt-size");
    let ck = Guarded::new(&tmp, "checkpoint.bin", checkpoint_100());

    // `mnist train --resume --neurons 400` finding a 100-neuron run's checkpoint.
    let cfg400 = quick_config(784, 400);
    let r = train(
        &cfg400,
        &synthetic(28, 2),
        Some(&ck.path),
        true,
        &mut |_, _, _| panic!("the run must not start"),
    );
    let (e, msg) = err_naming(r.map(|_| ()), &ck.path);
    assert!(matches!(e, Error::Resume(_)), "{e:?}");
    assert_contains(
        &msg,
        &[
            "other settings",
            "--neurons 100 in the checkpoint, 400 here",
            "--out",
        ],
    );
    ck.assert_unchanged();

    // Bypassing the settings check: the snapshot does not fit a 400-neuron simulator either, and
    // the error names the first buffer whose size differs.
    let (state, snap) = checkpoint::load(&ck.path).unwrap();
    assert_eq!(state.n_exc, 100);
    let dc = diehl_cook(&cfg400.network, 5).unwrap();
    let mut sim = Simulator::new(
        &dc.net,
        SimConfig::default()
            .dt(0.0005)
            .backend(BackendChoice::Cpu)
            .learning(true),
    )
    .unwrap();
    let e = sim.restore(&snap).unwrap_err();
    match &e {
        Error::InvalidParameter {
            object,
            value,
            allowed,
            ..
        } => {
            assert_eq!(object, "Simulator::restore");
            assert!(value.ends_with(" values"), "{e}");
            assert!(allowed.contains("same network"), "{e}");
        }
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
    ck.assert_unchanged();
}

#[test]
fn newer_format_version_says_which_versions_this_build_reads() {
    let full = checkpoint_100();
    let tmp = TempDir::new("ckpt-version");
    let next = FORMAT_VERSION + 1;
    for (version, resealed) in [(next, false), (next, true), (u32::MAX, false)] {
        let mut bytes = full.to_vec();
        bytes[8..12].copy_from_slice(&version.to_le_bytes());
        if resealed {
            bytes = reseal(&bytes[..bytes.len() - 32]);
        }
        let ck = Guarded::new(&tmp, &format!("v{version}-{resealed}.bin"), &bytes);
        let msg = ck.load_err();
        assert_contains(
            &msg,
            &[
                &format!("format version {version} is newer than this build of volley"),
                &format!("reads version {FORMAT_VERSION} only"),
            ],
        );
    }
    // Version 0 was never written.
    let mut bytes = full.to_vec();
    bytes[8..12].copy_from_slice(&0u32.to_le_bytes());
    let ck = Guarded::new(&tmp, "v0.bin", &bytes);
    assert_contains(
        &ck.load_err(),
        &["format version 0 is unknown", "reads version 1 only"],
    );
}

#[test]
fn hand_edited_checkpoint_fails_the_checksum() {
    let full = checkpoint_100();
    let n = full.len();
    let hend = header_end(full);
    let fingerprint_at = hend
        - full[..hend]
            .windows(4)
            .rev()
            .position(|w| w == b"seed")
            .expect("the fingerprint names the seed")
        - 4;
    let tmp = TempDir::new("ckpt-edit");
    for (what, at) in [
        ("first weight byte", hend),
        ("a byte mid-buffers", (hend + n) / 2),
        ("last buffer byte", n - 33),
        ("a letter of the JSON header", fingerprint_at),
        ("the SHA-256 itself", n - 1),
    ] {
        let mut bytes = full.to_vec();
        bytes[at] ^= 0x01;
        let ck = Guarded::new(&tmp, &format!("edit-{at}.bin"), &bytes);
        let msg = ck.load_err();
        assert!(
            msg.contains("checksum mismatch (SHA-256): the file is corrupt or was edited"),
            "{what}: {msg}"
        );
    }

    // Other magic: not a checkpoint at all.
    let mut bytes = full.to_vec();
    bytes[0] = b'X';
    let ck = Guarded::new(&tmp, "magic.bin", &bytes);
    assert_contains(&ck.load_err(), &["not a volley checkpoint"]);
    let ck = Guarded::new(&tmp, "text.bin", b"{\"state\": \"a JSON file, say\"}\n");
    assert_contains(&ck.load_err(), &["not a volley checkpoint"]);
}

#[test]
fn resealed_but_inconsistent_checkpoint_is_refused() {
    // Edits that keep the checksum valid (the digest recomputed) but make the training state
    // inconsistent. Before the check (found by the fuzz target `checkpoint`, see RELIABILITY.md)
    // these loaded, and a resumed run then panicked indexing past the end of a vector (the first
    // three) or overwrote the checkpoint of a run claiming more images than it has (the last).
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit, &str); 5] = [
        (
            "assignments",
            |v| {
                let a = v["state"]["assignments"].as_array_mut().unwrap();
                a.extend([
                    serde_json::json!(1),
                    serde_json::json!(2),
                    serde_json::json!(3),
                ]);
            },
            "103 neuron assignments for 100 excitatory neurons",
        ),
        (
            "class",
            |v| v["state"]["assignments"][3] = serde_json::json!(12),
            "neuron 3 is assigned class 12; classes are 0..10",
        ),
        (
            "window",
            |v| v["state"]["window"][1][1] = serde_json::json!([1, 2]),
            "window entry 1 holds 2 spike counts for 100 excitatory neurons",
        ),
        (
            "label",
            |v| v["state"]["window"][0][0] = serde_json::json!(10),
            "window entry 0 has label 10; labels are 0..10",
        ),
        (
            "done",
            |v| v["state"]["images_done"] = serde_json::json!(1_000_000),
            "1000000 images done of 2",
        ),
    ];
    let full = checkpoint_100();
    let json: serde_json::Value = serde_json::from_slice(&full[20..header_end(full)]).unwrap();
    let tmp = TempDir::new("ckpt-reseal");
    for (name, edit, expected) in edits {
        let mut header = json.clone();
        if name != "done" {
            // One image left to train, so that a resumed run would use the edited state.
            header["state"]["images_done"] = serde_json::json!(1);
        }
        edit(&mut header);
        let ck = Guarded::new(&tmp, &format!("{name}.bin"), &with_header(full, &header));
        let msg = ck.load_err();
        assert_contains(&msg, &["inconsistent training state", expected]);
        // A resumed run refuses it too, and leaves it as it is.
        let r = train(
            &quick_config(784, 100),
            &synthetic(28, 2),
            Some(&ck.path),
            true,
            &mut |_, _, _| true,
        );
        let (_, msg) = err_naming(r.map(|_| ()), &ck.path);
        assert_contains(&msg, &["inconsistent training state", expected]);
        ck.assert_unchanged();
    }
}

#[test]
fn a_checkpoint_without_its_threshold_offset_field_is_read_with_its_fingerprints() {
    // Checkpoints written by the library between `DcParams::theta_offset` and
    // `TrainState::exc_theta_offset` lack the field; its default is the code's 20 mV, but the
    // fingerprint records what the run trained with (here 0, the paper's text), and evaluating
    // such a run with 20 would put its thresholds 20 mV too low.
    let mut cfg = quick_config(784, 100);
    cfg.network.exc.theta_offset = 0.0;
    let tmp = TempDir::new("ckpt-offset");
    let path = tmp.path().join("checkpoint.bin");
    train_checkpoint(&cfg, 28, &path);
    let full = fs::read(&path).unwrap();
    let (state, _) = checkpoint::decode(&path, &full).unwrap();
    assert_eq!(state.exc_theta_offset, 0.0);
    assert!(
        state.fingerprint.contains("theta_offset: 0.0"),
        "{}",
        state.fingerprint
    );
    let mut header: serde_json::Value =
        serde_json::from_slice(&full[20..header_end(&full)]).unwrap();
    let removed = header["state"]
        .as_object_mut()
        .unwrap()
        .remove("exc_theta_offset");
    assert_eq!(removed, Some(serde_json::json!(0.0)));
    let (state, _) = checkpoint::decode(&path, &with_header(&full, &header)).unwrap();
    assert_eq!(
        state.exc_theta_offset, 0.0,
        "read from the fingerprint, not defaulted"
    );
    // And a checkpoint of the code's offset stays at 20.
    let (state, _) = checkpoint::decode(&path, checkpoint_100()).unwrap();
    assert_eq!(state.exc_theta_offset, 20.0);
}

// ---------------------------------------------------------------------------------------------
// IDX files (what tests/idx.rs does not cover)

#[test]
fn dimensions_whose_product_wraps_around_are_an_overflow_not_an_empty_file() {
    // 2^31 x 2^31 x 4 = 2^64 wraps to 0 in 64-bit arithmetic: unchecked, this header would
    // describe zero bytes and the 16-byte file would read as 2^31 images of nothing.
    let tmp = TempDir::new("idx-wrap");
    let cases = [
        (1 << 31, 1 << 31, 4, "2147483648 x 2147483648 x 4"),
        (4, 1 << 31, 1 << 31, "4 x 2147483648 x 2147483648"),
        // Overflows at the last multiplication only.
        (u32::MAX, u32::MAX, 2, "4294967295 x 4294967295 x 2"),
    ];
    for (n, rows, cols, dims) in cases {
        let bytes = images_header(2051, n, rows, cols);
        for (name, bytes) in [("wrap", bytes.clone()), ("wrap.gz", gz(&bytes))] {
            let path = tmp.write(name, &bytes);
            let (_, msg) = err_naming(read_images(&path), &path);
            assert_contains(&msg, &["overflow", dims]);
            let (e, msg2) = err_naming(images_from_bytes(&path, &bytes), &path);
            assert!(matches!(e, Error::Build { .. }), "{e:?}");
            assert_eq!(msg, msg2, "the path and the bytes readers are one parser");
        }
    }
}

#[test]
fn more_labels_than_images_in_the_training_split_gzip() {
    let tmp = TempDir::new("idx-count");
    write_dataset(tmp.path(), true);
    let path = tmp.write(
        &format!("{}.gz", FILE_NAMES[1]),
        &gz(&labels_bytes(&[1, 2, 3, 4, 5, 6, 7])),
    );
    let (_, msg) = err_naming(load_dir(tmp.path()), &path);
    assert_contains(&msg, &["7 labels", "holds 6 images", FILE_NAMES[0]]);
    // No labels at all (a valid, empty labels file).
    let path = tmp.write(&format!("{}.gz", FILE_NAMES[1]), &gz(&labels_bytes(&[])));
    let (_, msg) = err_naming(load_dir(tmp.path()), &path);
    assert_contains(&msg, &["0 labels", "holds 6 images"]);
}

#[test]
fn labels_outside_0_to_9_first_last_and_in_the_test_split() {
    let tmp = TempDir::new("idx-labels");
    for (labels, index, value) in [
        (vec![10, 1, 2], 0, 10),
        (vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11], 10, 11),
        (vec![0x80], 0, 128),
    ] {
        let bytes = labels_bytes(&labels);
        let path = tmp.write("labels", &bytes);
        let (_, msg) = err_naming(read_labels(&path), &path);
        assert_contains(
            &msg,
            &[&format!("label {index} "), &format!("is {value}"), "0..=9"],
        );
        let (_, msg2) = err_naming(labels_from_bytes(&path, &bytes), &path);
        assert_eq!(msg, msg2);
    }
    write_dataset(tmp.path(), false);
    let path = tmp.write(FILE_NAMES[3], &labels_bytes(&[0, 1, 99, 3]));
    let (_, msg) = err_naming(load_dir(tmp.path()), &path);
    assert_contains(&msg, &["label 2 ", "is 99"]);
}

#[test]
fn corrupt_gzip_streams_not_covered_by_tests_idx() {
    let tmp = TempDir::new("idx-gzip");
    let mut plain = images_header(2051, 3, 4, 4);
    plain.extend((0..48).map(|i| i as u8));
    let good = gz(&plain);
    let n = good.len();
    // Wrong uncompressed size (ISIZE, the last 4 bytes) with a right CRC.
    let mut isize = good.clone();
    isize[n - 4] ^= 0x01;
    // A valid first member followed by a damaged second one (gzip allows several members).
    let mut second = good.clone();
    let mut damaged = gz(b"more");
    let k = damaged.len() / 2;
    damaged[k] ^= 0xff;
    second.extend_from_slice(&damaged);
    // Only the gzip magic, and only the 10-byte gzip header.
    let cases: [(&str, Vec<u8>); 4] = [
        ("isize.gz", isize),
        ("second-member.gz", second),
        ("magic-only.gz", vec![0x1f, 0x8b]),
        ("header-only.gz", good[..10].to_vec()),
    ];
    for (name, bytes) in cases {
        let path = tmp.write(name, &bytes);
        let (_, msg) = err_naming(read_images(&path), &path);
        // (The damaged second member yields a few bytes before its error: "goes on after".)
        assert!(
            ["corrupt gzip stream", "truncated", "goes on after"]
                .iter()
                .any(|p| msg.contains(p)),
            "{name}: {msg}"
        );
        let (_, msg2) = err_naming(images_from_bytes(&path, &bytes), &path);
        assert_eq!(msg, msg2, "{name}");
    }
    // A labels file with a damaged stream, read on its own and as part of a dataset.
    let mut labels = gz(&labels_bytes(&[1, 2, 3, 4, 5, 6]));
    let k = labels.len() - 8;
    labels[k] ^= 0xff; // the CRC
    write_dataset(tmp.path(), true);
    let path = tmp.write(&format!("{}.gz", FILE_NAMES[1]), &labels);
    let (_, msg) = err_naming(read_labels(&path), &path);
    assert_contains(&msg, &["corrupt gzip stream"]);
    let (_, msg) = err_naming(load_dir(tmp.path()), &path);
    assert_contains(&msg, &["corrupt gzip stream"]);
}

// ---------------------------------------------------------------------------------------------
// Inputs found by the fuzz targets (tests/data/fuzz/), each an `Err`, never a panic

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz")
}

fn fuzz_inputs(prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(fuzz_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn fuzz_found_checkpoints_are_errors() {
    let files = fuzz_inputs("checkpoint-");
    assert!(!files.is_empty(), "no checkpoint-* in {:?}", fuzz_dir());
    for file in files {
        let bytes = fs::read(&file).unwrap();
        // As the fuzz target does: as found, and re-sealed.
        let ck = Guarded {
            path: file.clone(),
            bytes: bytes.clone(),
        };
        ck.load_err();
        let sealed = reseal(&bytes);
        let (_, msg) = err_naming(checkpoint::decode(&file, &sealed), &file);
        assert!(msg.starts_with("checkpoint <file>: "), "{msg}");
        if file
            .to_string_lossy()
            .contains("n_exc-3-with-2-assignments")
        {
            assert_contains(
                &msg,
                &["inconsistent training state: 2 neuron assignments for 3 excitatory neurons"],
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds of the fuzz targets

/// Writes the fuzz targets' seed corpora to `fuzz/seeds/` (run by hand:
/// `cargo test --release --test bad_files -- --ignored write_fuzz_seeds`).
#[test]
#[ignore = "writes fuzz/seeds/; run by hand"]
fn write_fuzz_seeds() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let idx = seeds.join("idx");
    let ckpt = seeds.join("checkpoint");
    fs::create_dir_all(&idx).unwrap();
    fs::create_dir_all(&ckpt).unwrap();
    // Two images of 3 x 2 and their labels, raw and gzip-compressed.
    let mut images = images_header(2051, 2, 3, 2);
    images.extend_from_slice(&[0, 64, 128, 255, 7, 9, 1, 2, 3, 4, 5, 6]);
    let labels = labels_bytes(&[3, 9]);
    for (name, bytes) in [("images.idx", &images), ("labels.idx", &labels)] {
        fs::write(idx.join(name), bytes).unwrap();
        fs::write(idx.join(format!("{name}.gz")), gz(bytes)).unwrap();
    }
    // A real checkpoint of a tiny network: 4 inputs (2 x 2 images), 2 excitatory neurons.
    let path = ckpt.join("tiny.ckpt");
    train_checkpoint(&quick_config(4, 2), 2, &path);
    checkpoint::load(&path).unwrap();
    // The same without its SHA-256, as the fuzz target re-seals each input.
    let bytes = fs::read(&path).unwrap();
    fs::write(ckpt.join("tiny-unsealed.ckpt"), &bytes[..bytes.len() - 32]).unwrap();
}
