//! `latency.svg/png`: end-to-end p50 and p99 per window over time, faults shaded and labelled.

use super::style::{self, Key, Line};
use super::{Figure, PlotResult};
use crate::report::format::format_number;
use crate::report::rundata::{FaultSpan, RunData};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The latency-over-time plot of one run.
pub struct LatencyPlot {
    scenario: String,
    seed: u64,
    /// Window width, for the subtitle.
    window_s: f64,
    /// Windows per bucket (1: every window drawn).
    per_bucket: u64,
    warmup_s: f64,
    end_s: f64,
    /// Runs of (window middle s, p50 ms, p99 ms) of the windows in which some request
    /// succeeded ([`crate::report::rundata::EdgeSeries::latency_runs`]).
    runs: Vec<Vec<(f64, f64, f64)>>,
    faults: Vec<FaultSpan>,
    /// The latency objective, if the scenario has one: (label, ms).
    objectives: Vec<(String, f64)>,
}

impl LatencyPlot {
    /// From a run's data.
    pub fn new(data: &RunData) -> Self {
        LatencyPlot {
            scenario: data.summary.scenario.clone(),
            seed: data.summary.seed,
            window_s: data.edge.window_s,
            per_bucket: data.edge.per_bucket,
            warmup_s: data.summary.warmup_s,
            end_s: data.end_s(),
            runs: data
                .edge
                .latency_runs
                .iter()
                .filter(|run| !run.is_empty())
                .cloned()
                .collect(),
            faults: data.fault_spans(),
            objectives: latency_objectives(&data.summary_json),
        }
    }

    /// Every point, in time order.
    fn points(&self) -> impl Iterator<Item = &(f64, f64, f64)> {
        self.runs.iter().flatten()
    }
}

/// The p50 and p99 latency objectives of `summary.json`'s `slo` section (the percentiles this
/// plot draws), as (percentile, ms).
pub fn latency_objectives(summary: &serde_json::Value) -> Vec<(String, f64)> {
    let Some(report) = summary.get("slo").and_then(|slo| {
        serde_json::from_value::<crate::analysis::slo::SloReport>(slo.clone()).ok()
    }) else {
        return Vec::new();
    };
    report
        .latency
        .iter()
        .filter(|l| l.percentile == "p50" || l.percentile == "p99")
        .map(|l| (l.percentile.clone(), l.target_ms))
        .collect()
}

impl Figure for LatencyPlot {
    fn name(&self) -> &'static str {
        "latency"
    }

    fn title(&self) -> String {
        "End-to-end latency over time (p50 and p99 per window)".to_string()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let p50 = style::series(0);
        let p99 = style::series(1);
        let mut keys = vec![
            Key::Series("p50".into(), p50),
            Key::Series("p99".into(), p99),
        ];
        if !self.faults.is_empty() {
            keys.push(Key::Area("fault".into(), style::fault_fill()));
        }
        if self.warmup_s > 0.0 {
            keys.push(Key::Area(
                "warm-up (not measured)".into(),
                style::warmup_fill(),
            ));
        }
        let objective = style::SeriesStyle {
            marker: style::Marker::None,
            width: 1,
            ..style::series(3)
        };
        // An objective far above the data would flatten it: it is then only named.
        let highest = self.points().map(|p| p.2).fold(0.0, f64::max);
        let (shown, off_scale): (Vec<_>, Vec<_>) = self
            .objectives
            .iter()
            .partition(|(_, target)| *target <= highest * 1.5 || highest == 0.0);
        for (label, target) in &shown {
            keys.push(Key::Series(
                format!("{label} objective ({} ms)", format_number(*target)),
                objective,
            ));
        }
        let mut subtitle = format!(
            "{} – seed {} – succeeded requests ending in each {} s window",
            self.scenario,
            self.seed,
            format_number(self.window_s)
        );
        subtitle.push_str(&style::bucket_note(self.per_bucket));
        for (label, target) in &off_scale {
            subtitle.push_str(&format!(
                " – {label} objective {} ms (above the scale)",
                format_number(*target)
            ));
        }
        let area = style::header(root, &self.title(), &subtitle, &keys)?;
        let values = self
            .points()
            .flat_map(|p| [p.1, p.2])
            .chain(shown.iter().map(|o| o.1));
        let y = style::ValueAxis::latency(values);
        let y_desc = if y.is_log() {
            "latency (ms, log scale)"
        } else {
            "latency (ms)"
        };
        let x = style::ValueAxis::exact(0.0, self.end_s);
        let space = style::fault_label_space(root, &area, &self.faults, &x)?;
        let mut chart = style::chart(&area, x, y, "simulated time (s)", y_desc, None, space)?;
        style::shade_warmup(&mut chart, self.warmup_s)?;
        style::shade_faults(&mut chart, &self.faults, self.end_s)?;
        style::label_faults(root, &chart, &self.faults, space)?;
        for (_, target) in &shown {
            let x_range = chart.x_range();
            chart.draw_series(std::iter::once(Line::new(
                vec![(x_range.start, *target), (x_range.end, *target)],
                objective,
            )))?;
        }
        for run in &self.runs {
            chart.draw_series(std::iter::once(Line::new(
                run.iter().map(|p| (p.0, p.2)).collect(),
                p99,
            )))?;
            chart.draw_series(std::iter::once(Line::new(
                run.iter().map(|p| (p.0, p.1)).collect(),
                p50,
            )))?;
        }
        if self.runs.is_empty() {
            let (x, y) = chart.plotting_area().get_pixel_range();
            root.draw_text(
                "no request succeeded",
                &style::text(16, style::MUTED),
                ((x.start + x.end) / 2 - 80, (y.start + y.end) / 2),
            )?;
        }
        Ok(())
    }
}
