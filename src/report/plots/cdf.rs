//! `cdf.svg/png`: the end-to-end latency distribution of each variant of a comparison (or of one
//! run), from quantile files (`quantile,latency_ms`). Left: the CDF. Right: the tail, latency
//! against the percentile on a "nines" scale (p50, p90, p99, p99.9, ...), where the differences
//! that matter for tail latency are visible.

use super::style::{self, Key, Line, ValueAxis};
use super::{Figure, PlotResult};
use crate::report::format::format_number;
use plotters::coord::Shift;
use plotters::prelude::*;

/// At most this many distributions are drawn (a comparison's first variants, the baseline
/// first): more lines cannot be told apart, and each costs about 1,000 points in every file.
pub const MAX_DISTRIBUTIONS: usize = 20;

/// One distribution: a label and its (quantile, latency ms) points, by increasing quantile.
#[derive(Debug, Clone)]
pub struct Distribution {
    /// Variant label.
    pub label: String,
    /// (quantile in [0, 1], latency ms).
    pub quantiles: Vec<(f64, f64)>,
}

/// The CDF plot of several distributions.
pub struct CdfPlot {
    subtitle: String,
    distributions: Vec<Distribution>,
}

impl CdfPlot {
    /// A plot of `distributions`, one line each, in the order given.
    pub fn new(subtitle: String, distributions: Vec<Distribution>) -> Self {
        CdfPlot {
            subtitle,
            distributions,
        }
    }
}

/// The "nines" of a quantile: 0.9 -> 1, 0.99 -> 2, 0.999 -> 3.
fn nines(quantile: f64) -> f64 {
    -(1.0 - quantile).log10()
}

/// The percentile label of a position on the nines scale: 1 -> `p90`, 2 -> `p99`, 3 -> `p99.9`.
fn percentile_label(position: f64) -> String {
    let quantile = 1.0 - 10f64.powf(-position);
    let percent = quantile * 100.0;
    let text = format!("{percent:.4}");
    format!("p{}", text.trim_end_matches('0').trim_end_matches('.'))
}

impl Figure for CdfPlot {
    fn name(&self) -> &'static str {
        "cdf"
    }

    fn title(&self) -> String {
        "End-to-end latency distribution".to_string()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let keys: Vec<Key> = self
            .distributions
            .iter()
            .enumerate()
            .map(|(index, d)| Key::Series(d.label.clone(), style::series(index)))
            .collect();
        let area = style::header(root, &self.title(), &self.subtitle, &keys)?;
        let (width, _) = area.dim_in_pixel();
        let (left, right) = area.split_horizontally(width * 55 / 100);

        let all = || self.distributions.iter().flat_map(|d| d.quantiles.iter());
        let latency_axis = ValueAxis::latency(all().map(|p| p.1));
        let x_desc = if latency_axis.is_log() {
            "latency (ms, log scale)"
        } else {
            "latency (ms)"
        };
        let fraction = |v: &f64| format_number(*v);
        let mut chart = style::chart(
            &left,
            latency_axis.clone(),
            ValueAxis::exact(0.0, 1.0),
            x_desc,
            "fraction of succeeded requests ≤ latency",
            Some(&fraction),
            0,
        )?;
        for (index, distribution) in self.distributions.iter().enumerate() {
            let low = latency_axis_low(&latency_axis);
            let points: Vec<(f64, f64)> = distribution
                .quantiles
                .iter()
                .map(|&(q, ms)| (ms.max(low), q))
                .collect();
            chart.draw_series(std::iter::once(Line::new(points, style::series(index))))?;
        }

        let tail_end = all()
            .filter(|p| p.0 < 1.0)
            .map(|p| nines(p.0))
            .fold(2.0f64, f64::max);
        let tail_end = (tail_end - 1e-6).ceil();
        let tail_axis = ValueAxis::exact(0.0, tail_end);
        let label = |v: &f64| percentile_label(*v);
        let mut chart = tail_chart(&right, tail_axis, latency_axis.clone(), &label)?;
        for (index, distribution) in self.distributions.iter().enumerate() {
            let low = latency_axis_low(&latency_axis);
            let points: Vec<(f64, f64)> = distribution
                .quantiles
                .iter()
                .filter(|p| p.0 < 1.0)
                .map(|&(q, ms)| (nines(q), ms.max(low)))
                .collect();
            chart.draw_series(std::iter::once(Line::new(points, style::series(index))))?;
        }
        Ok(())
    }
}

fn latency_axis_low(axis: &ValueAxis) -> f64 {
    use plotters::coord::ranged1d::Ranged;
    axis.range().start
}

/// The tail panel: percentile (nines scale) across, latency up.
fn tail_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: ValueAxis,
    y: ValueAxis,
    x_format: &dyn Fn(&f64) -> String,
) -> PlotResult<style::Chart<'a, DB>> {
    let y_desc = if y.is_log() {
        "latency (ms, log scale)"
    } else {
        "latency (ms)"
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(6)
        .margin_right(34)
        .margin_top(4)
        .margin_bottom(4)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .bold_line_style(style::GRID.stroke_width(1))
        .light_line_style(style::GRID_LIGHT.stroke_width(1))
        .axis_style(style::MUTED.stroke_width(1))
        .label_style(style::text(12, style::INK))
        .axis_desc_style(style::text(13, style::INK))
        .x_labels(8)
        .y_labels(7)
        .x_label_formatter(x_format)
        .x_desc("percentile (tail stretched)")
        .y_desc(y_desc)
        .draw()?;
    Ok(chart)
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_are_labelled_by_their_nines() {
        assert_eq!(super::percentile_label(0.0), "p0");
        assert_eq!(super::percentile_label(1.0), "p90");
        assert_eq!(super::percentile_label(2.0), "p99");
        assert_eq!(super::percentile_label(3.0), "p99.9");
        assert!((super::nines(0.999) - 3.0).abs() < 1e-9);
    }
}
