//! `availability.svg/png`: per window, the share of ending requests that succeeded (top) and the
//! throughput — offered, succeeded and failed requests per second (bottom); faults shaded.

use super::style::{self, Key, Line, ValueAxis};
use super::{Figure, PlotResult};
use crate::report::format::format_number;
use crate::report::rundata::{FaultSpan, RunData, WindowPoint as Window};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The availability-and-throughput plot of one run.
pub struct AvailabilityPlot {
    scenario: String,
    seed: u64,
    window_s: f64,
    /// Windows per bucket (1: every window drawn).
    per_bucket: u64,
    warmup_s: f64,
    end_s: f64,
    windows: Vec<Window>,
    faults: Vec<FaultSpan>,
    objective: Option<f64>,
}

impl AvailabilityPlot {
    /// From a run's data.
    pub fn new(data: &RunData) -> Self {
        AvailabilityPlot {
            scenario: data.summary.scenario.clone(),
            seed: data.summary.seed,
            window_s: data.edge.window_s,
            per_bucket: data.edge.per_bucket,
            warmup_s: data.summary.warmup_s,
            end_s: data.end_s(),
            windows: data.edge.points.clone(),
            faults: data.marked_spans(),
            objective: availability_objective(&data.summary_json),
        }
    }
}

/// The availability objective of `summary.json`'s `slo` section (a number in [0, 1], or an
/// object with `target`), if any.
pub fn availability_objective(summary: &serde_json::Value) -> Option<f64> {
    let value = summary.get("slo")?.get("availability")?;
    value
        .as_f64()
        .or_else(|| value.get("target").and_then(|v| v.as_f64()))
}

/// Whether availabilities (fractions) as low as `lowest` crowd against 100% on a percent axis:
/// all at or above 99.9%.
fn crowded_near_full(lowest: f64) -> bool {
    lowest >= 0.999
}

/// Requests failed per million, from an availability (a fraction).
fn failed_per_million(availability: f64) -> f64 {
    (1.0 - availability).max(0.0) * 1e6
}

/// The lower end of the availability axis (percent): a round value below the lowest point.
fn availability_floor(lowest_percent: f64) -> f64 {
    [99.9, 99.5, 99.0, 98.0, 95.0, 90.0, 80.0, 50.0, 0.0]
        .into_iter()
        .find(|floor| *floor <= lowest_percent - (100.0 - floor) * 0.05)
        .unwrap_or(0.0)
}

impl Figure for AvailabilityPlot {
    fn name(&self) -> &'static str {
        "availability"
    }

    fn title(&self) -> String {
        "Availability and throughput over time".to_string()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let availability = style::series(0);
        let offered = style::SeriesStyle {
            marker: style::Marker::None,
            ..style::series(3)
        };
        let offered = style::SeriesStyle {
            dash: style::DASHES[4],
            ..offered
        };
        let succeeded = style::series(2);
        let failed = style::series(1);
        let objective = style::SeriesStyle {
            marker: style::Marker::None,
            width: 1,
            ..style::series(3)
        };
        let mut keys = vec![
            Key::Series("availability".into(), availability),
            Key::Series("offered".into(), offered),
            Key::Series("succeeded".into(), succeeded),
            Key::Series("failed".into(), failed),
        ];
        if self.objective.is_some() {
            keys.push(Key::Series("availability objective".into(), objective));
        }
        if !self.faults.is_empty() {
            keys.push(Key::Area("fault".into(), style::fault_fill()));
        }
        if self.warmup_s > 0.0 {
            keys.push(Key::Area(
                "warm-up (not measured)".into(),
                style::warmup_fill(),
            ));
        }
        // The lowest availability drawn (windows and objective), a fraction.
        let lowest = self
            .windows
            .iter()
            .filter_map(|w| w.availability)
            .chain(self.objective)
            .fold(1.0f64, f64::min);
        let mut subtitle = format!(
            "{} – seed {} – end-to-end requests per {} s window: availability = succeeded / ended",
            self.scenario,
            self.seed,
            format_number(self.window_s)
        );
        if crowded_near_full(lowest) {
            subtitle.push_str(", shown as failed per million (every window at or above 99.9%)");
        }
        subtitle.push_str(&style::bucket_note(self.per_bucket));
        let area = style::header(root, &self.title(), &subtitle, &keys)?;
        let (_, height) = area.dim_in_pixel();
        let (top, bottom) = area.split_vertically(height * 47 / 100);

        // Where every window is at or above 99.9%, percentages crowd against 100% and hide the
        // difference between 99.99% and 99.9999%: the panel shows failures per million instead,
        // on an axis from zero.
        let per_million = crowded_near_full(lowest);
        let (y, to_axis): (ValueAxis, Box<dyn Fn(f64) -> f64>) = if per_million {
            let highest = self
                .windows
                .iter()
                .filter_map(|w| w.availability)
                .chain(self.objective)
                .map(failed_per_million)
                .fold(0.0f64, f64::max);
            (
                ValueAxis::from_zero(highest.max(1.0)),
                Box::new(failed_per_million),
            )
        } else {
            let floor = availability_floor(lowest * 100.0);
            (
                ValueAxis::exact(floor, 100.0 + (100.0 - floor) * 0.04),
                Box::new(move |value: f64| (value * 100.0).max(floor)),
            )
        };
        let x = ValueAxis::exact(0.0, self.end_s);
        let percent = |v: &f64| format!("{}%", format_number(*v));
        let space = style::fault_label_space(root, &top, &self.faults, &x)?;
        let mut chart = style::chart(
            &top,
            x.clone(),
            y,
            "",
            if per_million {
                "failed per million"
            } else {
                "availability (%)"
            },
            if per_million { None } else { Some(&percent) },
            space,
        )?;
        style::shade_warmup(&mut chart, self.warmup_s)?;
        style::shade_faults(&mut chart, &self.faults, self.end_s)?;
        style::label_faults(root, &chart, &self.faults, space)?;
        if let Some(target) = self.objective {
            let x_range = chart.x_range();
            chart.draw_series(std::iter::once(Line::new(
                vec![
                    (x_range.start, to_axis(target)),
                    (x_range.end, to_axis(target)),
                ],
                objective,
            )))?;
        }
        let mut run: Vec<(f64, f64)> = Vec::new();
        for window in &self.windows {
            match window.availability {
                Some(value) => run.push((window.middle, to_axis(value))),
                None => {
                    if !run.is_empty() {
                        chart.draw_series(std::iter::once(Line::new(
                            std::mem::take(&mut run),
                            availability,
                        )))?;
                    }
                }
            }
        }
        if !run.is_empty() {
            chart.draw_series(std::iter::once(Line::new(run, availability)))?;
        }

        // Throughput, requests per second.
        let highest = self
            .windows
            .iter()
            .map(|w| w.offered.max(w.succeeded).max(w.failed))
            .fold(0.0, f64::max);
        let y = ValueAxis::from_zero(highest);
        let mut chart = style::chart(&bottom, x, y, "simulated time (s)", "requests / s", None, 6)?;
        style::shade_warmup(&mut chart, self.warmup_s)?;
        style::shade_faults(&mut chart, &self.faults, self.end_s)?;
        for (series, pick) in [
            (offered, (|w: &Window| w.offered) as fn(&Window) -> f64),
            (succeeded, |w: &Window| w.succeeded),
            (failed, |w: &Window| w.failed),
        ] {
            let points: Vec<(f64, f64)> =
                self.windows.iter().map(|w| (w.middle, pick(w))).collect();
            chart.draw_series(std::iter::once(Line::new(points, series)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_availability_axis_starts_at_a_round_value_below_the_data() {
        assert_eq!(super::availability_floor(99.95), 99.9);
        assert_eq!(super::availability_floor(99.14), 99.0);
        assert_eq!(super::availability_floor(40.0), 0.0);
    }

    #[test]
    fn availabilities_near_full_are_drawn_as_failures_per_million() {
        assert!(super::crowded_near_full(0.999));
        assert!(super::crowded_near_full(1.0));
        assert!(!super::crowded_near_full(0.9989));
        // 99.99% and 99.9999% differ by 99 per million: apart on this axis, equal at 0.1% steps.
        let apart = super::failed_per_million(0.9999) - super::failed_per_million(0.999999);
        assert!((apart - 99.0).abs() < 1e-6, "{apart}");
        assert_eq!(super::failed_per_million(1.0), 0.0);
    }
}
