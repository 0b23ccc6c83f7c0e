//! Checkpoints of a training run: every state buffer of the simulator (weights, theta, traces,
//! voltages...), the step counter (the position of the counter-based random generator) and the
//! training progress, in one file written atomically.
//!
//! Layout: `VOLLEYCK` magic (8 bytes), format version (u32 LE), header length (u64 LE), a JSON
//! header, every buffer's f32 values (LE) in header order, and the SHA-256 of everything before
//! it (32 bytes). A truncated, edited or foreign file is refused with a message saying why.

use super::{N_CLASSES, TrainState};
use crate::error::{Error, Result};
use crate::sim::Snapshot;
use sha2::{Digest, Sha256};
use std::path::Path;

const MAGIC: &[u8; 8] = b"VOLLEYCK";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    state: TrainState,
    n_steps: u64,
    buffers: Vec<(String, usize)>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Other(format!("checkpoint {}: {what}", path.display()))
}

/// Serialises a checkpoint.
pub fn encode(state: &TrainState, snap: &Snapshot) -> Result<Vec<u8>> {
    let header = Header {
        state: state.clone(),
        n_steps: snap.n_steps,
        buffers: snap
            .buffers
            .iter()
            .map(|(n, v)| (n.clone(), v.len()))
            .collect(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| Error::Other(e.to_string()))?;
    let payload: usize = snap.buffers.iter().map(|(_, v)| v.len() * 4).sum();
    let mut out = Vec::with_capacity(8 + 4 + 8 + json.len() + payload + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, v) in &snap.buffers {
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Bytes before the JSON header: magic (8), format version (4), header length (8).
const PREAMBLE: usize = 8 + 4 + 8;
/// Bytes of the SHA-256 at the end.
const DIGEST: usize = 32;

/// The size in bytes of a file holding `header` (`hlen` bytes of JSON), if it fits in a `usize`.
fn described_len(hlen: usize, header: &Header) -> Option<usize> {
    header
        .buffers
        .iter()
        .try_fold(PREAMBLE + DIGEST, |acc, (_, len)| {
            len.checked_mul(4)?.checked_add(acc)
        })?
        .checked_add(hlen)
}

/// Parses and verifies a checkpoint's bytes; `path` names the file in error messages. The
/// bytes-based half of [`load`] (which reads the file and calls this).
///
/// Every malformed input is an error saying what is wrong (truncated, not a checkpoint, a newer
/// format version, checksum mismatch, an inconsistent header...), never a panic, and nothing is
/// allocated beyond what the bytes hold. A returned state is consistent: one assignment and, in
/// every window entry, one spike count per excitatory neuron, classes and labels below
/// [`super::N_CLASSES`], and no more images done than in all.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<(TrainState, Snapshot)> {
    let n = bytes.len();
    if n < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) {
            bad(
                path,
                format!("truncated: {n} bytes, shorter than the {PREAMBLE}-byte preamble"),
            )
        } else {
            bad(path, "not a volley checkpoint (wrong magic bytes)")
        });
    }
    if &bytes[..8] != MAGIC {
        return Err(bad(path, "not a volley checkpoint (wrong magic bytes)"));
    }
    if n < PREAMBLE {
        return Err(bad(
            path,
            format!("truncated: {n} bytes, shorter than the {PREAMBLE}-byte preamble"),
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(bad(
            path,
            format!(
                "format version {version} is newer than this build of volley, which reads \
                 version {FORMAT_VERSION} only; use a newer volley (or start the run afresh)"
            ),
        ));
    }
    if version != FORMAT_VERSION {
        return Err(bad(
            path,
            format!(
                "format version {version} is unknown; this build of volley reads version \
                 {FORMAT_VERSION} only"
            ),
        ));
    }
    let hlen = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let hend = usize::try_from(hlen)
        .ok()
        .and_then(|h| h.checked_add(PREAMBLE))
        .filter(|&e| e.checked_add(DIGEST).is_some_and(|total| total <= n))
        .ok_or_else(|| {
            bad(
                path,
                format!(
                    "truncated or corrupt: its header length field says {hlen} bytes, but the \
                     file holds only {n} bytes in all"
                ),
            )
        })?;
    let (body, digest) = bytes.split_at(n - DIGEST);
    let header = serde_json::from_slice::<Header>(&bytes[PREAMBLE..hend]);
    if Sha256::digest(body).as_slice() != digest {
        // A header that still parses tells how long the file should be.
        if let Ok(header) = &header
            && let Some(expected) = described_len(hend - PREAMBLE, header)
            && expected != n
        {
            return Err(bad(
                path,
                if expected > n {
                    format!("truncated: {n} bytes, but its header describes {expected}")
                } else {
                    format!(
                        "{} bytes more than the {expected} its header describes: it is corrupt",
                        n - expected
                    )
                },
            ));
        }
        return Err(bad(
            path,
            "checksum mismatch (SHA-256): the file is corrupt or was edited",
        ));
    }
    let mut header = header.map_err(|e| bad(path, format!("header is not valid: {e}")))?;
    let mut at = hend;
    let mut buffers = Vec::with_capacity(header.buffers.len());
    for (name, len) in header.buffers {
        let end = len
            .checked_mul(4)
            .and_then(|n| n.checked_add(at))
            .filter(|&e| e <= body.len())
            .ok_or_else(|| bad(path, format!("buffer {name} runs past the end of the file")))?;
        let v: Vec<f32> = body[at..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        buffers.push((name, v));
        at = end;
    }
    if at != body.len() {
        return Err(bad(path, "unexpected bytes after the last buffer"));
    }
    if let Some(offset) = fingerprint_exc_theta_offset(&header.state.fingerprint) {
        // The fingerprint records the network the run trained with. Checkpoints written by
        // the library between `DcParams::theta_offset` and this field lack the field, whose
        // default (the code's 20 mV) would then evaluate such a run with the wrong threshold.
        header.state.exc_theta_offset = offset;
    }
    check_state(&header.state).map_err(|why| {
        bad(
            path,
            format!("inconsistent training state: {why}; the file was edited or is corrupt"),
        )
    })?;
    Ok((
        header.state,
        Snapshot {
            n_steps: header.n_steps,
            buffers,
        },
    ))
}

/// The excitatory `theta_offset` that a checkpoint's fingerprint (the `Debug` of its
/// configuration) records, if it records one.
fn fingerprint_exc_theta_offset(fingerprint: &str) -> Option<f64> {
    let exc = fingerprint.split_once("exc: DcParams {")?.1;
    let exc = &exc[..exc.find('}')?];
    let v = exc.split_once("theta_offset: ")?.1;
    v[..v.find(',').unwrap_or(v.len())].trim().parse().ok()
}

/// What training indexes with after a resume (found by the fuzz target `checkpoint`: a re-sealed
/// header with 3 excitatory neurons and 2 assignments decoded without complaint). The checksum
/// only proves that the bytes are those written; a file re-sealed after an edit gets here.
fn check_state(s: &TrainState) -> std::result::Result<(), String> {
    let n = s.n_exc;
    if n == 0 {
        return Err("0 excitatory neurons".to_string());
    }
    if s.assignments.len() != n {
        return Err(format!(
            "{} neuron assignments for {n} excitatory neurons",
            s.assignments.len()
        ));
    }
    if let Some((i, c)) = s
        .assignments
        .iter()
        .enumerate()
        .find_map(|(i, c)| c.filter(|&c| c as usize >= N_CLASSES).map(|c| (i, c)))
    {
        return Err(format!(
            "neuron {i} is assigned class {c}; classes are 0..{N_CLASSES}"
        ));
    }
    for (i, (label, counts)) in s.window.iter().enumerate() {
        if *label as usize >= N_CLASSES {
            return Err(format!(
                "window entry {i} has label {label}; labels are 0..{N_CLASSES}"
            ));
        }
        if counts.len() != n {
            return Err(format!(
                "window entry {i} holds {} spike counts for {n} excitatory neurons",
                counts.len()
            ));
        }
    }
    if s.images_done > s.total_images {
        return Err(format!(
            "{} images done of {}",
            s.images_done, s.total_images
        ));
    }
    if !(s.exc_min_interval.is_finite() && s.exc_min_interval >= 0.0) {
        return Err(format!(
            "excitatory min_interval {} s (a finite number >= 0)",
            s.exc_min_interval
        ));
    }
    if !s.exc_theta_offset.is_finite() {
        return Err(format!(
            "excitatory theta_offset {} mV (a finite number)",
            s.exc_theta_offset
        ));
    }
    if let Some((intensity, repeats)) = s.pending
        && !(intensity.is_finite() && intensity > 0.0 && repeats >= 1)
    {
        return Err(format!(
            "pending repeat at intensity {intensity} after {repeats} presentations (a finite \
             intensity > 0 after at least 1)"
        ));
    }
    Ok(())
}

/// Writes a checkpoint atomically.
pub fn save(path: &Path, state: &TrainState, snap: &Snapshot) -> Result<()> {
    crate::fsutil::write_atomic(path, &encode(state, snap)?)
}

/// Reads and verifies a checkpoint (the file is only read, never changed); see [`decode`].
pub fn load(path: &Path) -> Result<(TrainState, Snapshot)> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    decode(path, &bytes)
}
