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
    let mut s = vec![0u8; bytes.len() * 2];
    for (pair, b) in s.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
    String::from_utf8(s).expect("hex digits are ASCII")
}

/// `record_sha256` of a JSON object: sha256 of its RFC 8785 form without `record_sha256`
/// (computed by [`crate::jsonline::record_hash`], the one RFC 8785 writer of the crate).
pub fn record_hash_of_value(value: &serde_json::Value) -> String {
    crate::jsonline::record_hash(&crate::jsonline::Val::from(value))
}

/// [`record_hash_of_value`] by the full RFC 8785 implementation (`serde_json_canonicalizer`):
/// the fallback for what the fast writer leaves to it (integers beyond 2^53), and the reference
/// the tests compare the fast writer with.
pub(crate) fn record_hash_full(value: &serde_json::Value) -> String {
    let mut value = value.clone();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("record_sha256");
    }
    // JCS of a serde_json::Value cannot fail: keys are strings and numbers are finite.
    sha256_hex(&serde_json_canonicalizer::to_vec(&value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_fast_record_hash_agrees_with_the_full_implementation() {
        let cases = [
            serde_json::json!({"b": 1, "a": [true, null, "x\u{1}\n\"\\/é😀\u{7f}"], "A": {"z": -3, "é": 0}}),
            serde_json::json!({"big": 9007199254740992_u64, "neg": -9007199254740992_i64}),
            serde_json::json!({"\u{e9}": 1, "\u{1f600}": 2, "\u{ff61}": 3, "z": 4}),
            serde_json::json!({"float": 1.5, "more": 9007199254740993_u64}),
            serde_json::json!({"e": 1e21, "f": -0.0, "g": 0.1, "record_sha256": "x"}),
        ];
        for c in cases {
            assert_eq!(record_hash_of_value(&c), record_hash_full(&c), "{c}");
        }
    }

    proptest! {
        #[test]
        fn the_record_hash_agrees_on_any_flat_record(
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
            let v = serde_json::Value::Object(map);
            prop_assert_eq!(record_hash_of_value(&v), record_hash_full(&v));
        }
    }
}
