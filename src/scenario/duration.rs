//! Durations written with a unit: `"250us"`, `"1.5ms"`, `"2s"`, `"5m"`, `"1h"`, and sums such as
//! `"1m30s"`. Results are whole nanoseconds, rounded to the nearest (halves up).

use crate::engine::time::LONGEST;

/// The units a duration may use, with their length in nanoseconds.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The units, for messages.
pub(crate) const UNIT_LIST: &str = "ns, us, µs, ms, s, m, h";

/// The message for a duration written as a bare number.
pub(crate) const BARE_NUMBER: &str =
    "expected a duration with a unit, like \"250ms\" (a bare number is ambiguous)";

/// Fractional digits beyond this many are ignored (they are far below a nanosecond).
const MAX_FRACTION_DIGITS: u32 = 18;

/// A malformed duration: the byte offset of the problem in the string, and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DurationError {
    /// Byte offset in the duration string.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

fn fail<T>(offset: usize, message: String) -> Result<T, DurationError> {
    Err(DurationError { offset, message })
}

/// Parses a duration string into nanoseconds: one or more `NUMBER UNIT` terms (decimals allowed,
/// spaces between terms and between a number and its unit allowed), summed; at most
/// [`LONGEST`].
pub(crate) fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let total = parse_duration_unbounded(text)?;
    match u64::try_from(total) {
        Ok(ns) if ns <= LONGEST => Ok(ns),
        _ => fail(0, too_long(&format!("duration \"{text}\""))),
    }
}

/// "`what` is too long: at most 10000h (...)", the message of a duration past [`LONGEST`].
pub(crate) fn too_long(what: &str) -> String {
    format!(
        "{what} is too long: at most {} (a limit that keeps time arithmetic far from overflow)",
        format_ns(LONGEST)
    )
}

/// [`parse_duration`] without its upper limit: the nanoseconds, saturating at `u128::MAX` (a
/// number too long for any integer is simply too long), for readers of other formats that name
/// the limit in their own words.
pub(crate) fn parse_duration_unbounded(text: &str) -> Result<u128, DurationError> {
    let mut i = skip_spaces(text, 0);
    if i == text.len() {
        return fail(0, format!("{BARE_NUMBER}, found an empty string"));
    }
    let mut total: u128 = 0;
    while i < text.len() {
        let term_start = i;
        let rest = &text[i..];
        if rest.starts_with('-') {
            return fail(i, format!("a duration cannot be negative: \"{text}\""));
        }
        let Some((mantissa, scale, after_number)) = parse_decimal(text, i) else {
            return fail(
                i,
                format!(
                    "expected a number at \"{rest}\" in duration \"{text}\", like \"250ms\" \
                     (units: {UNIT_LIST})"
                ),
            );
        };
        i = skip_spaces(text, after_number);
        let unit_start = i;
        i += text[i..]
            .chars()
            .take_while(|c| c.is_alphabetic())
            .map(char::len_utf8)
            .sum::<usize>();
        let unit = &text[unit_start..i];
        if unit.is_empty() {
            if i == text.len() {
                return fail(term_start, format!("\"{text}\": {BARE_NUMBER}"));
            }
            let unexpected = text[i..].chars().next().unwrap_or(' ');
            return fail(
                i,
                format!("unexpected \"{unexpected}\" in duration \"{text}\": expected a unit ({UNIT_LIST})"),
            );
        }
        let Some(&(_, factor)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return fail(
                unit_start,
                format!(
                    "unknown unit \"{unit}\" in duration \"{text}\": expected one of {UNIT_LIST}"
                ),
            );
        };
        let divisor = 10u128.pow(scale);
        let term = mantissa.saturating_mul(factor).saturating_add(divisor / 2) / divisor;
        total = total.saturating_add(term);
        i = skip_spaces(text, i);
    }
    Ok(total)
}

fn skip_spaces(text: &str, from: usize) -> usize {
    from + text[from..]
        .bytes()
        .take_while(|b| *b == b' ' || *b == b'\t')
        .count()
}

/// Digits with an optional decimal point at byte `from`: (all digits as an integer, number of
/// digits after the point, byte offset after the number). `None` without any digit. The integer
/// saturates at `u128::MAX`: divided by any scale it is still far past [`LONGEST`].
fn parse_decimal(text: &str, from: usize) -> Option<(u128, u32, usize)> {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut mantissa: u128 = 0;
    let mut scale = 0u32;
    let mut digits = 0usize;
    let mut seen_point = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            digits += 1;
            if !seen_point || scale < MAX_FRACTION_DIGITS {
                mantissa = mantissa
                    .saturating_mul(10)
                    .saturating_add(u128::from(b - b'0'));
                if seen_point {
                    scale += 1;
                }
            }
        } else if b == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    (digits > 0).then_some((mantissa, scale, i))
}

/// A duration in nanoseconds written back with the largest unit that divides it (`"250ms"`), for
/// messages.
pub(crate) fn format_ns(ns: u64) -> String {
    for (unit, factor) in [
        ("h", 3_600_000_000_000u64),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns >= factor && ns.is_multiple_of(factor) {
            return format!("{}{unit}", ns / factor);
        }
    }
    format!("{ns}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_decimals() {
        assert_eq!(parse_duration("250ns"), Ok(250));
        assert_eq!(parse_duration("250us"), Ok(250_000));
        assert_eq!(parse_duration("250µs"), Ok(250_000));
        assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration("2s"), Ok(2_000_000_000));
        assert_eq!(parse_duration("5m"), Ok(300_000_000_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse_duration("0.1s"), Ok(100_000_000));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration(" 10 ms "), Ok(10_000_000));
        assert_eq!(parse_duration("1.5ns"), Ok(2), "halves round up");
        assert_eq!(parse_duration(".5ms"), Ok(500_000));
    }

    #[test]
    fn rejects_bad_durations_with_offsets() {
        let bare = parse_duration("250").expect_err("bare number");
        assert!(
            bare.message.contains("a bare number is ambiguous"),
            "{}",
            bare.message
        );
        let unit = parse_duration("250xs").expect_err("unknown unit");
        assert_eq!(unit.offset, 3);
        assert!(
            unit.message.contains("unknown unit \"xs\""),
            "{}",
            unit.message
        );
        assert_eq!(parse_duration("-1s").err().map(|e| e.offset), Some(0));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("1s,").is_err());
        assert!(parse_duration("99999999999999999999999h").is_err());
        assert!(parse_duration("1e3ms").is_err());
    }

    #[test]
    fn durations_stop_at_ten_thousand_hours() {
        assert_eq!(parse_duration("10000h"), Ok(36_000_000_000_000_000));
        let long = parse_duration("10000h1ns").expect_err("one nanosecond too long");
        assert!(long.message.contains("at most 10000h"), "{}", long.message);
        assert!(parse_duration("100000h").is_err());
        assert!(
            parse_duration("18446744073709551615ns").is_err(),
            "u64::MAX ns"
        );
        // Past any integer, a duration is too long, not "not a number".
        let huge =
            parse_duration("99999999999999999999999999999999999999999999h").expect_err("huge");
        assert!(
            huge.message.contains("too long: at most 10000h"),
            "{}",
            huge.message
        );
        assert_eq!(
            parse_duration_unbounded("2562047h47m16.854775807s"),
            Ok(u128::from(i64::MAX as u64))
        );
    }

    #[test]
    fn formats_with_the_largest_dividing_unit() {
        assert_eq!(format_ns(250_000_000), "250ms");
        assert_eq!(format_ns(60_000_000_000), "1m");
        assert_eq!(format_ns(1_500_000), "1500us");
        assert_eq!(format_ns(0), "0ns");
    }
}
