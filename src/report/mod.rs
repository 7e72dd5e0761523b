//! Turns a run's results into files and text: `summary.json`, `timeseries.csv`, `events.csv`, and
//! the terminal summary. Every file is written under a temporary name and renamed into place only
//! when the run has succeeded, so a report folder never holds a half-written file.

mod files;
mod summary;
mod terminal;

pub use files::{FileRecorder, OutputFiles};
pub use summary::Summary;
pub use terminal::render as render_terminal;
