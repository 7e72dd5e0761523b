//! `meshsim compare`: variants x replications with common random numbers, and the statistics
//! that compare them. (Being built: see the reports issue.)

use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `meshsim compare`, as the command line gives them.
#[derive(Debug, Clone)]
pub struct CompareArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// `key=v1,v2,...` axes; several make a cross product; none: the file's `[compare]` table.
    pub vary: Vec<String>,
    /// Replications per variant (default: the file's `[compare] replications`, else 5).
    pub replications: Option<u32>,
    /// Output folder (default `reports/<name>-compare/`).
    pub out: Option<PathBuf>,
    /// Root seed, overriding the file's.
    pub seed: Option<u64>,
    /// `--set key=value` overrides applied to every variant.
    pub overrides: Vec<String>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// Runs `meshsim compare`; returns the exit status.
pub fn command(_args: CompareArgs) -> ExitCode {
    eprintln!("error: meshsim compare is not built yet");
    ExitCode::from(crate::cli::EXIT_INVALID)
}
