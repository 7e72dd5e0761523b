//! A whole run into a folder: the simulation streams its rows into the report's files, then the
//! summary, the SLO verdicts, the plots and `report.html` are written, all renamed into place
//! together when everything succeeded.

use super::openmetrics::OpenMetricsRecorder;
use super::{FileRecorder, OutputFiles, Progress, ProgressRecorder, Summary, TraceRecorder};
use crate::analysis::alerts;
use crate::analysis::slo::{self, EdgeRecorder};
use crate::model::Model;
use crate::sim::Simulation;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs `model` and writes its report into `dir` (atomically: all files or none), moving
/// `progress` along simulated time. Returns the summary and the wall-clock time the simulation
/// itself took (reports and plots excluded; printed, never written to a report file).
pub fn run_to_folder(
    model: &Model,
    dir: &Path,
    progress: &Progress,
) -> std::io::Result<(Summary, Duration)> {
    run_to_folder_traced(model, dir, progress, None)
}

/// The error of [`run_to_folder`] for a run the simulator stopped before its end
/// ([`crate::sim::RunResult::stopped`]): the reason names the cause and the simulated time. No
/// report is written (the figures of a stopped run are partial); find it with
/// [`RunStopped::of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStopped(pub String);

impl std::fmt::Display for RunStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunStopped {}

impl RunStopped {
    /// The stop inside an I/O error of [`run_to_folder`], if that is what it is.
    pub fn of(error: &std::io::Error) -> Option<&RunStopped> {
        error.get_ref()?.downcast_ref::<RunStopped>()
    }
}

/// Where `meshsim run --traces` writes sampled requests, and the sampling probability.
#[derive(Debug, Clone)]
pub struct TraceOutput {
    /// The OTLP/JSON file.
    pub path: PathBuf,
    /// Fraction of requests written, in (0, 1].
    pub probability: f64,
}

/// [`run_to_folder`], also writing sampled requests as OTLP/JSON when `traces` asks for it.
pub fn run_to_folder_traced(
    model: &Model,
    dir: &Path,
    progress: &Progress,
    traces: Option<&TraceOutput>,
) -> std::io::Result<(Summary, Duration)> {
    run_to_folder_with(model, dir, progress, traces, None, false)
}

/// [`run_to_folder_traced`], also writing the run's metrics as OpenMetrics text to
/// `openmetrics` when given (see [`super::openmetrics`]), and leaving idle rows out of the CSV
/// files with `omit_idle_rows` ([`FileRecorder::omit_idle_rows`]).
pub fn run_to_folder_with(
    model: &Model,
    dir: &Path,
    progress: &Progress,
    traces: Option<&TraceOutput>,
    openmetrics: Option<&Path>,
    omit_idle_rows: bool,
) -> std::io::Result<(Summary, Duration)> {
    let mut files = OutputFiles::new(dir)?;
    let file_recorder = FileRecorder::new(&mut files)?.omit_idle_rows(omit_idle_rows);
    let recorder = EdgeRecorder::for_model(ProgressRecorder::new(file_recorder, progress), model);
    let started = Instant::now();
    // The metrics recorder goes outside the trace recorder: it passes trace events on.
    let (result, recorder) = match (traces, openmetrics) {
        (None, None) => Simulation::run(model, recorder),
        (Some(traces), None) => {
            let traced = TraceRecorder::new(recorder, model, &traces.path, traces.probability)?;
            let (result, traced) = Simulation::run(model, traced);
            (result, traced.finish()?)
        }
        (None, Some(path)) => {
            let metered = OpenMetricsRecorder::new(recorder, model, path)?;
            let (result, metered) = Simulation::run(model, metered);
            (result, metered.finish()?)
        }
        (Some(traces), Some(path)) => {
            let traced = TraceRecorder::new(recorder, model, &traces.path, traces.probability)?;
            let metered = OpenMetricsRecorder::new(traced, model, path)?;
            let (result, metered) = Simulation::run(model, metered);
            (result, metered.finish()?.finish()?)
        }
    };
    let simulation_wall = started.elapsed();
    if let Some(reason) = result.stopped {
        // A stopped run's figures are partial: no report (its files are removed on drop), and
        // no metrics file either.
        if let Some(path) = openmetrics {
            let _ = std::fs::remove_file(path);
        }
        return Err(std::io::Error::other(RunStopped(reason)));
    }
    let (recorder, edge_windows) = recorder.into_parts();
    recorder.into_inner().finish()?;
    let mut summary = Summary::new(model, &result);
    summary.slo = model
        .slo
        .as_ref()
        .map(|objectives| slo::evaluate(model, objectives, &result, &edge_windows));
    summary.alerts = alerts::evaluate(model, &edge_windows);
    files.write("summary.json", summary.to_json().as_bytes())?;
    files.write("setup.json", super::Setup::new(model).to_json().as_bytes())?;
    files.write(
        "latency.csv",
        super::latency_quantiles_csv(&result.latency).as_bytes(),
    )?;
    // The plots read their data back from the files: the run's histograms are not needed while
    // they are drawn (so the peak memory is the larger of the two phases, not their sum).
    drop(result);
    super::render_run(&mut files)?;
    files.commit_whole()?;
    Ok((summary, simulation_wall))
}
