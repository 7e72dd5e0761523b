//! `meshsim run SCENARIO`: simulate, write the report folder, print the summary.

use super::{load, say, AppError};
use crate::report::{self, Summary};
use std::path::{Path, PathBuf};

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
}

/// Runs the scenario into its report folder and prints the summary (unless `--quiet`).
pub fn run(args: &RunArgs) -> Result<(), AppError> {
    let overrides = load::overrides(&args.overrides, args.seed)?;
    let model = load::model(&args.scenario, &overrides)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&model.name));
    let progress = report::Progress::simulation(
        model.duration as f64 / 1e9,
        report::progress::wanted(args.quiet),
    );
    let written = report::run_to_folder(&model, &dir, &progress);
    progress.finish();
    let (summary, simulation_wall) = written.map_err(|error| {
        AppError::Failed(format!("writing the report to {}: {error}", dir.display()))
    })?;
    if !args.quiet {
        say(&report::render_terminal(&summary));
        say(&engine_line(&summary, simulation_wall));
        say(&format!("  report        {}\n", dir.display()));
    }
    Ok(())
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
