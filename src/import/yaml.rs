//! A YAML document as a small tree whose every node knows its line and column, read with
//! `saphyr-parser` (a YAML 1.2 event parser). Only what an importer needs: scalars keep their
//! text (typed by whoever reads them), mappings keep their keys in order, anchors and aliases
//! are resolved by copying, tags are ignored.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

/// Most nodes an alias may copy in, all aliases together (a guard against "billion laughs").
const ALIAS_NODE_BUDGET: usize = 1_000_000;

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// Line of its first character, 1-based.
    pub line: usize,
    /// Column of its first character, in characters, 1-based.
    pub column: usize,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar's text; `plain` when it was written without quotes or block style (only plain
    /// scalars can mean null, a boolean or a number).
    Scalar {
        /// The scalar's text, escapes resolved.
        text: String,
        /// Written without quotes (`a`, not `"a"`).
        plain: bool,
    },
    /// A sequence, in order.
    Sequence(Vec<Node>),
    /// A mapping: (key, value) pairs in document order.
    Mapping(Vec<(Node, Node)>),
}

/// A YAML syntax error, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line, 1-based.
    pub line: usize,
    /// Column in characters, 1-based.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl Node {
    /// A short name of the node's kind for messages: "a string", "a list", "a mapping"...
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "nothing (null)",
            Value::Scalar { .. } => "a scalar",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }

    /// Whether the node is YAML's null (`~`, `null`, or nothing at all, unquoted).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The scalar's text, if the node is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value under `key` in a mapping (first match).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, value)| value)
    }

    /// The key node and the value under `key` in a mapping (first match).
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Mapping(pairs) => pairs
                .iter()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }
}

/// Parses the first document of `text` (an empty text is a null node at 1:1). A second document
/// in the same text is an error, as are duplicate keys in a mapping.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut documents = read_documents(
        text,
        Some("a second YAML document (after ---): an isotope file holds one"),
    )?;
    Ok(if documents.is_empty() {
        Node {
            value: Value::Scalar {
                text: String::new(),
                plain: true,
            },
            line: 1,
            column: 1,
        }
    } else {
        documents.swap_remove(0)
    })
}

/// Parses every document of `text` (a stream separated by `---`, as `kubectl` reads), in order;
/// an empty document is a null node. Duplicate keys in a mapping are errors.
pub fn parse_stream(text: &str) -> Result<Vec<Node>, SyntaxError> {
    read_documents(text, None)
}

/// The documents of `text`; with `only_one`, a second document is an error with that message.
fn read_documents(text: &str, only_one: Option<&str>) -> Result<Vec<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut documents = Vec::new();
    let mut started = 0;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|error| at(error.marker(), error.info().to_string()))?;
        match event {
            Event::DocumentStart(_) => {
                started += 1;
                if let (Some(message), true) = (only_one, started > 1) {
                    return Err(at(&span.start, message.into()));
                }
            }
            Event::DocumentEnd => {
                documents.push(builder.root.take().unwrap_or(Node {
                    value: Value::Scalar {
                        text: String::new(),
                        plain: true,
                    },
                    line: span.start.line().max(1),
                    column: span.start.col() + 1,
                }));
            }
            Event::Scalar(value, style, anchor, _) => {
                let node = Node {
                    value: Value::Scalar {
                        text: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    line: span.start.line(),
                    column: span.start.col() + 1,
                };
                builder.finish_node(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => builder.open(&span.start, anchor, false),
            Event::MappingStart(anchor, _) => builder.open(&span.start, anchor, true),
            Event::SequenceEnd | Event::MappingEnd => builder.close()?,
            Event::Alias(id) => builder.alias(id, &span.start)?,
            _ => {}
        }
    }
    if let Some(root) = builder.root.take() {
        documents.push(root);
    }
    Ok(documents)
}

fn at(marker: &Marker, message: String) -> SyntaxError {
    SyntaxError {
        line: marker.line().max(1),
        column: marker.col() + 1,
        message,
    }
}

/// A collection being read: its node (with an empty container) and its anchor id.
#[derive(Debug)]
struct Open {
    node: Node,
    anchor: usize,
    pending_key: Option<Node>,
}

/// Turns the event stream into a tree.
#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: Vec<(usize, Node)>,
    alias_budget_used: usize,
}

impl Builder {
    fn open(&mut self, start: &Marker, anchor: usize, mapping: bool) {
        let value = if mapping {
            Value::Mapping(Vec::new())
        } else {
            Value::Sequence(Vec::new())
        };
        self.stack.push(Open {
            node: Node {
                value,
                line: start.line(),
                column: start.col() + 1,
            },
            anchor,
            pending_key: None,
        });
    }

    fn close(&mut self) -> Result<(), SyntaxError> {
        let Some(open) = self.stack.pop() else {
            return Ok(());
        };
        self.finish_node(open.node, open.anchor)
    }

    fn alias(&mut self, id: usize, start: &Marker) -> Result<(), SyntaxError> {
        let Some((_, node)) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
            return Err(at(start, "alias to an unknown anchor".into()));
        };
        let mut copy = node.clone();
        self.alias_budget_used += count_nodes(&copy);
        if self.alias_budget_used > ALIAS_NODE_BUDGET {
            return Err(at(
                start,
                format!("aliases expand to more than {ALIAS_NODE_BUDGET} nodes"),
            ));
        }
        copy.line = start.line();
        copy.column = start.col() + 1;
        self.finish_node(copy, 0)
    }

    /// A complete node: remembered under its anchor, then put into its parent.
    fn finish_node(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root.get_or_insert(node);
            return Ok(());
        };
        match &mut parent.node.value {
            Value::Sequence(items) => items.push(node),
            Value::Mapping(pairs) => match parent.pending_key.take() {
                None => parent.pending_key = Some(node),
                Some(key) => {
                    if let Some(text) = key.scalar() {
                        if let Some((first, _)) =
                            pairs.iter().find(|(k, _)| k.scalar() == Some(text))
                        {
                            return Err(SyntaxError {
                                line: key.line,
                                column: key.column,
                                message: format!(
                                    "duplicate key \"{text}\" (first on line {})",
                                    first.line
                                ),
                            });
                        }
                    }
                    pairs.push((key, node));
                }
            },
            Value::Scalar { .. } => {}
        }
        Ok(())
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Scalar { .. } => 0,
        Value::Sequence(items) => items.iter().map(count_nodes).sum(),
        Value::Mapping(pairs) => pairs
            .iter()
            .map(|(k, v)| count_nodes(k) + count_nodes(v))
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> &str {
        node.scalar().expect("a scalar")
    }

    #[test]
    fn nodes_know_their_line_and_column() {
        let root = parse("services:\n- name: a\n  script:\n  - call: b\n").expect("parses");
        assert_eq!((root.line, root.column), (1, 1));
        let services = root.get("services").expect("services");
        let Value::Sequence(items) = &services.value else {
            panic!("a list")
        };
        let name = items[0].get("name").expect("name");
        assert_eq!(scalar(name), "a");
        assert_eq!((name.line, name.column), (2, 9));
        let script = items[0].get("script").expect("script");
        let Value::Sequence(steps) = &script.value else {
            panic!("a list")
        };
        let call = steps[0].get("call").expect("call");
        assert_eq!((call.line, call.column), (4, 11));
    }

    #[test]
    fn quoted_scalars_are_not_plain_and_nulls_are_recognised() {
        let root = parse("a: \"1\"\nb: 1\nc:\nd: ~\n").expect("parses");
        assert_eq!(
            root.get("a").map(|n| &n.value),
            Some(&Value::Scalar {
                text: "1".into(),
                plain: false
            })
        );
        assert!(matches!(
            root.get("b").map(|n| &n.value),
            Some(Value::Scalar { plain: true, .. })
        ));
        assert!(root.get("c").expect("c").is_null());
        assert!(root.get("d").expect("d").is_null());
        assert!(!root.get("a").expect("a").is_null());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let error = parse("services:\n  - name: a\n   bad: [1, 2\n").expect_err("bad YAML");
        assert!(error.line >= 2, "{error:?}");
        assert!(error.column >= 1);
        let error = parse("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!((error.line, error.column), (2, 1));
        assert!(error.message.contains("duplicate key \"a\""), "{error:?}");
        let error = parse("a: 1\n---\nb: 2\n").expect_err("two documents");
        assert_eq!(error.line, 2);
    }

    #[test]
    fn aliases_copy_their_anchor_and_an_empty_text_is_null() {
        let root = parse("x: &v [1, 2]\ny: *v\n").expect("parses");
        let y = root.get("y").expect("y");
        assert_eq!(y.value, root.get("x").expect("x").value);
        assert_eq!((y.line, y.column), (2, 4));
        assert!(parse("").expect("empty").is_null());
        assert!(parse("a: *nowhere\n").is_err());
    }

    #[test]
    fn a_stream_holds_every_document_in_order() {
        let documents = parse_stream("a: 1\n---\nb: 2\n---\n---\nc: [3]\n").expect("parses");
        assert_eq!(documents.len(), 4, "{documents:?}");
        assert_eq!(documents[0].get("a").and_then(Node::scalar), Some("1"));
        let b = documents[1].get("b").expect("b");
        assert_eq!((b.line, b.column), (3, 4));
        assert!(documents[2].is_null());
        assert!(documents[3].get("c").is_some());
        assert!(parse_stream("").expect("empty").is_empty());
        let error = parse_stream("a: 1\n---\nb: [1\n").expect_err("bad second document");
        assert!(error.line >= 3, "{error:?}");
    }
}
