//! The scenario file as a tree of TOML values that remember where they were written.
//!
//! The file is parsed with `toml_edit` (which keeps byte spans) and copied into this small tree so
//! that the rest of the module reads plain data and can report every problem it finds with a
//! position, instead of stopping at the first one as a serde deserialiser would.

use std::ops::Range;

use toml_edit::{ImDocument, InlineTable, Item, Table};

/// A byte range in the scenario text.
pub(crate) type Span = Range<usize>;

/// One value of the file and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Bytes of the value in the text (for a `[table]`, its header and body).
    pub span: Span,
    /// The value.
    pub value: Value,
}

/// A TOML value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A string; `content_start` is the byte offset of its first character when the string is
    /// written without escapes (so offsets inside it map one to one onto the text).
    String {
        text: String,
        content_start: Option<usize>,
    },
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// A date or time (never valid in a scenario; kept to name it in messages).
    Datetime,
    /// An array, or an array of tables.
    Array(Vec<Node>),
    /// A table (standard or inline), in file order.
    Table(Vec<Entry>),
}

/// One `key = value` of a table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The key.
    pub key: String,
    /// Where the key was written.
    pub key_span: Span,
    /// The value.
    pub node: Node,
}

impl Node {
    /// "a string", "an integer", ... for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::String { .. } => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }

    /// Byte offset of the value's start.
    pub fn pos(&self) -> usize {
        self.span.start
    }

    /// Byte offset of the `offset`-th byte of a string's content, or of the value's start when the
    /// string was written with escapes (or is not a string).
    pub fn pos_in(&self, offset: usize) -> usize {
        match &self.value {
            Value::String {
                content_start: Some(start),
                ..
            } => start + offset,
            _ => self.span.start,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// A syntax error: where and what.
pub(crate) struct SyntaxError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// toml's description, on one line.
    pub message: String,
}

/// Parses TOML text into a tree whose root is a table.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let document = ImDocument::parse(text).map_err(|error| SyntaxError {
        offset: error.span().map_or(0, |span| span.start),
        message: one_line(error.message()),
    })?;
    let root = 0..0;
    Ok(table_node(document.as_table(), text, &root))
}

fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if parts.is_empty() {
        "invalid TOML".to_string()
    } else {
        format!("invalid TOML: {}", parts.join("; "))
    }
}

fn table_node(table: &Table, text: &str, fallback: &Span) -> Node {
    let span = table.span().unwrap_or_else(|| fallback.clone());
    let mut entries = Vec::new();
    for (key, item) in table.iter() {
        let key_span = table
            .key(key)
            .and_then(|k| k.span())
            .unwrap_or(span.start..span.start);
        if let Some(node) = item_node(item, text, &key_span) {
            entries.push(Entry {
                key: key.to_string(),
                key_span,
                node,
            });
        }
    }
    Node {
        span,
        value: Value::Table(entries),
    }
}

fn inline_table_node(table: &InlineTable, text: &str, fallback: &Span) -> Node {
    let span = table.span().unwrap_or_else(|| fallback.clone());
    let mut entries = Vec::new();
    for (key, value) in table.iter() {
        let key_span = table
            .key(key)
            .and_then(|k| k.span())
            .unwrap_or(span.start..span.start);
        let node = value_node(value, text, &key_span);
        entries.push(Entry {
            key: key.to_string(),
            key_span,
            node,
        });
    }
    Node {
        span,
        value: Value::Table(entries),
    }
}

fn item_node(item: &Item, text: &str, fallback: &Span) -> Option<Node> {
    match item {
        Item::None => None,
        Item::Value(value) => Some(value_node(value, text, fallback)),
        Item::Table(table) => Some(table_node(table, text, fallback)),
        Item::ArrayOfTables(array) => {
            let span = array.span().unwrap_or_else(|| fallback.clone());
            let elements = array.iter().map(|t| table_node(t, text, &span)).collect();
            Some(Node {
                span,
                value: Value::Array(elements),
            })
        }
    }
}

fn value_node(value: &toml_edit::Value, text: &str, fallback: &Span) -> Node {
    use toml_edit::Value as V;
    let span = value.span().unwrap_or_else(|| fallback.clone());
    let value = match value {
        V::String(s) => {
            let content_start = string_content_start(text, &span, s.value());
            Value::String {
                text: s.value().clone(),
                content_start,
            }
        }
        V::Integer(i) => Value::Integer(*i.value()),
        V::Float(f) => Value::Float(*f.value()),
        V::Boolean(b) => Value::Boolean(*b.value()),
        V::Datetime(_) => Value::Datetime,
        V::Array(array) => Value::Array(array.iter().map(|v| value_node(v, text, &span)).collect()),
        V::InlineTable(table) => return inline_table_node(table, text, &span),
    };
    Node { span, value }
}

/// Where a string's characters start in the text, if they are written there verbatim between
/// single-character quotes.
fn string_content_start(text: &str, span: &Span, value: &str) -> Option<usize> {
    let raw = text.get(span.clone())?;
    for quote in ['"', '\''] {
        let triple: String = std::iter::repeat_n(quote, 3).collect();
        if raw.len() >= 2
            && raw.starts_with(quote)
            && raw.ends_with(quote)
            && !raw.starts_with(&triple)
            && raw.get(1..raw.len() - 1) == Some(value)
        {
            return Some(span.start + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values_and_keys() {
        let text = "[a]\nx = \"hello\"\ny = [1, 'two']\n[[b]]\nz = { w = true }\n";
        let root = parse(text).ok().expect("parses");
        let Value::Table(top) = &root.value else {
            panic!("root is a table")
        };
        assert_eq!(top[0].key, "a");
        let Value::Table(a) = &top[0].node.value else {
            panic!("a is a table")
        };
        assert_eq!(&text[a[0].key_span.clone()], "x");
        assert_eq!(&text[a[0].node.span.clone()], "\"hello\"");
        assert_eq!(a[0].node.pos_in(0), 9);
        let Value::Array(items) = &a[1].node.value else {
            panic!("y is an array")
        };
        assert_eq!(&text[items[1].span.clone()], "'two'");
        let Value::Array(bs) = &top[1].node.value else {
            panic!("b is an array of tables")
        };
        assert_eq!(bs.len(), 1);
    }

    #[test]
    fn escaped_strings_have_no_content_offsets() {
        let root = parse("x = \"a\\tb\"").ok().expect("parses");
        let Value::Table(top) = &root.value else {
            panic!("root is a table")
        };
        assert_eq!(top[0].node.pos_in(2), top[0].node.pos());
    }

    #[test]
    fn syntax_errors_have_an_offset() {
        let error = parse("a = \n").expect_err("fails");
        assert!(
            error.message.starts_with("invalid TOML"),
            "{}",
            error.message
        );
        assert_eq!(error.offset, 4);
    }
}
