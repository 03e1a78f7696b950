//! The release tables: their names, primary keys, id prefixes, and the record hash.
//!
//! In: record values. Out: the table registry that every other stage walks, and
//! `record_sha256` (sha256 of the record's RFC 8785 canonical JSON without that field).

use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};

use crate::model::*;

/// A table of a release.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Table {
    /// `sources`
    Sources,
    /// `defections`
    Defections,
    /// `persons`
    Persons,
    /// `places`
    Places,
    /// `actors`
    Actors,
    /// `events`
    Events,
    /// `statements`
    Statements,
    /// `evidence`
    Evidence,
    /// `retractions`
    Retractions,
}

impl Table {
    /// Every table, in the order they are written and reported.
    pub const ALL: [Table; 9] = [
        Table::Sources,
        Table::Defections,
        Table::Persons,
        Table::Places,
        Table::Actors,
        Table::Events,
        Table::Statements,
        Table::Evidence,
        Table::Retractions,
    ];

    /// The table's name (file stem in a release).
    pub fn name(self) -> &'static str {
        match self {
            Table::Sources => "sources",
            Table::Defections => "defections",
            Table::Persons => "persons",
            Table::Places => "places",
            Table::Actors => "actors",
            Table::Events => "events",
            Table::Statements => "statements",
            Table::Evidence => "evidence",
            Table::Retractions => "retractions",
        }
    }

    /// The primary-key column.
    pub fn key(self) -> &'static str {
        match self {
            Table::Sources => "source_id",
            Table::Defections => "defection_id",
            Table::Persons => "person_id",
            Table::Places => "place_id",
            Table::Actors => "actor_id",
            Table::Events => "event_id",
            Table::Statements => "statement_id",
            Table::Evidence => "evidence_id",
            Table::Retractions => "record_id",
        }
    }

    /// The id prefix of coder-assigned ids, for tables that have one.
    pub fn prefix(self) -> Option<&'static str> {
        match self {
            Table::Sources => Some("src-"),
            Table::Defections => Some("def-"),
            Table::Persons => Some("per-"),
            Table::Places => Some("plc-"),
            Table::Actors => Some("act-"),
            Table::Events => Some("evt-"),
            Table::Statements => Some("stm-"),
            Table::Evidence | Table::Retractions => None,
        }
    }

    /// The table whose ids carry `prefix`.
    pub fn from_id(id: &str) -> Option<Table> {
        Table::ALL
            .into_iter()
            .find(|t| t.prefix().is_some_and(|p| id.starts_with(p)))
    }

    /// Looks a table up by name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A 128-bit digest of a key (the first half of its sha256): what the compiler's and the
/// validator's indexes keep per id instead of the string.
pub fn digest128(s: &str) -> u128 {
    let d = Sha256::digest(s.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_le_bytes(b)
}

/// A row type of a release table.
pub trait Record: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The table the type is the row of.
    const TABLE: Table;
    /// The primary key.
    fn id(&self) -> &str;
    /// Sets `record_sha256`.
    fn set_record_sha256(&mut self, hash: String);
    /// The stored `record_sha256`.
    fn record_sha256(&self) -> &str;
}

macro_rules! record {
    ($ty:ty, $table:expr, $key:ident) => {
        impl Record for $ty {
            const TABLE: Table = $table;
            fn id(&self) -> &str {
                &self.$key
            }
            fn set_record_sha256(&mut self, hash: String) {
                self.record_sha256 = hash;
            }
            fn record_sha256(&self) -> &str {
                &self.record_sha256
            }
        }
    };
}
record!(SourceRecord, Table::Sources, source_id);
record!(DefectionRecord, Table::Defections, defection_id);
record!(PersonRecord, Table::Persons, person_id);
record!(PlaceRecord, Table::Places, place_id);
record!(ActorRecord, Table::Actors, actor_id);
record!(EventRecord, Table::Events, event_id);
record!(StatementRecord, Table::Statements, statement_id);
record!(EvidenceRecord, Table::Evidence, evidence_id);
record!(RetractionRecord, Table::Retractions, record_id);

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// `record_sha256` of a JSON object: sha256 of its RFC 8785 form without `record_sha256`.
pub fn record_hash_of_value(value: &serde_json::Value) -> String {
    record_hash_of_owned(&mut value.clone())
}

/// Appends the RFC 8785 (JCS) form of `value` to `out`; `false` when the value holds an integer
/// beyond 2^53 in magnitude (the caller then falls back on the full implementation). Object
/// keys are sorted by their UTF-16 code units.
fn jcs_into(value: &serde_json::Value, out: &mut Vec<u8>) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => return jcs_number(n, out),
        Value::String(s) => jcs_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !jcs_into(item, out) {
                    return false;
                }
            }
            out.push(b']');
        }
        Value::Object(map) => return jcs_map(map, out),
    }
    true
}

/// Sorts object members as RFC 8785 orders keys: by their UTF-16 code units (the same as byte
/// order when every key is ASCII, which is checked first as it is the common case).
pub(crate) fn sort_members<T>(entries: &mut [T], key: impl Fn(&T) -> &str) {
    if entries.iter().all(|e| key(e).is_ascii()) {
        entries.sort_by(|a, b| key(a).cmp(key(b)));
    } else {
        entries.sort_by(|a, b| key(a).encode_utf16().cmp(key(b).encode_utf16()));
    }
}

/// Appends the RFC 8785 form of a number; `false` for an integer beyond 2^53 in magnitude.
/// Floats are written as ECMAScript writes them (`ryu-js`, the formatter the full
/// implementation uses).
pub(crate) fn jcs_number(n: &serde_json::Number, out: &mut Vec<u8>) -> bool {
    use std::io::Write;
    const SAFE: u64 = 1 << 53;
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) if i.unsigned_abs() <= SAFE => {
            let _ = write!(out, "{i}");
        }
        (None, Some(u), _) if u <= SAFE => {
            let _ = write!(out, "{u}");
        }
        (None, None, Some(f)) if f.is_finite() => {
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes())
        }
        _ => return false,
    }
    true
}

/// Appends the RFC 8785 form of a string: escaped as serde_json escapes it, which is what JCS
/// asks for (`\"`, `\\`, `\b \t \n \f \r`, other control characters as lowercase `\u00xx`).
pub(crate) fn jcs_string(s: &str, out: &mut Vec<u8>) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn jcs_map(map: &serde_json::Map<String, serde_json::Value>, out: &mut Vec<u8>) -> bool {
    let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
    sort_members(&mut entries, |(k, _)| k.as_str());
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        jcs_string(k, out);
        out.push(b':');
        if !jcs_into(v, out) {
            return false;
        }
    }
    out.push(b'}');
    true
}

/// sha256 of the JCS form of an object: the fast path when it applies, else the full one.
fn jcs_sha256(map: &serde_json::Map<String, serde_json::Value>) -> String {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let fast = BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        jcs_map(map, &mut buf).then(|| sha256_hex(&buf))
    });
    fast.unwrap_or_else(|| sha256_hex(&serde_json_canonicalizer::to_vec(map).unwrap_or_default()))
}

/// `record_sha256` of a JSON object that the caller owns: the field is taken out for hashing
/// and put back (as the last key) holding the hash; no copy of the record is made.
pub fn record_hash_of_owned(value: &mut serde_json::Value) -> String {
    let Some(obj) = value.as_object_mut() else {
        // JCS of a serde_json::Value cannot fail: keys are strings and numbers are finite.
        return sha256_hex(&serde_json_canonicalizer::to_vec(value).unwrap_or_default());
    };
    obj.remove("record_sha256");
    let hash = jcs_sha256(obj);
    obj.insert(
        "record_sha256".into(),
        serde_json::Value::String(hash.clone()),
    );
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full(map: &serde_json::Map<String, serde_json::Value>) -> String {
        sha256_hex(&serde_json_canonicalizer::to_vec(map).unwrap())
    }

    #[test]
    fn the_fast_jcs_path_agrees_with_the_full_implementation() {
        let cases = [
            serde_json::json!({"b": 1, "a": [true, null, "x\u{1}\n\"\\/é😀\u{7f}"], "A": {"z": -3, "é": 0}}),
            serde_json::json!({"big": 9007199254740992_u64, "neg": -9007199254740992_i64}),
            serde_json::json!({"\u{e9}": 1, "\u{1f600}": 2, "\u{ff61}": 3, "z": 4}),
            serde_json::json!({"float": 1.5, "more": 9007199254740993_u64}),
            serde_json::json!({"e": 1e21, "f": -0.0, "g": 0.1}),
        ];
        for c in cases {
            let map = c.as_object().unwrap();
            assert_eq!(jcs_sha256(map), full(map), "{c}");
        }
        // Floats take the fast path (a case's amount is a float); only huge integers do not.
        let mut out = Vec::new();
        assert!(jcs_map(
            serde_json::json!({"a": 50000.0, "b": -0.0, "c": 1e-7})
                .as_object()
                .unwrap(),
            &mut out
        ));
        assert_eq!(out, br#"{"a":50000,"b":0,"c":1e-7}"#);
        assert!(!jcs_map(
            serde_json::json!({"big": 9007199254740993_u64})
                .as_object()
                .unwrap(),
            &mut Vec::new()
        ));
    }

    proptest! {
        #[test]
        fn jcs_agrees_on_any_flat_record(
            keys in proptest::collection::vec("\\PC{0,6}", 0..6),
            strings in proptest::collection::vec("\\PC{0,12}", 0..6),
            ints in proptest::collection::vec(any::<i64>(), 0..6),
            floats in proptest::collection::vec(any::<f64>(), 0..6),
        ) {
            let mut map = serde_json::Map::new();
            for (i, k) in keys.iter().enumerate() {
                let v = match i % 4 {
                    0 => serde_json::json!(strings.get(i).cloned().unwrap_or_default()),
                    1 => serde_json::json!(ints.get(i).copied().unwrap_or(0)),
                    2 => serde_json::json!(floats.get(i).copied().unwrap_or(0.5)),
                    _ => serde_json::json!([strings.first(), ints.first()]),
                };
                map.insert(k.clone(), v);
            }
            prop_assert_eq!(jcs_sha256(&map), full(&map));
        }
    }
}
