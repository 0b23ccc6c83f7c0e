//! The IDX file format (unsigned-byte variant), as used by MNIST and the datasets that share its
//! layout: a big-endian header (magic `00 00 08 nd`, then `nd` u32 dimensions) followed by the
//! bytes, row-major. Files may be gzip-compressed; compression is detected from the content (the
//! gzip magic `1f 8b`), so a file that a browser decompressed but left named `.gz` still loads.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use ndarray::ArrayView3;

use crate::error::{Error, Result};

/// Magic number of an IDX images file: unsigned bytes, 3 dimensions (`00 00 08 03`).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX labels file: unsigned bytes, 1 dimension (`00 00 08 01`).
pub const LABELS_MAGIC: u32 = 2049;
/// The largest label accepted (labels are classes 0..=9).
pub const MAX_LABEL: u8 = 9;

/// First guess of the gzip expansion ratio, for the initial allocation only (MNIST's is about 5);
/// the buffer grows past it as real data arrives, so a header that lies costs nothing.
const GZIP_RATIO_GUESS: u64 = 8;

/// A set of images, row-major: image `i` is `pixels[i * rows * cols..(i + 1) * rows * cols]`.
///
/// Invariant (kept by the readers and by [`Split`]'s methods): `pixels.len() == n * rows * cols`.
#[derive(Clone, PartialEq, Eq)]
pub struct Images {
    /// Number of images.
    pub n: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// `n * rows * cols` bytes, image after image, each row-major.
    pub pixels: Vec<u8>,
}

impl fmt::Debug for Images {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Images({} x {} x {})", self.n, self.rows, self.cols)
    }
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Pixels in one image (`rows * cols`).
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`, row-major. Panics if `i >= n`.
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(i < self.n, "image index {i} out of range (0..{})", self.n);
        let p = self.pixels_per_image();
        &self.pixels[i * p..(i + 1) * p]
    }

    /// The images as an array of shape `(n, rows, cols)`, without copying.
    pub fn view(&self) -> ArrayView3<'_, u8> {
        ArrayView3::from_shape((self.n, self.rows, self.cols), &self.pixels)
            .expect("Images invariant: pixels.len() == n * rows * cols")
    }
}

/// Images and their labels (one label per image).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The images.
    pub images: Images,
    /// `labels[i]` is the class of image `i`.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of example `i`. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        self.images.image(i)
    }

    /// The label of example `i`. Panics if `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// `(pixels, label)` of each example, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], u8)> + '_ {
        (0..self.len()).map(|i| (self.image(i), self.labels[i]))
    }

    /// The first `min(n, len())` examples.
    pub fn take(&self, n: usize) -> Split {
        let n = n.min(self.len());
        let p = self.images.pixels_per_image();
        Split {
            images: Images {
                n,
                rows: self.images.rows,
                cols: self.images.cols,
                pixels: self.images.pixels[..n * p].to_vec(),
            },
            labels: self.labels[..n].to_vec(),
        }
    }

    /// The examples whose label is in `keep`, in their original order.
    pub fn filter_labels(&self, keep: &[u8]) -> Split {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for (image, label) in self.iter() {
            if keep.contains(&label) {
                pixels.extend_from_slice(image);
                labels.push(label);
            }
        }
        Split {
            images: Images {
                n: labels.len(),
                rows: self.images.rows,
                cols: self.images.cols,
                pixels,
            },
            labels,
        }
    }
}

/// The error for a file whose content is wrong: names the file and what is wrong with it.
pub(crate) fn data_error(path: &Path, reason: impl fmt::Display) -> Error {
    Error::build(path.display(), reason)
}

/// Which of the two IDX files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }

    fn ndim(self) -> usize {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }

    fn other(self) -> Kind {
        match self {
            Kind::Images => Kind::Labels,
            Kind::Labels => Kind::Images,
        }
    }
}

/// An IDX file as read: its raw header (for the checksum), dimensions and data.
pub(crate) struct Raw {
    pub header: Vec<u8>,
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads up to `buf.len()` bytes; returns how many it got (fewer only at the end of the input).
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn dims_text(dims: &[impl fmt::Display]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" x ")
}

/// Reads and checks the format of one IDX file of the given kind (not its labels' values, not
/// its checksum). Never allocates more than the data actually in the file.
pub(crate) fn read_raw(path: &Path, kind: Kind) -> Result<Raw> {
    let io_err = |source: io::Error| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    parse_raw(
        path,
        BufReader::with_capacity(1 << 16, file),
        file_len,
        kind,
    )
}

/// [`read_raw`] on bytes already in memory; `name` stands for the file in error messages.
pub(crate) fn raw_from_bytes(name: &Path, bytes: &[u8], kind: Kind) -> Result<Raw> {
    parse_raw(name, bytes, bytes.len() as u64, kind)
}

/// The IDX parser behind [`read_raw`] and [`raw_from_bytes`]: `file` gives the `file_len` bytes
/// of a file (gzip-compressed or not), `path` names it in error messages. Never allocates more
/// than the data actually in the input.
fn parse_raw(path: &Path, mut file: impl BufRead, file_len: u64, kind: Kind) -> Result<Raw> {
    let io_err = |source: io::Error| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let what = kind.what();
    if file_len == 0 {
        return Err(data_error(
            path,
            format!("empty file (0 bytes); expected an IDX {what} file"),
        ));
    }
    let gz = file.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read + '_> = if gz {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    // Inside a gzip stream, malformed input is a corrupt file, not an I/O failure.
    let read_err = |e: io::Error| {
        if gz
            && matches!(
                e.kind(),
                io::ErrorKind::InvalidInput
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::UnexpectedEof
            )
        {
            let detail = e.to_string();
            let detail = detail
                .strip_prefix("corrupt gzip stream ")
                .unwrap_or(&detail);
            data_error(path, format!("corrupt gzip stream: {detail}"))
        } else {
            io_err(e)
        }
    };
    let after = if gz { " after decompression" } else { "" };

    let header_len = 4 + 4 * kind.ndim();
    let mut header = vec![0u8; header_len];
    let got = read_up_to(&mut reader, &mut header).map_err(read_err)?;
    let truncated_header = || {
        data_error(
            path,
            format!(
                "truncated: {got} bytes{after}, but the header of an IDX {what} file is \
                 {header_len} bytes"
            ),
        )
    };
    if got < 4 {
        return Err(truncated_header());
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != kind.magic() {
        let hint = if magic == kind.other().magic() {
            format!(" (that of an IDX {} file)", kind.other().what())
        } else if header[..4]
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        {
            " (the file starts with text: perhaps an error page saved by a failed download)"
                .to_string()
        } else {
            String::new()
        };
        return Err(data_error(
            path,
            format!(
                "not an IDX {what} file: magic number {magic} (bytes {:02x} {:02x} {:02x} {:02x}){hint}; \
                 expected {} (00 00 08 {:02x}: unsigned bytes, {} dimension{})",
                header[0],
                header[1],
                header[2],
                header[3],
                kind.magic(),
                kind.ndim(),
                kind.ndim(),
                if kind.ndim() == 1 { "" } else { "s" },
            ),
        ));
    }
    if got < header_len {
        return Err(truncated_header());
    }
    let raw_dims: Vec<u32> = header[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let overflow = || {
        data_error(
            path,
            format!(
                "dimensions {} overflow: they describe more bytes than this machine can address",
                dims_text(&raw_dims)
            ),
        )
    };
    let dims = raw_dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| overflow())?;
    let body = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    if kind == Kind::Images && (dims[1] == 0 || dims[2] == 0) {
        return Err(data_error(
            path,
            format!(
                "images of {} x {} pixels; an image needs at least one pixel",
                dims[1], dims[2]
            ),
        ));
    }
    let body_u64 = u64::try_from(body).map_err(|_| overflow())?;

    // Allocate no more than the file can hold; a header that claims more is caught below, when
    // the data runs out.
    let bound = if gz {
        file_len.saturating_mul(GZIP_RATIO_GUESS)
    } else {
        file_len.saturating_sub(got as u64)
    };
    let capacity = body.min(usize::try_from(bound).unwrap_or(usize::MAX));
    let mut data = Vec::with_capacity(capacity);
    // One byte more than the header describes, to notice a file that goes on past its data. For a
    // gzip stream, reading to its end also checks its CRC.
    reader
        .take(body_u64.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(read_err)?;
    let described = if kind == Kind::Images {
        format!("{} = {body} bytes of pixels", dims_text(&dims))
    } else {
        format!("{body} labels")
    };
    if data.len() < body {
        return Err(data_error(
            path,
            format!(
                "truncated: the header describes {described}, but the file holds only {}{after}",
                data.len()
            ),
        ));
    }
    if data.len() > body {
        return Err(data_error(
            path,
            format!(
                "the file goes on after the {described} its header describes; it is corrupt \
                 or not an IDX {what} file"
            ),
        ));
    }
    Ok(Raw { header, dims, data })
}

impl Raw {
    pub(crate) fn into_images(self) -> Images {
        Images {
            n: self.dims[0],
            rows: self.dims[1],
            cols: self.dims[2],
            pixels: self.data,
        }
    }
}

/// Checks that every label is in `0..=MAX_LABEL`.
pub(crate) fn check_labels(path: &Path, labels: &[u8]) -> Result<()> {
    match labels.iter().position(|&l| l > MAX_LABEL) {
        None => Ok(()),
        Some(i) => Err(data_error(
            path,
            format!(
                "label {i} (counting from 0) is {}; labels must be in 0..={MAX_LABEL}",
                labels[i]
            ),
        )),
    }
}
