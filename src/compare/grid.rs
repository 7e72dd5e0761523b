//! The grid of variants: axes from `--vary key=v1,v2,...` (or the file's `[compare]` table), and
//! their cross product, each variant a list of `--set` overrides.

use crate::model::CompareSpec;
use crate::scenario::Override;

/// One axis: a dotted key and the values to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// Dotted key, as `--set` takes it.
    pub key: String,
    /// Values, each as written after `key=` in a `--set`.
    pub values: Vec<String>,
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// `key=value, key=value` (or `baseline` when nothing varies).
    pub name: String,
    /// A file-name-safe, unique short name: the values joined by `-` (`p2c`, `p2c-64`).
    pub slug: String,
    /// (key, value) per axis, in axis order.
    pub settings: Vec<(String, String)>,
}

impl Variant {
    /// The variant's settings as `--set` overrides.
    pub fn overrides(&self) -> Vec<Override> {
        self.settings
            .iter()
            .map(|(key, value)| Override {
                key: key.clone(),
                value: value.clone(),
            })
            .collect()
    }

    /// The values alone, `p2c, 64` (a short label for tables).
    pub fn values_label(&self) -> String {
        if self.settings.is_empty() {
            return self.name.clone();
        }
        self.settings
            .iter()
            .map(|(_, value)| value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses `key=v1,v2,...`. Values are split at commas outside quotes, brackets and braces, so
/// `retries={ max = 2, backoff = "10ms" },{ max = 0 }` has two values; each is trimmed and must
/// not be empty.
pub fn parse_vary(arg: &str) -> Result<Axis, String> {
    let Some((key, values)) = arg.split_once('=') else {
        return Err(format!(
            "--vary {arg}: expected key=v1,v2,..., like policy.balancer=round_robin,p2c"
        ));
    };
    let key = key.trim();
    if key.is_empty() || toml_edit::Key::parse(key).is_err() {
        return Err(format!(
            "--vary {arg}: \"{key}\" is not a dotted key like policy.balancer"
        ));
    }
    crate::scenario::check_axis_key(key).map_err(|message| format!("--vary {arg}: {message}"))?;
    let mut values = split_values(values);
    if let Some(position) = values.iter().position(String::is_empty) {
        return Err(format!("--vary {arg}: value {} is empty", position + 1));
    }
    if values.len() == 1 && is_range(&values[0]) {
        values = expand_range(&values[0]).map_err(|message| format!("--vary {arg}: {message}"))?;
    }
    // Two values that set the same thing make two variants of one run.
    let mut seen = std::collections::HashMap::new();
    for (index, value) in values.iter().enumerate() {
        let canonical = crate::scenario::canonical_value(value);
        if let Some(&first) = seen.get(&canonical) {
            return Err(format!(
                "--vary {arg}: values {} and {} ({} and {}) are the same value: the two variants \
                 would be the same run",
                first + 1,
                index + 1,
                values[first],
                values[index]
            ));
        }
        seen.insert(canonical, index);
    }
    Ok(Axis {
        key: key.to_string(),
        values,
    })
}

/// The most values a range may expand to.
pub const MAX_RANGE_VALUES: u64 = 100_000;

/// Whether a lone `--vary` value is a range `A..B` or `A..B/N` (not a quoted string, array or
/// inline table).
fn is_range(value: &str) -> bool {
    !value.starts_with(['"', '\'', '[', '{']) && value.contains("..")
}

/// Expands a range:
/// - `A..B` with integers A ≤ B: every integer from A to B (`2..8`: 2, 3, ..., 8);
/// - `A..B/N` with N ≥ 2: N values spaced evenly on a log scale from A to B, both included
///   (A, B > 0). Durations (`100ms..1s/5`) are rounded to whole microseconds and written with
///   the largest unit that divides them (`100ms, 177828us, 316228us, 562341us, 1s`); integers
///   stay integers (rounded, repeats dropped); other numbers keep 6 significant digits.
pub fn expand_range(text: &str) -> Result<Vec<String>, String> {
    let (range, count) = match text.rsplit_once('/') {
        Some((range, count)) => {
            let count: u64 = count.trim().parse().map_err(|_| {
                format!("\"{count}\" after / is not a count of values (like 100ms..1s/5)")
            })?;
            if !(2..=MAX_RANGE_VALUES).contains(&count) {
                return Err(format!(
                    "a log-spaced range takes 2 to {MAX_RANGE_VALUES} values, not {count}"
                ));
            }
            (range, Some(count))
        }
        None => (text, None),
    };
    let (low, high) = range
        .split_once("..")
        .ok_or_else(|| "expected a range like 2..8 or 100ms..1s/5".to_string())?;
    let (low, high) = (low.trim(), high.trim());
    match count {
        None => {
            let (a, b) = match (low.parse::<i64>(), high.parse::<i64>()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    return Err(format!(
                        "{low}..{high}: a range without /N steps through integers; for other values give the count, like {low}..{high}/5 (log-spaced)"
                    ))
                }
            };
            if a > b {
                return Err(format!("{low}..{high}: the range is empty ({a} > {b})"));
            }
            if (b - a) as u64 >= MAX_RANGE_VALUES {
                return Err(format!(
                    "{low}..{high}: more than {MAX_RANGE_VALUES} values"
                ));
            }
            Ok((a..=b).map(|v| v.to_string()).collect())
        }
        Some(count) => log_spaced(low, high, count),
    }
}

/// `count` log-spaced values from `low` to `high` (see [`expand_range`]).
fn log_spaced(low: &str, high: &str, count: u64) -> Result<Vec<String>, String> {
    let point = |i: u64, a: f64, b: f64| {
        if i == 0 {
            a
        } else if i == count - 1 {
            b
        } else {
            (a.ln() + (b.ln() - a.ln()) * i as f64 / (count - 1) as f64).exp()
        }
    };
    let positive = |a: f64, b: f64| {
        if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() {
            Ok(())
        } else {
            Err(format!(
                "{low}..{high}: a log-spaced range needs two positive ends"
            ))
        }
    };
    let mut values: Vec<String> = Vec::new();
    let mut push = |value: String| {
        if values.last() != Some(&value) {
            values.push(value);
        }
    };
    if let (Ok(a), Ok(b)) = (
        crate::scenario::duration::parse_duration(low),
        crate::scenario::duration::parse_duration(high),
    ) {
        positive(a as f64, b as f64)?;
        for i in 0..count {
            let nanos = point(i, a as f64, b as f64);
            let micros = if i == 0 || i == count - 1 {
                nanos
            } else {
                (nanos / 1e3).round() * 1e3
            };
            push(crate::scenario::duration::format_ns(micros as u64));
        }
    } else if let (Ok(a), Ok(b)) = (low.parse::<i64>(), high.parse::<i64>()) {
        positive(a as f64, b as f64)?;
        for i in 0..count {
            push((point(i, a as f64, b as f64).round() as i64).to_string());
        }
    } else if let (Ok(a), Ok(b)) = (low.parse::<f64>(), high.parse::<f64>()) {
        positive(a, b)?;
        for i in 0..count {
            let value = point(i, a, b);
            push(if i == 0 {
                low.to_string()
            } else if i == count - 1 {
                high.to_string()
            } else {
                format!("{}", format!("{value:.5e}").parse::<f64>().unwrap_or(value))
            });
        }
    } else {
        return Err(format!(
            "{low}..{high}: the ends must be numbers or durations with a unit (like 100ms..1s/5)"
        ));
    }
    Ok(values)
}

/// Splits at top-level commas (outside quoted strings, `[...]` and `{...}`), trimming each part.
fn split_values(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                ',' if depth <= 0 => {
                    parts.push(current.trim().to_string());
                    current.clear();
                    continue;
                }
                _ => {}
            },
        }
        current.push(c);
    }
    parts.push(current.trim().to_string());
    parts
}

/// The axes to vary: the `--vary` arguments when there are any, else the `[compare]` table's
/// (none at all gives a single variant: the scenario as written). A setting may be varied
/// once, and not inside another varied one (`policy.retries` and `policy.retries.max`: a
/// variant would set one over the other); the `[compare]` table was checked for both when it
/// was read.
pub fn axes(vary: &[String], spec: Option<&CompareSpec>) -> Result<Vec<Axis>, String> {
    if vary.is_empty() {
        return Ok(spec
            .map(|spec| {
                spec.axes
                    .iter()
                    .map(|axis| Axis {
                        key: axis.key.clone(),
                        values: axis.values.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default());
    }
    let axes: Vec<Axis> = vary
        .iter()
        .map(|arg| parse_vary(arg))
        .collect::<Result<_, _>>()?;
    let paths: Vec<Vec<String>> = axes
        .iter()
        .map(|axis| crate::scenario::key_path(&axis.key).unwrap_or_default())
        .collect();
    for (index, path) in paths.iter().enumerate() {
        let Some(first) = paths[..index]
            .iter()
            .position(|other| other.starts_with(path) || path.starts_with(other))
        else {
            continue;
        };
        let (this, other) = (&vary[index], &vary[first]);
        if paths[first] == *path {
            return Err(format!(
                "--vary {this}: {} is varied twice (also by --vary {other}); give all its \
                 values in one --vary",
                axes[index].key
            ));
        }
        let (inner, outer) = if path.len() > paths[first].len() {
            (&axes[index].key, &axes[first].key)
        } else {
            (&axes[first].key, &axes[index].key)
        };
        return Err(format!(
            "--vary {this}: overlaps --vary {other}: {inner} is part of {outer}, and a variant \
             would set one over the other; vary {outer} with whole values, or {inner} alone"
        ));
    }
    Ok(axes)
}

/// For the variant at `index` of [`variants`]`(axes)`, the index of its value on each axis.
pub fn value_indices(axes: &[Axis], index: usize) -> Vec<usize> {
    let mut rest = index;
    let mut indices = vec![0; axes.len()];
    for (slot, axis) in indices.iter_mut().zip(axes).rev() {
        let count = axis.values.len().max(1);
        *slot = rest % count;
        rest /= count;
    }
    indices
}

/// The cross product of `axes`, the first axis varying slowest; the first variant (every axis
/// at its first value) is the baseline.
pub fn variants(axes: &[Axis]) -> Vec<Variant> {
    let mut grid: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in axes {
        grid = grid
            .into_iter()
            .flat_map(|settings| {
                axis.values.iter().map(move |value| {
                    let mut next = settings.clone();
                    next.push((axis.key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    let mut taken: Vec<String> = Vec::new();
    grid.into_iter()
        .map(|settings| {
            let name = if settings.is_empty() {
                "baseline".to_string()
            } else {
                settings
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let base = if settings.is_empty() {
                "baseline".to_string()
            } else {
                settings
                    .iter()
                    .map(|(_, v)| slug_part(v))
                    .collect::<Vec<_>>()
                    .join("-")
            };
            let mut slug = base.clone();
            let mut copy = 1;
            while taken.contains(&slug) {
                copy += 1;
                slug = format!("{base}-{copy}");
            }
            taken.push(slug.clone());
            Variant {
                name,
                slug,
                settings,
            }
        })
        .collect()
}

/// A value reduced to letters, digits, `.` and `_` for a file name: every run of other
/// characters becomes one `_` (`{ max = 2, backoff = "10ms" }` gives `max_2_backoff_10ms`);
/// `v` if nothing is left.
fn slug_part(value: &str) -> String {
    let mut text = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            text.push(c);
        } else if !text.ends_with('_') {
            text.push('_');
        }
    }
    let text = text.trim_matches(|c| c == '_' || c == '.').to_string();
    if text.is_empty() {
        "v".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_splits_at_top_level_commas() {
        let axis = parse_vary("policy.balancer = round_robin, p2c").expect("parses");
        assert_eq!(axis.key, "policy.balancer");
        assert_eq!(axis.values, ["round_robin", "p2c"]);
        let axis = parse_vary(r#"policy.retries={ max = 2, on = ["a", "b"] },{ max = 0 },"x,y""#)
            .expect("parses");
        assert_eq!(
            axis.values,
            [r#"{ max = 2, on = ["a", "b"] }"#, "{ max = 0 }", r#""x,y""#]
        );
        assert!(parse_vary("policy.balancer").is_err());
        assert!(parse_vary("=p2c").is_err());
        assert!(parse_vary("policy.balancer=p2c,,random").is_err());
        assert!(parse_vary("policy.balancer=").is_err());
    }

    #[test]
    fn cross_product_first_axis_slowest_with_unique_slugs() {
        let axes = axes(
            &[
                "policy.balancer=round_robin,p2c".into(),
                "service.api.workers=4,8".into(),
            ],
            None,
        )
        .expect("valid");
        let grid = variants(&axes);
        let names: Vec<&str> = grid.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "policy.balancer=round_robin, service.api.workers=4",
                "policy.balancer=round_robin, service.api.workers=8",
                "policy.balancer=p2c, service.api.workers=4",
                "policy.balancer=p2c, service.api.workers=8",
            ]
        );
        assert_eq!(grid[3].slug, "p2c-8");
        assert_eq!(grid[3].values_label(), "p2c, 8");
        let same = variants(&[parse_vary("policy.balancer=a_b,\"a b\",a-b").expect("parses")]);
        let slugs: Vec<&str> = same.iter().map(|v| v.slug.as_str()).collect();
        assert_eq!(slugs, ["a_b", "a_b-2", "a_b-3"]);
        assert_eq!(value_indices(&axes, 0), [0, 0]);
        assert_eq!(value_indices(&axes, 2), [1, 0]);
        assert_eq!(value_indices(&axes, 3), [1, 1]);
    }

    #[test]
    fn ranges_expand() {
        let axis = parse_vary("service.api.replicas=2..8").expect("parses");
        assert_eq!(axis.values, ["2", "3", "4", "5", "6", "7", "8"]);
        // 10^(-1 + i/4) s for i = 0..4, rounded to microseconds: 0.1, 0.177828, 0.316228,
        // 0.562341, 1 s.
        let axis = parse_vary("policy.timeout=100ms..1s/5").expect("parses");
        assert_eq!(
            axis.values,
            ["100ms", "177828us", "316228us", "562341us", "1s"]
        );
        // 1, 10, 100, 1000: integers stay integers.
        assert_eq!(
            expand_range("1..1000/4").expect("valid"),
            ["1", "10", "100", "1000"]
        );
        assert_eq!(expand_range("0.5..2/3").expect("valid"), ["0.5", "1", "2"]);
        for bad in [
            "8..2",
            "1.5..2",
            "0..10/3",
            "1ms..1s/1",
            "a..b/3",
            "1..10/x",
        ] {
            assert!(expand_range(bad).is_err(), "{bad}");
        }
        // A quoted string with dots is a value, not a range.
        assert_eq!(
            parse_vary("policy.balancer=\"x..y\"")
                .expect("parses")
                .values,
            ["\"x..y\""]
        );
    }

    #[test]
    fn slugs_are_readable_file_name_parts() {
        assert_eq!(slug_part("p2c"), "p2c");
        assert_eq!(
            slug_part("{ max = 2, backoff = \"10ms\" }"),
            "max_2_backoff_10ms"
        );
        assert_eq!(slug_part("false"), "false");
        assert_eq!(slug_part("\"{}\""), "v");
    }

    #[test]
    fn compare_table_when_no_vary_and_no_twice() {
        let spec = CompareSpec {
            axes: vec![crate::model::CompareAxis {
                key: "policy.balancer".into(),
                values: vec!["random".into(), "p2c".into()],
                ..Default::default()
            }],
            replications: Some(3),
        };
        let from_file = axes(&[], Some(&spec)).expect("valid");
        assert_eq!(from_file[0].values, ["random", "p2c"]);
        let from_cli = axes(&["policy.timeout=1s,2s".into()], Some(&spec)).expect("valid");
        assert_eq!(from_cli[0].key, "policy.timeout");
        assert_eq!(variants(&[]).len(), 1);
        assert_eq!(variants(&[])[0].slug, "baseline");
        let twice = axes(
            &[
                "policy.balancer=p2c".into(),
                "policy.balancer=random".into(),
            ],
            None,
        );
        assert!(twice.expect_err("twice").contains("varied twice"));
        let inside = axes(
            &[
                "policy.retries={ max = 1 }".into(),
                "policy.retries.max=1,2".into(),
            ],
            None,
        );
        assert!(inside
            .expect_err("overlap")
            .contains("policy.retries.max is part of policy.retries"));
        let same = parse_vary("policy.balancer=p2c,random,\"p2c\"").expect_err("twice");
        assert!(same.contains("values 1 and 3"), "{same}");
        for refused in ["compare.replications=1,2", "scenario.seed=1,2"] {
            assert!(parse_vary(refused).is_err(), "{refused}");
        }
    }
}
