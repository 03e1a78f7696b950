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
    // JCS of a serde_json::Value cannot fail: keys are strings and numbers are finite.
    let canonical = match value.as_object() {
        Some(obj) if obj.contains_key("record_sha256") => {
            let without: serde_json::Map<String, serde_json::Value> = obj
                .iter()
                .filter(|(k, _)| *k != "record_sha256")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            serde_json_canonicalizer::to_vec(&without)
        }
        _ => serde_json_canonicalizer::to_vec(value),
    };
    sha256_hex(&canonical.unwrap_or_default())
}

/// `record_sha256` of a JSON object that the caller owns: the field is taken out for hashing
/// and put back (as the last key) holding the hash; no copy of the record is made.
pub fn record_hash_of_owned(value: &mut serde_json::Value) -> String {
    let Some(obj) = value.as_object_mut() else {
        return record_hash_of_value(value);
    };
    obj.remove("record_sha256");
    let hash = sha256_hex(&serde_json_canonicalizer::to_vec(&*obj).unwrap_or_default());
    obj.insert(
        "record_sha256".into(),
        serde_json::Value::String(hash.clone()),
    );
    hash
}
