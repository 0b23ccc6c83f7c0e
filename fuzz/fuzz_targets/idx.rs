//! Arbitrary bytes to the IDX reader (`volley::data::images_from_bytes` and `labels_from_bytes`,
//! the parser behind `read_images`, `read_labels` and `load_dir`), raw and through gzip.
//!
//! Properties: no panic, no abort, no allocation beyond what the input holds (run with
//! `-malloc_limit_mb`); every error names the file; a returned value keeps the format's
//! invariants (`pixels.len() == n * rows * cols`, labels in `0..=9`).

#![no_main]

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use volley::data::{MAX_LABEL, images_from_bytes, labels_from_bytes};

const NAME: &str = "fuzz-input.idx";

fn check(bytes: &[u8]) {
    let name = Path::new(NAME);
    match images_from_bytes(name, bytes) {
        Ok(images) => {
            assert!(images.rows > 0 && images.cols > 0, "{images:?}");
            let described = images
                .n
                .checked_mul(images.rows)
                .and_then(|x| x.checked_mul(images.cols));
            assert_eq!(described, Some(images.pixels.len()), "{images:?}");
            if !images.is_empty() {
                let last = images.image(images.n - 1);
                assert_eq!(last.len(), images.pixels_per_image());
            }
        }
        Err(e) => assert!(
            e.to_string().contains(NAME),
            "error without the file name: {e}"
        ),
    }
    match labels_from_bytes(name, bytes) {
        Ok(labels) => assert!(labels.iter().all(|&l| l <= MAX_LABEL), "{labels:?}"),
        Err(e) => assert!(
            e.to_string().contains(NAME),
            "error without the file name: {e}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    // As given: the raw path, or the gzip path when the bytes start with 1f 8b (the seeds hold
    // both; the fuzzer mutates the compressed stream itself).
    check(data);
    // The same bytes compressed, so that every IDX input the fuzzer finds is also read through
    // the gzip path (flate2's decoder feeding the parser).
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(data).expect("in memory");
    check(&gz.finish().expect("in memory"));
});
