//! `meshsim merge DIR... --out FINAL`: the item folders of a sharded sweep into its comparison.

use super::compare::{judge, rules};
use super::{say, AppError};
use crate::compare::{self, export, merge};
use std::path::PathBuf;

/// The arguments of `meshsim merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The --out folders of `meshsim compare --shard I/N` (each holding items/).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The comparison folder to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Exit with status 3 when a variant misses an `[slo]` objective or breaks a --fail-if rule.
    #[arg(long)]
    pub check: bool,
    /// With --check: a rule a variant must not break (see `meshsim compare --fail-if`).
    #[arg(long = "fail-if", value_name = "RULE")]
    pub fail_if: Vec<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Checks and merges the shards' items, writes the comparison folder, prints its table.
pub fn run(args: &MergeArgs) -> Result<(), AppError> {
    let rules = rules(&args.fail_if, args.check)?;
    let merged = merge::merge(&args.dirs).map_err(|error| AppError::Invalid(error.lines()))?;
    compare::write_comparison(&merged.comparison, &merged.latency_csv, &args.out).map_err(
        |error| {
            AppError::Failed(format!(
                "writing the comparison to {}: {error}",
                args.out.display()
            ))
        },
    )?;
    if !args.quiet {
        say(&export::render_terminal(&merged.comparison));
        say(&format!("  report        {}\n", args.out.display()));
    }
    judge(&merged.comparison, &rules, args.check)
}
