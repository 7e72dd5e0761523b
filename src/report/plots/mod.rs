//! The plots of a run and of a comparison, each drawn once per backend: SVG (text left to the
//! viewer's fonts) and PNG (text drawn with DejaVu Sans, embedded by the `dejavu` crate, so no
//! system font is looked up). Same inputs, same bytes: nothing here reads a clock or a random
//! source, and every layout decision is made from the data.
//!
//! One file per plot kind; [`style`] holds the palette, dash patterns, markers, the value axis and
//! the title/legend/fault-shading helpers they share.

pub mod availability;
pub mod cdf;
pub mod comparison;
pub mod latency;
pub mod replicas;
pub mod style;

use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt;

/// Size of every plot, pixels (SVG user units and PNG pixels alike).
pub const SIZE: (u32, u32) = (1000, 560);

/// A plot could not be drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotError(pub String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "drawing a plot: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(error: DrawingAreaErrorKind<E>) -> Self {
        PlotError(error.to_string())
    }
}

impl From<PlotError> for std::io::Error {
    fn from(error: PlotError) -> Self {
        std::io::Error::other(error.to_string())
    }
}

/// Drawing results.
pub type PlotResult<T = ()> = Result<T, PlotError>;

/// A plot kind: draws itself on any backend.
pub trait Figure {
    /// File stem: `latency` gives `latency.svg` and `latency.png`.
    fn name(&self) -> &'static str;
    /// The title (also the SVG's `<title>` and the report's caption).
    fn title(&self) -> String;
    /// Width and height, pixels.
    fn size(&self) -> (u32, u32) {
        SIZE
    }
    /// Draws on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult;
}

/// One plot, drawn.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// File stem.
    pub name: &'static str,
    /// Title.
    pub title: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// Draws `figure` as SVG and as PNG.
pub fn render<F: Figure>(figure: &F) -> PlotResult<Rendered> {
    style::register_fonts();
    let title = figure.title();
    let size = figure.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        figure.draw(&root)?;
        root.present()?;
    }
    let svg = add_svg_title(&svg, &title);
    let (width, height) = size;
    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE)?;
        figure.draw(&root)?;
        root.present()?;
    }
    let png = encode_png(&pixels, width, height)?;
    Ok(Rendered {
        name: figure.name(),
        title,
        svg,
        png,
    })
}

/// Puts a `<title>` (the accessible name, shown as a tooltip) first in the SVG document.
fn add_svg_title(svg: &str, title: &str) -> String {
    let Some(open_end) = svg.find('>') else {
        return svg.to_string();
    };
    let mut text = String::with_capacity(svg.len() + title.len() + 32);
    text.push_str(&svg[..open_end]);
    text.push_str(" role=\"img\">\n<title>");
    text.push_str(&crate::report::html::escape(title));
    text.push_str("</title>");
    text.push_str(&svg[open_end + 1..]);
    text
}

/// Encodes 8-bit RGB pixels as a PNG (fixed settings: the same pixels give the same bytes).
pub fn encode_png(pixels: &[u8], width: u32, height: u32) -> PlotResult<Vec<u8>> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder
            .write_header()
            .map_err(|e| PlotError(e.to_string()))?;
        writer
            .write_image_data(pixels)
            .map_err(|e| PlotError(e.to_string()))?;
        writer.finish().map_err(|e| PlotError(e.to_string()))?;
    }
    Ok(bytes)
}

/// The plots of one run, in report order: latency, availability, per-replica load and, when
/// some request succeeded, the latency distribution.
pub fn run_plots(data: &crate::report::rundata::RunData) -> PlotResult<Vec<Rendered>> {
    let mut plots = vec![
        render(&latency::LatencyPlot::new(data))?,
        render(&availability::AvailabilityPlot::new(data))?,
        render(&replicas::ReplicaPlot::new(data))?,
    ];
    if !data.latency.is_empty() {
        let subtitle = format!(
            "{} – seed {} – measured requests that succeeded",
            data.summary.scenario, data.summary.seed
        );
        let distribution = cdf::Distribution {
            label: data.summary.scenario.clone(),
            quantiles: data.latency.clone(),
        };
        plots.push(render(&cdf::CdfPlot::new(subtitle, vec![distribution]))?);
    }
    Ok(plots)
}
