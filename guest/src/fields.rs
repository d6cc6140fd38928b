//! Fields by path: what data rules read beyond the canonical event.
//!
//! A [`Schema`] is the set of raw CloudTrail paths the loaded rules read
//! (`requestParameters.bucketName`, `resources[].ARN`, …), compiled once
//! into a trie. The event parser walks it in the same pass that reads the
//! canonical fields (`event::parse_event_with`): members on no path are
//! skipped without building anything, and each path's values land in its
//! slot of [`Extra`].
//!
//! Reading, as `docs/sigma.md` specifies: a path through an array reads
//! every member; a value is text (a string as itself, a number or boolean
//! as its JSON text, an object at the end of a path as its compact JSON
//! text, an array there as each of its members); `null`, a missing member
//! and a step that is not an object read as nothing. Reading a path never
//! rejects a record: only the canonical fields decide that.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Most paths one detector's rules may read (named limit; see
/// `docs/sigma.md`).
pub const MAX_PATHS: usize = 256;
/// Most steps in one path.
pub const MAX_PATH_DEPTH: usize = 16;
/// Most values one path keeps for one record (arrays past it are cut: a
/// record of 256 KiB cannot make a rule hold more).
pub const MAX_VALUES_PER_PATH: usize = 1024;

/// The values read for each slot of a [`Schema`], by slot.
pub type Extra<'a> = Vec<Vec<Cow<'a, str>>>;

/// A set of raw paths to read, as a trie of member names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    root: Node,
    slots: usize,
}

/// One step of the trie: the members below it, and the slot of the path
/// that ends here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Node {
    children: Vec<(Box<str>, Node)>,
    slot: Option<usize>,
}

impl Node {
    pub(crate) fn child(&self, key: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, n)| n)
    }
}

/// Why a path cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits a field name into member names: `a.b[].c` and `a.b.c` are
/// `["a", "b", "c"]` (an array anywhere on the way is read member by
/// member, so `[]` only documents it).
pub fn split_path(path: &str) -> Result<Vec<&str>, PathError> {
    let steps: Vec<&str> = path
        .split('.')
        .map(|s| s.strip_suffix("[]").unwrap_or(s))
        .collect();
    if steps.iter().any(|s| s.is_empty()) {
        return Err(PathError(format!(
            "field {path:?} has an empty step; write member names separated by dots"
        )));
    }
    if let Some(s) = steps.iter().find(|s| s.contains('[') || s.contains(']')) {
        return Err(PathError(format!(
            "field {path:?}: {s:?} indexes an array; only `name[]` (every member) is read"
        )));
    }
    if steps.len() > MAX_PATH_DEPTH {
        return Err(PathError(format!(
            "field {path:?} has {} steps; the limit is {MAX_PATH_DEPTH}",
            steps.len()
        )));
    }
    Ok(steps)
}

impl Schema {
    /// Adds a path (its steps, from [`split_path`]); returns its slot (the
    /// same slot for the same path).
    pub fn add(&mut self, steps: &[&str]) -> Result<usize, PathError> {
        let mut node = &mut self.root;
        for step in steps {
            let at = match node.children.iter().position(|(k, _)| &**k == *step) {
                Some(i) => i,
                None => {
                    node.children.push(((*step).into(), Node::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[at].1;
        }
        if let Some(slot) = node.slot {
            return Ok(slot);
        }
        if self.slots >= MAX_PATHS {
            return Err(PathError(format!(
                "the rules read more than {MAX_PATHS} distinct fields"
            )));
        }
        node.slot = Some(self.slots);
        self.slots += 1;
        Ok(self.slots - 1)
    }

    /// Whether no path is read.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }

    /// How many slots an [`Extra`] for this schema has.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The trie below a top-level member.
    pub(crate) fn top(&self, key: &str) -> Option<&Node> {
        self.root.child(key)
    }

    /// An empty [`Extra`] for this schema.
    pub fn empty_extra<'a>(&self) -> Extra<'a> {
        vec![Vec::new(); self.slots]
    }
}

/// Reads the values of the paths below `node` from one JSON value.
pub(crate) struct Extract<'n, 'o, 'de> {
    pub(crate) node: &'n Node,
    pub(crate) out: &'o mut Extra<'de>,
}

impl Extract<'_, '_, '_> {
    fn push_text<'de>(out: &mut Extra<'de>, slot: Option<usize>, v: Cow<'de, str>) {
        if let Some(values) = slot.and_then(|s| out.get_mut(s))
            && values.len() < MAX_VALUES_PER_PATH
        {
            values.push(v);
        }
    }
}

impl<'de> DeserializeSeed<'de> for Extract<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// JSON text of a floating-point number, as `serde_json` writes it.
pub(crate) fn float_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
}

impl<'de> Visitor<'de> for Extract<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        Self::push_text(self.out, self.node.slot, Cow::Borrowed(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        Self::push_text(self.out, self.node.slot, Cow::Owned(v.to_owned()));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        Self::push_text(self.out, self.node.slot, Cow::Owned(v));
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        let t = if v { "true" } else { "false" };
        Self::push_text(self.out, self.node.slot, Cow::Borrowed(t));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        Self::push_text(self.out, self.node.slot, Cow::Owned(v.to_string()));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        Self::push_text(self.out, self.node.slot, Cow::Owned(v.to_string()));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        Self::push_text(self.out, self.node.slot, Cow::Owned(float_text(v)));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.node.slot.is_some() {
            // The path ends at an object: its text, and any longer path
            // below it, from one tree of it.
            let v = serde_json::Value::deserialize_from_map(map)?;
            walk_value(self.node, &v, self.out);
            return Ok(());
        }
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.node.child(&key) {
                Some(node) => map.next_value_seed(Extract {
                    node,
                    out: &mut *self.out,
                })?,
                None => map.next_value::<IgnoredAny>().map(|_| ())?,
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Extract {
                node: self.node,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// Reads a map into a `serde_json::Value` (its members through serde).
trait FromMap: Sized {
    fn deserialize_from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

impl FromMap for serde_json::Value {
    fn deserialize_from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

/// [`Extract`] over a tree already built.
fn walk_value(node: &Node, v: &serde_json::Value, out: &mut Extra<'_>) {
    use serde_json::Value;
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                walk_value(node, item, out);
            }
        }
        Value::Object(members) => {
            if node.slot.is_some() {
                Extract::push_text(out, node.slot, Cow::Owned(v.to_string()));
            }
            for (k, child) in &node.children {
                if let Some(m) = members.get(&**k) {
                    walk_value(child, m, out);
                }
            }
        }
        Value::String(s) => Extract::push_text(out, node.slot, Cow::Owned(s.clone())),
        other => Extract::push_text(out, node.slot, Cow::Owned(other.to_string())),
    }
}

/// Reads the paths of `schema` from a whole JSON text, outside the event
/// parser (for tests and the reference checks).
pub fn extract_all<'a>(schema: &Schema, text: &'a str) -> Result<Extra<'a>, serde_json::Error> {
    let mut out = schema.empty_extra();
    let mut de = serde_json::Deserializer::from_str(text);
    Extract {
        node: &schema.root,
        out: &mut out,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(paths: &[&str]) -> (Schema, Vec<usize>) {
        let mut s = Schema::default();
        let slots = paths
            .iter()
            .map(|p| s.add(&split_path(p).unwrap()).unwrap())
            .collect();
        (s, slots)
    }

    #[test]
    fn paths_read_members_arrays_and_scalars_as_text() {
        let (s, slots) = schema(&[
            "requestParameters.bucketName",
            "resources[].ARN",
            "responseElements",
            "n",
            "flag",
            "missing.deep",
            "tags",
        ]);
        let text = r#"{"requestParameters":{"bucketName":"b1","x":[1,{"y":2}]},
            "resources":[{"ARN":"a1"},{"ARN":"a2"},{"type":"t"},null,5],
            "responseElements":{"ConsoleLogin":"Failure"},"n":5.0,"flag":true,
            "missing":"not an object","tags":["x",["y"],{"k":1},null]}"#;
        let got = extract_all(&s, text).unwrap();
        let t = |i: usize| got[slots[i]].iter().map(|c| c.as_ref()).collect::<Vec<_>>();
        assert_eq!(t(0), ["b1"]);
        assert_eq!(t(1), ["a1", "a2"]);
        assert_eq!(t(2), [r#"{"ConsoleLogin":"Failure"}"#]);
        assert_eq!(t(3), ["5.0"]);
        assert_eq!(t(4), ["true"]);
        assert!(t(5).is_empty());
        assert_eq!(t(6), ["x", "y", r#"{"k":1}"#]);
    }

    #[test]
    fn a_path_and_a_longer_one_below_it_both_read() {
        let (s, slots) = schema(&["a", "a.b"]);
        let got = extract_all(&s, r#"{"a":{"b":"v","c":1}}"#).unwrap();
        assert_eq!(got[slots[0]], [r#"{"b":"v","c":1}"#]);
        assert_eq!(got[slots[1]], ["v"]);
    }

    #[test]
    fn bad_paths_are_refused_with_the_reason() {
        assert!(split_path("a..b").is_err());
        assert!(split_path("a[0].b").is_err());
        assert_eq!(split_path("a[].b").unwrap(), ["a", "b"]);
        let deep = vec!["x"; MAX_PATH_DEPTH + 1].join(".");
        assert!(split_path(&deep).is_err());
    }

    #[test]
    fn the_same_path_has_one_slot() {
        let (s, slots) = schema(&["a.b", "a.b", "a[].b"]);
        assert_eq!(slots, [0, 0, 0]);
        assert_eq!(s.slots(), 1);
    }
}
