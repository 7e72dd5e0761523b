//! The state shared while a scenario is read: the text (to turn byte offsets into lines and
//! columns), the folder relative paths start from, and the problems found so far.

use std::cell::Cell;
use std::collections::HashSet;
use std::path::Path;

use super::error::{line_column, Cursor, ScenarioError, ScenarioErrors};
use super::overrides::LineOrigin;
use super::raw::Node;
use crate::model::Place;

/// Reading state; every reader reports into it and carries on, so that all problems are found.
pub(crate) struct Ctx<'t> {
    file: String,
    text: &'t str,
    base_dir: &'t Path,
    errors: Vec<ScenarioError>,
    /// Whether `[[change]]` tables are skipped (while the text with a change applied is read).
    pub skip_changes: bool,
    /// When `text` was edited by `--set`: where each of its lines comes from, and how each
    /// override is named in messages (`--set key=value`).
    edits: Option<(&'t [LineOrigin], Vec<String>)>,
    /// The last place asked for: the next one, usually further on, is read on from there.
    cursor: Cell<Cursor>,
}

impl<'t> Ctx<'t> {
    /// A context for `text`, labelled `file` in messages; relative paths in the file (empirical
    /// distributions) start from `base_dir`.
    pub fn new(file: &str, text: &'t str, base_dir: &'t Path) -> Self {
        Ctx {
            file: file.to_string(),
            text,
            base_dir,
            errors: Vec::new(),
            skip_changes: false,
            edits: None,
            cursor: Cell::new(Cursor::START),
        }
    }

    /// The scenario text being read.
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// The same context for text edited by overrides: a problem on a line of the file is
    /// reported at that line of the file, a problem on a line an override wrote names the
    /// override (`labels[i]` for override `i`) instead of a position.
    pub fn with_edits(mut self, origins: &'t [LineOrigin], labels: Vec<String>) -> Self {
        self.edits = Some((origins, labels));
        self
    }

    /// The folder relative paths start from.
    pub fn base_dir(&self) -> &'t Path {
        self.base_dir
    }

    /// Records a problem at a byte offset of the text.
    pub fn error_at(&mut self, offset: usize, message: impl Into<String>) {
        let place = self.place(offset);
        self.errors.push(ScenarioError {
            file: place.file,
            line: place.line,
            column: place.column,
            message: message.into(),
        });
    }

    /// Where a byte offset of the text was written: the file's line and column, or the
    /// override that wrote its line (`--set key=value`, line and column 0).
    pub fn place(&self, offset: usize) -> Place {
        let cursor = self.cursor.get().to(self.text, offset);
        self.cursor.set(cursor);
        let (line, column) = (cursor.line, cursor.column);
        match self.origin(line) {
            Some(LineOrigin::Override(index)) => Place {
                file: self
                    .edits
                    .as_ref()
                    .map_or("--set", |(_, labels)| &labels[index])
                    .to_string(),
                line: 0,
                column: 0,
            },
            Some(LineOrigin::File(file_line)) => Place {
                file: self.file.clone(),
                line: file_line + 1,
                column,
            },
            None => Place {
                file: self.file.clone(),
                line,
                column,
            },
        }
    }

    /// Where line `line` (1-based) of the text comes from, when the text was edited.
    fn origin(&self, line: usize) -> Option<LineOrigin> {
        let (origins, _) = self.edits.as_ref()?;
        origins.get(line.checked_sub(1)?).copied()
    }

    /// Records a problem at the start of a value.
    pub fn error(&mut self, node: &Node, message: impl Into<String>) {
        self.error_at(node.pos(), message);
    }

    /// The line (1-based) of a byte offset, for messages like "first defined on line 4".
    pub fn line_of(&self, offset: usize) -> usize {
        let line = line_column(self.text, offset).0;
        match self.origin(line) {
            Some(LineOrigin::File(file_line)) => file_line + 1,
            _ => line,
        }
    }

    /// Number of problems recorded so far.
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The value if no problem was recorded, else every problem, ordered by position (problems
    /// without a position first) with exact duplicates removed.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ScenarioErrors> {
        let mut errors = self.errors;
        match value {
            Some(value) if errors.is_empty() => return Ok(value),
            _ => {}
        }
        if errors.is_empty() {
            errors.push(ScenarioError::without_position(
                &self.file,
                "invalid scenario",
            ));
        }
        errors.sort_by_key(|e| (e.line, e.column));
        let mut seen = HashSet::new();
        errors.retain(|e| seen.insert(e.clone()));
        Err(ScenarioErrors(errors))
    }
}
