//! Turns a run's results into files and text: `summary.json`, `timeseries.csv`, `events.csv`, and
//! the terminal summary. Every file is written under a temporary name and renamed into place only
//! when the run has succeeded, so a report folder never holds a half-written file.

mod files;
pub mod html;
pub mod plots;
pub mod progress;
mod render;
pub mod rundata;
pub mod slo;
mod summary;
mod terminal;
pub mod traces;

pub use files::{latency_quantiles_csv, FileRecorder, OutputFiles};
pub use progress::{Progress, ProgressRecorder};
pub use render::{plot_command, render_comparison, render_comparison_files, render_run};
pub use rundata::RunData;
pub use slo::{EdgeRecorder, EdgeWindow, SloReport};
pub use summary::Summary;
pub use terminal::render as render_terminal;
pub use traces::TraceRecorder;
