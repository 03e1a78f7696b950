//! `defections`: the compiler and validator of the Islamic State Defections Dataset.
//!
//! The pipeline, one module per stage:
//! [`sources`] (seed bytes → canonical text, spans) → [`codings`] (YAML → typed codings with
//! positions) → [`records`] (codings + texts → checked, sealed records) → [`mod@write`] (records →
//! an immutable release folder) → [`validate`] (any release folder → findings).
//! [`model`] holds the record types, which *are* the schema ([`schema`] derives JSON Schema and
//! Arrow from them). The library never prints; `src/main.rs` does.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cache;
pub mod codings;
pub mod compat;
pub mod compile;
pub mod dates;
pub mod diagnostics;
pub mod direct;
pub mod jsonline;
pub mod metadata;
pub mod model;
pub mod progress;
pub mod readahead;
pub mod records;
pub mod scan;
pub mod schema;
pub mod sources;
pub mod spill;
pub mod stamp;
pub mod stats;
pub mod synth;
pub mod tables;
pub mod validate;
pub mod version;
pub mod write;
pub mod yaml;
