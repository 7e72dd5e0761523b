//! `replicas.svg/png`: per-replica load over time as a heatmap. One row per replica of the
//! busiest services, one column per window (windows are merged past [`MAX_COLUMNS`]); a cell's
//! colour is the replica's share of its service's tries in that column, relative to an even
//! split (1 = its fair share), on a colour scale whose lightness rises with the value, so it
//! reads in grayscale too. Cells where the replica was crashed or hung are hatched.

use super::style::{self, INK, MUTED};
use super::{Figure, PlotResult};
use crate::report::format::format_number;
use crate::report::rundata::{FaultSpan, RunData};
use plotters::coord::Shift;
use plotters::prelude::*;

/// At most this many services are shown (the busiest).
pub const MAX_SERVICES: usize = 6;
/// At most this many replicas of one service are shown (the first ones).
pub const MAX_REPLICAS: usize = 12;
/// At most this many time columns.
pub const MAX_COLUMNS: usize = 150;
/// Shares are drawn from 0 to this (higher values get the top colour).
const SHARE_MAX: f64 = 2.0;
/// Colour levels (cells of equal level next to each other are drawn as one rectangle).
const LEVELS: usize = 33;
/// The colour of a column in which the service received nothing.
const NO_LOAD: RGBColor = RGBColor(236, 236, 236);

/// One heatmap row.
#[derive(Debug, Clone)]
struct Row {
    label: String,
    /// Per column: colour level (`None`: the service received nothing) and whether the replica
    /// was crashed or hung at some window end in the column.
    cells: Vec<(Option<usize>, bool)>,
}

/// A service's group of rows.
#[derive(Debug, Clone)]
struct Group {
    service: String,
    /// Mean tries per second per replica over the run.
    per_replica_rate: f64,
    hidden_replicas: usize,
    rows: Vec<Row>,
}

/// The per-replica load plot of one run.
pub struct ReplicaPlot {
    scenario: String,
    seed: u64,
    /// Column boundaries, seconds (one more than the columns).
    edges: Vec<f64>,
    groups: Vec<Group>,
    hidden_services: usize,
    /// Faults and load changes of the load period (see [`RunData::marked_spans`]).
    faults: Vec<FaultSpan>,
    /// When the load ended, seconds, if the run drained past it: the drain's windows are left
    /// out (their few tries would make the last column's shares noise), and the subtitle says so.
    drain_from_s: Option<f64>,
}

impl ReplicaPlot {
    /// From a run's data ([`crate::report::rundata::ReplicaLoad`]: the sums per replica and
    /// column, read from `replicas.csv` as it streamed by).
    pub fn new(data: &RunData) -> Self {
        let load = &data.replica_load;
        let edges = load.edges.clone();
        let span = edges.last().copied().unwrap_or(0.0) - edges.first().copied().unwrap_or(0.0);
        let groups = load
            .services
            .iter()
            .map(|service| {
                let replicas = service.replicas;
                let rows = service
                    .cells
                    .iter()
                    .enumerate()
                    .map(|(replica, own)| {
                        let cells = own
                            .iter()
                            .zip(&service.columns)
                            .map(|(&(arrivals, unhealthy), &service_total)| {
                                let level = (service_total > 0).then(|| {
                                    let share = arrivals as f64 * f64::from(replicas)
                                        / service_total as f64;
                                    ((share / SHARE_MAX).clamp(0.0, 1.0) * (LEVELS - 1) as f64)
                                        .round() as usize
                                });
                                (level, unhealthy)
                            })
                            .collect();
                        Row {
                            label: format!("{}#{replica}", service.name),
                            cells,
                        }
                    })
                    .collect();
                Group {
                    service: service.name.clone(),
                    per_replica_rate: if span > 0.0 {
                        service.total as f64 / f64::from(replicas) / span
                    } else {
                        0.0
                    },
                    hidden_replicas: replicas as usize - service.cells.len(),
                    rows,
                }
            })
            .collect();
        ReplicaPlot {
            scenario: data.summary.scenario.clone(),
            seed: data.summary.seed,
            edges,
            groups,
            hidden_services: load.hidden_services,
            faults: data
                .marked_spans()
                .into_iter()
                .filter(|span| span.start_s < data.summary.duration_s)
                .collect(),
            drain_from_s: (data.end_s() > data.summary.duration_s)
                .then_some(data.summary.duration_s),
        }
    }

    fn row_count(&self) -> usize {
        self.groups.iter().map(|g| g.rows.len()).sum()
    }
}

/// The colour of a level.
fn level_color(level: Option<usize>) -> RGBColor {
    match level {
        Some(level) => ViridisRGB::get_color(level as f64 / (LEVELS - 1) as f64),
        None => NO_LOAD,
    }
}

impl Figure for ReplicaPlot {
    fn name(&self) -> &'static str {
        "replicas"
    }

    fn title(&self) -> String {
        "Per-replica load over time (share of the service's tries)".to_string()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let mut subtitle = format!(
            "{} – seed {} – colour: a replica's tries relative to an even split of its service's (1 = fair share); hatched: crashed or hung",
            self.scenario, self.seed
        );
        if self.hidden_services > 0 {
            let plural = if self.hidden_services == 1 {
                "service"
            } else {
                "services"
            };
            subtitle.push_str(&format!(
                " – {} quieter {plural} not shown",
                self.hidden_services
            ));
        }
        if let Some(from) = self.drain_from_s {
            subtitle.push_str(&format!(
                " – load period only: the drain after {} s is left out",
                format_number(from)
            ));
        }
        let area = style::header(root, &self.title(), &subtitle, &[])?;
        let rows = self.row_count();
        if rows == 0 || self.edges.len() < 2 {
            root.draw_text(
                "no replica rows (replicas.csv is empty)",
                &style::text(16, MUTED),
                (40, 120),
            )?;
            return Ok(());
        }
        let (start, end) = (self.edges[0], *self.edges.last().unwrap_or(&1.0));
        let x = style::ValueAxis::exact(start, end);
        let y = style::ValueAxis::exact(0.0, rows as f64);
        let (width, _) = area.dim_in_pixel();
        let space =
            style::fault_label_space_between(root, &self.faults, &x, 200..width as i32 - 120)?;
        let mut chart = ChartBuilder::on(&area)
            .margin_left(10)
            .margin_right(120)
            .margin_top(4 + space)
            .margin_bottom(4)
            .x_label_area_size(44)
            .y_label_area_size(190)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_x_mesh()
            .y_labels(0)
            .axis_style(MUTED.stroke_width(1))
            .label_style(style::text(12, INK))
            .axis_desc_style(style::text(13, INK))
            .x_labels(10)
            .x_desc("simulated time (s)")
            .draw()?;

        // Cells, merged along each row where the colour does not change.
        let mut index = 0usize;
        let mut hatches: Vec<(f64, f64, f64)> = Vec::new();
        for group in &self.groups {
            for row in &group.rows {
                let top = (rows - index) as f64;
                let bottom = top - 1.0;
                let mut column = 0;
                while column < row.cells.len() {
                    let level = row.cells[column].0;
                    let mut last = column;
                    while last + 1 < row.cells.len() && row.cells[last + 1].0 == level {
                        last += 1;
                    }
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(self.edges[column], bottom), (self.edges[last + 1], top)],
                        level_color(level).filled(),
                    )))?;
                    column = last + 1;
                }
                let mut column = 0;
                while column < row.cells.len() {
                    if row.cells[column].1 {
                        let mut last = column;
                        while last + 1 < row.cells.len() && row.cells[last + 1].1 {
                            last += 1;
                        }
                        hatches.push((self.edges[column], self.edges[last + 1], bottom));
                        column = last + 1;
                    } else {
                        column += 1;
                    }
                }
                index += 1;
            }
        }
        // Hatching: white diagonal strokes over unhealthy spans, 7 px apart.
        for (from, to, bottom) in hatches {
            let (x0, y1) = chart.backend_coord(&(from, bottom));
            let (x1, y0) = chart.backend_coord(&(to, bottom + 1.0));
            let height = y1 - y0;
            let mut x = x0 - height;
            while x < x1 {
                let (a, b) = (
                    (x.max(x0), y1 - (x.max(x0) - x)),
                    ((x + height).min(x1), y1 - ((x + height).min(x1) - x)),
                );
                root.draw(&PathElement::new(vec![a, b], WHITE.stroke_width(2)))?;
                root.draw(&PathElement::new(
                    vec![(a.0 + 2, a.1), (b.0 + 2, b.1)],
                    INK.mix(0.6).stroke_width(1),
                ))?;
                x += 7;
            }
        }

        // Row labels and service separators.
        let (x_pixels, _) = chart.plotting_area().get_pixel_range();
        let label_style = style::text(11, INK);
        let group_style = style::bold(12, INK);
        let mut index = 0usize;
        for group in &self.groups {
            let top = (rows - index) as f64;
            let (_, y_top) = chart.backend_coord(&(start, top));
            let (_, y_bottom) = chart.backend_coord(&(start, top - group.rows.len() as f64));
            root.draw(&PathElement::new(
                vec![(x_pixels.start - 186, y_top), (x_pixels.end, y_top)],
                WHITE.stroke_width(2),
            ))?;
            root.draw(&PathElement::new(
                vec![(x_pixels.start - 186, y_top), (x_pixels.start, y_top)],
                MUTED.stroke_width(1),
            ))?;
            let mut name = group.service.clone();
            if group.hidden_replicas > 0 {
                name.push_str(&format!(" (+{})", group.hidden_replicas));
            }
            let rate = format!(
                "{}/s per replica",
                format_number(group.per_replica_rate.round())
            );
            let middle = (y_top + y_bottom) / 2;
            let row_height = (y_bottom - y_top) / group.rows.len().max(1) as i32;
            if group.rows.len() >= 2 && row_height * group.rows.len() as i32 >= 30 {
                root.draw_text(&name, &group_style, (x_pixels.start - 184, middle - 14))?;
                root.draw_text(
                    &rate,
                    &style::text(11, MUTED),
                    (x_pixels.start - 184, middle + 1),
                )?;
            } else {
                root.draw_text(&name, &group_style, (x_pixels.start - 184, middle - 7))?;
            }
            for (offset, row) in group.rows.iter().enumerate() {
                if row_height >= 10 || offset % 2 == 0 {
                    let replica = row.label.rsplit('#').next().unwrap_or("");
                    let (_, y) = chart.backend_coord(&(start, top - offset as f64 - 0.5));
                    let text = format!("#{replica}");
                    let (w, h) = root.estimate_text_size(&text, &label_style)?;
                    root.draw_text(
                        &text,
                        &label_style,
                        (x_pixels.start - 6 - w as i32, y - h as i32 / 2),
                    )?;
                }
            }
            index += group.rows.len();
        }

        // Fault boundaries, and labels above the cells.
        let (_, y_pixels) = chart.plotting_area().get_pixel_range();
        for span in &self.faults {
            for time in [Some(span.start_s), span.end_s].into_iter().flatten() {
                if time > start && time < end {
                    let (x, _) = chart.backend_coord(&(time, 0.0));
                    root.draw(&PathElement::new(
                        vec![(x, y_pixels.start), (x, y_pixels.end)],
                        INK.stroke_width(1),
                    ))?;
                }
            }
        }
        style::label_faults(root, &chart, &self.faults, space)?;

        // Colour scale.
        let bar_x = x_pixels.end + 26;
        let (bar_top, bar_bottom) = (y_pixels.start + 10, y_pixels.end - 10);
        let steps = LEVELS as i32;
        let step_height = ((bar_bottom - bar_top) as f64 / steps as f64).max(1.0);
        for level in 0..LEVELS {
            let y0 = bar_bottom - ((level + 1) as f64 * step_height).round() as i32;
            let y1 = bar_bottom - (level as f64 * step_height).round() as i32;
            root.draw(&Rectangle::new(
                [(bar_x, y0), (bar_x + 16, y1)],
                level_color(Some(level)).filled(),
            ))?;
        }
        let bar_end = bar_bottom - (LEVELS as f64 * step_height).round() as i32;
        root.draw(&Rectangle::new(
            [(bar_x, bar_end), (bar_x + 16, bar_bottom)],
            MUTED.stroke_width(1),
        ))?;
        for (value, label) in [
            (0.0, "0"),
            (0.5, "0.5"),
            (1.0, "1 fair"),
            (1.5, "1.5"),
            (2.0, "≥ 2"),
        ] {
            let y =
                bar_bottom - ((value / SHARE_MAX) * (bar_bottom - bar_end) as f64).round() as i32;
            root.draw(&PathElement::new(
                vec![(bar_x + 16, y), (bar_x + 20, y)],
                MUTED.stroke_width(1),
            ))?;
            root.draw_text(label, &style::text(11, INK), (bar_x + 23, y - 6))?;
        }
        root.draw(&Rectangle::new(
            [(bar_x, bar_bottom + 14), (bar_x + 16, bar_bottom + 26)],
            NO_LOAD.filled(),
        ))?;
        root.draw_text(
            "no tries",
            &style::text(11, INK),
            (bar_x + 23, bar_bottom + 14),
        )?;
        Ok(())
    }
}
