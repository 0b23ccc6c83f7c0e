//! Outputs of a run: `metrics.json`, weights and thresholds as `.npy`, and pictures (receptive
//! fields, confusion matrix, accuracy over training). Every file is written atomically.

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use ndarray::Array2;
use std::path::Path;

fn other(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}: {e}", path.display()))
}

/// Writes a JSON value atomically (pretty-printed).
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| other(path, e))?;
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

/// Writes an array as a NumPy `.npy` file (atomically).
pub fn write_npy<A, D>(path: &Path, a: &ndarray::ArrayBase<A, D>) -> Result<()>
where
    A: ndarray::Data,
    A::Elem: ndarray_npy::WritableElement,
    D: ndarray::Dimension,
{
    let mut buf = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(a, &mut buf).map_err(|e| other(path, e))?;
    write_atomic(path, &buf)
}

/// Reads a NumPy `.npy` file of float32 or float64 values (float64 is converted) with `D`'s
/// number of dimensions, any byte order, C or Fortran order; the result is in standard layout.
/// A header whose shape asks for more values than the file holds is an error before anything
/// is allocated for them (a corrupt header must not make the reader ask for terabytes).
pub fn read_npy_f32<D: ndarray::Dimension>(path: &Path) -> Result<ndarray::Array<f32, D>> {
    use ndarray_npy::{ReadNpyError, read_npy};
    check_npy_length(path)?;
    let a = match read_npy::<_, ndarray::Array<f32, D>>(path) {
        Ok(a) => a,
        Err(ReadNpyError::WrongDescriptor(_)) => read_npy::<_, ndarray::Array<f64, D>>(path)
            .map_err(|e| other(path, format!("{e} (a float32 or float64 array is needed)")))?
            .mapv(|v| v as f32),
        Err(e) => return Err(other(path, e)),
    };
    Ok(a.as_standard_layout().into_owned())
}

/// Checks that the `.npy` file at `path` holds float32 or float64 values and that its data can
/// hold the values its header's shape gives.
fn check_npy_length(path: &Path) -> Result<()> {
    use std::io::Seek;
    let mut f = std::fs::File::open(path).map_err(|e| other(path, e))?;
    let header =
        ndarray_npy::npy::header::Header::from_reader(&mut f).map_err(|e| other(path, e))?;
    // The descriptor as a Python literal, e.g. '<f4'; byte order is handled by the reader,
    // which takes the explicit orders numpy writes ('=' and '|' are not read).
    let descr = header.type_descriptor.to_string();
    let size = match descr.trim_matches(|c| c == '\'' || c == '"') {
        "<f4" | ">f4" => 4,
        "<f8" | ">f8" => 8,
        _ => {
            return Err(other(
                path,
                format!(
                    "its values are of type {descr} (a float32 or float64 array is needed, \
                     with the byte order numpy writes: '<f4', '>f4', '<f8' or '>f8')"
                ),
            ));
        }
    };
    let at = f.stream_position().map_err(|e| other(path, e))?;
    let len = f.metadata().map_err(|e| other(path, e))?.len();
    let data_bytes = len.saturating_sub(at);
    let values = header
        .shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64));
    match values {
        Some(n) if n.saturating_mul(size) <= data_bytes => Ok(()),
        _ => Err(other(
            path,
            format!(
                "its header gives the shape {:?} of {descr} values, more than its {data_bytes} bytes of data hold (truncated or corrupt)",
                header.shape
            ),
        )),
    }
}

fn write_png(path: &Path, img: &image::GrayImage) -> Result<()> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png)
        .map_err(|e| other(path, e))?;
    write_atomic(path, buf.get_ref())
}

/// A grid of receptive fields: one `side x side` tile per neuron (its input weights, each tile
/// scaled to its own maximum), tiles separated by a 1-pixel border, scaled up `zoom` times.
pub fn receptive_fields(path: &Path, weights: &Array2<f32>, side: usize, zoom: u32) -> Result<()> {
    let (n, inputs) = weights.dim();
    if side * side != inputs || n == 0 {
        return Err(Error::invalid(
            "receptive field picture",
            "weights",
            format!("{n} x {inputs}"),
            format!("n x {} (square images)", side * side),
        ));
    }
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let tile = side + 1;
    let (w, h) = ((cols * tile + 1) as u32, (rows * tile + 1) as u32);
    let mut img = image::GrayImage::from_pixel(w * zoom, h * zoom, image::Luma([40]));
    for k in 0..n {
        let row = weights.row(k);
        let max = row.iter().cloned().fold(0.0f32, f32::max).max(1e-12);
        let (ty, tx) = (k / cols, k % cols);
        for y in 0..side {
            for x in 0..side {
                let v = (row[y * side + x].max(0.0) / max * 255.0).round() as u8;
                let (px, py) = ((tx * tile + 1 + x) as u32, (ty * tile + 1 + y) as u32);
                for dy in 0..zoom {
                    for dx in 0..zoom {
                        img.put_pixel(px * zoom + dx, py * zoom + dy, image::Luma([v]));
                    }
                }
            }
        }
    }
    write_png(path, &img)
}

/// The confusion matrix as a picture: rows = true class, columns = predicted (last: no vote),
/// cell brightness = fraction of the row, with counts written in.
pub fn confusion_png(path: &Path, m: &Array2<u64>) -> Result<()> {
    use plotters::prelude::*;
    let (rows, cols) = m.dim();
    let cell = 48i32;
    let (w, h) = ((cols as i32 + 2) * cell, (rows as i32 + 2) * cell);
    crate::plot::write_png(path, (w as u32, h as u32), |root| {
        let style = ("sans-serif", 14).into_font();
        for r in 0..rows {
            let total: u64 = m.row(r).sum();
            for c in 0..cols {
                let frac = if total > 0 {
                    m[[r, c]] as f64 / total as f64
                } else {
                    0.0
                };
                let shade = (255.0 * (1.0 - frac)) as u8;
                let (x0, y0) = ((c as i32 + 1) * cell, (r as i32 + 1) * cell);
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    RGBColor(shade, shade, 255).filled(),
                ))?;
                let color = if frac > 0.5 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    m[[r, c]].to_string(),
                    (x0 + 6, y0 + cell / 2 - 7),
                    style.clone().color(&color),
                ))?;
            }
            root.draw(&Text::new(
                r.to_string(),
                (cell / 2, (r as i32 + 1) * cell + cell / 2 - 7),
                style.clone(),
            ))?;
        }
        for c in 0..cols {
            let label = if c + 1 == cols {
                "none".to_string()
            } else {
                c.to_string()
            };
            root.draw(&Text::new(
                label,
                ((c as i32 + 1) * cell + 8, cell / 2 - 7),
                style.clone(),
            ))?;
        }
        root.draw(&Text::new(
            "true class (rows) vs predicted (columns)",
            (cell, h - cell / 2 - 7),
            style.clone(),
        ))?;
        Ok(())
    })
}
