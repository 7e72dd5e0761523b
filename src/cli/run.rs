//! `meshsim run SCENARIO`: simulate, write the report folder, print the summary.

use super::{load, say, AppError};
use crate::analysis::slo::SloReport;
use crate::report::{self, Summary};
use std::path::{Path, PathBuf};

/// Every file `meshsim run` writes, for `meshsim run --help` (and the man page); the test
/// `run_help_lists_every_file_written` compares it with a run's folder.
pub const FILES_WRITTEN: &str = "\
Files written into the output folder (--out DIR, default reports/<scenario name>/):
  summary.json             requests, availability, latency, per-service figures, SLO verdicts
  timeseries.csv           per window and service (and end to end): arrivals, outcomes, latency
  replicas.csv             per window and replica: tries, busy workers, queue, health
  events.csv               faults and governance actions (ejections, breakers, scaling), timed
  latency.csv              end-to-end latency quantiles of succeeded requests
  latency.svg, .png        p50 and p99 over time, faults shaded
  availability.svg, .png   availability and requests per second over time
  replicas.svg, .png       per-replica load heatmap
  cdf.svg, .png            the latency distribution and its tail
  setup.json               what was simulated: registry, services, policies, calls, workloads, faults
  report.html              one self-contained page with all of the above
  .meshsim-files           the list of these files (a later run removes those it does not write)
With --traces FILE: sampled requests as OTLP/JSON traces, in FILE.
With --openmetrics FILE: the time series as OpenMetrics text under Istio's names, in FILE.
Standard output: the summary (--quiet: nothing). Files: docs/reports.md.";

/// The arguments of `meshsim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML), or an Istio isotope topology (.yaml), imported with defaults.
    pub scenario: PathBuf,
    /// Output folder (default: `reports/<scenario name>/`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Root seed, overriding the file's `[scenario]` seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Override one value of the file, e.g. policy.balancer=p2c, service.article.workers=64,
    /// workload.readers.rate=2000, fault.0.at=10s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Services listed in the summary's table: the N failing or busiest (the others summed on
    /// one line), or `all`.
    #[arg(long, value_name = "N|all", default_value = "20", value_parser = parse_services)]
    pub services: ServiceLimit,
    /// Also write sampled end-to-end requests as OTLP/JSON traces to FILE (opens in Jaeger's
    /// UI; `meshsim import traces` reads it back).
    #[arg(long, value_name = "FILE")]
    pub traces: Option<PathBuf>,
    /// Fraction of requests written by --traces, chosen by request identity (0 < P <= 1).
    #[arg(long, value_name = "P", default_value_t = 1.0, requires = "traces")]
    pub trace_sample: f64,
    /// Also write the run's time series as OpenMetrics text to FILE: Istio's standard metrics
    /// (`istio_requests_total`, `istio_request_duration_milliseconds`) with timestamps, for
    /// `promtool tsdb create-blocks-from openmetrics` (see docs/metrics.md).
    #[arg(long, value_name = "FILE")]
    pub openmetrics: Option<PathBuf>,
    /// Exit with status 3 when an `[slo]` objective is not met (0 when every one is), printing
    /// which; the scenario must have an `[slo]` table.
    #[arg(long)]
    pub check: bool,
    /// Leave out of timeseries.csv and replicas.csv the rows of services and replicas with
    /// nothing in the window (no arrival, nothing in flight or queued, replica up): big meshes
    /// are mostly idle, and those rows are most of the files.
    #[arg(long)]
    pub omit_idle_rows: bool,
    /// Also print what is simulated, before the run: the registry, each service with its
    /// replicas, the balancer and policies of calls to it and its calls, the workloads with
    /// their schedules, the faults (report.html shows the same, with the topology diagram).
    #[arg(long, short)]
    pub verbose: bool,
}

/// How many services the summary's table lists (`None`: all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLimit(pub Option<usize>);

/// Parses `--services`: a positive count, or `all`.
fn parse_services(text: &str) -> Result<ServiceLimit, String> {
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(ServiceLimit(None));
    }
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(ServiceLimit(Some(n))),
        _ => Err(format!(
            "expected a number of services (at least 1) or all, found \"{text}\""
        )),
    }
}

/// Runs the scenario into its report folder and prints the summary (unless `--quiet`).
pub fn run(args: &RunArgs) -> Result<(), AppError> {
    if !(args.trace_sample > 0.0 && args.trace_sample <= 1.0) {
        return Err(AppError::invalid(format!(
            "--trace-sample: must be a probability in (0, 1], found {}",
            args.trace_sample
        )));
    }
    let traces = args.traces.as_ref().map(|path| report::TraceOutput {
        path: path.clone(),
        probability: args.trace_sample,
    });
    let overrides = load::overrides(&args.overrides, args.seed)?;
    let model = load::model(&args.scenario, &overrides)?;
    if args.check && model.slo.is_none() {
        return Err(AppError::invalid(format!(
            "{}: --check judges the run against the scenario's [slo] table, and it has none",
            args.scenario.display()
        )));
    }
    if args.openmetrics.is_some() && !model.window.is_multiple_of(1_000_000) {
        return Err(AppError::invalid(format!(
            "--openmetrics: the window ({} ns) must be a whole number of milliseconds, the \
             precision of Prometheus' timestamps",
            model.window
        )));
    }
    if args.verbose && !args.quiet {
        say(&report::Setup::new(&model).render_text());
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&model.name));
    if let Some(path) = &args.openmetrics {
        check_side_file("--openmetrics", path, &dir)?;
    }
    if let Some(traces) = &traces {
        check_side_file("--traces", &traces.path, &dir)?;
    }
    let progress = report::Progress::simulation(
        model.duration as f64 / 1e9,
        report::progress::wanted(args.quiet),
    );
    let written = report::run_to_folder_with(
        &model,
        &dir,
        &progress,
        traces.as_ref(),
        args.openmetrics.as_deref(),
        args.omit_idle_rows,
    );
    progress.finish();
    let (summary, simulation_wall) =
        written.map_err(|error| match report::RunStopped::of(&error) {
            // The cause first; then that nothing was written (a stopped run's figures are partial).
            Some(stopped) => AppError::Failed(format!(
                "{stopped}; no report was written to {} (the figures of a stopped run are partial)",
                dir.display()
            )),
            None => AppError::Failed(format!("writing the report to {}: {error}", dir.display())),
        })?;
    if !args.quiet {
        say(&report::render_terminal_limited(&summary, args.services.0));
        say(&engine_line(&summary, simulation_wall));
        say(&format!("  report        {}\n", dir.display()));
        if let Some(traces) = &traces {
            say(&format!("  traces        {}\n", traces.path.display()));
        }
        if let Some(path) = &args.openmetrics {
            say(&format!("  openmetrics   {}\n", path.display()));
        }
    }
    match summary.slo.as_ref().filter(|_| args.check) {
        Some(slo) => {
            let missed = missed_objectives(slo);
            if missed.is_empty() {
                Ok(())
            } else {
                Err(AppError::ObjectivesMissed(missed))
            }
        }
        None => Ok(()),
    }
}

/// One line per `[slo]` target the run missed.
fn missed_objectives(slo: &SloReport) -> Vec<String> {
    let mut missed = Vec::new();
    if let Some(availability) = slo.availability.as_ref().filter(|a| !a.met) {
        missed.push(format!(
            "availability {} < target {}",
            availability.actual, availability.target
        ));
    }
    for latency in slo.latency.iter().filter(|l| !l.met) {
        missed.push(format!(
            "{} latency {} ms > target {} ms",
            latency.percentile, latency.actual_ms, latency.target_ms
        ));
    }
    missed
}

/// How fast the simulation itself ran (wall-clock: printed, never written to a report file).
fn engine_line(summary: &Summary, wall: std::time::Duration) -> String {
    let seconds = wall.as_secs_f64().max(1e-9);
    format!(
        "  engine        {} events in {:.3} s wall: {:.2} M events/s, {:.0} measured requests/s\n",
        summary.events,
        seconds,
        summary.events as f64 / seconds / 1e6,
        summary.requests.offered as f64 / seconds
    )
}

/// Checks, before anything runs or is written, that a file asked for beside the report
/// (`--openmetrics FILE`, `--traces FILE`) can be written and will not be replaced by the
/// report itself: its folder exists, it is not a folder, and it is not one of the report's own
/// files in the report folder `out`.
fn check_side_file(flag: &str, path: &Path, out: &Path) -> Result<(), AppError> {
    if path.is_dir() {
        return Err(AppError::invalid(format!(
            "{flag} {}: is a folder (give the name of the file to write)",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(AppError::invalid(format!(
            "{flag} {}: folder {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    let name = path.file_name().map(|name| name.to_string_lossy());
    let same_folder = match (parent.canonicalize(), out.canonicalize()) {
        (Ok(parent), Ok(out)) => parent == out,
        _ => false, // the report folder does not exist yet: nothing in it to collide with
    };
    if same_folder && name.as_deref().is_some_and(report::is_report_file_name) {
        return Err(AppError::invalid(format!(
            "{flag} {}: the report in {} writes a file of that name (give another name or \
             folder)",
            path.display(),
            out.display()
        )));
    }
    Ok(())
}
