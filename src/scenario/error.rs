//! The errors a scenario file can produce, each with the file, line and column it is about.

use std::fmt;

/// One problem in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScenarioError {
    /// The file as the user named it (or the label given to [`super::load_str`]).
    pub file: String,
    /// Line of the problem, 1-based; 0 when the problem has no position (a missing file, a
    /// malformed `--set`).
    pub line: usize,
    /// Column of the problem in characters, 1-based; 0 when the problem has no position.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ScenarioError {
    /// A problem without a position in the file (line and column 0).
    pub fn without_position(file: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError {
            file: file.into(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    /// `FILE:LINE:COLUMN: MESSAGE`, or `FILE: MESSAGE` without a position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// All problems found in a scenario (at least one), ordered by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    /// A list holding one problem without a position.
    pub fn single(file: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioErrors(vec![ScenarioError::without_position(file, message)])
    }
}

impl fmt::Display for ScenarioErrors {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// The 1-based line and column (in characters) of a byte offset in `text`. Offsets past the end
/// or inside a multi-byte character are tolerated.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    // Count characters, not bytes: UTF-8 continuation bytes look like 0b10xx_xxxx.
    let column = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_after_the_last_newline() {
        let text = "a = 1\nµs = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        // "µ" is two bytes; the byte after it is column 2.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn display_with_and_without_position() {
        let with = ScenarioError {
            file: "a.toml".into(),
            line: 3,
            column: 7,
            message: "bad".into(),
        };
        assert_eq!(with.to_string(), "a.toml:3:7: bad");
        let without = ScenarioError::without_position("a.toml", "cannot read a.toml: gone");
        assert_eq!(without.to_string(), "a.toml: cannot read a.toml: gone");
        let all = ScenarioErrors(vec![with, without]);
        assert_eq!(
            all.to_string(),
            "a.toml:3:7: bad\na.toml: cannot read a.toml: gone"
        );
    }
}
