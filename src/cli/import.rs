//! `meshsim import FORMAT FILE`: print a scenario made from another tool's file, checked as any
//! scenario is.

use super::{say, AppError};
use crate::import::{self, isotope};
use crate::scenario::Source;
use std::path::PathBuf;

/// Formats `meshsim import` reads.
#[derive(Debug, clap::Subcommand)]
pub enum ImportFormat {
    /// An Istio isotope service graph (YAML): services, replicas, scripts of calls and sleeps.
    Isotope(IsotopeArgs),
}

/// `meshsim import isotope` arguments.
#[derive(Debug, clap::Args)]
pub struct IsotopeArgs {
    /// The isotope topology (YAML).
    pub file: PathBuf,
    /// Requests per second sent to each isEntrypoint service (open Poisson).
    #[arg(long, value_name = "PER_SECOND", default_value_t = isotope::DEFAULT_RATE)]
    pub rate: f64,
    /// Simulated load period.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub duration: String,
    /// Warm-up (requests arriving before it are not measured).
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub warmup: String,
    /// Service time of services whose script has no sleep.
    #[arg(long, value_name = "DISTRIBUTION", default_value = isotope::DEFAULT_SERVICE_TIME)]
    pub service_time: String,
    /// Replicas of every service, instead of the file's numReplicas.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub replicas: Option<u32>,
    /// Workers (concurrent requests) per replica.
    #[arg(long, value_name = "N", default_value_t = isotope::DEFAULT_WORKERS, value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: u32,
    /// Scenario seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Scenario name [default: the file's name without extension].
    #[arg(long)]
    pub name: Option<String>,
}

impl From<&IsotopeArgs> for isotope::ImportOptions {
    fn from(args: &IsotopeArgs) -> Self {
        isotope::ImportOptions {
            rate: args.rate,
            duration: args.duration.clone(),
            warmup: args.warmup.clone(),
            service_time: args.service_time.clone(),
            replicas: args.replicas,
            workers: args.workers,
            seed: args.seed,
            name: args.name.clone(),
        }
    }
}

/// Runs `meshsim import FORMAT ...`.
pub fn run(format: &ImportFormat) -> Result<(), AppError> {
    match format {
        ImportFormat::Isotope(args) => isotope(args),
    }
}

/// Prints the imported scenario once it has been checked as any scenario is.
fn isotope(args: &IsotopeArgs) -> Result<(), AppError> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        return Err(AppError::invalid(format!(
            "--rate: must be a positive number of requests per second, found {}",
            args.rate
        )));
    }
    let source: Source = import::isotope_source(&args.file, &args.into())?;
    source.load(&[])?;
    say(&source.text);
    Ok(())
}
