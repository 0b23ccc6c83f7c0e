//! Checkpoints of a training run: every state buffer of the simulator (weights, theta, traces,
//! voltages...), the step counter (the position of the counter-based random generator) and the
//! training progress, in one file written atomically.
//!
//! Layout: `VOLLEYCK` magic (8 bytes), format version (u32 LE), header length (u64 LE), a JSON
//! header, every buffer's f32 values (LE) in header order, and the SHA-256 of everything before
//! it (32 bytes). A truncated, edited or foreign file is refused with a message saying why.

use super::TrainState;
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

/// Parses and verifies a checkpoint's bytes.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<(TrainState, Snapshot)> {
    if bytes.len() < 8 + 4 + 8 + 32 {
        return Err(bad(path, format!("truncated ({} bytes)", bytes.len())));
    }
    if &bytes[..8] != MAGIC {
        return Err(bad(path, "not a volley checkpoint (wrong magic bytes)"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(bad(
            path,
            format!(
                "format version {version}; this build of volley reads version {FORMAT_VERSION} only"
            ),
        ));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err(bad(
            path,
            "checksum mismatch: the file is truncated, corrupt or was edited",
        ));
    }
    let hlen = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let hend = 20usize
        .checked_add(usize::try_from(hlen).map_err(|_| bad(path, "header length overflows"))?)
        .filter(|&e| e <= body.len())
        .ok_or_else(|| bad(path, "header length beyond the end of the file"))?;
    let header: Header = serde_json::from_slice(&bytes[20..hend])
        .map_err(|e| bad(path, format!("header is not valid: {e}")))?;
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
    Ok((
        header.state,
        Snapshot {
            n_steps: header.n_steps,
            buffers,
        },
    ))
}

/// Writes a checkpoint atomically.
pub fn save(path: &Path, state: &TrainState, snap: &Snapshot) -> Result<()> {
    crate::fsutil::write_atomic(path, &encode(state, snap)?)
}

/// Reads and verifies a checkpoint.
pub fn load(path: &Path) -> Result<(TrainState, Snapshot)> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    decode(path, &bytes)
}
