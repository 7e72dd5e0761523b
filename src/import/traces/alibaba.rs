//! Alibaba's cluster-trace-microservices-v2021 `MS_CallGraph` CSV: one row per call record,
//! columns `timestamp,traceid,rpcid,um,rpctype,interface,dm,rt` (a header naming them is
//! optional; an unnamed leading index column, as in the published files, is skipped; the v2022
//! columns `uminstanceid`/`dminstanceid` are read when the header names them).
//!
//! Per the dataset's README: `timestamp` is milliseconds from the start of the window; `rpcid` is
//! dotted (`0.1.1` and `0.1.2` are calls made by the downstream of `0.1`); `um` calls `dm`; an
//! RPC or HTTP call is recorded twice with the same rpcid, with a positive `rt` at the caller
//! (request sent to reply received: a client span) and a negative one at the callee (minus the
//! time from request received to reply sent: a server span); `rt` is milliseconds (0 under
//! 1 ms, read as a client record). Names are hashes; `NAN`, `(?)` and empty names are read as
//! `unknown`.

use std::collections::HashSet;

use super::{file_error, parse_id, SpanKind, SpanSet, NO_NAME};
use crate::scenario::ScenarioError;

/// Column positions.
struct Columns {
    timestamp: usize,
    trace: usize,
    rpcid: usize,
    um: usize,
    rpctype: usize,
    interface: usize,
    dm: usize,
    rt: usize,
    um_instance: Option<usize>,
    dm_instance: Option<usize>,
}

impl Columns {
    const V2021: Columns = Columns {
        timestamp: 0,
        trace: 1,
        rpcid: 2,
        um: 3,
        rpctype: 4,
        interface: 5,
        dm: 6,
        rt: 7,
        um_instance: None,
        dm_instance: None,
    };

    /// The columns a header names, or `None` when the row is not a header.
    fn from_header(record: &csv::StringRecord) -> Option<Columns> {
        let find = |names: &[&str]| {
            record.iter().position(|cell| {
                names
                    .iter()
                    .any(|name| cell.trim().eq_ignore_ascii_case(name))
            })
        };
        let trace = find(&["traceid", "trace_id"])?;
        Some(Columns {
            timestamp: find(&["timestamp"])?,
            trace,
            rpcid: find(&["rpcid", "rpc_id"])?,
            um: find(&["um"])?,
            rpctype: find(&["rpctype", "rpc_type"]).unwrap_or(usize::MAX),
            interface: find(&["interface"])?,
            dm: find(&["dm"])?,
            rt: find(&["rt"])?,
            um_instance: find(&["uminstanceid"]),
            dm_instance: find(&["dminstanceid"]),
        })
    }
}

fn service_name(cell: &str) -> &str {
    match cell.trim() {
        "" | "NAN" | "NaN" | "nan" | "(?)" => "unknown",
        name => name,
    }
}

/// The id of the client (`side` 0) or server (`side` 1) record of `rpcid` in `trace`.
fn record_id(trace: u32, rpcid: &str, side: u8) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(trace);
    for byte in rpcid.bytes().chain([b'#', side]) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash | 1
}

fn parent_rpcid(rpcid: &str) -> Option<&str> {
    rpcid.rfind('.').map(|dot| &rpcid[..dot])
}

/// Milliseconds as whole nanoseconds, if they fit in 64 bits.
fn nanos(milliseconds: f64) -> Option<i64> {
    let nanos = (milliseconds * 1e6).round();
    // 2^63 is exactly representable; every f64 below it converts without saturating.
    (nanos.abs() < 9_223_372_036_854_775_808.0).then_some(nanos as i64)
}

/// A record's start and end in nanoseconds: from its `timestamp` for `|rt|`, both in
/// milliseconds; `None` when either does not fit in 64-bit nanoseconds (such a record is
/// refused, not saturated into a span that ends before it starts).
fn record_span(timestamp: f64, rt: f64) -> Option<(i64, i64)> {
    let start = nanos(timestamp)?;
    Some((start, start.checked_add(nanos(rt.abs())?)?))
}

/// Reads an `MS_CallGraph` CSV file.
pub fn read(bytes: &[u8], file: &str, set: &mut SpanSet) -> Result<(), ScenarioError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let mut columns: Option<Columns> = None;
    let first_span = set.spans.len();
    // Per span read here: its rpcid (for fixing parents once every record is known).
    let mut rpcids: Vec<Box<str>> = Vec::new();
    let mut ids: HashSet<u64> = HashSet::new();
    let mut rows = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                return Err(file_error(
                    file,
                    line,
                    0,
                    format!("not readable as CSV: {error}"),
                ));
            }
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let columns = match &columns {
            Some(columns) => columns,
            None => {
                let found = Columns::from_header(&record);
                let is_header = found.is_some();
                let mut chosen = found.unwrap_or(Columns::V2021);
                if !is_header && record.len() == 9 {
                    // An unnamed leading index column.
                    chosen = Columns {
                        timestamp: 1,
                        trace: 2,
                        rpcid: 3,
                        um: 4,
                        rpctype: 5,
                        interface: 6,
                        dm: 7,
                        rt: 8,
                        um_instance: None,
                        dm_instance: None,
                    };
                }
                columns = Some(chosen);
                if is_header {
                    continue;
                }
                columns.as_ref().expect("just set")
            }
        };
        rows += 1;
        let cell = |index: usize| record.get(index).unwrap_or("").trim();
        let number = |index: usize, what: &str| -> Result<f64, ScenarioError> {
            let text = cell(index);
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    file_error(
                        file,
                        line,
                        index + 1,
                        format!("{what}: expected a number of milliseconds, found \"{text}\""),
                    )
                })
        };
        let timestamp = number(columns.timestamp, "timestamp")?;
        let rt = number(columns.rt, "rt")?;
        let trace_text = cell(columns.trace);
        let Some(trace_id) = parse_id(trace_text) else {
            return Err(file_error(file, line, columns.trace + 1, "empty traceid"));
        };
        let trace = set.trace(trace_id);
        let rpcid = cell(columns.rpcid);
        if rpcid.is_empty() {
            set.mark_broken(trace, || format!("line {line}: empty rpcid"));
            continue;
        }
        let (um, dm) = (
            service_name(cell(columns.um)),
            service_name(cell(columns.dm)),
        );
        let interface = cell(columns.interface);
        let interface = if interface.is_empty() {
            cell(columns.rpctype)
        } else {
            interface
        };
        let client = rt >= 0.0;
        let (service, kind, id, parent, instance_column) = if client {
            let parent = parent_rpcid(rpcid).map_or(0, |p| record_id(trace, p, 1));
            (
                um,
                SpanKind::Client,
                record_id(trace, rpcid, 0),
                parent,
                columns.um_instance,
            )
        } else {
            let parent = record_id(trace, rpcid, 0);
            (
                dm,
                SpanKind::Server,
                record_id(trace, rpcid, 1),
                parent,
                columns.dm_instance,
            )
        };
        let Some((start, end)) = record_span(timestamp, rt) else {
            let (column, what) = if nanos(timestamp).is_none() {
                (columns.timestamp, "its timestamp")
            } else if nanos(rt.abs()).is_none() {
                (columns.rt, "its rt")
            } else {
                (columns.rt, "its end (timestamp + |rt|)")
            };
            set.mark_broken(trace, || {
                format!(
                    "line {line}, column {} (rpcid {rpcid}, {um} -> {dm}): {what} is past what \
                     64-bit nanoseconds hold (timestamp {} ms, rt {} ms; the year 2262 at most)",
                    column + 1,
                    cell(columns.timestamp),
                    cell(columns.rt)
                )
            });
            continue;
        };
        let instance = instance_column
            .map(cell)
            .filter(|id| !id.is_empty() && *id != "NAN")
            .map_or(NO_NAME, |id| set.names.intern(id));
        let service = set.names.intern(service);
        let peer = if client {
            set.names.intern(dm)
        } else {
            NO_NAME
        };
        let name = set.names.intern(interface);
        ids.insert(id);
        rpcids.push(rpcid.into());
        set.spans.push(super::Span {
            trace,
            id,
            parent,
            service,
            instance,
            name,
            peer,
            kind,
            error: false,
            start,
            end,
            // The call graph says nothing of tries.
            try_mark: super::TryMark::Unmarked,
            outcome: None,
            cancelled: false,
        });
    }
    if rows == 0 {
        return Err(file_error(file, 0, 0, "empty: no MS_CallGraph row"));
    }
    // A server record whose client record is missing hangs from its caller's server record;
    // a client record of a call made by the first recorded service (its caller's server record
    // absent because the caller is the user) is a root.
    for (offset, rpcid) in rpcids.iter().enumerate() {
        let span = &mut set.spans[first_span + offset];
        if span.parent == 0 || ids.contains(&span.parent) {
            continue;
        }
        let grandparent = match span.kind {
            SpanKind::Server => parent_rpcid(rpcid).map(|p| record_id(span.trace, p, 1)),
            _ => None,
        };
        span.parent = match grandparent {
            Some(id) if ids.contains(&id) => id,
            _ if !rpcid.contains('.') || parent_rpcid(rpcid).is_some_and(|p| !p.contains('.')) => {
                if span.kind == SpanKind::Client {
                    0
                } else {
                    span.parent
                }
            }
            _ => span.parent,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::traces::Format;

    #[test]
    fn pairs_caller_and_callee_records_by_rpcid() {
        let text = "timestamp,traceid,rpcid,um,rpctype,interface,dm,rt\n\
                    100,T1,0.1,USER,http,home,web,12\n\
                    100,T1,0.1,USER,http,home,web,-10\n\
                    102,T1,0.1.1,web,rpc,get,db,5\n\
                    103,T1,0.1.1,web,rpc,get,db,-3\n";
        let mut set = SpanSet::new(Format::Alibaba);
        read(text.as_bytes(), "a.csv", &mut set).expect("reads");
        assert_eq!(set.spans.len(), 4);
        let s = &set.spans;
        assert_eq!((s[0].kind, s[0].parent), (SpanKind::Client, 0));
        assert_eq!((s[1].kind, s[1].parent), (SpanKind::Server, s[0].id));
        assert_eq!(s[1].end - s[1].start, 10_000_000);
        assert_eq!(s[2].parent, s[1].id);
        assert_eq!(s[3].parent, s[2].id);
        assert_eq!(set.names.get(s[3].service), "db");
        let error = read(b"1,T,0.1,a,rpc,x,b,fast\n", "a.csv", &mut set).expect_err("rt");
        assert_eq!((error.line, error.column), (1, 8));
    }

    /// A timestamp or rt past 64-bit nanoseconds breaks its trace for that reason, naming the
    /// row: it used to saturate into a span that ended before it started.
    #[test]
    fn times_past_64_bit_nanoseconds_break_their_trace_naming_the_row() {
        assert_eq!(record_span(100.0, -10.0), Some((100_000_000, 110_000_000)));
        assert_eq!(record_span(18446744073709551615.0, 1.0), None);
        assert_eq!(record_span(1.0, 18446744073709551615.0), None);
        assert_eq!(record_span(9_223_372_036_854.0, 12.0), None);
        for (row, reason) in [
            (
                "18446744073709551615,T,0.1,a,rpc,x,b,12",
                "line 1, column 1 (rpcid 0.1, a -> b): its timestamp is past",
            ),
            (
                "100,T,0.1,a,rpc,x,b,18446744073709551615",
                "line 1, column 8 (rpcid 0.1, a -> b): its rt is past",
            ),
            (
                "9223372036854,T,0.1,a,rpc,x,b,12",
                "line 1, column 8 (rpcid 0.1, a -> b): its end (timestamp + |rt|) is past",
            ),
        ] {
            let mut set = SpanSet::new(Format::Alibaba);
            read(format!("{row}\n").as_bytes(), "a.csv", &mut set).expect("reads");
            assert!(set.spans.is_empty(), "{row}");
            assert!(
                set.broken[&0].starts_with(reason),
                "{row}: {:?}",
                set.broken
            );
        }
    }
}
