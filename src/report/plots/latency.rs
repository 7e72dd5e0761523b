//! `latency.svg/png`: end-to-end p50 and p99 per window over time, faults shaded and labelled.

use super::style::{self, Key, Line};
use super::{Figure, PlotResult};
use crate::report::rundata::{FaultSpan, RunData};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The latency-over-time plot of one run.
pub struct LatencyPlot {
    scenario: String,
    seed: u64,
    /// Window width, to break the lines where windows are missing.
    window_s: f64,
    warmup_s: f64,
    end_s: f64,
    /// (window middle s, p50 ms, p99 ms) of the windows in which some request succeeded.
    points: Vec<(f64, f64, f64)>,
    faults: Vec<FaultSpan>,
    /// The latency objective, if the scenario has one: (label, ms).
    objectives: Vec<(String, f64)>,
}

impl LatencyPlot {
    /// From a run's data.
    pub fn new(data: &RunData) -> Self {
        let mut window_s: f64 = 0.0;
        let points = data
            .edge_windows()
            .inspect(|row| window_s = window_s.max(row.window_s))
            .filter(|row| row.succeeded > 0)
            .map(|row| (row.time_s + row.window_s / 2.0, row.p50_ms, row.p99_ms))
            .collect();
        LatencyPlot {
            scenario: data.summary.scenario.clone(),
            seed: data.summary.seed,
            window_s,
            warmup_s: data.summary.warmup_s,
            end_s: data.end_s(),
            points,
            faults: data.fault_spans(),
            objectives: latency_objectives(&data.summary_json),
        }
    }

    /// Splits the points into runs of consecutive windows (a window without successes breaks
    /// the line rather than drawing a slope across it).
    fn runs(&self) -> Vec<&[(f64, f64, f64)]> {
        let mut runs = Vec::new();
        let mut start = 0;
        for index in 1..=self.points.len() {
            let broken = index == self.points.len()
                || self.points[index].0 - self.points[index - 1].0 > self.window_s * 1.5;
            if broken {
                runs.push(&self.points[start..index]);
                start = index;
            }
        }
        runs.retain(|run| !run.is_empty());
        runs
    }
}

/// Latency objectives of `summary.json`'s `slo` section, when it has the shape
/// `slo.latency_ms.<pNN>` or `slo.latency.<pNN>` with a number (ms) or `{"target": ms}`.
pub fn latency_objectives(summary: &serde_json::Value) -> Vec<(String, f64)> {
    let Some(slo) = summary.get("slo") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for key in ["latency_ms", "latency"] {
        if let Some(map) = slo.get(key).and_then(|v| v.as_object()) {
            for (label, value) in map {
                let target = value
                    .as_f64()
                    .or_else(|| value.get("target_ms").and_then(|v| v.as_f64()))
                    .or_else(|| value.get("target").and_then(|v| v.as_f64()));
                if let Some(target) = target {
                    found.push((label.clone(), target));
                }
            }
        }
    }
    found
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
        let mut keys = vec![Key::Series("p50".into(), p50), Key::Series("p99".into(), p99)];
        if !self.faults.is_empty() {
            keys.push(Key::Area("fault".into(), style::fault_fill()));
        }
        if self.warmup_s > 0.0 {
            keys.push(Key::Area("warm-up (not measured)".into(), style::warmup_fill()));
        }
        let objective = style::SeriesStyle { marker: style::Marker::None, width: 1, ..style::series(3) };
        for (label, _) in &self.objectives {
            keys.push(Key::Series(format!("objective {label}"), objective));
        }
        let subtitle = format!(
            "{} – seed {} – succeeded requests ending in each {} s window",
            self.scenario,
            self.seed,
            style::format_number(self.window_s)
        );
        let area = style::header(root, &self.title(), &subtitle, &keys)?;
        let values = self.points.iter().flat_map(|p| [p.1, p.2]).chain(self.objectives.iter().map(|o| o.1));
        let y = style::ValueAxis::latency(values);
        let y_desc = if y.is_log() { "latency (ms, log scale)" } else { "latency (ms)" };
        let x = style::ValueAxis::exact(0.0, self.end_s);
        let mut chart = style::chart(&area, x, y, "simulated time (s)", y_desc, None)?;
        style::shade_warmup(&mut chart, self.warmup_s)?;
        style::shade_faults(root, &mut chart, &self.faults, self.end_s, true)?;
        for (_, target) in &self.objectives {
            let x_range = chart.x_range();
            chart.draw_series(std::iter::once(Line::new(
                vec![(x_range.start, *target), (x_range.end, *target)],
                objective,
            )))?;
        }
        for run in self.runs() {
            chart.draw_series(std::iter::once(Line::new(run.iter().map(|p| (p.0, p.2)).collect(), p99)))?;
            chart.draw_series(std::iter::once(Line::new(run.iter().map(|p| (p.0, p.1)).collect(), p50)))?;
        }
        if self.points.is_empty() {
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
