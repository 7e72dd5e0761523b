//! Turns a run's results into files and text: `summary.json`, `timeseries.csv`, `events.csv`, and
//! the terminal summary. Every file is written under a temporary name and renamed into place only
//! when the run has succeeded, so a report folder never holds a half-written file.

mod files;
mod summary;
mod terminal;

pub use files::{latency_quantiles_csv, FileRecorder, OutputFiles};
pub use summary::Summary;
pub use terminal::render as render_terminal;

/// Runs `meshsim plot DIR`; returns the exit status. (Being built: see the reports issue.)
pub fn plot_command(_dir: &std::path::Path) -> std::process::ExitCode {
    eprintln!("error: meshsim plot is not built yet");
    std::process::ExitCode::from(crate::cli::EXIT_INVALID)
}
