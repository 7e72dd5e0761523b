//! `--set key=value` overrides, applied to the file's text before it is read.
//!
//! The key is a dotted TOML key. Inside an array of tables (`[[service]]`, `[[workload]]`,
//! `[[fault]]`, `[[service.endpoint]]`) the next segment picks an element, by index
//! (`fault.0.at`) or by its `name` (`service.article.workers`); inside an inline array
//! (`schedule`) by index. The value is read as a TOML value (integer, float, boolean, array,
//! inline table, quoted string) when it is one, else taken as a string, so `policy.balancer=p2c`
//! and `scenario.duration=30s` work. Missing tables are created.

use toml_edit::{DocumentMut, Item, Key, Table, TableLike, Value};

use super::suggest::did_you_mean;

/// Keys that hold arrays of tables: a missing one cannot be created by naming an element.
const ARRAYS_OF_TABLES: [&str; 7] = [
    "service",
    "workload",
    "fault",
    "endpoint",
    "version",
    "deployment",
    "change",
];

/// A `--set key=value` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Dotted key, e.g. `service.article.workers`.
    pub key: String,
    /// The value as written on the command line, e.g. `64` or `30s`.
    pub value: String,
}

impl Override {
    /// Parses `key=value`, splitting at the first `=`; both sides are trimmed and the key must not
    /// be empty.
    pub fn parse(arg: &str) -> Result<Override, String> {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!(
                "expected key=value, like policy.balancer=p2c; found \"{arg}\""
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("missing key before '=' in \"{arg}\""));
        }
        Ok(Override {
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// Where a line of the edited text comes from: a line of the file, or an override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineOrigin {
    /// Line of the file (0-based), unchanged.
    File(usize),
    /// Written (or rewritten) by the override at this index.
    Override(usize),
}

/// Text edited by overrides, with the origin of each of its lines, so that a problem found in
/// it is reported at the file's line or as the `--set` argument that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edited {
    /// The edited text.
    pub text: String,
    /// One origin per line of `text` (lines separated by `\n`).
    pub origins: Vec<LineOrigin>,
}

/// Applies the overrides to `text` (in order) and returns the edited text with the origin of
/// each line, or one (index of the override, message) per override that could not be applied.
/// Text that is not valid TOML is returned unchanged (its syntax error is reported when it is
/// read).
pub(crate) fn apply(text: &str, overrides: &[Override]) -> Result<Edited, Vec<(usize, String)>> {
    let unchanged = || Edited {
        text: text.to_string(),
        origins: (0..line_count(text)).map(LineOrigin::File).collect(),
    };
    let Ok(mut document) = text.parse::<DocumentMut>() else {
        return Ok(unchanged());
    };
    // toml_edit writes the untouched document as it was read, except for line ends (CRLF
    // becomes LF): its lines are the file's, one for one.
    let mut edited = Edited {
        text: document.to_string(),
        origins: (0..line_count(text)).map(LineOrigin::File).collect(),
    };
    edited.origins.resize(
        line_count(&edited.text),
        LineOrigin::File(line_count(text).saturating_sub(1)),
    );
    let mut problems = Vec::new();
    for (index, o) in overrides.iter().enumerate() {
        match apply_one(&mut document, o) {
            Ok(()) => {
                let after = document.to_string();
                edited.origins = trace_lines(&edited.text, &after, &edited.origins, index);
                edited.text = after;
            }
            Err(message) => problems.push((index, message)),
        }
    }
    if problems.is_empty() {
        Ok(edited)
    } else {
        Err(problems)
    }
}

impl Override {
    /// How messages name it: `--set key=value`.
    pub fn label(&self) -> String {
        format!("--set {}={}", self.key, self.value)
    }
}

/// Number of lines of `text` as [`super::error::line_column`] counts them (a final line
/// without a newline counts; so does the empty line after a final newline).
fn line_count(text: &str) -> usize {
    text.split('\n').count()
}

/// The origins of the lines of `after`, the text `before` (whose lines come from `origins`)
/// edited by override `index`: lines outside the changed middle keep their origin, the changed
/// ones are the override's. An override changes one place of the document, so the middle is
/// found by trimming the lines both texts start and end with.
fn trace_lines(before: &str, after: &str, origins: &[LineOrigin], index: usize) -> Vec<LineOrigin> {
    let old: Vec<&str> = before.split('\n').collect();
    let new: Vec<&str> = after.split('\n').collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let room = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let mut traced = Vec::with_capacity(new.len());
    traced.extend_from_slice(&origins[..prefix]);
    traced.extend(std::iter::repeat_n(
        LineOrigin::Override(index),
        new.len() - prefix - suffix,
    ));
    traced.extend_from_slice(&origins[origins.len() - suffix..]);
    traced
}

fn apply_one(document: &mut DocumentMut, o: &Override) -> Result<(), String> {
    let path: Vec<String> = Key::parse(&o.key)
        .map_err(|_| {
            format!(
                "\"{}\" is not a dotted key like service.article.workers",
                o.key
            )
        })?
        .iter()
        .map(|k| k.get().to_string())
        .collect();
    super::keys::check(&path)?;
    let value = parse_value(&o.value);
    set_in_table(document.as_table_mut(), &path, value, "")
}

/// A text equal for two override values exactly when they set the same value: `p2c` and
/// `"p2c"`, `8` and `0x8`, `{ a = 1, b = 2 }` and `{b=2,a=1}` are each one value.
pub(crate) fn canonical_value(text: &str) -> String {
    canonical(&parse_value(text))
}

fn canonical(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", s.value()),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => format!("{:?}", f.value()),
        Value::Boolean(b) => b.value().to_string(),
        Value::Datetime(d) => d.value().to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        Value::InlineTable(table) => {
            let mut entries: Vec<String> = table
                .iter()
                .map(|(key, value)| format!("{key:?}={}", canonical(value)))
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(","))
        }
    }
}

/// The value as TOML if it parses as a TOML value, else as a string.
fn parse_value(text: &str) -> Value {
    match text.parse::<Value>() {
        Ok(mut value) => {
            value.decor_mut().clear();
            value
        }
        Err(_) => Value::from(text),
    }
}

fn join(prefix: &str, segment: &str) -> String {
    if prefix.is_empty() {
        segment.to_string()
    } else {
        format!("{prefix}.{segment}")
    }
}

fn set_in_table(
    table: &mut dyn TableLike,
    path: &[String],
    value: Value,
    prefix: &str,
) -> Result<(), String> {
    let Some((head, rest)) = path.split_first() else {
        return Err("empty key".to_string());
    };
    let here = join(prefix, head);
    if rest.is_empty() {
        table.insert(head, Item::Value(value));
        return Ok(());
    }
    if !table.contains_key(head) {
        if ARRAYS_OF_TABLES.contains(&head.as_str()) {
            return Err(format!(
                "there is no [[{here}]] to pick \"{}\" from",
                rest[0]
            ));
        }
        table.insert(head, Item::Table(Table::new()));
    }
    match table.get_mut(head) {
        Some(item) => set_in_item(item, rest, value, &here),
        None => Err(format!("cannot create {here}")),
    }
}

fn set_in_item(item: &mut Item, path: &[String], value: Value, prefix: &str) -> Result<(), String> {
    let Some((head, rest)) = path.split_first() else {
        return Err("empty key".to_string());
    };
    match item {
        Item::ArrayOfTables(array) => {
            let names: Vec<String> = array
                .iter()
                .filter_map(|t| t.get("name").and_then(Item::as_str).map(str::to_string))
                .collect();
            let index = match head.parse::<usize>() {
                Ok(index) if index < array.len() => index,
                Ok(index) => {
                    return Err(format!(
                        "[[{prefix}]] has {} element(s); index {index} is out of range",
                        array.len()
                    ))
                }
                Err(_) => names.iter().position(|n| n == head).ok_or_else(|| {
                    format!(
                        "no [[{prefix}]] named \"{head}\"{}",
                        did_you_mean(head, names.iter().map(String::as_str))
                    )
                })?,
            };
            if rest.is_empty() {
                return Err(format!("cannot replace a whole [[{prefix}]]; set one of its keys, like {prefix}.{head}.name"));
            }
            let here = join(prefix, head);
            match array.get_mut(index) {
                Some(table) => set_in_table(table, rest, value, &here),
                None => Err(format!("no element {index} in [[{prefix}]]")),
            }
        }
        Item::Value(Value::Array(array)) => {
            let index = match head.parse::<usize>() {
                Ok(index) if index < array.len() => index,
                _ => {
                    return Err(format!(
                        "{prefix} has {} element(s); \"{head}\" is not an index among them",
                        array.len()
                    ))
                }
            };
            let here = join(prefix, head);
            let Some(element) = array.get_mut(index) else {
                return Err(format!("no element {index} in {prefix}"));
            };
            if rest.is_empty() {
                *element = value;
                return Ok(());
            }
            match element {
                Value::InlineTable(table) => set_in_table(table, rest, value, &here),
                _ => Err(format!("{here} is not a table")),
            }
        }
        other => match other.as_table_like_mut() {
            Some(table) => set_in_table(table, path, value, prefix),
            None => Err(format!("{prefix} is not a table")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, arg: &str) -> Result<String, Vec<String>> {
        let o = Override::parse(arg).map_err(|e| vec![e])?;
        apply(text, &[o])
            .map(|edited| edited.text)
            .map_err(|problems| problems.into_iter().map(|(_, m)| m).collect())
    }

    #[test]
    fn values_that_set_the_same_value_have_one_canonical_text() {
        for (a, b) in [
            ("p2c", "\"p2c\""),
            ("8", "0x8"),
            ("{ a = 1, b = \"x\" }", "{b='x',a=1}"),
            ("[1, 2]", "[1,2]"),
        ] {
            assert_eq!(canonical_value(a), canonical_value(b), "{a} {b}");
        }
        for (a, b) in [
            ("8", "\"8\""),
            ("8", "8.0"),
            ("[1, 2]", "[2, 1]"),
            ("true", "\"true\""),
        ] {
            assert_ne!(canonical_value(a), canonical_value(b), "{a} {b}");
        }
    }

    #[test]
    fn parse_splits_at_the_first_equals() {
        let o = Override::parse("a.b=c=d").expect("parses");
        assert_eq!((o.key.as_str(), o.value.as_str()), ("a.b", "c=d"));
        assert!(Override::parse("nothing").is_err());
        assert!(Override::parse("=x").is_err());
    }

    #[test]
    fn values_are_toml_when_they_parse_else_strings() {
        let text = "[scenario]\nname = \"x\"\n";
        let edited = set(text, "scenario.seed=7").expect("applies");
        assert!(edited.contains("seed = 7"), "{edited}");
        let edited = set(text, "scenario.duration=30s").expect("applies");
        assert!(edited.contains("duration = \"30s\""), "{edited}");
        let edited = set(text, "policy.balancer=p2c").expect("applies");
        assert!(
            edited.contains("[policy]") && edited.contains("balancer = \"p2c\""),
            "{edited}"
        );
    }

    #[test]
    fn arrays_of_tables_by_index_or_name() {
        let text = "[[service]]\nname = \"a\"\n[[service]]\nname = \"b\"\nworkers = 2\n[[fault]]\nat = \"1s\"\n";
        let edited = set(text, "service.b.workers=64").expect("applies");
        assert!(edited.contains("workers = 64"), "{edited}");
        let edited = set(text, "fault.0.at=2s").expect("applies");
        assert!(edited.contains("at = \"2s\""), "{edited}");
        let error = set(text, "service.c.workers=1").expect_err("unknown name");
        assert!(error[0].contains("no [[service]] named \"c\""), "{error:?}");
        assert!(set(text, "fault.3.at=1s").is_err());
        assert!(set(text, "workload.x.rate=1").is_err());
        assert!(set(text, "service.a=1").is_err());
    }

    #[test]
    fn lines_keep_their_file_line_and_written_ones_name_their_override() {
        use LineOrigin::{File, Override as By};
        let text = "[scenario]\r\nname = \"x\"\r\n\r\n[policy]\r\nbalancer = \"random\"\r\n\r\n[[service]]\r\nname = \"a\"\r\n";
        let overrides: Vec<Override> = ["policy.balancer=p2c", "slo.availability=0.9"]
            .iter()
            .map(|a| Override::parse(a).expect("parses"))
            .collect();
        let edited = apply(text, &overrides).expect("applies");
        let lines: Vec<&str> = edited.text.split('\n').collect();
        assert_eq!(lines.len(), edited.origins.len());
        for (line, origin) in lines.iter().zip(&edited.origins) {
            match origin {
                // An unchanged line is the file's line (toml_edit drops the CR of CRLF).
                File(index) => assert_eq!(
                    *line,
                    text.split('\n')
                        .nth(*index)
                        .expect("a line")
                        .trim_end_matches('\r')
                ),
                By(0) => assert!(line.contains("p2c"), "{line:?}"),
                // The new [slo] table, and the blank line toml_edit puts before it.
                By(1) => assert!(
                    line.contains("slo") || line.contains("0.9") || line.is_empty(),
                    "{line:?}"
                ),
                By(other) => panic!("no override {other}"),
            }
        }
        let by = |i| edited.origins.iter().filter(|o| **o == By(i)).count();
        assert_eq!(by(0), 1, "{:?}\n{}", edited.origins, edited.text);
        assert!(
            (2..=3).contains(&by(1)),
            "{:?}\n{}",
            edited.origins,
            edited.text
        );
        assert_eq!(
            edited.origins[7],
            File(7),
            "lines after the edit keep theirs"
        );
    }

    #[test]
    fn invalid_toml_is_left_alone() {
        assert_eq!(set("a = ", "b=1"), Ok("a = ".to_string()));
    }
}
