//! `meshsim plot DIR`: re-render a report folder's plots and `report.html` from its files.

use super::AppError;
use crate::report::{self, RenderError};
use std::path::PathBuf;

/// The arguments of `meshsim plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// A folder written by `meshsim run` (or `meshsim compare`).
    pub dir: PathBuf,
}

/// Re-renders the folder; exit status 2 when it is not a report folder, 1 when writing fails.
pub fn run(args: &PlotArgs) -> Result<(), AppError> {
    report::render_folder(&args.dir).map_err(|error| match error {
        RenderError::NotAReportFolder(message) => AppError::invalid(message),
        RenderError::Io(..) => AppError::Failed(error.to_string()),
    })?;
    println!("plots and report.html written to {}", args.dir.display());
    Ok(())
}
