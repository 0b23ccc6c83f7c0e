//! Arbitrary bytes to the checkpoint reader (`volley::mnist::checkpoint::decode`, the parser
//! behind `checkpoint::load`, which `mnist train --resume` and `mnist eval` use).
//!
//! Each input is decoded twice: as given (which the SHA-256 at the end of a checkpoint refuses
//! unless the fuzzer forges a digest), and re-sealed, with the SHA-256 of the input appended, so
//! that the fuzzer reaches the JSON header and the buffers behind the checksum (a hand-edited
//! file whose author recomputed the digest).
//!
//! Properties: no panic, no abort, no allocation beyond what the input holds; every error names
//! the file; a decoded checkpoint is consistent enough for training to resume from it (what
//! `volley::mnist::train` indexes with: one assignment and, per window entry, one count per
//! excitatory neuron, classes and labels below 10, no more images done than in all) and encodes
//! back to a checkpoint that decodes to the same values.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use volley::mnist::N_CLASSES;
use volley::mnist::checkpoint::{decode, encode};

const NAME: &str = "fuzz-input.ckpt";

fn check(bytes: &[u8]) {
    let path = Path::new(NAME);
    let (state, snap) = match decode(path, bytes) {
        Ok(decoded) => decoded,
        Err(e) => {
            assert!(
                e.to_string().contains(NAME),
                "error without the file name: {e}"
            );
            return;
        }
    };
    assert_eq!(state.assignments.len(), state.n_exc, "assignments");
    assert!(
        state
            .assignments
            .iter()
            .flatten()
            .all(|&c| (c as usize) < N_CLASSES),
        "assigned classes: {:?}",
        state.assignments
    );
    for (label, counts) in &state.window {
        assert!((*label as usize) < N_CLASSES, "window label {label}");
        assert_eq!(counts.len(), state.n_exc, "window counts");
    }
    assert!(state.images_done <= state.total_images, "images done");

    let again = encode(&state, &snap).expect("a decoded checkpoint encodes");
    let (state2, snap2) = decode(path, &again).expect("an encoded checkpoint decodes");
    assert_eq!(snap2.n_steps, snap.n_steps);
    assert_eq!(snap2.buffers.len(), snap.buffers.len());
    for ((n1, v1), (n2, v2)) in snap.buffers.iter().zip(&snap2.buffers) {
        assert_eq!(n1, n2);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(v1), bits(v2), "buffer {n1}");
    }
    assert_eq!(
        (
            &state2.fingerprint,
            state2.n_exc,
            state2.total_images,
            state2.images_done
        ),
        (
            &state.fingerprint,
            state.n_exc,
            state.total_images,
            state.images_done
        )
    );
    assert_eq!(
        (&state2.window, &state2.assignments, &state2.recent_correct),
        (&state.window, &state.assignments, &state.recent_correct)
    );
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&Sha256::digest(data));
    check(&sealed);
});
