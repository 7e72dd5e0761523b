//! `comparison.svg/png`: one small panel per metric; in each, every variant's mean across its
//! replications as a marker with its 95% confidence interval as a whisker. Variants keep the
//! same colour and marker in every panel (and in `cdf`).

use super::style::{self, Key, ValueAxis, INK, MUTED};
use super::{Figure, PlotResult};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One metric across the variants.
#[derive(Debug, Clone)]
pub struct MetricPanel {
    /// Panel title, e.g. `p99 latency`.
    pub title: String,
    /// Unit for the axis, e.g. `ms` (empty for none).
    pub unit: String,
    /// `Some(true)`: lower is better; `Some(false)`: higher is better.
    pub lower_is_better: Option<bool>,
    /// Per variant (in legend order): (mean, CI low, CI high); `None` when not measured.
    pub values: Vec<Option<(f64, f64, f64)>>,
    /// Per variant: its difference to the baseline (the first variant) is significant.
    pub significant: Vec<bool>,
    /// The values are percentages (the axis stops at 100).
    pub percent: bool,
}

/// The comparison chart.
pub struct ComparisonPlot {
    subtitle: String,
    variants: Vec<String>,
    panels: Vec<MetricPanel>,
}

impl ComparisonPlot {
    /// A chart of `panels` over `variants` (labels, in order).
    pub fn new(subtitle: String, variants: Vec<String>, panels: Vec<MetricPanel>) -> Self {
        ComparisonPlot {
            subtitle,
            variants,
            panels,
        }
    }
}

/// Whether a panel's value axis leaves out zero (its values all lie above it): the panel then
/// shows a broken-axis mark and says where the axis starts, so that a small difference is not
/// read as a large one.
fn axis_is_broken(panel: &MetricPanel) -> bool {
    panel_axis(panel).range().start > 0.0
}

/// The axis of one panel: the intervals with a margin, from zero when the values are near it.
fn panel_axis(panel: &MetricPanel) -> ValueAxis {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(mean, lo, hi) in panel.values.iter().flatten() {
        for v in [mean, lo, hi] {
            if v.is_finite() {
                low = low.min(v);
                high = high.max(v);
            }
        }
    }
    if !low.is_finite() || (low.abs() < 1e-12 && high.abs() < 1e-12) {
        return ValueAxis::nice(0.0, 1.0);
    }
    let pad = ((high - low) * 0.15).max(high.abs().max(low.abs()) * 0.02);
    let low = if low >= 0.0 && low - pad <= (high - low) {
        0.0
    } else {
        low - pad
    };
    let mut high = high + pad;
    if panel.percent && high > 100.0 {
        high = 100.0_f64.max(low + 1e-6);
    }
    ValueAxis::nice(low, high)
}

impl Figure for ComparisonPlot {
    fn name(&self) -> &'static str {
        "comparison"
    }

    fn title(&self) -> String {
        "Variants compared: mean and 95% confidence interval per metric".to_string()
    }

    fn size(&self) -> (u32, u32) {
        // Three panels a row; past three rows the figure grows rather than the panels shrink.
        let rows = self.panels.len().div_ceil(3).max(1) as u32;
        let (width, height) = super::SIZE;
        (width, height.max(110 + rows * 150))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let keys: Vec<Key> = self
            .variants
            .iter()
            .enumerate()
            .map(|(index, label)| {
                let series = style::SeriesStyle {
                    dash: &[],
                    ..style::series(index)
                };
                Key::Series(format!("{} {label}", index + 1), series)
            })
            .collect();
        let mut subtitle = self.subtitle.clone();
        if self
            .panels
            .iter()
            .any(|p| p.significant.iter().skip(1).any(|s| *s))
        {
            subtitle.push_str(" – * differs significantly from variant 1 (paired)");
        }
        let area = style::header(root, &self.title(), &subtitle, &keys)?;
        if self.panels.is_empty() {
            root.draw_text("no metrics", &style::text(16, MUTED), (40, 120))?;
            return Ok(());
        }
        let columns = self.panels.len().min(3);
        let rows = self.panels.len().div_ceil(columns);
        let cells = area.split_evenly((rows, columns));
        let count = self.variants.len();
        for (panel, cell) in self.panels.iter().zip(&cells) {
            let mut heading = panel.title.clone();
            if !panel.unit.is_empty() {
                heading.push_str(&format!(" ({})", panel.unit));
            }
            let hint = match panel.lower_is_better {
                Some(true) => "lower is better",
                Some(false) => "higher is better",
                None => "",
            };
            cell.draw_text(&heading, &style::bold(13, INK), (14, 4))?;
            if !hint.is_empty() {
                let (w, _) = cell.estimate_text_size(&heading, &style::bold(13, INK))?;
                cell.draw_text(hint, &style::text(11, MUTED), (14 + w as i32 + 8, 6))?;
            }
            let plot_area = cell.split_vertically(22).1;
            let x = ValueAxis::categories(count);
            let y = panel_axis(panel);
            let broken_at = axis_is_broken(panel).then(|| y.range().start);
            let labels = |v: &f64| {
                let index = v.round();
                if (v - index).abs() < 1e-6 && index >= 0.0 && (index as usize) < count {
                    format!("{}", index as usize + 1)
                } else {
                    String::new()
                }
            };
            let mut chart = ChartBuilder::on(&plot_area)
                .margin_left(4)
                .margin_right(14)
                .margin_bottom(6)
                .x_label_area_size(22)
                .y_label_area_size(62)
                .build_cartesian_2d(x, y)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .bold_line_style(style::GRID.stroke_width(1))
                .light_line_style(style::GRID_LIGHT.stroke_width(1))
                .axis_style(MUTED.stroke_width(1))
                .label_style(style::text(11, INK))
                .x_labels(12)
                .y_labels(5)
                .x_label_formatter(&labels)
                .draw()?;
            if let Some(start) = broken_at {
                // The broken-axis mark: two slanted strokes across the foot of the value axis.
                let (x_pixels, y_pixels) = chart.plotting_area().get_pixel_range();
                let (x0, y0) = (x_pixels.start, y_pixels.end - 8);
                let ink = ShapeStyle::from(&INK).stroke_width(2);
                for offset in [0, 6] {
                    root.draw(&PathElement::new(
                        vec![(x0 - 6, y0 + 4 - offset), (x0 + 6, y0 - 4 - offset)],
                        ink,
                    ))?;
                }
                let note = format!(
                    "axis broken: starts at {}",
                    crate::report::format::format_number(start)
                );
                let style = style::text(11, MUTED);
                let (width, _) = cell.estimate_text_size(&note, &style)?;
                let (cell_width, _) = cell.dim_in_pixel();
                cell.draw_text(&note, &style, (cell_width as i32 - width as i32 - 12, 24))?;
            }
            for (index, value) in panel.values.iter().enumerate() {
                let Some((mean, low, high)) = *value else {
                    continue;
                };
                let series = style::series(index);
                let at = index as f64;
                let (x, y_mean) = chart.backend_coord(&(at, mean));
                let (_, y_low) = chart.backend_coord(&(at, low));
                let (_, y_high) = chart.backend_coord(&(at, high));
                let whisker = ShapeStyle::from(&series.color).stroke_width(2);
                root.draw(&PathElement::new(vec![(x, y_low), (x, y_high)], whisker))?;
                for y in [y_low, y_high] {
                    root.draw(&PathElement::new(vec![(x - 7, y), (x + 7, y)], whisker))?;
                }
                root.draw(&MarkerAt {
                    at: (x, y_mean),
                    series,
                })?;
                if panel.significant.get(index).copied().unwrap_or(false) && index > 0 {
                    root.draw_text(
                        "*",
                        &style::bold(16, INK),
                        (x + 9, y_high.min(y_mean - 6) - 4),
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// A variant's marker at a pixel position.
struct MarkerAt {
    at: (i32, i32),
    series: style::SeriesStyle,
}

impl<'a> plotters::element::PointCollection<'a, (i32, i32)> for &'a MarkerAt {
    type Point = &'a (i32, i32);
    type IntoIter = std::iter::Once<&'a (i32, i32)>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> plotters::element::Drawable<DB> for MarkerAt {
    fn draw<I: Iterator<Item = (i32, i32)>>(
        &self,
        mut points: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), plotters_backend::DrawingErrorKind<DB::ErrorType>> {
        match points.next() {
            Some(at) => style::draw_marker(backend, at, self.series.marker, self.series.color, 6),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(values: &[(f64, f64, f64)], percent: bool) -> MetricPanel {
        MetricPanel {
            title: "metric".into(),
            unit: String::new(),
            lower_is_better: Some(true),
            values: values.iter().copied().map(Some).collect(),
            significant: vec![false; values.len()],
            percent,
        }
    }

    #[test]
    fn an_axis_without_zero_is_marked_broken() {
        // 12.0 ms against 12.65 ms: the axis would magnify 0.65 ms; it leaves zero out, and
        // the panel says so.
        let close = panel(&[(12.0, 11.9, 12.1), (12.65, 12.55, 12.75)], false);
        assert!(axis_is_broken(&close));
        // Availability crowded near 100%: broken as well.
        let near_one = panel(
            &[(99.9998, 99.9996, 100.0), (99.9984, 99.998, 99.999)],
            true,
        );
        assert!(axis_is_broken(&near_one));
        // Values spread from near zero: the axis starts at zero, nothing is marked.
        let spread = panel(&[(1.0, 0.8, 1.2), (5.0, 4.5, 5.5)], false);
        assert!(!axis_is_broken(&spread));
        assert_eq!(panel_axis(&spread).range().start, 0.0);
    }
}
