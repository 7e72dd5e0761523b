//! Turns a run's results into files and text: `summary.json`, `timeseries.csv`, `events.csv`, and
//! the terminal summary. Every file is written under a temporary name and renamed into place only
//! when the run has succeeded, so a report folder never holds a half-written file.

mod files;
pub mod format;
pub mod html;
pub mod openmetrics;
pub mod plots;
pub mod progress;
mod render;
mod run;
pub mod rundata;
pub mod setup;
mod summary;
mod terminal;
pub mod topology;
pub mod traces;

pub use files::{
    is_plain_name, is_report_file_name, latency_quantiles_csv, FileRecorder, OutputFiles,
};
pub use progress::{Progress, ProgressRecorder};
pub use render::{
    render_comparison, render_comparison_files, render_folder, render_run, FolderKind, RenderError,
};
pub use run::{run_to_folder, run_to_folder_traced, run_to_folder_with, RunStopped, TraceOutput};
pub use rundata::RunData;
pub use setup::Setup;
pub use summary::Summary;
pub use terminal::{
    render as render_terminal, render_limited as render_terminal_limited, render_slo,
};
pub use traces::TraceRecorder;
