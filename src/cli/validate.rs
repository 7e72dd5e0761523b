//! `meshsim validate SCENARIO`: every problem with its line and column, or a one-line summary.

use super::{load, say, AppError};
use std::path::PathBuf;

/// The arguments of `meshsim validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The scenario file (TOML), or an Istio isotope topology (.yaml), imported with defaults.
    pub scenario: PathBuf,
    /// Override one value of the file before checking (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Checks the scenario; prints what it holds when it is valid.
pub fn run(args: &ValidateArgs) -> Result<(), AppError> {
    let overrides = load::overrides(&args.overrides, None)?;
    let model = load::model(&args.scenario, &overrides)?;
    say(&format!(
        "{}: ok ({} services, {} endpoints, {} workloads, {} faults)\n",
        args.scenario.display(),
        model.services.len(),
        model.endpoints.len(),
        model.workloads.len(),
        model.faults.len()
    ));
    Ok(())
}
