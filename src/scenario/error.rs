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

/// Where a reader is in a text: a byte offset and its 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// Byte offset.
    pub offset: usize,
    /// Line of `offset`, 1-based.
    pub line: usize,
    /// Column of `offset` in characters, 1-based.
    pub column: usize,
}

impl Cursor {
    /// The start of a text.
    pub const START: Cursor = Cursor {
        offset: 0,
        line: 1,
        column: 1,
    };

    /// The cursor at `offset` of `text`, as [`line_column`] places it, reading on from `self`
    /// when it is not past `offset` (from the start otherwise): positions asked for in text
    /// order cost one pass over the text in all, where each [`line_column`] reads from the start.
    pub fn to(self, text: &str, offset: usize) -> Cursor {
        let offset = offset.min(text.len());
        let mut cursor = if self.offset <= offset {
            self
        } else {
            Cursor::START
        };
        for &byte in &text.as_bytes()[cursor.offset..offset] {
            if byte == b'\n' {
                cursor.line += 1;
                cursor.column = 1;
            } else if (byte & 0xC0) != 0x80 {
                cursor.column += 1;
            }
        }
        cursor.offset = offset;
        cursor
    }
}

/// The first byte of a file that keeps it from being text: a NUL, or a byte that is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotText {
    /// Offset of the byte, from 0.
    pub offset: usize,
    /// The byte.
    pub byte: u8,
    /// Line (1-based) and column (characters, 1-based) it is at, counted in the text before it.
    pub line: usize,
    /// See `line`.
    pub column: usize,
}

impl fmt::Display for NotText {
    /// `byte 4 (line 1, column 5) is a NUL byte` or `... is 0xFF, which is not UTF-8 ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte {} (line {}, column {}) is ",
            self.offset, self.line, self.column
        )?;
        if self.byte == 0 {
            write!(f, "a NUL byte")
        } else {
            write!(
                f,
                "0x{:02X}, which is not UTF-8 (save the file as UTF-8)",
                self.byte
            )
        }
    }
}

/// The first byte of `bytes` that is a NUL or not UTF-8, if there is one.
pub(crate) fn not_text_at(bytes: &[u8]) -> Option<NotText> {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(error) => error.valid_up_to(),
    };
    let offset = bytes[..valid]
        .iter()
        .position(|&b| b == 0)
        .or((valid < bytes.len()).then_some(valid))?;
    let before = std::str::from_utf8(&bytes[..offset]).unwrap_or("");
    let (line, column) = line_column(before, offset);
    Some(NotText {
        offset,
        byte: bytes[offset],
        line,
        column,
    })
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
    fn a_cursor_places_offsets_as_line_column_does_in_any_order() {
        let text = "a = 1\nµs = \"x\"\r\n\nlast";
        let mut cursor = Cursor::START;
        for offset in (0..text.len() + 3).chain([4, 0, 9, 1000, 2]) {
            cursor = cursor.to(text, offset);
            assert_eq!(
                (cursor.line, cursor.column),
                line_column(text, offset),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn not_text_names_the_first_bad_byte_and_where_it_is() {
        assert_eq!(not_text_at(b"a = 1\n"), None);
        assert_eq!(not_text_at("µs = \"ÿ\"".as_bytes()), None);
        let mut bytes = "a = 1\nµs = ".as_bytes().to_vec();
        bytes.push(0xFF);
        let bad = not_text_at(&bytes).expect("not UTF-8");
        // "µs = " is 5 characters (6 bytes) after the newline: the bad byte is column 6.
        assert_eq!((bad.offset, bad.line, bad.column), (12, 2, 6));
        assert!(
            bad.to_string().contains("0xFF, which is not UTF-8"),
            "{bad}"
        );
        let bad = not_text_at(b"x\0\xFF").expect("NUL first");
        assert_eq!((bad.offset, bad.byte, bad.line, bad.column), (1, 0, 1, 2));
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
