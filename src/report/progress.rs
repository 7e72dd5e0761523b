//! A progress bar on standard error for runs and comparisons that last more than a second:
//! simulated time (or replications) done, elapsed time and ETA. Nothing is drawn when standard
//! error is not a terminal (CI, pipes) or with `--quiet`, and nothing of it reaches the outputs.
//!
//! The simulator is not slowed down: a run's bar moves when a window row is recorded (once per
//! simulated window, not per event), and drawing happens at most a few times a second.

use crate::sim::{EventRecord, Recorder, ReplicaRow, WindowRow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a task runs before its bar appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Whether a bar may be drawn: standard error is a terminal and `--quiet` was not given.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A progress bar that shows itself only once its task has lasted [`SHOW_AFTER`].
pub struct Progress {
    bar: ProgressBar,
    /// Tells the watcher thread the task is over (dropping it does too).
    done: Option<mpsc::Sender<()>>,
    watcher: Option<JoinHandle<()>>,
}

impl Progress {
    /// A bar that is never drawn.
    pub fn hidden() -> Self {
        Progress {
            bar: ProgressBar::hidden(),
            done: None,
            watcher: None,
        }
    }

    /// A bar over `length` units drawn with `style`, if `enabled`.
    fn start(length: u64, style: ProgressStyle, enabled: bool) -> Self {
        if !enabled {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::hidden())
            .with_style(style);
        let (done, wait) = mpsc::channel::<()>();
        let shown = bar.clone();
        let watcher = std::thread::Builder::new()
            .name("meshsim-progress".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(SHOW_AFTER) {
                    shown.set_draw_target(ProgressDrawTarget::stderr_with_hz(8));
                    shown.enable_steady_tick(Duration::from_millis(250));
                    let _ = wait.recv();
                }
            })
            .ok();
        Progress {
            bar,
            done: Some(done),
            watcher,
        }
    }

    /// A bar over a run's simulated time, `duration_s` seconds of load.
    pub fn simulation(duration_s: f64, enabled: bool) -> Self {
        let style = ProgressStyle::with_template(
            "{spinner} simulated {simulated} [{wide_bar}] {percent:>3}%{msg}  elapsed {elapsed}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("simulated", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0} s / {:.0} s", state.pos() as f64 / 1e3, state.len().unwrap_or(0) as f64 / 1e3);
        })
        .progress_chars("=> ");
        Progress::start((duration_s * 1e3).round().max(1.0) as u64, style, enabled)
    }

    /// A bar over the runs of a comparison (`total` = variants × replications).
    pub fn replications(total: u64, enabled: bool) -> Self {
        let style = ProgressStyle::with_template(
            "{spinner} runs {pos}/{len} [{wide_bar}] {percent:>3}%  elapsed {elapsed}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        Progress::start(total.max(1), style, enabled)
    }

    /// Simulated time reached, seconds. Past the load period (the run drains the requests
    /// still under way) the bar stays full, its total unchanged, and says how far it has
    /// drained: a total that grew would move the goal while the user watches.
    pub fn set_simulated(&self, seconds: f64) {
        let position = (seconds * 1e3).round() as u64;
        let length = self.bar.length().unwrap_or(u64::MAX);
        if position > length {
            self.bar.set_message(format!(
                "  draining +{:.0} s",
                (position - length) as f64 / 1e3
            ));
        }
        self.bar.set_position(position.min(length));
    }

    /// One more unit done (thread-safe: runs of a comparison may finish on any thread).
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar (before the summary is printed).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // Only the original (which holds the sender) ends the bar; clones just drop.
        let Some(done) = self.done.take() else { return };
        let _ = done.send(());
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Clone for Progress {
    /// A handle on the same bar (for worker threads); only the original stops it.
    fn clone(&self) -> Self {
        Progress {
            bar: self.bar.clone(),
            done: None,
            watcher: None,
        }
    }
}

/// A [`Recorder`] that passes everything to `inner` and moves a [`Progress`] at each window.
pub struct ProgressRecorder<'a, R> {
    inner: R,
    progress: &'a Progress,
    last_end: u64,
}

impl<'a, R> ProgressRecorder<'a, R> {
    /// Wraps `inner`.
    pub fn new(inner: R, progress: &'a Progress) -> Self {
        ProgressRecorder {
            inner,
            progress,
            last_end: 0,
        }
    }

    /// The wrapped recorder.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Recorder> Recorder for ProgressRecorder<'_, R> {
    fn window(&mut self, row: &WindowRow<'_>) {
        if row.end != self.last_end {
            self.last_end = row.end;
            self.progress.set_simulated(row.end as f64 / 1e9);
        }
        self.inner.window(row);
    }

    fn replica_window(&mut self, row: &ReplicaRow<'_>) {
        self.inner.replica_window(row);
    }

    fn event(&mut self, record: &EventRecord) {
        self.inner.event(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_never_grows_during_the_drain() {
        let style = ProgressStyle::default_bar();
        let bar = Progress {
            bar: ProgressBar::with_draw_target(Some(10_000), ProgressDrawTarget::hidden())
                .with_style(style),
            done: None,
            watcher: None,
        };
        bar.set_simulated(4.0);
        assert_eq!(
            (bar.bar.position(), bar.bar.length()),
            (4_000, Some(10_000))
        );
        assert_eq!(bar.bar.message(), "");
        bar.set_simulated(12.5);
        assert_eq!(
            (bar.bar.position(), bar.bar.length()),
            (10_000, Some(10_000))
        );
        assert_eq!(bar.bar.message(), "  draining +2 s");
    }
}
