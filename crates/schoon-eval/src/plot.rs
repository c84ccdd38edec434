//! The report's plots, each written as SVG and (when a font is available) PNG with `plotters`.
//!
//! PNG text needs a TrueType font: one is registered from bytes at run time (DejaVu Sans or
//! Liberation Sans from Debian's font packages, or the file named by `$SCHOON_EVAL_FONT`).
//! Without one, only the SVG files are written (SVG text is laid out by the viewer).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::stats::RocPoint;

/// The environment variable naming a TrueType font for PNG text.
pub const FONT_ENV: &str = "SCHOON_EVAL_FONT";

const FONT_CANDIDATES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
];

/// Registers a font for the plots; returns its path, or why there is none.
pub fn register_font() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os(FONT_ENV) {
        candidates.push(PathBuf::from(p));
    }
    candidates.extend(FONT_CANDIDATES.iter().map(PathBuf::from));
    for path in candidates {
        let Ok(bytes) = std::fs::read(&path) else { continue };
        // The font lives as long as the process: plotters keeps a 'static reference.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
            return Ok(path);
        }
    }
    Err(format!(
        "no TrueType font found (tried ${FONT_ENV} and {}); install fonts-dejavu-core",
        FONT_CANDIDATES.join(", ")
    ))
}

/// A figure that can be drawn on any backend.
pub trait Figure {
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on the whole area.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e}")
}

/// Writes `stem.svg` and `stem.png`; returns the file names written.
pub fn save<F: Figure>(fig: &F, stem: &Path) -> Result<Vec<PathBuf>> {
    let (w, h) = fig.size();
    let svg = stem.with_extension("svg");
    {
        let area = SVGBackend::new(&svg, (w, h)).into_drawing_area();
        fig.draw(&area)?;
        area.present().map_err(err)?;
    }
    let png = stem.with_extension("png");
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        fig.draw(&area)?;
        area.present().map_err(err)?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).ok_or_else(|| anyhow!("bitmap size"))?;
    img.save_with_format(&png, image::ImageFormat::Png)?;
    Ok(vec![svg, png])
}

/// Colours of the series, in order.
pub const COLOURS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(227, 119, 194),
    RGBColor(0, 0, 0),
    RGBColor(120, 60, 200),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

/// One panel of the histogram figure.
#[derive(Debug, Clone)]
pub struct HistPanel {
    /// Title.
    pub title: String,
    /// Hash bits.
    pub bits: u32,
    /// Named distance sets, each with its total count (pairs without a distance included).
    pub series: Vec<(String, Vec<u32>, usize)>,
    /// Vertical markers (name, threshold).
    pub markers: Vec<(String, u32)>,
}

/// Distance histograms, one panel per algorithm, log-scale fractions of pairs per bin.
#[derive(Debug, Clone)]
pub struct Histograms {
    /// The panels.
    pub panels: Vec<HistPanel>,
    /// Panels per row.
    pub columns: usize,
}

/// Bins of a normalised histogram: 32 bins over `0..=bits` (2 bits wide for 64-bit hashes,
/// whose median-based variants only take even distances); fractions of `total`.
pub fn bins(d: &[u32], total: usize, bits: u32) -> Vec<(f64, f64)> {
    let width = (bits / 32).max(1);
    let n = (bits / width + 1) as usize;
    let mut h = vec![0usize; n];
    for &x in d {
        h[((x.min(bits)) / width) as usize] += 1;
    }
    h.iter()
        .enumerate()
        .map(|(i, &c)| {
            let x = (i as f64 + 0.5) * f64::from(width) / f64::from(bits);
            (x.min(1.0), c as f64 / total.max(1) as f64)
        })
        .collect()
}

const FLOOR: f64 = 1e-5;

impl Figure for Histograms {
    fn size(&self) -> (u32, u32) {
        let rows = self.panels.len().div_ceil(self.columns.max(1)) as u32;
        (1400, 60 + 300 * rows.max(1))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(err)?;
        let (title, body) = area.split_vertically(50);
        title
            .draw_text(
                "Distance distributions: same image (edited) vs different images; fraction of pairs per bin",
                &font(22),
                (20, 15),
            )
            .map_err(err)?;
        let rows = self.panels.len().div_ceil(self.columns.max(1));
        let cells = body.split_evenly((rows.max(1), self.columns.max(1)));
        for (panel, cell) in self.panels.iter().zip(cells.iter()) {
            let mut chart = ChartBuilder::on(cell)
                .caption(&panel.title, font(16))
                .margin(8)
                .x_label_area_size(32)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..1f64, (FLOOR..1f64).log_scale())
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("distance / bits")
                .x_labels(6)
                .y_labels(6)
                .label_style(font(12))
                .axis_desc_style(font(12))
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .draw()
                .map_err(err)?;
            for (k, (name, d, total)) in panel.series.iter().enumerate() {
                let pts: Vec<(f64, f64)> = bins(d, *total, panel.bits)
                    .into_iter()
                    .map(|(x, y)| (x, y.max(FLOOR)))
                    .collect();
                let c = colour(k);
                chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                    .map_err(err)?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                    });
            }
            for (k, (name, t)) in panel.markers.iter().enumerate() {
                let x = (f64::from(*t) + 0.5) / f64::from(panel.bits);
                let c = colour(4 + k);
                chart
                    .draw_series(LineSeries::new(vec![(x, FLOOR), (x, 1.0)], c.stroke_width(1)))
                    .map_err(err)?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(1))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(font(11))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}

/// ROC curves, false-positive rate on a log axis.
#[derive(Debug, Clone)]
pub struct Roc {
    /// Title.
    pub title: String,
    /// Named curves.
    pub curves: Vec<(String, Vec<RocPoint>)>,
    /// Smallest FPR drawn; FPR 0 is drawn there.
    pub floor: f64,
}

impl Figure for Roc {
    fn size(&self) -> (u32, u32) {
        (1100, 750)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, font(20))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d((self.floor..1f64).log_scale(), 0f64..1f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("false-positive rate (distinct pairs matching; 0 drawn at the left edge)")
            .y_desc("recall (same-image pairs matching)")
            .label_style(font(14))
            .axis_desc_style(font(14))
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(err)?;
        for (k, (name, pts)) in self.curves.iter().enumerate() {
            let c = colour(k);
            let style = if k < 2 { c.stroke_width(3) } else { c.stroke_width(1) };
            let line: Vec<(f64, f64)> =
                pts.iter().map(|p| (p.fpr.max(self.floor), p.tpr)).collect();
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(font(13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// Rows left empty under the bars for the legend.
const LEGEND_ROWS: u32 = 5;

/// Horizontal grouped bars: one row per label, one bar per series (values 0..=1).
#[derive(Debug, Clone)]
pub struct Bars {
    /// Title.
    pub title: String,
    /// Row labels, top to bottom.
    pub labels: Vec<String>,
    /// Named series, one value per label (`None`: not measured).
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// A vertical reference line (e.g. the 99 % target), as a fraction.
    pub target: Option<f64>,
}

impl Figure for Bars {
    fn size(&self) -> (u32, u32) {
        let per_row = 6 * self.series.len().max(1) as u32 + 6;
        (1200, 140 + per_row * (self.labels.len() as u32 + LEGEND_ROWS))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(err)?;
        // Empty rows at the bottom hold the legend.
        let rows = (self.labels.len() as u32 + LEGEND_ROWS) as f64;
        let labels = self.labels.clone();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, font(20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(370)
            .build_cartesian_2d(0f64..100f64, rows..0f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("recall, %")
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        // Row labels drawn at the rows' pixel positions, right-aligned left of the axis.
        let style = font(13).pos(Pos::new(HPos::Right, VPos::Center));
        for (i, label) in labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, i as f64 + 0.5));
            area.draw(&Text::new(label.clone(), (px - 8, py), style.clone())).map_err(err)?;
        }
        let k = self.series.len().max(1) as f64;
        let bar = 0.8 / k;
        for (s, (name, vals)) in self.series.iter().enumerate() {
            let c = colour(s);
            chart
                .draw_series(vals.iter().enumerate().filter_map(|(i, v)| {
                    v.map(|v| {
                        let y0 = i as f64 + 0.1 + s as f64 * bar;
                        Rectangle::new([(0.0, y0), (v * 100.0, y0 + bar)], c.filled())
                    })
                }))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        if let Some(t) = self.target {
            chart
                .draw_series(LineSeries::new(
                    vec![(t * 100.0, 0.0), (t * 100.0, self.labels.len() as f64)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?
                .label(format!("{:.0} % target", t * 100.0))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(1))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font(font(13))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// Line curves of recall against an edit strength.
#[derive(Debug, Clone)]
pub struct Curves {
    /// Title.
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// X range.
    pub x_range: (f64, f64),
    /// Named series of (x, recall 0..=1); dashed when the name starts with "PDQ".
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// A horizontal reference line (e.g. the 90 % target), as a fraction.
    pub target: Option<f64>,
}

impl Figure for Curves {
    fn size(&self) -> (u32, u32) {
        (1000, 650)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, font(20))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(self.x_range.0..self.x_range.1, 0f64..100f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc("recall, %")
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        for (k, (name, pts)) in self.series.iter().enumerate() {
            let c = colour(k);
            let pts: Vec<(f64, f64)> = pts.iter().map(|&(x, y)| (x, y * 100.0)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                .map_err(err)?;
        }
        if let Some(t) = self.target {
            let (a, b) = self.x_range;
            chart
                .draw_series(LineSeries::new(
                    vec![(a, t * 100.0), (b, t * 100.0)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?
                .label(format!("{:.0} % target", t * 100.0))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(1))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font(font(13))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_normalised() {
        let b = bins(&[0, 8, 9, 256], 8, 256);
        assert_eq!(b.len(), 33);
        let total: f64 = b.iter().map(|p| p.1).sum();
        assert!((total - 0.5).abs() < 1e-12);
        assert_eq!(b[1].1, 0.25);
        let b = bins(&[3, 3], 2, 64);
        assert_eq!(b[1].1, 1.0);
    }

    #[test]
    fn figures_render_to_svg_and_png() {
        if register_font().is_err() {
            eprintln!("no font: skipping the PNG rendering test");
            return;
        }
        let dir = std::env::temp_dir().join(format!("schoon-eval-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fig = Curves {
            title: "test".into(),
            x_desc: "x".into(),
            x_range: (0.0, 10.0),
            series: vec![("PDQ".into(), vec![(0.0, 1.0), (5.0, 0.5), (10.0, 0.0)])],
            target: Some(0.9),
        };
        let files = save(&fig, &dir.join("curve")).unwrap();
        for f in &files {
            assert!(std::fs::metadata(f).unwrap().len() > 1000, "{}", f.display());
        }
        let bars = Bars {
            title: "bars".into(),
            labels: vec!["a".into(), "b".into()],
            series: vec![("s".into(), vec![Some(0.5), None])],
            target: Some(0.99),
        };
        save(&bars, &dir.join("bars")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
