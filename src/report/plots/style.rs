//! What every plot shares: the font, text styles, a palette that survives grayscale printing
//! (colours of distinct lightness, each series also with its own dash pattern and marker), a
//! value axis with readable ticks (linear or logarithmic), the header (title, subtitle, legend)
//! and the shading of fault windows.

use super::{PlotError, PlotResult};
use crate::report::format::format_number;
use crate::report::rundata::FaultSpan;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};
use std::ops::Range;
use std::sync::Once;

/// The font family of every text. The PNG draws it with DejaVu Sans (embedded); an SVG viewer
/// uses DejaVu Sans or Verdana where installed (both have the metrics the layout assumed), else
/// its own sans-serif.
pub const FONT: &str = "DejaVu Sans, Verdana, sans-serif";

/// Registers the embedded fonts under [`FONT`] (once per process).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans is a valid font: registration cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Near-black for text and axes.
pub const INK: RGBColor = RGBColor(33, 33, 33);
/// Secondary text.
pub const MUTED: RGBColor = RGBColor(96, 96, 96);
/// Grid lines.
pub const GRID: RGBColor = RGBColor(222, 222, 222);
/// Minor grid lines.
pub const GRID_LIGHT: RGBColor = RGBColor(240, 240, 240);

/// Text style of `size` pixels.
pub fn text(size: u32, color: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(&color)
}

/// Bold text style.
pub fn bold(size: u32, color: RGBColor) -> TextStyle<'static> {
    // `FontDesc::style` would only retag the regular face: ask for the bold one by name.
    FontDesc::new(FontFamily::Name(FONT), f64::from(size), FontStyle::Bold).color(&color)
}

/// The Okabe–Ito colours, ordered so that neighbours differ in lightness as well as hue.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(40, 40, 40),    // near black
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(160, 140, 0),   // dark yellow
];

/// Dash patterns (on, off, ... in pixels); empty is solid.
pub const DASHES: [&[f64]; 5] = [
    &[],
    &[9.0, 5.0],
    &[2.0, 4.0],
    &[12.0, 4.0, 2.0, 4.0],
    &[5.0, 5.0],
];

/// Point markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// Filled circle.
    Circle,
    /// Filled triangle, point up.
    Triangle,
    /// Hollow square.
    Square,
    /// Filled diamond.
    Diamond,
    /// Hollow circle.
    Ring,
    /// A cross `x`.
    Cross,
    /// No marker.
    None,
}

/// Markers in series order.
pub const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Diamond,
    Marker::Ring,
    Marker::Cross,
];

/// How one series is drawn.
#[derive(Debug, Clone, Copy)]
pub struct SeriesStyle {
    /// Line and marker colour.
    pub color: RGBColor,
    /// Dash pattern.
    pub dash: &'static [f64],
    /// Marker placed along the line.
    pub marker: Marker,
    /// Line width, pixels.
    pub width: u32,
    /// Where along the line (pixels) the first marker goes; markers then repeat.
    pub marker_offset: f64,
}

/// The style of the `index`-th series: colour, dash and marker all change with the index.
pub fn series(index: usize) -> SeriesStyle {
    SeriesStyle {
        color: PALETTE[index % PALETTE.len()],
        dash: DASHES[index % DASHES.len()],
        marker: MARKERS[index % MARKERS.len()],
        width: 2,
        marker_offset: 14.0 + 23.0 * (index % 4) as f64,
    }
}

/// Distance between markers along a line, pixels.
const MARKER_SPACING: f64 = 95.0;

/// A polyline drawn with a [`SeriesStyle`]: dashes and markers in pixels, whatever the data.
pub struct Line<C> {
    points: Vec<C>,
    style: SeriesStyle,
}

impl<C> Line<C> {
    /// A line through `points`.
    pub fn new(points: Vec<C>, style: SeriesStyle) -> Self {
        Line { points, style }
    }
}

impl<'a, C: 'a> PointCollection<'a, C> for &'a Line<C> {
    type Point = &'a C;
    type IntoIter = &'a [C];
    fn point_iter(self) -> &'a [C] {
        &self.points
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Line<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        points: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let all: Vec<(f64, f64)> = points.map(|(x, y)| (f64::from(x), f64::from(y))).collect();
        draw_styled_path(backend, &thin(&all), &self.style)
    }
}

/// Draws `pixels` (backend coordinates) with `style`'s colour, width, dashes and markers.
pub fn draw_styled_path<DB: DrawingBackend>(
    backend: &mut DB,
    pixels: &[(f64, f64)],
    style: &SeriesStyle,
) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
    let stroke = ShapeStyle::from(&style.color).stroke_width(style.width);
    for run in dash_runs(pixels, style.dash) {
        if run.len() > 1 {
            backend.draw_path(run, &stroke)?;
        }
    }
    if style.marker != Marker::None {
        for at in marker_positions(pixels, style.marker_offset, MARKER_SPACING) {
            draw_marker(backend, at, style.marker, style.color, 4)?;
        }
    }
    Ok(())
}

/// Drops the points closer than 1.5 pixels to the last one kept (they add bytes, not shape);
/// the first and the last point stay.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (index, &point) in points.iter().enumerate() {
        let near = kept
            .last()
            .is_some_and(|last| (point.0 - last.0).hypot(point.1 - last.1) < 1.5);
        if !near || index + 1 == points.len() {
            kept.push(point);
        }
    }
    kept
}

fn round(point: (f64, f64)) -> BackendCoord {
    (point.0.round() as i32, point.1.round() as i32)
}

/// Splits a polyline into the visible runs of a dash pattern.
fn dash_runs(points: &[(f64, f64)], pattern: &[f64]) -> Vec<Vec<BackendCoord>> {
    if points.is_empty() {
        return Vec::new();
    }
    if pattern.is_empty() {
        return vec![points.iter().copied().map(round).collect()];
    }
    let mut runs = Vec::new();
    let mut current = vec![round(points[0])];
    let (mut index, mut on) = (0, true);
    let mut left = pattern[0];
    for pair in points.windows(2) {
        let (mut from, to) = (pair[0], pair[1]);
        let mut length = (to.0 - from.0).hypot(to.1 - from.1);
        while length > left {
            let t = left / length;
            let cut = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
            if on {
                current.push(round(cut));
                runs.push(std::mem::take(&mut current));
            } else {
                current = vec![round(cut)];
            }
            on = !on;
            index = (index + 1) % pattern.len();
            left = pattern[index];
            from = cut;
            length = (to.0 - from.0).hypot(to.1 - from.1);
        }
        left -= length;
        if on {
            current.push(round(to));
        }
    }
    if on && current.len() > 1 {
        runs.push(current);
    }
    runs
}

/// Points every `spacing` pixels along a polyline, from `offset`.
fn marker_positions(points: &[(f64, f64)], offset: f64, spacing: f64) -> Vec<BackendCoord> {
    match points {
        // A series with no point (a variant with no succeeded request has no latency curve)
        // has no marker.
        [] => return Vec::new(),
        [only] => return vec![round(*only)],
        _ => {}
    }
    let mut positions = Vec::new();
    let mut next = offset;
    let mut travelled = 0.0;
    for pair in points.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let length = (to.0 - from.0).hypot(to.1 - from.1);
        while next <= travelled + length && length > 0.0 {
            let t = (next - travelled) / length;
            positions.push(round((
                from.0 + (to.0 - from.0) * t,
                from.1 + (to.1 - from.1) * t,
            )));
            next += spacing;
        }
        travelled += length;
    }
    if positions.is_empty() {
        // A line shorter than the offset still shows its marker, at its middle point.
        positions.push(round(points[points.len() / 2]));
    }
    positions
}

/// Draws one marker centred at `at`.
pub fn draw_marker<DB: DrawingBackend>(
    backend: &mut DB,
    at: BackendCoord,
    marker: Marker,
    color: RGBColor,
    size: i32,
) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
    let (x, y) = at;
    let filled = ShapeStyle::from(&color).filled();
    let outline = ShapeStyle::from(&color).stroke_width(2);
    let white = ShapeStyle::from(&WHITE).filled();
    match marker {
        Marker::Circle => backend.draw_circle(at, size as u32, &filled, true),
        Marker::Ring => {
            backend.draw_circle(at, size as u32, &white, true)?;
            backend.draw_circle(at, size as u32, &outline, false)
        }
        Marker::Triangle => {
            let s = size + 1;
            backend.fill_polygon(
                vec![(x, y - s), (x + s, y + s - 1), (x - s, y + s - 1)],
                &filled,
            )
        }
        Marker::Square => {
            backend.draw_rect((x - size, y - size), (x + size, y + size), &white, true)?;
            backend.draw_rect((x - size, y - size), (x + size, y + size), &outline, false)
        }
        Marker::Diamond => {
            let s = size + 1;
            backend.fill_polygon(
                vec![(x, y - s), (x + s, y), (x, y + s), (x - s, y)],
                &filled,
            )
        }
        Marker::Cross => {
            backend.draw_line((x - size, y - size), (x + size, y + size), &outline)?;
            backend.draw_line((x - size, y + size), (x + size, y - size), &outline)
        }
        Marker::None => Ok(()),
    }
}

/// A legend entry.
#[derive(Debug, Clone)]
pub enum Key {
    /// A line series.
    Series(String, SeriesStyle),
    /// A filled area (fault windows, warm-up).
    Area(String, RGBAColor),
}

impl Key {
    fn label(&self) -> &str {
        match self {
            Key::Series(label, _) | Key::Area(label, _) => label,
        }
    }
}

/// Width of a legend glyph, pixels.
const GLYPH: i32 = 34;

/// Draws the title, a subtitle and a legend at the top of `root`; returns the area left below.
pub fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    keys: &[Key],
) -> PlotResult<DrawingArea<DB, Shift>> {
    let (width, _) = root.dim_in_pixel();
    let left = 16;
    root.draw_text(title, &bold(21, INK), (left, 10))?;
    let mut y = 38;
    if !subtitle.is_empty() {
        root.draw_text(subtitle, &text(13, MUTED), (left, y))?;
        y += 20;
    }
    if !keys.is_empty() {
        let style = text(13, INK);
        let mut x = left;
        for key in keys {
            let (label_width, _) = root.estimate_text_size(key.label(), &style)?;
            let entry = GLYPH + 6 + label_width as i32 + 22;
            if x > left && x + entry > width as i32 - left {
                x = left;
                y += 20;
            }
            let middle = y + 8;
            match key {
                Key::Series(_, series) => {
                    let glyph = Line::new(
                        vec![(x, middle), (x + GLYPH, middle)],
                        SeriesStyle {
                            marker_offset: f64::from(GLYPH) / 2.0,
                            ..*series
                        },
                    );
                    root.draw(&glyph)?;
                }
                Key::Area(_, fill) => {
                    root.draw(&Rectangle::new(
                        [(x, y + 1), (x + GLYPH, y + 15)],
                        fill.filled(),
                    ))?;
                    root.draw(&Rectangle::new(
                        [(x, y + 1), (x + GLYPH, y + 15)],
                        MUTED.stroke_width(1),
                    ))?;
                }
            }
            root.draw_text(key.label(), &style, (x + GLYPH + 6, y))?;
            x += entry;
        }
        y += 20;
    }
    Ok(root.split_vertically(y + 6).1)
}

/// A numeric axis with readable ticks: linear (1, 2, 5 steps) or logarithmic (1, 2, 5 per decade).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueAxis {
    low: f64,
    high: f64,
    log: bool,
    /// `Some(n)`: a category axis, ticks only at 0, 1, ..., n - 1.
    categories: Option<usize>,
}

/// A 1, 2 or 5 times a power of ten, at least `rough`.
pub fn nice_step(rough: f64) -> f64 {
    if rough <= 0.0 || !rough.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    let fraction = rough / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

impl ValueAxis {
    /// Exactly `[low, high]` (a time axis).
    pub fn exact(low: f64, high: f64) -> Self {
        let high = if high > low { high } else { low + 1.0 };
        ValueAxis {
            low,
            high,
            log: false,
            categories: None,
        }
    }

    /// `[low, high]` widened to whole ticks (about six of them).
    pub fn nice(low: f64, high: f64) -> Self {
        let high = if high > low { high } else { low + 1.0 };
        let step = nice_step((high - low) / 6.0);
        ValueAxis {
            low: (low / step).floor() * step,
            high: (high / step).ceil() * step,
            log: false,
            categories: None,
        }
    }

    /// Categories `0..count` (half a category of room on each side), ticked at each one.
    pub fn categories(count: usize) -> Self {
        ValueAxis {
            low: -0.6,
            high: count.max(1) as f64 - 0.4,
            log: false,
            categories: Some(count),
        }
    }

    /// `[0, high]` widened to a whole tick, with room above the highest value.
    pub fn from_zero(high: f64) -> Self {
        ValueAxis::nice(0.0, if high > 0.0 { high * 1.08 } else { 1.0 })
    }

    /// A logarithmic axis covering `[low, high]` (both positive), widened to 1-2-5 values.
    pub fn log(low: f64, high: f64) -> Self {
        let low = if low > 0.0 { low } else { 1e-3 };
        let high = if high > low { high } else { low * 10.0 };
        let down = |v: f64| {
            let power = 10f64.powf(v.log10().floor());
            [5.0, 2.0, 1.0]
                .iter()
                .map(|m| m * power)
                .find(|c| *c <= v * (1.0 + 1e-9))
                .unwrap_or(power)
        };
        let up = |v: f64| {
            let power = 10f64.powf(v.log10().floor());
            [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|m| m * power)
                .find(|c| *c >= v * (1.0 - 1e-9))
                .unwrap_or(power * 10.0)
        };
        ValueAxis {
            low: down(low),
            high: up(high),
            log: true,
            categories: None,
        }
    }

    /// Latency values: logarithmic when they span more than a factor of `20`, else linear from 0.
    pub fn latency(values: impl Iterator<Item = f64>) -> Self {
        let (mut low, mut high) = (f64::INFINITY, 0f64);
        for value in values.filter(|v| *v > 0.0 && v.is_finite()) {
            low = low.min(value);
            high = high.max(value);
        }
        if high <= 0.0 {
            return ValueAxis::from_zero(1.0);
        }
        if high / low > 20.0 {
            ValueAxis::log(low, high)
        } else {
            ValueAxis::from_zero(high)
        }
    }

    /// Whether the axis is logarithmic.
    pub fn is_log(&self) -> bool {
        self.log
    }

    fn fraction(&self, value: f64) -> f64 {
        if self.log {
            let value = value.max(self.low * 1e-3);
            (value.ln() - self.low.ln()) / (self.high.ln() - self.low.ln())
        } else {
            (value - self.low) / (self.high - self.low)
        }
    }

    fn linear_points(&self, count: usize, light: bool) -> Vec<f64> {
        let mut step = nice_step((self.high - self.low) / count.max(1) as f64);
        while (self.high - self.low) / step > count.max(1) as f64 + 1e-9 {
            step = nice_step(step * 1.01);
        }
        if light {
            step /= 2.0;
        }
        let first = (self.low / step - 1e-9).ceil() as i64;
        let last = (self.high / step + 1e-9).floor() as i64;
        (first..=last)
            .map(|k| k as f64 * step)
            .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
            .collect()
    }

    fn log_points(&self, count: usize, light: bool) -> Vec<f64> {
        let first = self.low.log10().floor() as i32;
        let last = self.high.log10().ceil() as i32;
        let within = |v: &f64| *v >= self.low * (1.0 - 1e-9) && *v <= self.high * (1.0 + 1e-9);
        let with = |multiples: &[f64], every: i32| -> Vec<f64> {
            (first..=last)
                .filter(|power| (power - first) % every == 0)
                .flat_map(|power| multiples.iter().map(move |m| m * 10f64.powi(power)))
                .filter(within)
                .collect()
        };
        if light {
            return with(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 1);
        }
        for multiples in [
            &[1.0, 2.0, 3.0, 5.0, 7.0][..],
            &[1.0, 2.0, 5.0],
            &[1.0, 3.0],
            &[1.0],
        ] {
            let points = with(multiples, 1);
            if points.len() <= count {
                return points;
            }
        }
        let mut every = 2;
        loop {
            let points = with(&[1.0], every);
            if points.len() <= count.max(2) {
                return points;
            }
            every += 1;
        }
    }
}

impl Ranged for ValueAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = self.fraction(*value);
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            return Vec::new();
        }
        let light = hint.weight().allow_light_points();
        let count = hint.bold_points().clamp(2, 12);
        if let Some(categories) = self.categories {
            if light {
                return Vec::new();
            }
            let every = categories.div_ceil(count.max(1)).max(1);
            return (0..categories).step_by(every).map(|c| c as f64).collect();
        }
        if self.log {
            self.log_points(count, light)
        } else {
            self.linear_points(count.min(8), light)
        }
    }

    fn range(&self) -> Range<f64> {
        self.low..self.high
    }
}

impl ValueFormatter<f64> for ValueAxis {
    fn format_ext(&self, value: &f64) -> String {
        format_number(*value)
    }
}

/// Left margin of a [`chart`], pixels.
const CHART_LEFT: u32 = 10;
/// Right margin of a [`chart`], pixels.
const CHART_RIGHT: u32 = 22;
/// Width of a [`chart`]'s y label area, pixels.
const CHART_Y_LABELS: u32 = 72;
/// Height of a row of fault labels, pixels.
pub const LABEL_ROW: u32 = 17;

/// A chart with two value axes.
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<ValueAxis, ValueAxis>>;

/// A chart with a plain `f64` x axis (categories by index) and a value axis.
pub type CategoryChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, ValueAxis>>;

/// Builds a chart on `area` with axis titles and the house grid.
pub fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: ValueAxis,
    y: ValueAxis,
    x_desc: &str,
    y_desc: &str,
    y_format: Option<&dyn Fn(&f64) -> String>,
    top: u32,
) -> PlotResult<Chart<'a, DB>> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(CHART_LEFT)
        .margin_right(CHART_RIGHT)
        .margin_top(4 + top)
        .margin_bottom(4)
        .x_label_area_size(if x_desc.is_empty() { 24 } else { 44 })
        .y_label_area_size(CHART_Y_LABELS)
        .build_cartesian_2d(x, y)?;
    let label_style = text(12, INK);
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(GRID.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(MUTED.stroke_width(1))
        .label_style(label_style)
        .axis_desc_style(text(13, INK))
        .x_labels(10)
        .y_labels(7)
        .x_desc(x_desc)
        .y_desc(y_desc);
    if let Some(format) = y_format {
        mesh.y_label_formatter(format);
    }
    mesh.draw()?;
    Ok(chart)
}

/// The fill of fault windows.
pub fn fault_fill() -> RGBAColor {
    PALETTE[1].mix(0.13)
}

/// The fill of the warm-up interval.
pub fn warmup_fill() -> RGBAColor {
    RGBColor(120, 120, 120).mix(0.10)
}

/// Shades the warm-up interval `[0, warmup_s)` and labels it at the bottom.
pub fn shade_warmup<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, warmup_s: f64) -> PlotResult {
    if warmup_s <= 0.0 {
        return Ok(());
    }
    let y = chart.y_range();
    let x0 = chart.x_range().start;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x0, y.start), (warmup_s, y.end)],
        warmup_fill().filled(),
    )))?;
    Ok(())
}

/// Shades each fault's time span on `chart`; spans without an end run to `end_s`.
pub fn shade_faults<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    spans: &[FaultSpan],
    end_s: f64,
) -> PlotResult {
    let y = chart.y_range();
    let x_range = chart.x_range();
    let edge = ShapeStyle::from(&PALETTE[1].mix(0.7)).stroke_width(1);
    for span in spans {
        let start = span.start_s.max(x_range.start);
        let end = span.end_s.unwrap_or(end_s).min(x_range.end);
        if end < start {
            continue;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(start, y.start), (end, y.end)],
            fault_fill().filled(),
        )))?;
        for x in [start, end] {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, y.start), (x, y.end)],
                edge,
            )))?;
        }
    }
    Ok(())
}

/// Gives each label (left pixel, width) the first row where it does not overlap the label
/// before it; returns the rows.
pub fn label_rows(labels: &[(i32, i32)]) -> Vec<usize> {
    let mut row_ends: Vec<i32> = Vec::new();
    labels
        .iter()
        .map(|&(x, width)| {
            let row = row_ends.iter().position(|end| *end < x).unwrap_or_else(|| {
                row_ends.push(i32::MIN);
                row_ends.len() - 1
            });
            row_ends[row] = x + width + 8;
            row
        })
        .collect()
}

/// The height to reserve above a [`chart`] on `area` over the time range `x` for the labels of
/// `spans` (see [`label_faults`]).
pub fn fault_label_space<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    spans: &[FaultSpan],
    x: &ValueAxis,
) -> PlotResult<u32> {
    let (width, _) = area.dim_in_pixel();
    let left = (CHART_LEFT + CHART_Y_LABELS) as i32;
    fault_label_space_between(root, spans, x, left..width as i32 - CHART_RIGHT as i32)
}

/// [`fault_label_space`] for a plot area spanning the pixel columns `pixels` of its area.
pub fn fault_label_space_between<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spans: &[FaultSpan],
    x: &ValueAxis,
    pixels: Range<i32>,
) -> PlotResult<u32> {
    if spans.is_empty() {
        return Ok(0);
    }
    let (left, right) = (pixels.start, pixels.end);
    let labels = fault_label_boxes(
        root,
        spans,
        x.range(),
        |t| {
            left + (f64::from(right - left) * (t - x.range().start)
                / (x.range().end - x.range().start))
                .round() as i32
        },
        left..right,
    )?;
    let rows = label_rows(&labels).into_iter().max().map_or(0, |r| r + 1);
    Ok(rows as u32 * LABEL_ROW + 2)
}

/// (left pixel, width) of each span's label, given where a time falls in pixels.
fn fault_label_boxes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spans: &[FaultSpan],
    x_range: Range<f64>,
    pixel: impl Fn(f64) -> i32,
    pixels: Range<i32>,
) -> PlotResult<Vec<(i32, i32)>> {
    let style = text(12, INK);
    spans
        .iter()
        .map(|span| {
            let (width, _) = root.estimate_text_size(&span.label(), &style)?;
            let x = pixel(span.start_s.clamp(x_range.start, x_range.end));
            Ok((
                (x + 3).min(pixels.end - width as i32).max(pixels.start),
                width as i32,
            ))
        })
        .collect()
}

/// Writes each span's label ("crash article#0") in the `space` pixels reserved above the plot
/// area of `chart` (see [`fault_label_space`]), from its start, stacking labels that overlap.
pub fn label_faults<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    root: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    spans: &[FaultSpan],
    space: u32,
) -> PlotResult {
    if spans.is_empty() || space == 0 {
        return Ok(());
    }
    let (x_pixels, y_pixels) = chart.plotting_area().get_pixel_range();
    let y_any = chart.y_range().start;
    let boxes = fault_label_boxes(
        root,
        spans,
        chart.x_range(),
        |t| chart.backend_coord(&(t, y_any)).0,
        x_pixels,
    )?;
    let rows = ((space.saturating_sub(2)) / LABEL_ROW).max(1) as usize;
    let style = text(12, INK);
    for ((span, &(x, _)), row) in spans.iter().zip(&boxes).zip(label_rows(&boxes)) {
        let row = row.min(rows - 1);
        // Row 0 right above the plot area, later rows above it.
        let y = y_pixels.start - 2 - (row as i32 + 1) * LABEL_ROW as i32;
        root.draw_text(&span.label(), &style, (x, y))?;
    }
    Ok(())
}

/// Turns a `Result` from a backend call into a [`PlotError`].
pub fn backend<T, E: std::fmt::Debug>(result: Result<T, E>) -> PlotResult<T> {
    result.map_err(|error| PlotError(format!("{error:?}")))
}

/// The subtitle's note on a series drawn in buckets of `per_bucket` windows (empty when every
/// window is drawn).
pub fn bucket_note(per_bucket: u64) -> String {
    if per_bucket <= 1 {
        return String::new();
    }
    format!(" – {per_bucket} windows per bucket, each drawn as its lowest and highest values")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_alternate_and_cover_the_line() {
        let runs = dash_runs(&[(0.0, 0.0), (30.0, 0.0)], &[10.0, 5.0]);
        assert_eq!(runs, vec![vec![(0, 0), (10, 0)], vec![(15, 0), (25, 0)]]);
        assert_eq!(dash_runs(&[(0.0, 0.0), (3.0, 4.0)], &[]).len(), 1);
    }

    #[test]
    fn axes_have_readable_ticks() {
        let axis = ValueAxis::nice(0.0, 57.3);
        assert_eq!(axis.range(), 0.0..60.0);
        assert_eq!(
            axis.linear_points(8, false),
            vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
        let log = ValueAxis::log(0.7, 130.0);
        assert_eq!(log.range(), 0.5..200.0);
        let ticks = log.log_points(10, false);
        assert!(
            ticks.contains(&1.0) && ticks.contains(&10.0) && ticks.contains(&100.0),
            "{ticks:?}"
        );
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(20000.0), "20k");
        assert_eq!(format_number(1500.0), "1500");
    }
}
