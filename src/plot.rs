//! Pictures: line plots and multi-panel figures written as PNG files (plotters).
//!
//! Every function renders the picture in memory, encodes it as PNG and writes it atomically
//! (`fsutil::write_atomic`: a hidden temporary file in the same directory, renamed over `path`
//! once complete), so a reader never sees half a picture. The parent directory is created if
//! missing. Text is drawn with the system's fonts (fontconfig + freetype; Debian:
//! `fonts-dejavu-core`).
//!
//! ```no_run
//! let t: Vec<f64> = (0..100).map(|k| k as f64 * 0.01).collect();
//! let y: Vec<f64> = t.iter().map(|t| t.sin()).collect();
//! volley::plot::line_plot("out/sin.png", "sin(t)", "time (s)", "value", &[("sin", &t, &y)])
//!     .unwrap();
//! ```

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Colours given to series in order (a colour-blind-friendly qualitative palette, Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Size of a single-panel plot in pixels.
const LINE_PLOT_SIZE: (u32, u32) = (1000, 600);

/// One line in a panel: `y` against `x`, drawn in order.
#[derive(Clone, Debug)]
pub struct Series<'a> {
    /// Name shown in the legend; `None` keeps the series out of the legend.
    pub label: Option<&'a str>,
    /// Abscissae.
    pub x: &'a [f64],
    /// Ordinates, as many as `x`.
    pub y: &'a [f64],
    /// Colour as (red, green, blue); `None` takes the next palette colour.
    pub color: Option<(u8, u8, u8)>,
    /// Draw dashed instead of solid.
    pub dashed: bool,
    /// Line width in pixels (default 2).
    pub width: u32,
}

impl<'a> Series<'a> {
    /// A labelled solid line in the next palette colour.
    pub fn new(label: &'a str, x: &'a [f64], y: &'a [f64]) -> Self {
        Series {
            label: Some(label),
            ..Series::unlabeled(x, y)
        }
    }
    /// A solid line without a legend entry (e.g. one of many tuning curves).
    pub fn unlabeled(x: &'a [f64], y: &'a [f64]) -> Self {
        Series {
            label: None,
            x,
            y,
            color: None,
            dashed: false,
            width: 2,
        }
    }
    /// Sets the colour.
    pub fn color(mut self, rgb: (u8, u8, u8)) -> Self {
        self.color = Some(rgb);
        self
    }
    /// Draws the line dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
    /// Sets the line width in pixels.
    pub fn width(mut self, width: u32) -> Self {
        self.width = width;
        self
    }
}

/// Where a panel's legend goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Corner {
    /// Top left.
    UpperLeft,
    /// Top right (default).
    #[default]
    UpperRight,
    /// Bottom left.
    LowerLeft,
    /// Bottom right.
    LowerRight,
}

/// One chart: a title, axis labels and its lines.
#[derive(Clone, Debug, Default)]
pub struct Panel<'a> {
    /// Title above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series<'a>>,
    /// Fixed vertical range; `None` fits the data (with a 5 % margin).
    pub y_range: Option<(f64, f64)>,
    /// Legend position (drawn only if a series has a label).
    pub legend: Corner,
}

impl<'a> Panel<'a> {
    /// An empty panel with a title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Panel {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Panel::default()
        }
    }
    /// Adds a line.
    pub fn series(mut self, s: Series<'a>) -> Self {
        self.series.push(s);
        self
    }
    /// Fixes the vertical range.
    pub fn y_range(mut self, low: f64, high: f64) -> Self {
        self.y_range = Some((low, high));
        self
    }
    /// Sets the legend position.
    pub fn legend(mut self, corner: Corner) -> Self {
        self.legend = corner;
        self
    }
}

/// Tuning curves as a panel: `rates[i]` is neuron i's rate (Hz) at each point of `x`.
pub fn tuning_curves_panel<'a>(
    title: impl Into<String>,
    x: &'a [f64],
    rates: &'a [Vec<f64>],
) -> Panel<'a> {
    let mut p = Panel::new(title, "represented value x", "firing rate (Hz)");
    p.series = rates
        .iter()
        .map(|r| Series::unlabeled(x, r).width(1))
        .collect();
    p
}

/// Writes a single-panel line plot to `path` (PNG). Each series is `(label, x, y)`.
pub fn line_plot(
    path: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, &[f64], &[f64])],
) -> Result<()> {
    let mut panel = Panel::new(title, x_label, y_label);
    panel.series = series
        .iter()
        .map(|&(l, x, y)| Series::new(l, x, y))
        .collect();
    write_figure(path.as_ref(), None, &[vec![panel]], LINE_PLOT_SIZE)
}

/// Writes a figure of several panels to `path` (PNG): `rows[r]` is one row of panels, which share
/// the row's width evenly; rows share the height evenly. `title`, if not empty, goes above all.
pub fn figure(
    path: impl AsRef<Path>,
    title: &str,
    rows: &[Vec<Panel<'_>>],
    size: (u32, u32),
) -> Result<()> {
    let title = (!title.is_empty()).then_some(title);
    write_figure(path.as_ref(), title, rows, size)
}

fn write_figure(
    path: &Path,
    title: Option<&str>,
    rows: &[Vec<Panel<'_>>],
    size: (u32, u32),
) -> Result<()> {
    check(path, rows)?;
    write_png(path, size, |root| {
        let body = match title {
            Some(t) => root.titled(t, ("sans-serif", 28))?,
            None => root.clone(),
        };
        for (row_area, row) in body.split_evenly((rows.len(), 1)).iter().zip(rows) {
            for (area, panel) in row_area.split_evenly((1, row.len())).iter().zip(row) {
                draw_panel(area, panel)?;
            }
        }
        Ok(())
    })
}

/// The largest side of a picture, in pixels.
const MAX_SIDE: u32 = 16_384;

/// Renders `draw` on a white RGB canvas of `size` (width, height in pixels) in memory and
/// writes it to `path` as a PNG, atomically; for pictures of one's own drawn with plotters.
/// `path` must end in `.png`.
pub fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> Result<()> {
    let object = format!("plot {}", path.display());
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(Error::invalid(
            &object,
            "path",
            path.display(),
            "a file name ending in .png, e.g. out/plot.png",
        ));
    }
    if !(1..=MAX_SIDE).contains(&size.0) || !(1..=MAX_SIDE).contains(&size.1) {
        return Err(Error::invalid(
            &object,
            "size",
            format!("{size:?}"),
            format!("1 to {MAX_SIDE} pixels a side"),
        ));
    }
    let bytes = size.0 as usize * size.1 as usize * 3;
    let mut rgb = Vec::new();
    rgb.try_reserve_exact(bytes).map_err(|_| {
        Error::invalid(
            &object,
            "size",
            format!("{size:?}"),
            format!("a picture whose {bytes} bytes fit in this machine's memory"),
        )
    })?;
    rgb.resize(bytes, 0);
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present())
            .map_err(|e| draw_error(path, e))?;
    }
    let img = image::RgbImage::from_raw(size.0, size.1, rgb)
        .ok_or_else(|| Error::Other(format!("{object}: the canvas has the wrong size")))?;
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| Error::Other(format!("{object}: encoding the PNG failed: {e}")))?;
    crate::fsutil::write_atomic(path, png.get_ref())
}

/// Rejects what plotters would draw wrongly or panic on.
fn check(path: &Path, rows: &[Vec<Panel<'_>>]) -> Result<()> {
    let object = format!("plot {}", path.display());
    if rows.is_empty() || rows.iter().any(|r| r.is_empty()) {
        return Err(Error::invalid(
            &object,
            "rows",
            "an empty row or no rows",
            "at least one panel per row",
        ));
    }
    for p in rows.iter().flatten() {
        for s in &p.series {
            if s.x.len() != s.y.len() {
                return Err(Error::invalid(
                    &object,
                    format!("series {:?} of panel {:?}", s.label.unwrap_or(""), p.title),
                    format!("{} x values and {} y values", s.x.len(), s.y.len()),
                    "as many x values as y values",
                ));
            }
        }
        if let Some((lo, hi)) = p.y_range
            && !(lo.is_finite() && hi.is_finite() && lo < hi)
        {
            return Err(Error::invalid(
                &object,
                "y_range",
                format!("({lo}, {hi})"),
                "finite low < high",
            ));
        }
    }
    Ok(())
}

/// What plotters' drawing calls return with the bitmap backend.
pub type DrawResult = plotters::prelude::DrawResult<(), BitMapBackend<'static>>;

fn draw_panel(area: &DrawingArea<BitMapBackend<'_>, Shift>, panel: &Panel<'_>) -> DrawResult {
    let finite = |s: &Series<'_>| {
        s.x.iter()
            .zip(s.y)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(&x, &y)| (x, y))
            .collect::<Vec<_>>()
    };
    let points: Vec<Vec<(f64, f64)>> = panel.series.iter().map(finite).collect();
    let (x0, x1) = span(points.iter().flatten().map(|p| p.0), 0.0);
    let (y0, y1) = panel
        .y_range
        .unwrap_or_else(|| span(points.iter().flatten().map(|p| p.1), 0.05));
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()?;
    for (i, (s, pts)) in panel.series.iter().zip(points).enumerate() {
        let color = s
            .color
            .map(|(r, g, b)| RGBColor(r, g, b))
            .unwrap_or(PALETTE[i % PALETTE.len()]);
        let style = color.stroke_width(s.width);
        let anno = if s.dashed {
            chart.draw_series(DashedLineSeries::new(pts, 8, 5, style))?
        } else {
            chart.draw_series(LineSeries::new(pts, style))?
        };
        if let Some(label) = s.label {
            anno.label(label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        }
    }
    if panel.series.iter().any(|s| s.label.is_some()) {
        chart
            .configure_series_labels()
            .position(match panel.legend {
                Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
                Corner::UpperRight => SeriesLabelPosition::UpperRight,
                Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                Corner::LowerRight => SeriesLabelPosition::LowerRight,
            })
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
    }
    Ok(())
}

/// Range of `values` widened by `margin` of its width on each side; a usable range when the
/// values are all equal or absent.
fn span(values: impl Iterator<Item = f64>, margin: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        let pad = 0.5 * lo.abs().max(1.0);
        return (lo - pad, hi + pad);
    }
    let pad = margin * (hi - lo);
    (lo - pad, hi + pad)
}

fn draw_error(
    path: &Path,
    e: DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>,
) -> Error {
    // plotters does not re-export its backend error kinds, so the font case is told by its message.
    let msg = e.to_string();
    let hint = if msg.contains("Font") {
        " (text needs fontconfig, freetype and a font; on Debian: apt-get install fonts-dejavu-core)"
    } else {
        ""
    };
    Error::Other(format!(
        "{}: drawing the plot failed: {msg}{hint}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_png_paths_and_sane_sizes_are_accepted() {
        let series: [(&str, &[f64], &[f64]); 1] = [("a", &[0.0, 1.0], &[0.0, 1.0])];
        for bad in ["out/fig", "out/fig.jpg"] {
            let err = line_plot(bad, "t", "x", "y", &series)
                .unwrap_err()
                .to_string();
            assert!(err.contains(bad) && err.contains(".png"), "{err}");
        }
        let panel = Panel::new("p", "x", "y");
        let err = figure("big.png", "", &[vec![panel]], (40_000, 10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("size") && err.contains("16384"), "{err}");
    }

    #[test]
    fn span_handles_flat_and_empty_data() {
        assert_eq!(span([2.0, 2.0].into_iter(), 0.05), (1.0, 3.0));
        assert_eq!(span(std::iter::empty(), 0.05), (0.0, 1.0));
        let (lo, hi) = span([0.0, 10.0].into_iter(), 0.1);
        assert!((lo + 1.0).abs() < 1e-12 && (hi - 11.0).abs() < 1e-12);
    }

    #[test]
    fn line_plot_writes_a_png_atomically() {
        let dir = std::env::temp_dir().join(format!("volley-plot-test-{}", std::process::id()));
        let path = dir.join("sub").join("sin.png");
        let t: Vec<f64> = (0..200).map(|k| k as f64 * 0.01).collect();
        let y: Vec<f64> = t.iter().map(|t| t.sin()).collect();
        line_plot(&path, "sin", "time (s)", "value", &[("sin(t)", &t, &y)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mismatched_series_are_rejected() {
        let err =
            line_plot("unused.png", "t", "x", "y", &[("bad", &[0.0, 1.0], &[0.0])]).unwrap_err();
        assert!(
            err.to_string().contains("as many x values as y values"),
            "{err}"
        );
    }
}
