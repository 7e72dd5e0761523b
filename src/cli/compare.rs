//! `meshsim compare SCENARIO`: variants × replications with common random numbers.

use super::{load, say, AppError};
use crate::compare::{self, export, replicate::Progress, Plan};
use crate::report;
use std::path::{Path, PathBuf};

/// The arguments of `meshsim compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The scenario file (TOML), or an Istio isotope topology (.yaml), imported with defaults.
    pub scenario: PathBuf,
    /// An axis of variants, KEY=V1,V2,... (repeatable: several make a cross product);
    /// without one, the file's `[compare]` table.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Replications per variant (default: the file's `[compare]` replications, else 5).
    #[arg(long, short = 'r', value_name = "R")]
    pub replications: Option<u32>,
    /// Output folder (default: `reports/<scenario name>-compare/`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Root seed, overriding the file's `[scenario]` seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Override one value of the file for every variant (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Worker threads [default: all cores]; results do not depend on it.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Plans, runs every replication on a pool of `--threads`, writes the comparison folder and
/// prints its table.
pub fn run(args: &CompareArgs) -> Result<(), AppError> {
    let overrides = load::overrides(&args.overrides, args.seed)?;
    let source = load::source(&args.scenario)?;
    let plan = compare::plan(&source, &args.vary, args.replications, &overrides)
        .map_err(AppError::Invalid)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|error| AppError::Failed(format!("cannot start the worker threads: {error}")))?;
    let bar = progress_bar(&plan, args.quiet);
    let outcome = pool.install(|| compare::execute(&plan, &|_: Progress| bar.inc()));
    bar.finish();
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("{}-compare", plan.base.name)));
    compare::write_report(&outcome, &dir).map_err(|error| {
        AppError::Failed(format!(
            "writing the comparison to {}: {error}",
            dir.display()
        ))
    })?;
    if !args.quiet {
        say(&export::render_terminal(&outcome.comparison));
        say(&format!("  report        {}\n", dir.display()));
    }
    Ok(())
}

/// The progress bar over every replication (on a terminal, without `--quiet`, past a second).
fn progress_bar(plan: &Plan, quiet: bool) -> report::Progress {
    let total = plan.variants.len() as u64 * u64::from(plan.replications);
    report::Progress::replications(total, report::progress::wanted(quiet))
}
