//! The report folder: files streamed under temporary names, renamed into place on success.
//!
//! One run at a time writes into a folder: [`OutputFiles::new`] takes an exclusive lock on
//! `DIR/.meshsim.lock` (released by the system when the process ends, however it ends), and a
//! second run into the same folder is refused rather than mixing its files with the first's.
//! Under the lock, temporary files a killed run left behind are removed. On SIGINT or SIGTERM,
//! the temporary files of every folder being written are removed before the process exits.
//!
//! A run or a comparison writes the whole folder ([`OutputFiles::commit_whole`]): files an
//! earlier one wrote there and this one does not (a variant's `latency-<slug>.csv` of another
//! comparison) are removed, found in the folder's list of written files (`WRITTEN_LIST`), or
//! for a folder written before the list existed, in its old `comparison.json`. Files meshsim did
//! not write are never touched.

use crate::engine::time::{nanos_to_millis, nanos_to_seconds};
use crate::model::Outcome;
use crate::sim::{EventRecord, Recorder, ReplicaRow, WindowRow};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The lock file of a report folder.
pub const LOCK_FILE: &str = ".meshsim.lock";

/// The list of the files meshsim wrote into a folder (one name a line). A run or comparison
/// that writes the whole folder removes the files of the list it does not write again, so that
/// the folder never mixes two runs' files; nothing else is ever removed.
pub const WRITTEN_LIST: &str = ".meshsim-files";

/// Whether a run's report may write a file of this name into its folder (its data files,
/// plots and page, and meshsim's own hidden files): a file of another kind asked to be written
/// there (`--openmetrics`, `--traces`) would be replaced by it. Errs on the safe side: every
/// `.svg` and `.png` counts.
pub fn is_report_file_name(name: &str) -> bool {
    matches!(
        name,
        "summary.json"
            | "setup.json"
            | "latency.csv"
            | "timeseries.csv"
            | "replicas.csv"
            | "events.csv"
            | "report.html"
    ) || name.ends_with(".svg")
        || name.ends_with(".png")
        || name.starts_with(".meshsim")
        || name.ends_with(PARTIAL_SUFFIX)
}

/// Suffix of the temporary name of a file being written.
const PARTIAL_SUFFIX: &str = ".partial";

/// Files being written into one report folder.
#[derive(Debug)]
pub struct OutputFiles {
    dir: PathBuf,
    /// (temporary path, final path) of every file written so far.
    pending: Vec<(PathBuf, PathBuf)>,
    /// The names of `pending`'s files, to refuse a second file of one name (a comparison of a
    /// million variants writes a million files: no scan of `pending` per file).
    pending_names: std::collections::BTreeSet<String>,
    /// Holds the folder's lock while open.
    _lock: File,
    /// Whether [`OutputFiles::new`] created the folder: a run that fails before committing
    /// anything then removes it again (with its lock file), leaving no empty report folder.
    created: bool,
    /// Whether a commit began (from then on the folder holds what it renamed into place).
    committing: bool,
}

impl OutputFiles {
    /// Prepares `dir` (created if missing): takes its lock, and removes the temporary files a
    /// killed run left there. Fails if another run is writing into `dir`.
    pub fn new(dir: &Path) -> io::Result<Self> {
        let created = !dir.exists();
        fs::create_dir_all(dir)?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                        "another meshsim run is writing into {}; wait for it, or write to \
                         another folder (--out)",
                        dir.display()
                    ),
                ))
            }
            Err(fs::TryLockError::Error(error)) => return Err(error),
        }
        remove_stale_partials(dir)?;
        signals::install();
        Ok(OutputFiles {
            dir: dir.to_path_buf(),
            pending: Vec::new(),
            pending_names: std::collections::BTreeSet::new(),
            _lock: lock,
            created,
            committing: false,
        })
    }

    /// Creates `name` under a temporary name; it appears under `name` at [`OutputFiles::commit`].
    /// `name` must be a plain file name (no separator, not `.` or `..`).
    pub fn create(&mut self, name: &str) -> io::Result<BufWriter<File>> {
        if !is_plain_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a plain file name"),
            ));
        }
        if !self.pending_names.insert(name.to_string()) {
            // Refused before anything is committed: a second file of the same name would
            // replace the first's text and fail the commit half-way.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is written twice"),
            ));
        }
        let temporary = self.dir.join(format!(".{name}{PARTIAL_SUFFIX}"));
        signals::register(&temporary);
        let file = File::create(&temporary)?;
        self.pending.push((temporary, self.dir.join(name)));
        Ok(BufWriter::with_capacity(1 << 16, file))
    }

    /// Writes a whole file.
    pub fn write(&mut self, name: &str, contents: &[u8]) -> io::Result<()> {
        let mut writer = self.create(name)?;
        writer.write_all(contents)?;
        writer.flush()
    }

    /// Reads back `name`: the file written so far under its temporary name, else the folder's
    /// file of that name; `None` if there is neither.
    pub fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(mut file) = self.open(name)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Opens `name` for reading, as [`OutputFiles::read`] finds it, without reading it whole;
    /// `None` if there is no such file.
    pub fn open(&self, name: &str) -> io::Result<Option<File>> {
        let target = self.dir.join(name);
        let path = self
            .pending
            .iter()
            .rev()
            .find(|(_, t)| *t == target)
            .map_or(target.clone(), |(p, _)| p.clone());
        match File::open(path) {
            Ok(file) => Ok(Some(file)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Renames every file into place, and adds them to the folder's list of written files (if it
    /// has one: re-rendering a folder written before the list existed does not start one).
    pub fn commit(mut self) -> io::Result<()> {
        let list = self.dir.join(WRITTEN_LIST);
        let mut names = read_list(&list)?;
        let written = self.names();
        self.rename_all()?;
        if let Some(names) = &mut names {
            names.extend(written);
            write_list(&list, names)?;
        }
        Ok(())
    }

    /// Renames every file into place as the folder's whole contents: the files an earlier run
    /// or comparison wrote there and this one did not are removed (only those: see
    /// `WRITTEN_LIST`), and the list becomes the files written now.
    pub fn commit_whole(mut self) -> io::Result<()> {
        let dir = self.dir.clone();
        let list = dir.join(WRITTEN_LIST);
        let earlier = match read_list(&list)? {
            Some(names) => names,
            None => legacy_written(&dir),
        };
        let written = self.names();
        self.rename_all()?;
        for name in earlier.difference(&written) {
            let path = dir.join(name);
            // A plain file only: a folder or link of that name is not one meshsim wrote.
            if is_plain_name(name) && fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                fs::remove_file(&path)?;
            }
        }
        write_list(&list, &written)
    }

    /// The names of the files written so far.
    fn names(&self) -> std::collections::BTreeSet<String> {
        self.pending
            .iter()
            .filter_map(|(_, target)| target.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect()
    }

    /// Renames every file into place.
    fn rename_all(&mut self) -> io::Result<()> {
        self.committing = true;
        let pending = std::mem::take(&mut self.pending);
        for (index, (temporary, target)) in pending.iter().enumerate() {
            if let Err(error) = fs::rename(temporary, target) {
                // The files not renamed yet are removed by `drop`.
                self.pending = pending[index..].to_vec();
                return Err(error);
            }
            signals::unregister(temporary);
        }
        Ok(())
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for OutputFiles {
    /// Files not committed are removed: a failed run leaves no partial report, and a folder
    /// it created for nothing is removed too (only if nothing else is in it).
    fn drop(&mut self) {
        for (temporary, _) in &self.pending {
            let _ = fs::remove_file(temporary);
            signals::unregister(temporary);
        }
        if self.created && !self.committing {
            let _ = fs::remove_file(self.dir.join(LOCK_FILE));
            let _ = fs::remove_dir(&self.dir); // fails, harmlessly, unless it is empty
        }
    }
}

/// Whether `name` is a plain file name (no separator, not `.` or `..`, not empty).
pub fn is_plain_name(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']))
}

/// The names in the list of written files at `path`, `None` if there is none.
fn read_list(path: &Path) -> io::Result<Option<std::collections::BTreeSet<String>>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(
            text.lines()
                .map(str::trim)
                .filter(|name| is_plain_name(name))
                .map(str::to_string)
                .collect(),
        )),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) if error.kind() == io::ErrorKind::InvalidData => Ok(None),
        Err(error) => Err(error),
    }
}

/// Writes the list of written files (under a temporary name, then renamed: never half a list).
fn write_list(path: &Path, names: &std::collections::BTreeSet<String>) -> io::Result<()> {
    let mut text = String::new();
    for name in names {
        text.push_str(name);
        text.push('\n');
    }
    let temporary = path.with_file_name(format!(".{WRITTEN_LIST}{PARTIAL_SUFFIX}"));
    fs::write(&temporary, text)?;
    fs::rename(&temporary, path)
}

/// The files a comparison written before the list of written files existed left in `dir`: its
/// variants' latency files, named in its `comparison.json` (the other files have fixed names and
/// are written again). Empty when there is no such file or it cannot be read.
fn legacy_written(dir: &Path) -> std::collections::BTreeSet<String> {
    let Ok(text) = fs::read(dir.join("comparison.json")) else {
        return Default::default();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return Default::default();
    };
    value["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|variant| variant["latency_file"].as_str())
        .filter(|name| name.starts_with("latency-") && name.ends_with(".csv"))
        .map(str::to_string)
        .collect()
}

/// Removes `.NAME.partial` files from `dir`: left by a run that was killed (SIGKILL, power
/// loss) while writing there. Called under the folder's lock, so no live run owns them.
fn remove_stale_partials(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(PARTIAL_SUFFIX) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Removal of the temporary files being written when the process is interrupted.
mod signals {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, Once};

    /// Temporary files being written, by every [`super::OutputFiles`] of the process.
    static PARTIALS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

    /// Notes a temporary file about to be created.
    pub fn register(path: &Path) {
        if let Ok(mut partials) = PARTIALS.lock() {
            partials.insert(path.to_path_buf());
        }
    }

    /// Forgets a temporary file renamed into place or removed.
    pub fn unregister(path: &Path) {
        if let Ok(mut partials) = PARTIALS.lock() {
            partials.remove(path);
        }
    }

    /// On the first call, starts a thread that waits for SIGINT or SIGTERM, then removes every
    /// registered temporary file and exits with status 128 + the signal (as the shell reports
    /// a process killed by it). Without a report folder open, the signals keep their default.
    pub fn install() {
        static INSTALLED: Once = Once::new();
        INSTALLED.call_once(|| {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
                return;
            };
            let _ = std::thread::Builder::new()
                .name("meshsim-signals".into())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        // Taken and kept: no file is created or renamed after this.
                        let partials = PARTIALS.lock().unwrap_or_else(|e| e.into_inner());
                        for path in partials.iter() {
                            let _ = std::fs::remove_file(path);
                        }
                        std::process::exit(128 + signal);
                    }
                });
        });
    }
}

/// Streams `timeseries.csv`, `replicas.csv` and `events.csv` rows as the run produces them.
pub struct FileRecorder {
    timeseries: csv::Writer<BufWriter<File>>,
    replicas: csv::Writer<BufWriter<File>>,
    events: csv::Writer<BufWriter<File>>,
    /// First write error, reported at the end (a recorder cannot fail mid-run).
    error: Option<io::Error>,
    /// Leave out the rows of services and replicas with nothing in the window
    /// ([`FileRecorder::omit_idle_rows`]).
    omit_idle_rows: bool,
    /// The row being formatted: its fields' text, one after the other, reused row after row
    /// (a big mesh writes tens of thousands of rows a window: no allocation per row).
    row: RowText,
}

/// The fields of one CSV row, formatted into one reused buffer.
#[derive(Debug, Default)]
struct RowText {
    /// The fields' bytes, concatenated.
    text: Vec<u8>,
    /// Where each field ends in `text`.
    ends: Vec<usize>,
}

impl RowText {
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn end_field(&mut self) {
        self.ends.push(self.text.len());
    }

    fn push_str(&mut self, field: &str) {
        self.text.extend_from_slice(field.as_bytes());
        self.end_field();
    }

    fn push_u64(&mut self, value: u64) {
        push_decimal(&mut self.text, value);
        self.end_field();
    }

    fn push_seconds(&mut self, nanos: u64) {
        push_seconds(&mut self.text, nanos);
        self.end_field();
    }

    fn push_millis(&mut self, nanos: u64) {
        push_millis_3(&mut self.text, nanos);
        self.end_field();
    }

    /// The fields, in order.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start..end])
    }
}

impl FileRecorder {
    /// Creates both files in `files`, with their header rows.
    pub fn new(files: &mut OutputFiles) -> io::Result<Self> {
        let mut timeseries = csv::Writer::from_writer(files.create("timeseries.csv")?);
        let mut header = vec!["time_s", "window_s", "service", "arrivals", "succeeded"];
        header.extend(Outcome::FAILURES.iter().map(|o| o.name()));
        header.extend([
            "p50_ms",
            "p99_ms",
            "in_flight",
            "busy_workers",
            "queue_length",
            "retries",
            "hedges",
            "replicas",
        ]);
        timeseries.write_record(&header)?;
        let mut replicas = csv::Writer::from_writer(files.create("replicas.csv")?);
        replicas.write_record([
            "time_s",
            "service",
            "replica",
            "zone",
            "arrivals",
            "busy_workers",
            "in_flight",
            "queue_length",
            "health",
        ])?;
        let mut events = csv::Writer::from_writer(files.create("events.csv")?);
        events.write_record(["time_s", "kind", "subject", "detail"])?;
        Ok(FileRecorder {
            timeseries,
            replicas,
            events,
            error: None,
            omit_idle_rows: false,
            row: RowText::default(),
        })
    }

    /// With `omit` (`meshsim run --omit-idle-rows`), leaves out of `timeseries.csv` the rows of
    /// services with nothing in the window (every counter zero, nothing in flight, no worker
    /// busy, nothing queued), and out of `replicas.csv` the rows of replicas that are up with
    /// nothing in the window. The end-to-end rows are always written. In a big mesh most
    /// services are idle in most windows: their rows are most of the files' size and of the
    /// time spent writing and plotting them.
    pub fn omit_idle_rows(mut self, omit: bool) -> Self {
        self.omit_idle_rows = omit;
        self
    }

    /// Flushes both files; returns the first error met while writing.
    pub fn finish(mut self) -> io::Result<()> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.timeseries.flush()?;
        self.replicas.flush()?;
        self.events.flush()
    }

    fn keep_error(&mut self, result: csv::Result<()>) {
        if let Err(error) = result {
            self.error.get_or_insert(io::Error::other(error));
        }
    }
}

impl Recorder for FileRecorder {
    fn window(&mut self, row: &WindowRow<'_>) {
        let counters = row.counters;
        if self.omit_idle_rows && row.ready_replicas.is_some() && window_is_idle(row) {
            return;
        }
        let row_text = &mut self.row;
        row_text.clear();
        row_text.push_seconds(row.start);
        row_text.push_seconds(row.end - row.start);
        row_text.push_str(row.service);
        row_text.push_u64(counters.arrivals);
        row_text.push_u64(counters.succeeded);
        for &outcome in Outcome::FAILURES.iter() {
            row_text.push_u64(counters.try_outcomes.get(outcome));
        }
        row_text.push_millis(counters.latency.quantile_nanos(0.5));
        row_text.push_millis(counters.latency.quantile_nanos(0.99));
        row_text.push_u64(row.in_flight);
        row_text.push_u64(row.busy_workers);
        row_text.push_u64(row.queue_length);
        row_text.push_u64(counters.retries);
        row_text.push_u64(counters.hedges);
        match row.ready_replicas {
            Some(ready) => row_text.push_u64(ready),
            None => row_text.end_field(),
        }
        let result = self.timeseries.write_record(self.row.fields());
        self.keep_error(result);
    }

    fn replica_window(&mut self, row: &ReplicaRow<'_>) {
        if self.omit_idle_rows
            && row.arrivals == 0
            && row.busy_workers == 0
            && row.in_flight == 0
            && row.queue_length == 0
            && row.health == "up"
        {
            return;
        }
        let row_text = &mut self.row;
        row_text.clear();
        row_text.push_seconds(row.start);
        row_text.push_str(row.service);
        row_text.push_u64(u64::from(row.replica));
        row_text.push_str(row.zone);
        row_text.push_u64(row.arrivals);
        row_text.push_u64(u64::from(row.busy_workers));
        row_text.push_u64(row.in_flight);
        row_text.push_u64(row.queue_length);
        row_text.push_str(row.health);
        let result = self.replicas.write_record(self.row.fields());
        self.keep_error(result);
    }

    fn event(&mut self, record: &EventRecord) {
        let result = self.events.write_record([
            format_seconds(record.time).as_str(),
            record.kind,
            &record.subject,
            &record.detail,
        ]);
        self.keep_error(result);
    }
}

/// Whether a service's window row has nothing in it: no counter above zero, nothing in flight,
/// no worker busy, nothing queued.
fn window_is_idle(row: &WindowRow<'_>) -> bool {
    let counters = row.counters;
    counters.arrivals == 0
        && counters.succeeded == 0
        && counters.try_outcomes.total() == 0
        && counters.retries == 0
        && counters.hedges == 0
        && counters.latency.count() == 0
        && row.in_flight == 0
        && row.busy_workers == 0
        && row.queue_length == 0
}

/// `latency.csv`: the end-to-end latency distribution of the succeeded measured requests, as
/// quantiles (0 to 1 in steps of 0.001, then the 0.9999 and 0.99999 tails) with their latency in
/// milliseconds — enough to draw a CDF without keeping every request.
pub fn latency_quantiles_csv(latency: &crate::sim::LatencyStats) -> String {
    let mut text = String::from("quantile,latency_ms\n");
    if latency.count() == 0 {
        return text;
    }
    let steps = (0..=1000)
        .map(|step| f64::from(step) / 1000.0)
        .chain([0.9999, 0.99999]);
    let mut quantiles: Vec<f64> = steps.collect();
    quantiles.sort_by(f64::total_cmp);
    for quantile in quantiles {
        let nanos = latency.quantile_nanos(quantile) as f64;
        text.push_str(&format!("{quantile},{:.6}\n", nanos_to_millis(nanos)));
    }
    text
}

/// Nanoseconds as seconds with nanosecond precision and no trailing zeros.
fn format_seconds(nanos: u64) -> String {
    let mut text = Vec::new();
    push_seconds(&mut text, nanos);
    String::from_utf8(text).expect("digits and a point")
}

/// Below this many nanoseconds (2^23 s, 97 days) a double holds every nanosecond count's
/// seconds to within half a nanosecond, so the float formatting of `nanos / 1e9` to nine
/// decimals is exactly the integer split below; from there on the float path is kept.
const EXACT_SECONDS_BELOW: u64 = (1 << 23) * 1_000_000_000;

/// Appends `nanos` as seconds with nanosecond precision and no trailing zeros: the same text as
/// `format!("{:.9}", nanos_to_seconds(nanos))` trimmed of trailing zeros (and of the point),
/// made with integer arithmetic where that is exact (a row's time costs about 2,000
/// instructions through the float formatting).
fn push_seconds(text: &mut Vec<u8>, nanos: u64) {
    if nanos >= EXACT_SECONDS_BELOW {
        let formatted = format!("{:.9}", nanos_to_seconds(nanos));
        let trimmed = formatted.trim_end_matches('0').trim_end_matches('.');
        text.extend_from_slice(trimmed.as_bytes());
        return;
    }
    push_decimal(text, nanos / 1_000_000_000);
    push_fraction(text, nanos % 1_000_000_000, 9);
}

/// Appends `.` and `fraction` as `digits` decimals with the trailing zeros trimmed (nothing for
/// a zero fraction).
fn push_fraction(text: &mut Vec<u8>, mut fraction: u64, mut digits: u32) {
    if fraction == 0 {
        return;
    }
    while fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    text.push(b'.');
    let mut buffer = [b'0'; 20];
    for position in (0..digits as usize).rev() {
        buffer[position] = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    text.extend_from_slice(&buffer[..digits as usize]);
}

/// Appends `value` in decimal.
fn push_decimal(text: &mut Vec<u8>, mut value: u64) {
    let mut buffer = [0u8; 20];
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    text.extend_from_slice(&buffer[start..]);
}

/// Appends `nanos` as milliseconds with three decimals: the same text as
/// `format!("{:.3}", nanos_to_millis(nanos as f64))`. Rounding to the nearest microsecond in
/// integers gives the float formatting's answer whenever the value is not half-way between two
/// microseconds (then the double's own rounding decides: the float path is kept) and the
/// double is within a nanosecond of the value (below 2^52 ns).
fn push_millis_3(text: &mut Vec<u8>, nanos: u64) {
    if nanos % 1_000 == 500 || nanos >= 1 << 52 {
        let formatted = format!("{:.3}", nanos_to_millis(nanos as f64));
        text.extend_from_slice(formatted.as_bytes());
        return;
    }
    let micros = (nanos + 500) / 1_000;
    push_decimal(text, micros / 1_000);
    text.push(b'.');
    let fraction = micros % 1_000;
    text.extend_from_slice(&[
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nanosecond counts to check the integer formatting on: round numbers, every digit
    /// count, the limits of the exact path, and a pseudo-random spread.
    fn sample_nanos() -> Vec<u64> {
        let mut values = vec![
            0, 1, 5, 9, 10, 499, 500, 501, 999, 1_000, 1_499, 1_500, 1_501,
        ];
        for power in 0..19 {
            let base = 10_u64.pow(power);
            values.extend([base - 1, base, base + 1, 3 * base, 5 * base / 2]);
        }
        for limit in [EXACT_SECONDS_BELOW, 1 << 52] {
            values.extend([limit - 1, limit, limit + 1, limit - 500, limit + 500]);
        }
        let mut state = 12_345_u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Spread over the magnitudes: shift a random word right by a random amount.
            values.push((state >> 11) >> (state % 53));
        }
        values
    }

    #[test]
    fn seconds_are_the_float_formatting_trimmed() {
        for nanos in sample_nanos() {
            let reference = format!("{:.9}", nanos_to_seconds(nanos));
            let reference = reference.trim_end_matches('0').trim_end_matches('.');
            assert_eq!(format_seconds(nanos), reference, "{nanos} ns");
        }
    }

    #[test]
    fn milliseconds_are_the_float_formatting() {
        for nanos in sample_nanos() {
            let reference = format!("{:.3}", nanos_to_millis(nanos as f64));
            let mut text = Vec::new();
            push_millis_3(&mut text, nanos);
            assert_eq!(String::from_utf8(text).unwrap(), reference, "{nanos} ns");
        }
    }

    #[test]
    fn row_fields_keep_their_boundaries() {
        let mut row = RowText::default();
        row.push_str("svc,a");
        row.end_field();
        row.push_u64(42);
        let fields: Vec<&[u8]> = row.fields().collect();
        assert_eq!(fields, [&b"svc,a"[..], b"", b"42"]);
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(row.fields()).unwrap();
        assert_eq!(writer.into_inner().unwrap(), b"\"svc,a\",,42\n");
    }
}
