//! Distribution strings: `const(2ms)`, `exp(1ms)`, `uniform(1ms, 3ms)`,
//! `lognormal(median=5ms, p99=50ms)`, `normal(mean=5ms, sd=1ms)`, `pareto(scale=1ms, shape=2.5)`,
//! `mix(0.9 * exp(1ms), 0.1 * exp(20ms))`, `empirical(path.csv)` and
//! `quantiles(0=1ms, 0.5=2ms, 0.99=9ms, 1=20ms)`.
//!
//! Parameters may be given by position (in the order above) or by name (`exp(mean=1ms)`,
//! `uniform(low=1ms, high=3ms)`, `const(value=2ms)`). Durations become nanoseconds.

use std::path::Path;

use super::duration::parse_duration;
use super::limits::read_at_most;
use super::suggest::did_you_mean;
use crate::model::Dist;

/// The distribution names, for messages.
const NAMES: [&str; 9] = [
    "const",
    "exp",
    "uniform",
    "lognormal",
    "normal",
    "pareto",
    "mix",
    "empirical",
    "quantiles",
];

/// Mixtures nest at most this deep (keeps hostile input from exhausting the stack).
const MAX_DEPTH: usize = 16;

/// Mixture weights must sum to 1 within this tolerance.
const WEIGHT_TOLERANCE: f64 = 1e-9;

/// A malformed distribution: the byte offset of the problem in the string, and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DistError {
    /// Byte offset in the distribution string.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

fn fail<T>(offset: usize, message: impl Into<String>) -> Result<T, DistError> {
    Err(DistError {
        offset,
        message: message.into(),
    })
}

/// What a parameter holds.
#[derive(Clone, Copy)]
enum Kind {
    Duration,
    Number,
}

/// The parameters of a distribution, in positional order, and an example for messages.
fn signature(name: &str) -> (&'static [(&'static str, Kind)], &'static str) {
    use Kind::{Duration as D, Number as N};
    match name {
        "const" => (&[("value", D)], "const(2ms)"),
        "exp" => (&[("mean", D)], "exp(1ms)"),
        "uniform" => (&[("low", D), ("high", D)], "uniform(1ms, 3ms)"),
        "lognormal" => (
            &[("median", D), ("p99", D)],
            "lognormal(median=5ms, p99=50ms)",
        ),
        "normal" => (&[("mean", D), ("sd", D)], "normal(mean=5ms, sd=1ms)"),
        "pareto" => (
            &[("scale", D), ("shape", N)],
            "pareto(scale=1ms, shape=2.5)",
        ),
        "mix" => (&[], "mix(0.9 * exp(1ms), 0.1 * exp(20ms))"),
        "quantiles" => (&[], "quantiles(0=1ms, 0.5=2ms, 0.99=9ms, 1=20ms)"),
        _ => (&[], "empirical(latencies.csv)"),
    }
}

/// Parses a distribution string; `empirical` files are read relative to `base_dir`.
pub(crate) fn parse_dist(text: &str, base_dir: &Path) -> Result<Dist, DistError> {
    Parser { text, base_dir }.dist(0, text.len(), 0)
}

struct Parser<'a> {
    text: &'a str,
    base_dir: &'a Path,
}

impl Parser<'_> {
    /// `[start, end)` without surrounding whitespace.
    fn trim(&self, start: usize, end: usize) -> (usize, usize) {
        let slice = &self.text[start..end];
        let s = start + (slice.len() - slice.trim_start().len());
        let e = end - (slice.len() - slice.trim_end().len());
        (s, e.max(s))
    }

    fn dist(&self, start: usize, end: usize, depth: usize) -> Result<Dist, DistError> {
        let (s, e) = self.trim(start, end);
        if depth > MAX_DEPTH {
            return fail(s, "distributions are nested too deeply");
        }
        let body = &self.text[s..e];
        if body.is_empty() {
            return fail(
                s,
                "expected a distribution like \"exp(2ms)\", found nothing",
            );
        }
        let Some(open_rel) = body.find('(') else {
            if parse_duration(body).is_ok() {
                return fail(
                    s,
                    format!(
                        "\"{body}\" is a duration, not a distribution: write \"const({body})\" for \
                         a fixed value or \"exp({body})\" for an exponential with that mean"
                    ),
                );
            }
            if NAMES.contains(&body) {
                let (_, example) = signature(body);
                return fail(
                    e,
                    format!("expected \"(\" after \"{body}\", like \"{example}\""),
                );
            }
            return fail(s, unknown_distribution(body));
        };
        let open = s + open_rel;
        let name = self.text[s..open].trim_end();
        if !NAMES.contains(&name) {
            return fail(s, unknown_distribution(name));
        }
        let close = self.matching_paren(open, e, name)?;
        let (after, after_end) = self.trim(close + 1, e);
        if after < after_end {
            return fail(
                after,
                format!(
                    "unexpected \"{}\" after the closing \")\" of {name}",
                    &self.text[after..after_end]
                ),
            );
        }
        match name {
            "mix" => self.mix(s, open, close, depth),
            "empirical" => self.empirical(open, close),
            "quantiles" => self.quantiles(open, close),
            _ => self.simple(name, open, close),
        }
    }

    /// The byte offset of the `)` matching the `(` at `open`, searching before `end`.
    fn matching_paren(&self, open: usize, end: usize, name: &str) -> Result<usize, DistError> {
        let mut depth = 0usize;
        for (i, c) in self.text[open..end].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(open + i);
                    }
                }
                _ => {}
            }
        }
        fail(end, format!("missing \")\" to close \"{name}(\""))
    }

    /// `[start, end)` split at top-level commas (trimmed pieces). Empty input gives no pieces.
    fn split_args(&self, start: usize, end: usize) -> Vec<(usize, usize)> {
        let (s, e) = self.trim(start, end);
        if s == e {
            return Vec::new();
        }
        let mut pieces = Vec::new();
        let mut depth = 0usize;
        let mut piece_start = start;
        for (i, c) in self.text[start..end].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    pieces.push(self.trim(piece_start, start + i));
                    piece_start = start + i + 1;
                }
                _ => {}
            }
        }
        pieces.push(self.trim(piece_start, end));
        pieces
    }

    /// Distributions with fixed parameters (all but `mix` and `empirical`).
    fn simple(&self, name: &str, open: usize, close: usize) -> Result<Dist, DistError> {
        let (params, example) = signature(name);
        let param_names: Vec<&str> = params.iter().map(|(p, _)| *p).collect();
        let mut values: Vec<Option<f64>> = vec![None; params.len()];
        let mut offsets = vec![open + 1; params.len()];
        let mut seen_named = false;
        for (position, (a_s, a_e)) in self.split_args(open + 1, close).into_iter().enumerate() {
            if a_s == a_e {
                return fail(
                    a_s,
                    format!("empty parameter in {name}: expected something like \"{example}\""),
                );
            }
            let arg = &self.text[a_s..a_e];
            let (index, value_start) = if let Some(eq) = arg.find('=') {
                let pname = arg[..eq].trim();
                let Some(index) = param_names.iter().position(|p| *p == pname) else {
                    return fail(
                        a_s,
                        format!(
                            "unknown parameter \"{pname}\" of {name}: expected {}{}",
                            param_names.join(", "),
                            did_you_mean(pname, param_names.iter().copied())
                        ),
                    );
                };
                seen_named = true;
                (index, a_s + eq + 1)
            } else {
                if seen_named {
                    return fail(a_s, format!("a parameter without a name after a named one in {name}, like \"{example}\""));
                }
                if position >= params.len() {
                    return fail(
                        a_s,
                        format!(
                            "too many parameters: {name} takes {} ({}), like \"{example}\"",
                            params.len(),
                            param_names.join(", ")
                        ),
                    );
                }
                (position, a_s)
            };
            let (pname, kind) = params[index];
            if values[index].is_some() {
                return fail(a_s, format!("{name} parameter {pname} is given twice"));
            }
            let (v_s, v_e) = self.trim(value_start, a_e);
            let raw = &self.text[v_s..v_e];
            let value = match kind {
                Kind::Duration => match parse_duration(raw) {
                    Ok(ns) => ns as f64,
                    Err(error) => {
                        return fail(
                            v_s + error.offset,
                            format!("{name} {pname}: {}", error.message),
                        )
                    }
                },
                Kind::Number => match raw.parse::<f64>() {
                    Ok(number) if number.is_finite() => number,
                    _ => {
                        return fail(
                            v_s,
                            format!("{name} {pname}: expected a number, found \"{raw}\""),
                        )
                    }
                },
            };
            values[index] = Some(value);
            offsets[index] = v_s;
        }
        let mut got = Vec::with_capacity(params.len());
        for (index, value) in values.iter().enumerate() {
            match value {
                Some(value) => got.push(*value),
                None => {
                    let pname = params[index].0;
                    return fail(close, format!("{name} needs {pname}, like \"{example}\""));
                }
            }
        }
        match name {
            "const" => Ok(Dist::Const(got[0])),
            "exp" => Ok(Dist::Exp { mean: got[0] }),
            "uniform" => {
                if got[0] > got[1] {
                    return fail(offsets[1], "uniform needs low <= high");
                }
                Ok(Dist::Uniform {
                    low: got[0],
                    high: got[1],
                })
            }
            "lognormal" => {
                if got[0] <= 0.0 {
                    return fail(offsets[0], "lognormal median must be positive");
                }
                if got[0] >= got[1] {
                    return fail(offsets[1], "lognormal needs median < p99");
                }
                Ok(Dist::lognormal_from_median_p99(got[0], got[1]))
            }
            "normal" => Ok(Dist::Normal {
                mean: got[0],
                sd: got[1],
            }),
            _ => {
                if got[0] <= 0.0 {
                    return fail(offsets[0], "pareto scale must be positive");
                }
                if got[1] <= 0.0 {
                    return fail(
                        offsets[1],
                        format!("pareto shape must be > 0, found {}", got[1]),
                    );
                }
                Ok(Dist::Pareto {
                    scale: got[0],
                    shape: got[1],
                })
            }
        }
    }

    /// `mix(w * DIST, ...)`.
    fn mix(
        &self,
        name_start: usize,
        open: usize,
        close: usize,
        depth: usize,
    ) -> Result<Dist, DistError> {
        let (_, example) = signature("mix");
        let pieces = self.split_args(open + 1, close);
        if pieces.is_empty() {
            return fail(
                open + 1,
                format!("mix needs at least one component, like \"{example}\""),
            );
        }
        let mut components = Vec::with_capacity(pieces.len());
        let mut sum = 0.0;
        for (p_s, p_e) in pieces {
            let star = self.text[p_s..p_e]
                .find('*')
                .filter(|&i| !self.text[p_s..p_s + i].contains('('));
            let Some(star) = star else {
                return fail(
                    p_s,
                    format!("expected WEIGHT * DISTRIBUTION in mix, like \"{example}\""),
                );
            };
            let (w_s, w_e) = self.trim(p_s, p_s + star);
            let raw = &self.text[w_s..w_e];
            let weight = match raw.parse::<f64>() {
                Ok(weight) if weight.is_finite() => weight,
                _ => {
                    return fail(
                        w_s,
                        format!("mix weight: expected a number, found \"{raw}\""),
                    )
                }
            };
            if weight <= 0.0 || weight > 1.0 {
                return fail(w_s, format!("mix weight {raw} must be in (0, 1]"));
            }
            sum += weight;
            let component = self.dist(p_s + star + 1, p_e, depth + 1)?;
            components.push((weight, component));
        }
        if (sum - 1.0).abs() > WEIGHT_TOLERANCE {
            return fail(name_start, format!("mix weights sum to {sum}, not 1"));
        }
        Ok(Dist::Mix(components))
    }

    /// `quantiles(0=A, P1=B, ..., 1=Z)`: the inverse distribution function at increasing levels
    /// from 0 to 1, linear between them. Sampled as a mixture of uniforms, one per interval, each
    /// weighted by its width in probability (so it is exactly the piecewise-linear quantile
    /// function); an interval of equal values is a constant.
    fn quantiles(&self, open: usize, close: usize) -> Result<Dist, DistError> {
        let (_, example) = signature("quantiles");
        let pieces = self.split_args(open + 1, close);
        if pieces.len() < 2 {
            return fail(
                open + 1,
                format!("quantiles needs at least the levels 0 and 1, like \"{example}\""),
            );
        }
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(pieces.len());
        for (p_s, p_e) in pieces {
            let piece = &self.text[p_s..p_e];
            let Some(eq) = piece.find('=') else {
                return fail(
                    p_s,
                    format!("expected LEVEL=DURATION in quantiles, like \"{example}\""),
                );
            };
            let (l_s, l_e) = self.trim(p_s, p_s + eq);
            let raw = &self.text[l_s..l_e];
            let level = match raw.parse::<f64>() {
                Ok(level) if (0.0..=1.0).contains(&level) => level,
                _ => {
                    return fail(
                        l_s,
                        format!("quantiles level: expected a number from 0 to 1, found \"{raw}\""),
                    )
                }
            };
            let (v_s, v_e) = self.trim(p_s + eq + 1, p_e);
            let value = match parse_duration(&self.text[v_s..v_e]) {
                Ok(ns) => ns as f64,
                Err(error) => {
                    return fail(
                        v_s + error.offset,
                        format!("quantiles at {raw}: {}", error.message),
                    )
                }
            };
            if let Some(&(previous_level, previous_value)) = points.last() {
                if level <= previous_level {
                    return fail(l_s, "quantiles levels must increase");
                }
                if value < previous_value {
                    return fail(
                        v_s,
                        "quantiles durations must not decrease as the level increases",
                    );
                }
            } else if level != 0.0 {
                return fail(l_s, "quantiles must start at level 0 (the minimum)");
            }
            points.push((level, value));
        }
        if points.last().is_some_and(|&(level, _)| level != 1.0) {
            return fail(close, "quantiles must end at level 1 (the maximum)");
        }
        let components: Vec<(f64, Dist)> = points
            .windows(2)
            .map(|pair| {
                let ((l0, v0), (l1, v1)) = (pair[0], pair[1]);
                let part = if v0 == v1 {
                    Dist::Const(v0)
                } else {
                    Dist::Uniform { low: v0, high: v1 }
                };
                (l1 - l0, part)
            })
            .collect();
        if components.len() == 1 {
            return Ok(components
                .into_iter()
                .next()
                .map(|(_, d)| d)
                .unwrap_or(Dist::Const(0.0)));
        }
        Ok(Dist::Mix(components))
    }

    /// `empirical(path)`: one duration per non-empty line of a text file.
    fn empirical(&self, open: usize, close: usize) -> Result<Dist, DistError> {
        let (p_s, p_e) = self.trim(open + 1, close);
        let mut path = &self.text[p_s..p_e];
        for quote in ['"', '\''] {
            if path.len() >= 2 && path.starts_with(quote) && path.ends_with(quote) {
                path = &path[1..path.len() - 1];
            }
        }
        if path.is_empty() {
            return fail(
                p_s,
                "empirical needs a file, like \"empirical(latencies.csv)\"",
            );
        }
        let full = self.base_dir.join(path);
        let limit = super::limits::MAX_EMPIRICAL_BYTES;
        if let Err(problem) = super::limits::check_input_file(&full, limit, "empirical file") {
            return fail(p_s, problem);
        }
        let bytes = match read_at_most(&full, limit) {
            Ok(bytes) => bytes,
            Err(error) => {
                return fail(
                    p_s,
                    format!("cannot read empirical file \"{}\": {error}", full.display()),
                )
            }
        };
        if let Some(bad) = super::error::not_text_at(&bytes) {
            return fail(
                p_s,
                format!(
                    "empirical file \"{}\" is not a text file: {bad}",
                    full.display()
                ),
            );
        }
        let text = String::from_utf8(bytes).unwrap_or_default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut samples = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let mut line = line.trim();
            if line.len() >= 2 && line.starts_with('"') && line.ends_with('"') {
                line = &line[1..line.len() - 1];
            }
            if line.is_empty() {
                continue;
            }
            match parse_duration(line) {
                Ok(ns) => samples.push(ns),
                Err(error) => {
                    return fail(
                        p_s,
                        format!(
                            "empirical file \"{}\" line {}: {}",
                            full.display(),
                            number + 1,
                            error.message
                        ),
                    )
                }
            }
        }
        if samples.is_empty() {
            return fail(
                p_s,
                format!("empirical file \"{}\" has no durations", full.display()),
            );
        }
        Ok(Dist::Empirical(samples))
    }
}

fn unknown_distribution(name: &str) -> String {
    format!(
        "unknown distribution \"{name}\": expected one of {}{}",
        NAMES.join(", "),
        did_you_mean(name, NAMES)
    )
}

/// The message for a distribution written as a number.
pub(crate) fn bare_number_message() -> String {
    "expected a distribution string like \"exp(2ms)\", found a bare number".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dist, DistError> {
        parse_dist(text, Path::new("."))
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("const(2ms)"), Ok(Dist::Const(2e6)));
        assert_eq!(parse("exp(0.2ms)"), Ok(Dist::Exp { mean: 2e5 }));
        assert_eq!(parse("exp(mean=1ms)"), Ok(Dist::Exp { mean: 1e6 }));
        assert_eq!(
            parse(" uniform( 1ms , 3ms ) "),
            Ok(Dist::Uniform {
                low: 1e6,
                high: 3e6
            })
        );
        assert_eq!(
            parse("lognormal(median=5ms, p99=50ms)"),
            Ok(Dist::lognormal_from_median_p99(5e6, 50e6))
        );
        assert_eq!(
            parse("lognormal(p99=50ms, median=5ms)"),
            Ok(Dist::lognormal_from_median_p99(5e6, 50e6))
        );
        assert_eq!(
            parse("normal(mean=5ms, sd=1ms)"),
            Ok(Dist::Normal { mean: 5e6, sd: 1e6 })
        );
        assert_eq!(
            parse("pareto(scale=1ms, shape=2.5)"),
            Ok(Dist::Pareto {
                scale: 1e6,
                shape: 2.5
            })
        );
        assert_eq!(
            parse("mix(0.9 * exp(1ms), 0.1 * mix(0.5*const(1ms), 0.5*const(3ms)))"),
            Ok(Dist::Mix(vec![
                (0.9, Dist::Exp { mean: 1e6 }),
                (
                    0.1,
                    Dist::Mix(vec![(0.5, Dist::Const(1e6)), (0.5, Dist::Const(3e6))])
                ),
            ]))
        );
    }

    #[test]
    fn errors_point_at_the_offending_part() {
        let e = parse("expo(1ms)").expect_err("unknown name");
        assert_eq!(e.offset, 0);
        assert!(
            e.message
                .contains("unknown distribution \"expo\": expected one of const, exp,"),
            "{}",
            e.message
        );
        assert!(e.message.contains("did you mean \"exp\""), "{}", e.message);
        let e = parse("uniform(1ms, 3)").expect_err("bare number");
        assert_eq!(e.offset, 13);
        assert!(e.message.contains("bare number"), "{}", e.message);
        let e = parse("lognormal(median=5ms, p99=5ms)").expect_err("median < p99");
        assert_eq!(e.offset, 26);
        let e = parse("mix(0.9 * exp(1ms), 0.2 * exp(2ms))").expect_err("weights");
        assert!(e.message.contains("sum to"), "{}", e.message);
        let e = parse("mix(0.5 * exp(1ms), 0.5 * exq(2ms))").expect_err("nested");
        assert_eq!(e.offset, 26);
        assert_eq!(parse("exp(1ms").err().map(|e| e.offset), Some(7));
        assert!(parse("exp(1ms) x").is_err());
        assert!(parse("pareto(scale=1ms, shape=0)").is_err());
        assert!(parse("exp(1ms, 2ms)").is_err());
        assert!(parse("normal(mean=1ms)").is_err());
        assert!(parse("uniform(3ms, 1ms)").is_err());
        assert!(parse("2ms")
            .err()
            .is_some_and(|e| e.message.contains("const(2ms)")));
        assert!(parse("").is_err());
        assert!(parse("mix()").is_err());
        assert!(parse("exp(())").is_err());
        let deep = format!("{}const(1ms){}", "mix(1 * ".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn quantiles_are_a_piecewise_linear_inverse_distribution_function() {
        assert_eq!(
            parse("quantiles(0=1ms, 0.5=2ms, 0.9=2ms, 1=10ms)"),
            Ok(Dist::Mix(vec![
                (
                    0.5,
                    Dist::Uniform {
                        low: 1e6,
                        high: 2e6
                    }
                ),
                (0.4, Dist::Const(2e6)),
                (
                    0.09999999999999998,
                    Dist::Uniform {
                        low: 2e6,
                        high: 10e6
                    }
                ),
            ]))
        );
        assert_eq!(
            parse("quantiles(0=1ms, 1=3ms)"),
            Ok(Dist::Uniform {
                low: 1e6,
                high: 3e6
            })
        );
        // Sampled quantiles follow the written ones (interpolated between them).
        let dist = parse("quantiles(0=0ms, 0.5=1ms, 0.99=5ms, 1=9ms)").expect("valid");
        let mut rng = <rand::rngs::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
        let mut samples: Vec<u64> = (0..200_000).map(|_| dist.sample(&mut rng)).collect();
        samples.sort_unstable();
        let at = |q: f64| samples[(q * samples.len() as f64) as usize] as f64;
        assert!((at(0.25) / 0.5e6 - 1.0).abs() < 0.02, "{}", at(0.25));
        assert!((at(0.5) / 1e6 - 1.0).abs() < 0.02, "{}", at(0.5));
        assert!((at(0.745) / 3e6 - 1.0).abs() < 0.02, "{}", at(0.745));
        assert!((at(0.99) / 5e6 - 1.0).abs() < 0.02, "{}", at(0.99));
        for (text, wanted) in [
            ("quantiles(0=1ms)", "at least the levels 0 and 1"),
            ("quantiles(0.1=1ms, 1=2ms)", "start at level 0"),
            ("quantiles(0=1ms, 0.5=2ms)", "end at level 1"),
            (
                "quantiles(0=1ms, 0.5=2ms, 0.4=3ms, 1=4ms)",
                "levels must increase",
            ),
            ("quantiles(0=3ms, 1=2ms)", "must not decrease"),
            ("quantiles(0=1ms, 2=2ms)", "from 0 to 1"),
            ("quantiles(0=1ms, 1ms)", "LEVEL=DURATION"),
            ("quantiles(0=1ms, 1=2)", "quantiles at 1"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.message.contains(wanted), "{text}: {}", error.message);
        }
        assert_eq!(
            parse("quantiles(0=1ms, 0.5=2ms, 0.4=3ms, 1=4ms)")
                .err()
                .map(|e| e.offset),
            Some(26)
        );
    }

    #[test]
    fn empirical_reads_a_file_relative_to_the_base() {
        let dir = std::env::temp_dir().join(format!("meshsim-dist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("lat.csv"), "1ms\n\n2.5ms\r\n300us\n").expect("write");
        std::fs::write(dir.join("bad.csv"), "1ms\nlatency\n").expect("write");
        std::fs::write(dir.join("empty.csv"), "\n").expect("write");
        assert_eq!(
            parse_dist("empirical(lat.csv)", &dir),
            Ok(Dist::Empirical(vec![1_000_000, 2_500_000, 300_000]))
        );
        let bad = parse_dist("empirical(bad.csv)", &dir).expect_err("bad line");
        assert!(bad.message.contains("line 2"), "{}", bad.message);
        assert_eq!(bad.offset, 10);
        assert!(parse_dist("empirical(empty.csv)", &dir).is_err());
        assert!(parse_dist("empirical(missing.csv)", &dir)
            .err()
            .is_some_and(|e| e.message.contains("cannot read")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
