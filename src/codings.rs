//! Coding files: YAML in, typed codings with source positions out.
//!
//! In: `data/codings/gazetteer/*.yaml`, `data/codings/sources/*.yaml` and
//! `data/codings/retractions.yaml` (format: `docs/CODING.md`). Out: the structs below, every
//! checked value wrapped in [`S`] so that a later stage can point at its line and column.
//! A file that does not parse gives one [`Diagnostic`] with the parser's line and column.

use serde::Deserialize;

use crate::diagnostics::Diagnostic;

/// A value with the line and column it was read from.
pub type S<T> = serde_saphyr::Spanned<T>;

/// `(line, column)` of a spanned value.
pub fn pos<T>(s: &S<T>) -> (u32, u32) {
    (
        u32::try_from(s.referenced.line()).unwrap_or(u32::MAX),
        u32::try_from(s.referenced.column()).unwrap_or(u32::MAX),
    )
}

/// One quote offered as evidence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceCoding {
    /// The source's words (white space may differ).
    pub quote: S<String>,
    /// Columns the quote supports; empty = the whole record.
    #[serde(default)]
    pub fields: Vec<S<String>>,
    /// Which occurrence (1-based) when the quote occurs more than once.
    #[serde(default)]
    pub occurrence: Option<S<u32>>,
    /// Text that must immediately precede the quote (white space tolerant), to disambiguate.
    #[serde(default)]
    pub prefix: Option<S<String>>,
}

/// Source metadata, the `source:` block of a source file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceCoding {
    pub id: S<String>,
    pub file_name: S<String>,
    pub title: String,
    pub publisher: String,
    pub publisher_en: String,
    #[serde(default)]
    pub author: Option<String>,
    pub language: S<String>,
    pub source_kind: S<String>,
    #[serde(default)]
    pub relays: Vec<String>,
    #[serde(default)]
    pub published: Option<S<String>>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub notes_en: Option<String>,
    #[serde(default)]
    pub evidence: Vec<EvidenceCoding>,
}

/// A defection case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefectionCoding {
    pub id: S<String>,
    pub summary_en: String,
    pub subject: S<String>,
    #[serde(default)]
    pub person_ids: Vec<S<String>>,
    pub subject_ar: S<String>,
    #[serde(default)]
    pub size_low: Option<S<i64>>,
    #[serde(default)]
    pub size_best: Option<S<i64>>,
    #[serde(default)]
    pub size_high: Option<S<i64>>,
    #[serde(default)]
    pub date: Option<S<String>>,
    #[serde(default)]
    pub place_id: Option<S<String>>,
    pub place_precision: S<String>,
    #[serde(default)]
    pub destination_place_ids: Vec<S<String>>,
    #[serde(default)]
    pub nationalities: Vec<S<String>>,
    pub origin: S<String>,
    #[serde(default)]
    pub roles: Vec<S<String>>,
    #[serde(default)]
    pub motives: Vec<S<String>>,
    pub motive_basis: S<String>,
    pub stage: S<String>,
    pub outcome: S<String>,
    #[serde(default)]
    pub outcome_actor_id: Option<S<String>>,
    pub authenticity: S<String>,
    #[serde(default)]
    pub funds_taken_amount: Option<S<f64>>,
    #[serde(default)]
    pub funds_taken_currency: Option<S<String>>,
    #[serde(default)]
    pub informant_ids: Vec<S<String>>,
    pub claim_status: S<String>,
    #[serde(default)]
    pub notes_en: Option<String>,
    #[serde(default)]
    pub evidence: Vec<EvidenceCoding>,
}

/// A context event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCoding {
    pub id: S<String>,
    pub event_type: S<String>,
    pub summary_en: String,
    #[serde(default)]
    pub date: Option<S<String>>,
    #[serde(default)]
    pub place_id: Option<S<String>>,
    pub place_precision: S<String>,
    #[serde(default)]
    pub perpetrator_actor_id: Option<S<String>>,
    #[serde(default)]
    pub deaths_low: Option<S<i64>>,
    #[serde(default)]
    pub deaths_best: Option<S<i64>>,
    #[serde(default)]
    pub deaths_high: Option<S<i64>>,
    #[serde(default)]
    pub evidence: Vec<EvidenceCoding>,
}

/// A quoted statement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementCoding {
    pub id: S<String>,
    #[serde(default)]
    pub speaker_person_id: Option<S<String>>,
    pub speaker_ar: S<String>,
    pub quote_ar: S<String>,
    pub translation_en: String,
    pub topic: S<String>,
    #[serde(default)]
    pub defection_id: Option<S<String>>,
    #[serde(default)]
    pub occurrence: Option<S<u32>>,
    #[serde(default)]
    pub evidence: Vec<EvidenceCoding>,
}

/// Evidence from this source for a record defined elsewhere.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MentionCoding {
    pub record_id: S<String>,
    #[serde(default)]
    pub evidence: Vec<EvidenceCoding>,
}

/// A source file: `data/codings/sources/<seed-stem>.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    pub source: SourceCoding,
    #[serde(default)]
    pub defections: Vec<S<DefectionCoding>>,
    #[serde(default)]
    pub events: Vec<S<EventCoding>>,
    #[serde(default)]
    pub statements: Vec<S<StatementCoding>>,
    #[serde(default)]
    pub mentions: Vec<S<MentionCoding>>,
}

/// A place of the gazetteer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceCoding {
    pub id: S<String>,
    pub name_ar: String,
    #[serde(default)]
    pub aliases_ar: Vec<String>,
    pub name_en: String,
    pub feature: S<String>,
    pub country: S<String>,
    #[serde(default)]
    pub parent_place_id: Option<S<String>>,
    #[serde(default)]
    pub latitude: Option<S<f64>>,
    #[serde(default)]
    pub longitude: Option<S<f64>>,
    #[serde(default)]
    pub geonames_id: Option<i64>,
    pub coord_precision: S<String>,
}

/// An actor of the gazetteer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorCoding {
    pub id: S<String>,
    pub name_ar: String,
    pub name_en: String,
    pub kind: S<String>,
    #[serde(default)]
    pub country: Option<S<String>>,
}

/// A person of the gazetteer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonCoding {
    pub id: S<String>,
    pub name_ar: String,
    pub name_en: String,
    pub name_kind: S<String>,
    #[serde(default)]
    pub aliases_ar: Vec<String>,
    #[serde(default)]
    pub nationalities: Vec<S<String>>,
    pub category: S<String>,
    #[serde(default)]
    pub affiliation_actor_id: Option<S<String>>,
    #[serde(default)]
    pub notes_en: Option<String>,
}

/// A gazetteer file: `data/codings/gazetteer/*.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GazetteerFile {
    #[serde(default)]
    pub places: Vec<S<PlaceCoding>>,
    #[serde(default)]
    pub actors: Vec<S<ActorCoding>>,
    #[serde(default)]
    pub persons: Vec<S<PersonCoding>>,
}

/// A retraction.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractionCoding {
    pub id: S<String>,
    pub reason: S<String>,
    #[serde(default)]
    pub replaced_by: Option<S<String>>,
}

/// `data/codings/retractions.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractionsFile {
    #[serde(default)]
    pub retractions: Vec<S<RetractionCoding>>,
}

/// Parses a coding file; a syntax or shape error becomes a [`Diagnostic`] with line and column.
#[allow(clippy::result_large_err)] // a diagnostic is built once per failed file
pub fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    match crate::yaml::from_str(text) {
        Some(value) => Ok(value),
        None => parse_with_serde_saphyr(file, text),
    }
}

/// [`parse`] without the fast path: serde-saphyr reads the file (what the fast path declines
/// goes here, and `tests/yaml_fast_path.rs` compares the two).
#[allow(clippy::result_large_err)] // a diagnostic is built once per failed file
pub fn parse_with_serde_saphyr<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, Diagnostic> {
    // Comments are never read from coding files: not collecting them saves a tenth of parsing.
    let mut options = serde_saphyr::Options::default();
    options.emit_comments = false;
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| {
        let mut d = Diagnostic::new("coding-syntax", file, yaml_message(&e)).hint(
            "fix the YAML at this line (see docs/CODING.md for the format); \
             quote a value with single quotes if it starts with a quotation mark or contains \": \"",
        );
        if let Some(loc) = e.location() {
            d = d.at(
                u32::try_from(loc.line()).unwrap_or(0),
                u32::try_from(loc.column()).unwrap_or(0),
            );
        }
        d
    })
}

/// The parser's message without the position it appends (the diagnostic carries that).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let full = e.to_string();
    let mut first = full.lines().next().unwrap_or("").trim();
    first = first.strip_prefix("error:").unwrap_or(first).trim();
    // "line 85 column 87: message" → "message"
    if first.starts_with("line ") {
        if let Some((_, rest)) = first.split_once(": ") {
            first = rest;
        }
    }
    let first = first.to_string();
    match first.find(" at line ") {
        Some(i) => first[..i].to_string(),
        None => first,
    }
}
