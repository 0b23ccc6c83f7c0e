//! The IDX reader and the dataset lookup, on small files built here (never on a real dataset).

mod common;

use common::{
    TempDir, gz, images_bytes, images_header, labels, labels_bytes, pixels, write_dataset,
};
use std::fs;
use std::path::Path;
use std::sync::Mutex;

use volley::Error;
use volley::data::{
    self, DATA_DIR_ENV, FILE_NAMES, MNIST_FILES, Verify, find_data_dir, find_data_dir_from,
    load_dir, load_dir_with, read_images, read_labels,
};

/// The error's message, checked to name `file`, with `file` replaced by `<file>`.
fn err_naming(result: Result<impl std::fmt::Debug, Error>, file: &Path) -> String {
    let msg = result.expect_err("expected an error").to_string();
    let name = file.display().to_string();
    assert!(msg.contains(&name), "error does not name {name}: {msg}");
    // Without the path, so that words in it cannot satisfy the checks on the message.
    msg.replace(&name, "<file>")
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected {p:?} in: {msg}");
    }
}

#[test]
fn small_dataset_round_trips_plain_and_gzip() {
    for compress in [false, true] {
        let tmp = TempDir::new(&format!("roundtrip-{compress}"));
        let (trp, trl, tep, tel) = write_dataset(tmp.path(), compress);
        let d = load_dir(tmp.path()).unwrap();
        assert_eq!(d.dir, tmp.path());
        assert!(!d.verified, "small files are not MNIST's");
        assert_eq!(
            (d.train.images.n, d.train.images.rows, d.train.images.cols),
            (6, 3, 2)
        );
        assert_eq!(d.train.images.pixels, trp);
        assert_eq!(d.train.labels, trl);
        assert_eq!((d.test.images.n, d.test.len()), (4, 4));
        assert_eq!(d.test.images.pixels, tep);
        assert_eq!(d.test.labels, tel);
        // The single-file readers agree.
        let suffix = if compress { ".gz" } else { "" };
        let images = read_images(&tmp.path().join(format!("{}{suffix}", FILE_NAMES[2]))).unwrap();
        assert_eq!(images, d.test.images);
        let l = read_labels(&tmp.path().join(format!("{}{suffix}", FILE_NAMES[3]))).unwrap();
        assert_eq!(l, tel);
        for v in [Verify::Strict, Verify::Off] {
            assert_eq!(load_dir_with(tmp.path(), v).unwrap().train, d.train);
        }
    }
}

#[test]
fn compression_is_detected_from_content_and_plain_wins_over_gz() {
    let tmp = TempDir::new("sniff");
    let p = pixels(2 * 2 * 2, 3);
    // Gzip data under a plain name, plain data under a .gz name.
    let a = tmp.write("a-idx3-ubyte", &gz(&images_bytes(2, 2, 2, &p)));
    let b = tmp.write("b-idx3-ubyte.gz", &images_bytes(2, 2, 2, &p));
    assert_eq!(read_images(&a).unwrap().pixels, p);
    assert_eq!(read_images(&b).unwrap().pixels, p);

    // With both NAME and NAME.gz present, the uncompressed one is read.
    let dir = tmp.sub("both");
    write_dataset(&dir, false);
    fs::write(dir.join(format!("{}.gz", FILE_NAMES[0])), b"garbage").unwrap();
    load_dir(&dir).unwrap();
}

#[test]
fn truncated_header_is_reported() {
    let tmp = TempDir::new("trunc-header");
    let full = images_bytes(1, 1, 1, &[5]);
    for (name, bytes) in [
        ("short3", &full[..3]),
        ("short10", &full[..10]),
        ("short15", &full[..15]),
    ] {
        let path = tmp.write(name, bytes);
        let msg = err_naming(read_images(&path), &path);
        assert_contains(&msg, &["truncated", "16 bytes"]);
        let path = tmp.write(&format!("{name}.gz"), &gz(bytes));
        let msg = err_naming(read_images(&path), &path);
        assert_contains(&msg, &["truncated", "after decompression"]);
    }
    let path = tmp.write("labels", &labels_bytes(&[1])[..7]);
    let msg = err_naming(read_labels(&path), &path);
    assert_contains(&msg, &["truncated", "7 bytes", "8 bytes"]);
}

#[test]
fn truncated_body_is_reported() {
    let tmp = TempDir::new("trunc-body");
    let full = images_bytes(3, 2, 2, &pixels(12, 0));
    let path = tmp.write("images", &full[..16 + 7]);
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["truncated", "3 x 2 x 2 = 12 bytes", "only 7"]);
    let path = tmp.write("images.gz", &gz(&full[..16 + 7]));
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["truncated", "only 7 after decompression"]);

    let path = tmp.write("labels", &labels_bytes(&[1, 2, 3, 4])[..10]);
    let msg = err_naming(read_labels(&path), &path);
    assert_contains(&msg, &["truncated", "4 labels", "only 2"]);
}

#[test]
fn trailing_bytes_are_reported() {
    let tmp = TempDir::new("trailing");
    let mut bytes = images_bytes(1, 2, 2, &[1, 2, 3, 4]);
    bytes.push(0);
    let path = tmp.write("images", &bytes);
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["goes on after"]);
    let path = tmp.write("images.gz", &gz(&bytes));
    err_naming(read_images(&path), &path);
}

#[test]
fn wrong_magic_is_reported() {
    let tmp = TempDir::new("magic");
    // A labels file read as images, and the reverse.
    let path = tmp.write("labels", &labels_bytes(&[1, 2]));
    let msg = err_naming(read_images(&path), &path);
    assert_contains(
        &msg,
        &["not an IDX images file", "2049", "labels file", "2051"],
    );
    let path = tmp.write("images", &images_bytes(1, 1, 1, &[0]));
    let msg = err_naming(read_labels(&path), &path);
    assert_contains(
        &msg,
        &["not an IDX labels file", "2051", "images file", "2049"],
    );
    // Another element type (0x0D: float), and text.
    let path = tmp.write("floats", &images_header(0x0D03, 1, 1, 1));
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["magic number 3331", "00 00 0d 03"]);
    let path = tmp.write("html", b"<!DOCTYPE html><html>Not found</html>");
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["starts with text"]);
    let path = tmp.write("html.gz", &gz(b"<!DOCTYPE html><html>Not found</html>"));
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["starts with text"]);
}

#[test]
fn huge_or_overflowing_dimensions_are_errors_not_allocations() {
    let tmp = TempDir::new("overflow");
    let path = tmp.write(
        "overflow",
        &images_header(2051, u32::MAX, u32::MAX, u32::MAX),
    );
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["overflow", "4294967295 x 4294967295 x 4294967295"]);

    // 2^48 bytes described, a few present: must be "truncated" (an attempt to allocate the
    // described size would abort the test process).
    let mut bytes = images_header(2051, u32::MAX, 65536, 1);
    bytes.extend_from_slice(&[1, 2, 3]);
    let path = tmp.write("huge", &bytes);
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["truncated", "only 3"]);
    let path = tmp.write("huge.gz", &gz(&bytes));
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["truncated", "only 3"]);

    let mut bytes = 2049u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    let path = tmp.write("labels", &bytes);
    let msg = err_naming(read_labels(&path), &path);
    assert_contains(&msg, &["truncated", "4294967295 labels", "only 0"]);

    let path = tmp.write("zero-rows", &images_header(2051, 1, 0, 5));
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["0 x 5 pixels"]);
}

#[test]
fn label_count_must_equal_image_count() {
    let tmp = TempDir::new("count");
    write_dataset(tmp.path(), false);
    let labels_path = tmp.write(FILE_NAMES[3], &labels_bytes(&[1, 2, 3]));
    let msg = err_naming(load_dir(tmp.path()), &labels_path);
    assert_contains(&msg, &["3 labels", "holds 4 images", FILE_NAMES[2]]);
}

#[test]
fn test_images_must_have_the_training_images_size() {
    let tmp = TempDir::new("shape");
    write_dataset(tmp.path(), false);
    let path = tmp.write(FILE_NAMES[2], &images_bytes(4, 2, 3, &pixels(24, 0)));
    let msg = err_naming(load_dir(tmp.path()), &path);
    assert_contains(&msg, &["2 x 3 pixels", "3 x 2"]);
}

#[test]
fn label_out_of_range_names_file_index_and_value() {
    let tmp = TempDir::new("label10");
    let path = tmp.write("labels", &labels_bytes(&[0, 9, 3, 10, 2]));
    let msg = err_naming(read_labels(&path), &path);
    assert_contains(&msg, &["label 3", "is 10", "0..=9"]);

    write_dataset(tmp.path(), true);
    let path = tmp.write(
        &format!("{}.gz", FILE_NAMES[1]),
        &gz(&labels_bytes(&[0, 1, 2, 3, 4, 255])),
    );
    let msg = err_naming(load_dir(tmp.path()), &path);
    assert_contains(&msg, &["label 5", "is 255"]);
}

#[test]
fn corrupt_gzip_is_reported() {
    let tmp = TempDir::new("gzip");
    let good = gz(&images_bytes(20, 4, 4, &pixels(320, 9)));
    let n = good.len();

    // A wrong CRC in the trailer (the data itself decompresses).
    let mut bad_crc = good.clone();
    bad_crc[n - 8] ^= 0xff;
    let path = tmp.write("crc.gz", &bad_crc);
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["corrupt gzip stream"]);

    // Damaged deflate data, a stream cut short, a damaged gzip header, garbage after the stream.
    let mut flipped = good.clone();
    flipped[n / 2] ^= 0x55;
    let mut bad_header = good.clone();
    bad_header[2] = 0x07; // compression method other than deflate
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk junk junk");
    for (name, bytes) in [
        ("flipped.gz", flipped),
        ("cut.gz", good[..n / 2].to_vec()),
        ("cut-trailer.gz", good[..n - 3].to_vec()),
        ("bad-header.gz", bad_header),
        ("trailing.gz", trailing),
    ] {
        let path = tmp.write(name, &bytes);
        let msg = err_naming(read_images(&path), &path);
        assert!(
            msg.contains("corrupt gzip stream") || msg.contains("truncated"),
            "{name}: {msg}"
        );
    }
    // A stream cut inside its trailer holds all the data: only gzip can tell that it is damaged.
    let path = tmp.path().join("cut-trailer.gz");
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["corrupt gzip stream"]);
}

#[test]
fn empty_and_missing_files_are_reported() {
    let tmp = TempDir::new("empty");
    let path = tmp.write("empty", b"");
    let msg = err_naming(read_images(&path), &path);
    assert_contains(&msg, &["empty file", "images"]);
    let msg = err_naming(read_labels(&path), &path);
    assert_contains(&msg, &["empty file", "labels"]);

    let missing = tmp.path().join("nope");
    let e = read_images(&missing).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    err_naming(Err::<(), _>(e), &missing);

    write_dataset(tmp.path(), false);
    let path = tmp.write(FILE_NAMES[0], b"");
    err_naming(load_dir(tmp.path()), &path);
    fs::remove_file(&path).unwrap();
    let msg = err_naming(load_dir(tmp.path()), tmp.path());
    assert_contains(&msg, &[&format!("no {}", FILE_NAMES[0]), FILE_NAMES[3]]);
}

#[test]
fn mnist_named_file_of_mnist_size_must_have_mnist_checksum() {
    let tmp = TempDir::new("checksum");
    let known = &MNIST_FILES[3]; // t10k-labels-idx1-ubyte: 10,000 labels
    assert_eq!(known.name, "t10k-labels-idx1-ubyte");
    let fake = labels_bytes(&labels(10_000, 0));
    assert_eq!(fake.len() as u64, known.size);
    for name in [known.name.to_string(), format!("{}.gz", known.name)] {
        let bytes = if name.ends_with(".gz") {
            gz(&fake)
        } else {
            fake.clone()
        };
        let path = tmp.write(&name, &bytes);
        let msg = err_naming(read_labels(&path), &path);
        assert_contains(
            &msg,
            &["corrupt", "SHA-256", known.sha256, "fetch-mnist.sh"],
        );
        fs::remove_file(&path).unwrap();
    }
    // Another name, or another size: not MNIST's file, so no checksum.
    let path = tmp.write("other-labels", &fake);
    assert_eq!(read_labels(&path).unwrap().len(), 10_000);
    let path = tmp.write(known.name, &labels_bytes(&labels(9_999, 0)));
    assert_eq!(read_labels(&path).unwrap().len(), 9_999);
}

#[test]
fn directory_with_mnist_layout_but_no_mnist_file_is_another_dataset() {
    // Fashion-MNIST and KMNIST have MNIST's names and sizes: a directory where no file matches
    // MNIST's checksum loads, unverified (strict checking rejects it).
    let tmp = TempDir::new("fashion");
    let (n_train, n_test) = (60_000u32, 10_000u32);
    let train = pixels(n_train as usize * 784, 4);
    let test = pixels(n_test as usize * 784, 5);
    let files = [
        images_bytes(n_train, 28, 28, &train),
        labels_bytes(&labels(n_train as usize, 2)),
        images_bytes(n_test, 28, 28, &test),
        labels_bytes(&labels(n_test as usize, 3)),
    ];
    for ((name, bytes), known) in FILE_NAMES.iter().zip(&files).zip(&MNIST_FILES) {
        assert_eq!((*name, bytes.len() as u64), (known.name, known.size));
        tmp.write(name, bytes);
    }
    let d = load_dir(tmp.path()).unwrap();
    assert!(!d.verified);
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!(d.train.images.pixels, train);
    let msg = err_naming(
        load_dir_with(tmp.path(), Verify::Strict),
        &tmp.path().join(FILE_NAMES[0]),
    );
    assert_contains(&msg, &["corrupt", MNIST_FILES[0].sha256]);
    assert!(!load_dir_with(tmp.path(), Verify::Off).unwrap().verified);
}

#[test]
fn split_take_filter_and_views() {
    let tmp = TempDir::new("split");
    let (trp, trl, _, _) = write_dataset(tmp.path(), false);
    let train = load_dir(tmp.path()).unwrap().train;
    assert_eq!(trl, [1, 2, 3, 4, 5, 6]);
    assert_eq!(train.image(2), &trp[12..18]);
    assert_eq!(train.label(2), 3);
    assert_eq!(train.images.image(5), &trp[30..36]);
    assert_eq!(train.images.pixels_per_image(), 6);

    let first = train.take(2);
    assert_eq!((first.len(), first.images.n), (2, 2));
    assert_eq!(first.images.pixels, &trp[..12]);
    assert_eq!(first.labels, [1, 2]);
    assert_eq!(train.take(100), train);
    assert!(train.take(0).is_empty());

    let odd = train.filter_labels(&[5, 1, 3]);
    assert_eq!(odd.labels, [1, 3, 5]);
    assert_eq!(odd.images.n, 3);
    let expected: Vec<u8> = [0, 2, 4]
        .iter()
        .flat_map(|&i| trp[i * 6..(i + 1) * 6].to_vec())
        .collect();
    assert_eq!(odd.images.pixels, expected);
    assert!(train.filter_labels(&[0]).is_empty());

    let pairs: Vec<(&[u8], u8)> = odd.iter().collect();
    assert_eq!(pairs[1], (&trp[12..18], 3));
    let view = train.images.view();
    assert_eq!(view.dim(), (6, 3, 2));
    assert_eq!(view[[2, 1, 0]], trp[2 * 6 + 2]);
}

#[test]
fn find_data_dir_precedence_and_errors_without_the_environment() {
    let tmp = TempDir::new("find");
    let [flag, env, cache] = ["flag", "env", "cache"].map(|d| {
        let dir = tmp.sub(d);
        write_dataset(&dir, d == "env");
        dir
    });
    let (f, e, c) = (
        Some(flag.as_path()),
        Some(env.as_path()),
        Some(cache.as_path()),
    );
    assert_eq!(find_data_dir_from(f, e, c).unwrap(), flag);
    assert_eq!(find_data_dir_from(None, e, c).unwrap(), env);
    assert_eq!(find_data_dir_from(None, None, c).unwrap(), cache);

    // A given --data or VOLLEY_DATA_DIR that lacks the files is an error, not a reason to go on.
    let incomplete = tmp.sub("incomplete");
    fs::write(incomplete.join(FILE_NAMES[0]), b"x").unwrap();
    let msg = find_data_dir_from(Some(&incomplete), e, c)
        .unwrap_err()
        .to_string();
    assert_contains(
        &msg,
        &[
            "--data",
            &incomplete.display().to_string(),
            "lacks train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
            &format!("bash scripts/fetch-mnist.sh {}", incomplete.display()),
        ],
    );
    let nowhere = tmp.path().join("does not exist");
    let msg = find_data_dir_from(None, Some(&nowhere), c)
        .unwrap_err()
        .to_string();
    assert_contains(
        &msg,
        &[
            DATA_DIR_ENV,
            "does not exist",
            &format!("bash scripts/fetch-mnist.sh '{}'", nowhere.display()),
        ],
    );

    // Nothing given and an empty cache: the error says where it looked and what to run.
    let empty_cache = tmp.path().join("empty-cache");
    let msg = find_data_dir_from(None, None, Some(&empty_cache))
        .unwrap_err()
        .to_string();
    assert_contains(
        &msg,
        &[
            "--data DIR: not given",
            "$VOLLEY_DATA_DIR: not set",
            &format!("{}: does not exist", empty_cache.display()),
            "\n    bash scripts/fetch-mnist.sh\n",
            "train-images-idx3-ubyte",
        ],
    );
    let msg = find_data_dir_from(None, None, None)
        .unwrap_err()
        .to_string();
    assert_contains(
        &msg,
        &["neither XDG_CACHE_HOME nor HOME", "fetch-mnist.sh DIR"],
    );
}

/// Serialises the tests that change the process environment.
static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Sets (or removes) environment variables; restores them on drop.
struct EnvGuard(Vec<(&'static str, Option<std::ffi::OsString>)>);

impl EnvGuard {
    fn set(&mut self, name: &'static str, value: Option<&Path>) {
        if !self.0.iter().any(|(n, _)| *n == name) {
            self.0.push((name, std::env::var_os(name)));
        }
        // SAFETY: the only test that changes the environment holds ENV_LOCK, and no other test in
        // this binary reads the environment except through std (which locks it).
        unsafe {
            match value {
                Some(v) => std::env::set_var(name, v),
                None => std::env::remove_var(name),
            }
        }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (name, old) in self.0.drain(..) {
            // SAFETY: as in `set`.
            unsafe {
                match old {
                    Some(v) => std::env::set_var(name, v),
                    None => std::env::remove_var(name),
                }
            }
        }
    }
}

#[test]
fn find_data_dir_reads_flag_then_env_then_cache() {
    let _lock = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut env = EnvGuard(Vec::new());
    let tmp = TempDir::new("find-env");
    let flag = tmp.sub("flag");
    write_dataset(&flag, false);
    let by_env = tmp.sub("by-env");
    write_dataset(&by_env, true);
    let xdg = tmp.sub("xdg");
    let xdg_data = xdg.join("volley").join("mnist");
    fs::create_dir_all(&xdg_data).unwrap();
    write_dataset(&xdg_data, false);
    let home = tmp.sub("home");
    let home_data = home.join(".cache").join("volley").join("mnist");

    env.set(DATA_DIR_ENV, Some(&by_env));
    env.set("XDG_CACHE_HOME", Some(&xdg));
    env.set("HOME", Some(&home));
    assert_eq!(find_data_dir(Some(&flag)).unwrap(), flag);
    assert_eq!(find_data_dir(None).unwrap(), by_env);
    env.set(DATA_DIR_ENV, Some(Path::new(""))); // empty counts as unset
    assert_eq!(data::cache_dir().unwrap(), xdg_data);
    assert_eq!(find_data_dir(None).unwrap(), xdg_data);
    env.set(DATA_DIR_ENV, None);
    assert_eq!(find_data_dir(None).unwrap(), xdg_data);

    // A relative XDG_CACHE_HOME is ignored (XDG spec): HOME's .cache is used.
    env.set("XDG_CACHE_HOME", Some(Path::new("relative/cache")));
    assert_eq!(data::cache_dir().unwrap(), home_data);
    let msg = find_data_dir(None).unwrap_err().to_string();
    assert_contains(
        &msg,
        &[
            &format!("{}: does not exist", home_data.display()),
            "bash scripts/fetch-mnist.sh",
        ],
    );
    env.set("XDG_CACHE_HOME", None);
    fs::create_dir_all(&home_data).unwrap();
    write_dataset(&home_data, true);
    assert_eq!(find_data_dir(None).unwrap(), home_data);

    env.set("HOME", None);
    assert_eq!(data::cache_dir(), None);
    let msg = find_data_dir(None).unwrap_err().to_string();
    assert_contains(&msg, &["neither XDG_CACHE_HOME nor HOME"]);
}
