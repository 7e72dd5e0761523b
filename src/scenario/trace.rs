//! Trace files of `arrival = "trace"` workloads: a CSV file with a header naming a `time` column
//! and, optionally, an `endpoint` column; one request per row.
//!
//! `time` is the arrival time from the start of the run: a duration with a unit (`"1.5s"`,
//! `"250ms"`) or a plain number of seconds (`1.5`). Rows must be in time order (equal times
//! allowed). Reading stops at the first row at or past the scenario's duration, so a day of
//! traffic can drive a one-minute run without being read whole (rows after that point are not
//! checked). `endpoint` is `"service"` or `"service/endpoint"` and overrides the workload's
//! target for that row; an empty cell keeps the target. Other columns are ignored.
//!
//! Memory: the rows kept are 8 bytes each (a `u64` of nanoseconds), plus 4 with an endpoint
//! column (a `u32` index into the distinct endpoints named).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::calls::Directory;
use super::duration::parse_duration;
use crate::model::{EndpointId, Trace};

/// Most problems reported for one trace file before reading stops.
const MAX_PROBLEMS: usize = 10;

/// Reads the trace at `path`, keeping the rows before `duration` (nanoseconds). On failure,
/// every problem found (up to [`MAX_PROBLEMS`]), each naming the CSV line.
pub(crate) fn read_trace(
    path: &Path,
    duration: u64,
    directory: &Directory,
) -> Result<Trace, Vec<String>> {
    let file = std::fs::File::open(path)
        .map_err(|error| vec![format!("cannot read {}: {error}", path.display())])?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        // A file that grew past the limit since it was checked is read up to the limit only.
        .from_reader(std::io::BufReader::new(std::io::Read::take(
            file,
            super::limits::MAX_TRACE_BYTES,
        )));
    let (time_column, endpoint_column) = columns(&mut reader)?;
    let mut rows = Rows::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                rows.problem(csv_line(&error), format!("not readable as CSV: {error}"));
                break;
            }
        }
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let Some(at) = rows.time(line, record.get(time_column).unwrap_or("")) else {
            continue;
        };
        if at >= duration {
            break;
        }
        if let Some(column) = endpoint_column {
            rows.endpoint(line, record.get(column).unwrap_or(""), directory);
        }
        rows.times.push(at);
        if rows.problems.len() >= MAX_PROBLEMS {
            rows.problems
                .push(format!("(stopped after {MAX_PROBLEMS} problems)"));
            break;
        }
    }
    rows.finish(endpoint_column.is_some())
}

/// The indices of the `time` and `endpoint` columns, from the header.
fn columns<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
) -> Result<(usize, Option<usize>), Vec<String>> {
    let headers = reader
        .headers()
        .map_err(|error| vec![format!("line 1: not readable as CSV: {error}")])?;
    let position = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let Some(time) = position("time") else {
        let found: Vec<&str> = headers.iter().collect();
        return Err(vec![format!(
            "line 1: the header must name a \"time\" column (and optionally \"endpoint\"), found \"{}\"",
            found.join(",")
        )]);
    };
    Ok((time, position("endpoint")))
}

fn csv_line(error: &csv::Error) -> u64 {
    error.position().map_or(0, csv::Position::line)
}

/// The rows read so far and the problems found.
#[derive(Default)]
struct Rows {
    times: Vec<u64>,
    rows: Vec<u32>,
    endpoints: Vec<EndpointId>,
    /// Endpoint text as written -> index in `endpoints`.
    named: HashMap<String, u32>,
    /// Line and time of the previous row.
    previous: Option<(u64, u64)>,
    problems: Vec<String>,
}

impl Rows {
    fn problem(&mut self, line: u64, message: String) {
        self.problems.push(format!("line {line}: {message}"));
    }

    /// The time of a row, nanoseconds; checks it is not before the previous row's.
    fn time(&mut self, line: u64, text: &str) -> Option<u64> {
        let at = match parse_time(text) {
            Ok(at) => at,
            Err(message) => {
                self.problem(line, message);
                return None;
            }
        };
        if let Some((previous_line, previous)) = self.previous {
            if at < previous {
                self.problem(
                    line,
                    format!(
                        "rows must be sorted by time: \"{text}\" is before the time on line {previous_line}"
                    ),
                );
            }
        }
        self.previous = Some((line, at));
        Some(at)
    }

    /// Resolves a row's endpoint (an empty cell: the workload's target).
    fn endpoint(&mut self, line: u64, text: &str, directory: &Directory) {
        let index = match self.named.get(text) {
            Some(&index) => index,
            None if text.is_empty() => u32::MAX,
            None => match directory.resolve(text) {
                Ok(id) => {
                    let index = self.endpoints.len() as u32;
                    self.endpoints.push(id);
                    self.named.insert(text.to_string(), index);
                    index
                }
                Err((_, message)) => {
                    self.problem(line, format!("endpoint: {message}"));
                    u32::MAX
                }
            },
        };
        self.rows.push(index);
    }

    fn finish(self, with_endpoints: bool) -> Result<Trace, Vec<String>> {
        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        if self.times.is_empty() {
            return Err(vec![
                "no row before the scenario's duration: the workload would send nothing"
                    .to_string(),
            ]);
        }
        Ok(Trace {
            times: Arc::from(self.times),
            rows: if with_endpoints {
                Arc::from(self.rows)
            } else {
                Arc::from(Vec::new())
            },
            endpoints: self.endpoints,
        })
    }
}

/// A row's time: a duration with a unit, or a plain number of seconds; nanoseconds.
fn parse_time(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("empty time".to_string());
    }
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(format!(
                "time \"{text}\" must be a non-negative number of seconds"
            ));
        }
        let nanos = (seconds * 1e9).round();
        if nanos >= u64::MAX as f64 {
            return Err(format!("time \"{text}\" is too large"));
        }
        return Ok(nanos as u64);
    }
    parse_duration(text).map_err(|error| {
        format!(
            "time \"{text}\": {} (or write a number of seconds)",
            error.message
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Directory {
        let mut directory = Directory::default();
        directory.add("api", &["get".to_string(), "put".to_string()]);
        directory.add("web", &["default".to_string()]);
        directory
    }

    fn read(text: &str, duration: u64) -> Result<Trace, Vec<String>> {
        let dir = std::env::temp_dir().join(format!(
            "meshsim-trace-test-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{:x}.csv", fxhash(text)));
        std::fs::write(&path, text).expect("write");
        let result = read_trace(&path, duration, &directory());
        let _ = std::fs::remove_file(&path);
        result
    }

    fn fxhash(text: &str) -> u64 {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    }

    #[test]
    fn times_in_seconds_or_with_units_and_endpoints() {
        let trace = read(
            "time,endpoint,status\n0.5,api/put,200\n750ms,,200\n1s,web,500\n1.0,api/put,200\n",
            10_000_000_000,
        )
        .expect("valid");
        assert_eq!(
            &*trace.times,
            &[500_000_000, 750_000_000, 1_000_000_000, 1_000_000_000]
        );
        assert_eq!(trace.endpoints, vec![1, 2]);
        let target = 0;
        let entries: Vec<usize> = (0..4).map(|row| trace.endpoint_of(row, target)).collect();
        assert_eq!(entries, [1, 0, 2, 1]);
    }

    #[test]
    fn rows_at_or_past_the_duration_are_not_kept() {
        let trace = read("time\n1s\n2s\n3s\nnot read\n", 3_000_000_000).expect("valid");
        assert_eq!(trace.times.len(), 2);
        assert!(trace.rows.is_empty());
    }

    #[test]
    fn problems_name_their_csv_line() {
        let problems = read(
            "time,endpoint\n1s,api\n0.5,api\nsoon,api\n2s,nope/get\n2s,api/gett\n",
            10_000_000_000,
        )
        .expect_err("invalid");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems[0].starts_with("line 3: rows must be sorted"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("line 4: time \"soon\""),
            "{problems:?}"
        );
        assert!(problems[2].starts_with("line 5: endpoint: unknown service \"nope\""));
        assert!(problems[3].contains("line 6: endpoint: service \"api\" has no endpoint \"gett\""));
        assert!(problems[3].contains("did you mean \"get\""), "{problems:?}");
    }

    #[test]
    fn a_header_without_time_or_an_empty_trace_is_refused() {
        let problems = read("when\n1s\n", 10_000_000_000).expect_err("no time column");
        assert!(
            problems[0].contains("must name a \"time\" column"),
            "{problems:?}"
        );
        let problems = read("time\n20s\n", 10_000_000_000).expect_err("nothing before duration");
        assert!(problems[0].contains("no row before"), "{problems:?}");
    }
}
