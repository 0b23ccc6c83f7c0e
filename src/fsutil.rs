//! Files are written atomically: into a temporary file in the same directory, flushed to disk,
//! then renamed over the target, so a crash or kill never leaves a half-written file.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (temp file + fsync + rename + directory fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::Other(format!("{}: not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    // Errors name the file being written, and the temporary file they happened in.
    let via = |e: std::io::Error| Error::Io {
        path: format!(
            "{} (writing its temporary file {})",
            path.display(),
            tmp.display()
        ),
        source: e,
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(via)?;
        f.write_all(bytes).map_err(via)?;
        f.sync_all().map_err(via)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Checks that `dir` exists (creating it) and is writable, before any long run starts.
pub fn ensure_writable_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let probe = dir.join(format!(".volley-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| io_err(dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| io_err(&probe, e))
}

/// An advisory lock on a directory (`DIR/.volley.lock`), held until dropped, so that two
/// processes never write one run's outputs at once. Released by the operating system when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

/// Takes the lock on `dir` (which must exist), or says which process-wide lock is held.
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    let path = dir.join(".volley.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Other(format!(
            "{}: another volley process is writing there (it holds {}); wait for it to \
             finish, or choose another directory",
            dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_is_refused_until_the_lock_is_dropped() {
        let dir = std::env::temp_dir().join(format!("volley-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = lock_dir(&dir).unwrap();
        let err = lock_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("another volley process"), "{err}");
        drop(first);
        lock_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_errors_name_the_target() {
        let dir = std::env::temp_dir().join(format!("volley-fsutil-test-{}", std::process::id()));
        let blocker = dir.join("blocker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&blocker, b"").unwrap();
        // The parent is a file: nothing can be created in it.
        let err = write_atomic(&blocker.join("out.json"), b"{}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("blocker"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
