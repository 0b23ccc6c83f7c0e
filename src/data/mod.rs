//! Datasets: IDX files (MNIST, Fashion-MNIST, KMNIST...).
//!
//! A dataset directory holds the four standard files `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each
//! gzip-compressed (`NAME.gz`) or not. [`find_data_dir`] finds it (`--data DIR`, then
//! `$VOLLEY_DATA_DIR`, then `~/.cache/volley/mnist`; `bash scripts/fetch-mnist.sh` fetches MNIST
//! there) and [`load_dir`] reads it, checking everything the format promises: magic numbers,
//! dimensions against lengths (with checked arithmetic, never allocating more than the file
//! holds), gzip integrity, one label per image, labels in `0..=9`, and the SHA-256 of MNIST's
//! files. Every problem is a [`crate::Error`] that names the file and says what is wrong.
//! [`images_from_bytes`] and [`labels_from_bytes`] read files already in memory with the same
//! parser (the fuzz target `fuzz/fuzz_targets/idx.rs` feeds them arbitrary bytes).
//!
//! ```no_run
//! use volley::data;
//! let data = data::load_dir(&data::find_data_dir(None)?)?;
//! let zeros_and_ones = data.train.filter_labels(&[0, 1]).take(1000);
//! let (pixels, label) = zeros_and_ones.iter().next().unwrap();
//! assert_eq!((pixels.len(), label), (28 * 28, zeros_and_ones.labels[0]));
//! # Ok::<(), volley::Error>(())
//! ```

mod dataset;
mod idx;
mod locate;

pub use dataset::{
    Dataset, KnownFile, MNIST_FILES, Verify, images_from_bytes, labels_from_bytes, load_dir,
    load_dir_with, read_images, read_labels,
};
pub use idx::{IMAGES_MAGIC, Images, LABELS_MAGIC, MAX_LABEL, Split};
pub use locate::{DATA_DIR_ENV, FILE_NAMES, cache_dir, find_data_dir, find_data_dir_from};
