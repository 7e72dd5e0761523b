//! Typed reads of values (tables with known keys, strings, numbers, durations, distributions),
//! each reporting a positioned problem and returning `None` when the value is unusable.

use super::context::Ctx;
use super::dist::{bare_number_message, parse_dist};
use super::duration::{parse_duration, BARE_NUMBER};
use super::raw::{Entry, Node, Value};
use super::suggest::{closest, did_you_mean};
use crate::model::Dist;

/// The shortest timer period accepted, nanoseconds (1 ms): far below any real setting
/// (Eureka's heartbeat is 30 s, Envoy's outlier sweep 10 s, the HPA's sync 15 s), and long
/// enough that a period's timers cannot swamp a run (a 1 ns heartbeat would fire a billion
/// times per simulated second per replica: a run that never ends).
pub(crate) const MIN_PERIOD_NANOS: u64 = 1_000_000;

/// The suffix of every "not supported yet" message.
pub(crate) const PLANNED: &str = "is not supported yet (planned: service governance)";

/// An example of each table, by the name messages give it: shown when something else was
/// written where a table is expected (as TOML inline tables: the form `--set` takes too).
const TABLE_EXAMPLES: [(&str, &str); 20] = [
    ("the top level", "[scenario] name = \"shop\" ..."),
    (
        "[scenario]",
        "{ name = \"shop\", duration = \"60s\", warmup = \"5s\" }",
    ),
    (
        "[network]",
        "{ latency = \"exp(0.2ms)\", cross_zone_latency = \"const(1ms)\" }",
    ),
    (
        "[registry]",
        "{ model = \"eureka\", heartbeat = \"30s\", ttl = \"90s\" }",
    ),
    (
        "[policy]",
        "{ balancer = \"p2c\", timeout = \"1s\", retries = { max = 2 } }",
    ),
    (
        "[service.policy]",
        "{ balancer = \"p2c\", timeout = \"1s\", retries = { max = 2 } }",
    ),
    (
        "retries",
        "{ max = 2, per_try_timeout = \"100ms\", on = [\"timeout\", \"refused\"] }",
    ),
    (
        "circuit_breaker",
        "{ failure_rate = 0.5, window = 100, min_calls = 20, open_for = \"30s\" }",
    ),
    (
        "outlier_detection",
        "{ consecutive_errors = 5, interval = \"10s\", base_ejection = \"30s\" }",
    ),
    (
        "health_check",
        "{ interval = \"5s\", timeout = \"1s\", unhealthy = 3, healthy = 2 }",
    ),
    ("hedge", "{ after = \"50ms\", max = 1 }"),
    ("rate_limit", "{ rate = 1000, burst = 50 }"),
    (
        "[service.autoscale]",
        "{ min = 2, max = 10, target_utilization = 0.6 }",
    ),
    (
        "[slo]",
        "{ availability = 0.999, latency = { p99 = \"200ms\" } }",
    ),
    ("slo latency", "{ p99 = \"200ms\" }"),
    (
        "[[service]]",
        "{ name = \"api\", replicas = 3, workers = 8, service_time = \"exp(2ms)\" }",
    ),
    (
        "[[service.endpoint]]",
        "{ name = \"get\", service_time = \"exp(1ms)\", calls = [\"db\"] }",
    ),
    ("[[workload]]", "{ target = \"api\", rate = 100 }"),
    (
        "[[fault]]",
        "{ at = \"10s\", for = \"20s\", kind = \"crash\", target = \"api#0\" }",
    ),
    (
        "a schedule entry",
        "{ at = \"30s\", rate = 200, ramp = \"10s\" }",
    ),
];

/// The example of the table messages call `what`, if there is one.
pub(crate) fn table_example(what: &str) -> Option<&'static str> {
    TABLE_EXAMPLES
        .iter()
        .find(|(name, _)| *name == what)
        .map(|(_, example)| *example)
}

/// A table whose unknown keys have been reported.
pub(crate) struct Fields<'n> {
    /// The table value.
    pub node: &'n Node,
    entries: &'n [Entry],
    what: String,
    known: &'static [&'static str],
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).map(|e| &e.node)
    }

    /// The entry of `key` (with the key's position), if present. `key` must be one the table's
    /// type in `file.rs` declares (checked in debug builds: a reader may not read an undeclared
    /// key).
    pub fn entry(&self, key: &str) -> Option<&'n Entry> {
        debug_assert!(
            self.known.contains(&key),
            "{} reads key \"{key}\", which its type in src/scenario/file.rs does not declare",
            self.what
        );
        let found = self.entries.iter().find(|e| e.key == key);
        #[cfg(test)]
        if let Some(entry) = found {
            read_keys::record(entry.key_span.start);
        }
        found
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &'n [Entry] {
        #[cfg(test)]
        for entry in self.entries {
            read_keys::record(entry.key_span.start);
        }
        self.entries
    }

    /// How the table is named in messages, e.g. `[[service]]`.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl Ctx<'_> {
    /// Reads a table whose keys must be among `known`; unknown keys are reported (with a
    /// suggestion when one known key is close). `what` names the table in messages.
    pub fn table<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &'static [&'static str],
    ) -> Option<Fields<'n>> {
        let Value::Table(entries) = &node.value else {
            let like = table_example(what).map_or(String::new(), |e| format!(", like {e}"));
            self.error(
                node,
                format!("{what} must be a table{like}; found {}", node.kind()),
            );
            return None;
        };
        for entry in entries {
            if known.contains(&entry.key.as_str()) {
                continue;
            }
            let message = match closest(&entry.key, known.iter().copied()) {
                Some(close) => {
                    format!(
                        "unknown key \"{}\" in {what}: did you mean \"{close}\"?",
                        entry.key
                    )
                }
                None => format!(
                    "unknown key \"{}\" in {what}: expected one of {}",
                    entry.key,
                    known.join(", ")
                ),
            };
            self.error_at(entry.key_span.start, message);
        }
        Some(Fields {
            node,
            entries,
            what: what.to_string(),
            known,
        })
    }

    /// A mechanism's table, or `false` to switch the mechanism off (so that `compare` can vary
    /// it against being off, and a `[service.policy]` can switch off what `[policy]` sets):
    /// `Some(Some(table))`, `Some(None)` for `false`, `None` after reporting anything else.
    /// `what` names it in messages (`retries`, `hedge`, ...).
    pub fn table_or_off<'n>(&mut self, node: &'n Node, what: &str) -> Option<Option<&'n Node>> {
        let like = table_example(what).map_or(String::new(), |e| format!(", like {e}"));
        match node.value {
            Value::Boolean(false) => Some(None),
            Value::Table(_) => Some(Some(node)),
            Value::Boolean(true) => {
                self.error(
                    node,
                    format!(
                        "{what} = true does not say how: write a table{like}, or false to \
                         switch {what} off"
                    ),
                );
                None
            }
            _ => {
                self.error(
                    node,
                    format!(
                        "{what} must be a table{like}, or false to switch it off; found {}",
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    /// A limit written as its value (read by `read`) or as `false` for no limit (so that
    /// `compare` can vary a limit against none, and a `[service.policy]` can lift what
    /// `[policy]` sets): `Some(Some(value))`, `Some(None)` for `false`, `None` after reporting
    /// anything else. `what` names it in messages (`max_requests`, `queue`, ...).
    pub fn limit_or_off<T>(
        &mut self,
        node: &Node,
        what: &str,
        read: impl FnOnce(&mut Self, &Node) -> Option<T>,
    ) -> Option<Option<T>> {
        match node.value {
            Value::Boolean(false) => Some(None),
            Value::Boolean(true) => {
                self.error(
                    node,
                    format!(
                        "{what} = true does not say how much: write the limit, or false for no \
                         limit"
                    ),
                );
                None
            }
            _ => read(self, node).map(Some),
        }
    }

    /// The value of a required key; reports it missing at the table's start.
    pub fn required<'n>(&mut self, fields: &Fields<'n>, key: &str) -> Option<&'n Node> {
        let found = fields.get(key);
        if found.is_none() {
            let what = fields.what().to_string();
            self.error(fields.node, format!("missing key \"{key}\" in {what}"));
        }
        found
    }

    /// A string.
    pub fn string<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        let found = node.as_str();
        if found.is_none() {
            self.error(
                node,
                format!("{what} must be a string, found {}", node.kind()),
            );
        }
        found
    }

    /// A name: a non-empty string without `/`, `#` or surrounding spaces.
    pub fn name<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        let name = self.string(node, what)?;
        if name.is_empty() {
            self.error(node, format!("{what} must not be empty"));
            return None;
        }
        if name.trim() != name || name.contains(['/', '#']) {
            self.error(
                node,
                format!("{what} \"{name}\" must not contain '/', '#' or surrounding spaces"),
            );
            return None;
        }
        let limit = super::limits::MAX_NAME_BYTES;
        if name.len() > limit {
            self.error(
                node,
                format!("{what} is {} bytes long, at most {limit}", name.len()),
            );
            return None;
        }
        if name.chars().any(char::is_control) {
            self.error(
                node,
                format!("{what} {name:?} must not contain control characters"),
            );
            return None;
        }
        Some(name)
    }

    /// An integer in `[min, max]`.
    pub fn integer(&mut self, node: &Node, what: &str, min: i64, max: i64) -> Option<i64> {
        let value = match &node.value {
            Value::Integer(value) => *value,
            _ => {
                let hint = quoted_number_hint(node);
                self.error(
                    node,
                    format!("{what} must be an integer, found {}{hint}", node.kind()),
                );
                return None;
            }
        };
        if value < min {
            self.error(
                node,
                format!("{what} must be at least {min}, found {value}"),
            );
            return None;
        }
        if value > max {
            self.error(node, format!("{what} must be at most {max}, found {value}"));
            return None;
        }
        Some(value)
    }

    /// A finite number (integer or float).
    pub fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        match &node.value {
            Value::Integer(value) => Some(*value as f64),
            Value::Float(value) if value.is_finite() => Some(*value),
            Value::Float(_) => {
                self.error(node, format!("{what} must be a finite number"));
                None
            }
            _ => {
                let hint = quoted_number_hint(node);
                self.error(
                    node,
                    format!("{what} must be a number, found {}{hint}", node.kind()),
                );
                None
            }
        }
    }

    /// A number in `[0, 1]`.
    pub fn fraction(&mut self, node: &Node, what: &str) -> Option<f64> {
        let value = self.number(node, what)?;
        if !(0.0..=1.0).contains(&value) {
            self.error(
                node,
                format!("{what} must be between 0 and 1, found {value}"),
            );
            return None;
        }
        Some(value)
    }

    /// A number greater than zero.
    pub fn positive(&mut self, node: &Node, what: &str) -> Option<f64> {
        let value = self.number(node, what)?;
        if value <= 0.0 {
            self.error(
                node,
                format!("{what} must be greater than 0, found {value}"),
            );
            return None;
        }
        Some(value)
    }

    /// A boolean.
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Boolean(value) => Some(*value),
            _ => {
                self.error(
                    node,
                    format!("{what} must be true or false, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// The tables of an array of tables written `header` (`"[[service.endpoint]]"`); an
    /// error naming the header's last key otherwise.
    pub fn tables<'n>(&mut self, node: &'n Node, header: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Array(items) => Some(items),
            _ => {
                let name = header
                    .trim_matches(['[', ']'])
                    .rsplit('.')
                    .next()
                    .unwrap_or(header);
                self.error(
                    node,
                    format!(
                        "{name} must be written as {header} tables, found {}",
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    /// An array.
    pub fn array<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Array(items) => Some(items),
            _ => {
                self.error(
                    node,
                    format!("{what} must be an array, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// A duration string with a unit, nanoseconds.
    pub fn duration(&mut self, node: &Node, what: &str) -> Option<u64> {
        match &node.value {
            Value::String { text, .. } => match parse_duration(text) {
                Ok(ns) => Some(ns),
                Err(error) => {
                    self.error_at(
                        node.pos_in(error.offset),
                        format!("{what}: {}", error.message),
                    );
                    None
                }
            },
            Value::Integer(_) | Value::Float(_) => {
                self.error(node, format!("{what}: {BARE_NUMBER}"));
                None
            }
            _ => {
                self.error(
                    node,
                    format!(
                        "{what} must be a duration string like \"250ms\", found {}",
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    /// A timer's period (a heartbeat, a check or sweep interval, a sync): at least
    /// [`MIN_PERIOD_NANOS`], nanoseconds. With `zero_allowed`, 0 is accepted too (a setting
    /// where 0 means "no timer").
    pub fn period(&mut self, node: &Node, what: &str, zero_allowed: bool) -> Option<u64> {
        let ns = self.duration(node, what)?;
        if ns < MIN_PERIOD_NANOS && !(zero_allowed && ns == 0) {
            let text = node.as_str().unwrap_or("");
            self.error(
                node,
                format!(
                    "{what} must be at least \"1ms\"{}, found \"{text}\": it is a period (a \
                     timer that fires once a period for every replica or client it concerns), \
                     and a shorter one only multiplies the run's events",
                    if zero_allowed {
                        " (or \"0s\": none)"
                    } else {
                        ""
                    }
                ),
            );
            return None;
        }
        Some(ns)
    }

    /// A duration that must be greater than zero, nanoseconds.
    pub fn positive_duration(&mut self, node: &Node, what: &str) -> Option<u64> {
        let ns = self.duration(node, what)?;
        if ns == 0 {
            self.error(node, format!("{what} must be longer than 0"));
            return None;
        }
        Some(ns)
    }

    /// A distribution string (see [`super::dist`]).
    pub fn dist(&mut self, node: &Node, what: &str) -> Option<Dist> {
        match &node.value {
            Value::String { text, .. } => match parse_dist(text, self.base_dir()) {
                Ok(dist) => Some(dist),
                Err(error) => {
                    self.error_at(
                        node.pos_in(error.offset),
                        format!("{what}: {}", error.message),
                    );
                    None
                }
            },
            Value::Integer(_) | Value::Float(_) => {
                self.error(node, format!("{what}: {}", bare_number_message()));
                None
            }
            _ => {
                self.error(
                    node,
                    format!(
                        "{what} must be a distribution string like \"exp(2ms)\", found {}",
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    /// One of a fixed set of string values; `unsupported` values are recognised but refused as
    /// not supported yet.
    pub fn choice<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        options: &[(&str, T)],
        unsupported: &[&str],
    ) -> Option<T> {
        let value = self.string(node, what)?;
        if let Some((_, choice)) = options.iter().find(|(name, _)| *name == value) {
            return Some(*choice);
        }
        if unsupported.contains(&value) {
            self.error(node, format!("{what} \"{value}\" {PLANNED}"));
            return None;
        }
        let names: Vec<&str> = options
            .iter()
            .map(|(name, _)| *name)
            .chain(unsupported.iter().copied())
            .collect();
        self.error(
            node,
            format!(
                "unknown {what} \"{value}\": expected one of {}{}",
                names.join(", "),
                did_you_mean(value, names.iter().copied())
            ),
        );
        None
    }
}

/// ` (write it without quotes)` when a string holds a number; for a whole number too large for
/// 64 bits (which TOML, and `--set`, then read as text), that it is too large.
fn quoted_number_hint(node: &Node) -> &'static str {
    match node.as_str().map(str::trim) {
        Some(text)
            if text
                .strip_prefix('-')
                .unwrap_or(text)
                .bytes()
                .all(|b| b.is_ascii_digit())
                && !text.is_empty()
                && text.parse::<i64>().is_err() =>
        {
            " (a whole number this large does not fit in 64 bits)"
        }
        Some(text) if text.parse::<f64>().is_ok() => " (write the number without quotes)",
        _ => "",
    }
}

/// Test support: the positions of the keys the readers looked up, so that a test can find keys
/// that a table's type declares but its reader never reads (silently ignored keys).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::raw;
    use std::path::Path;

    #[test]
    fn a_recognised_but_unsupported_choice_is_refused_as_planned() {
        let text = "a = \"fast\"\nb = \"later\"\nc = \"neither\"\n";
        let root = raw::parse(text).ok().expect("parses");
        let mut ctx = Ctx::new("t.toml", text, Path::new("."));
        let fields = ctx.table(&root, "t", &["a", "b", "c"]).expect("a table");
        let (a, b, c) = (
            fields.get("a").expect("a"),
            fields.get("b").expect("b"),
            fields.get("c").expect("c"),
        );
        let options = [("fast", 1), ("slow", 2)];
        assert_eq!(ctx.choice(a, "speed", &options, &["later"]), Some(1));
        assert_eq!(ctx.choice(b, "speed", &options, &["later"]), None);
        assert_eq!(ctx.choice(c, "speed", &options, &["later"]), None);
        let errors = ctx.finish(Some(())).expect_err("two problems").0;
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert_eq!(
            messages[0],
            format!("t.toml:2:5: speed \"later\" {PLANNED}")
        );
        assert!(
            messages[1].starts_with(
                "t.toml:3:5: unknown speed \"neither\": expected one of fast, slow, later"
            ),
            "{}",
            messages[1]
        );
    }
}

#[cfg(test)]
pub(crate) mod read_keys {
    use std::cell::RefCell;

    thread_local! {
        static READ: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    /// Notes that the key written at byte `offset` was read.
    pub fn record(offset: usize) {
        READ.with(|r| r.borrow_mut().push(offset));
    }

    /// The offsets noted since the last call, emptying the list.
    pub fn take() -> Vec<usize> {
        READ.with(|r| std::mem::take(&mut *r.borrow_mut()))
    }
}
