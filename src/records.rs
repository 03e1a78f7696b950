//! Records: codings and source texts in, checked and sealed release records out.
//!
//! In: a project root holding `seeds/` and `data/` (`data/VERSION`, `data/codings/`).
//! Out: a [`Built`] release: every table's rows spilled to disk as key-sorted runs (see
//! [`crate::spill`]), each with its `record_sha256`, every evidence span located in its source,
//! the canonical texts archived; or every problem found as a [`Diagnostic`]. Source files are
//! coded in parallel (rayon), a chunk at a time; results are folded in file-name order into a
//! compact index, so the output never depends on thread timing and memory does not grow with
//! the rows.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::codings::{self, pos, EvidenceCoding, GazetteerFile, RetractionsFile, SourceFile, S};
use crate::dates::{self, Expanded};
use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::sources::SourceText;
use crate::spill::Runs;
use crate::tables::{sha256_hex, Record, Table};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The inputs have problems; all of them are listed.
    #[error("{} problem(s) in the inputs", .0.len())]
    Invalid(Vec<Diagnostic>),
}

/// The rows of every table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tables {
    /// `sources`
    pub sources: Vec<SourceRecord>,
    /// `defections`
    pub defections: Vec<DefectionRecord>,
    /// `persons`
    pub persons: Vec<PersonRecord>,
    /// `places`
    pub places: Vec<PlaceRecord>,
    /// `actors`
    pub actors: Vec<ActorRecord>,
    /// `events`
    pub events: Vec<EventRecord>,
    /// `statements`
    pub statements: Vec<StatementRecord>,
    /// `evidence`
    pub evidence: Vec<EvidenceRecord>,
    /// `retractions`
    pub retractions: Vec<RetractionRecord>,
}

/// A release built and checked, its rows spilled to disk as key-sorted runs, ready to write.
///
/// Every row except those of `defections` and `events` is final (with its `record_sha256`,
/// checked against the schema, as its JSONL line); those two get their derived `source_ids`
/// (from all their evidence) when written, through [`Built::source_ids`], and are finished
/// again only when that differs from the sources their own file quotes.
#[derive(Debug)]
pub struct Built {
    /// The release version (from `data/VERSION`).
    pub version: String,
    /// The archived canonical texts, written while the sources were read: the folder holding
    /// `<source_id>.txt` (moved into the release as `sources/`), and per text, by source id:
    /// `(source_id, sha256, bytes)`.
    pub archive: (PathBuf, Vec<(String, String, u64)>),
    /// Dataset-level metadata (`data/dataset.yaml`, or defaults when absent).
    pub dataset: crate::metadata::DatasetMeta,
    /// Per table (in [`Table::ALL`] order), the spilled rows.
    runs: Vec<Runs>,
    /// Per defection and event with evidence, by id digest: the range of its sources in
    /// `sources` (indexes into `source_names`).
    derived: Vec<(Key, u32, u32)>,
    sources: Vec<u32>,
    source_names: Vec<String>,
    /// The folder holding the spill files; removed when the build is dropped.
    _spill: tempfile::TempDir,
}

impl Built {
    /// The spilled rows of `table`.
    pub fn runs(&self, table: Table) -> &Runs {
        &self.runs[table_index(table)]
    }

    /// The ids of the sources quoted for `record_id`, sorted.
    pub fn source_ids(&self, record_id: &str) -> Vec<String> {
        let k = key(record_id);
        let mut ids: Vec<String> = match self.derived.binary_search_by(|d| d.0.cmp(&k)) {
            Ok(i) => {
                let (_, start, len) = self.derived[i];
                self.sources[start as usize..(start + len) as usize]
                    .iter()
                    .map(|&i| self.source_names[i as usize].clone())
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        ids.sort();
        ids.dedup();
        ids
    }
}

fn table_index(table: Table) -> usize {
    Table::ALL.iter().position(|t| *t == table).unwrap_or(0)
}

/// A 128-bit digest of an id (two words, so that an index entry is 8-byte aligned): what the
/// build keeps per id instead of the string.
type Key = [u64; 2];

fn key(s: &str) -> Key {
    let d = crate::tables::digest128(s);
    [d as u64, (d >> 64) as u64]
}

/// What the build knows of one id across all files (48 bytes).
#[derive(Debug, Default)]
struct Entry {
    /// The table of its first definition (`None`: not defined, so far).
    table: Option<Table>,
    /// Some evidence was offered for it (found or not).
    offered: bool,
    /// Evidence spans found so far (numbers them).
    spans: u32,
    /// Sources of its evidence (defections and events only), as indexes into the source names.
    sources: Vec<u32>,
}

/// Reads a file, mapping failure to [`BuildError::Io`].
pub fn read(path: &Path) -> Result<Vec<u8>, BuildError> {
    std::fs::read(path).map_err(|source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Files with extension `ext` directly in `dir`, sorted by name (empty if `dir` is absent).
pub fn list(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, BuildError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(BuildError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|source| BuildError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some(ext) {
            continue;
        }
        // The entry's type comes with the listing; only a link is followed (to a file or not).
        let file = match e.file_type() {
            Ok(t) if t.is_symlink() => p.is_file(),
            Ok(t) => t.is_file(),
            Err(_) => p.is_file(),
        };
        if file {
            out.push(p);
        }
    }
    // One folder: the order of the names' bytes is the order of the paths.
    out.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(out)
}

/// Project-relative display path with forward slashes.
pub fn rel(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads and checks `data/VERSION`.
pub fn read_version(root: &Path) -> Result<String, BuildError> {
    let path = root.join("data/VERSION");
    let raw = read(&path)?;
    let v = String::from_utf8_lossy(&raw).trim().to_string();
    if crate::version::Version::parse(&v).is_none() {
        return Err(BuildError::Invalid(vec![Diagnostic::new(
            "bad-version",
            "data/VERSION",
            format!("`{v}` is not a semantic version"),
        )
        .at(1, 1)
        .hint("write MAJOR.MINOR.PATCH, e.g. 1.0.0")]));
    }
    Ok(v)
}

/// A defined id and where.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Def {
    id: String,
    table: Table,
    file: String,
    line: u32,
    col: u32,
}

/// A reference to check once every id is known.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Ref {
    file: String,
    line: u32,
    col: u32,
    pointer: String,
    id: String,
    allowed: Kinds,
}

/// Evidence before numbering.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Draft {
    record_id: String,
    fields: Vec<String>,
    source_id: String,
    span: crate::sources::Span,
    text_sha256: String,
}

/// What one file contributes.
#[derive(Default, Serialize, Deserialize)]
struct Unit {
    /// Units with diagnostics are never cached, so these need no serialisation.
    #[serde(skip)]
    diags: Vec<Diagnostic>,
    defs: Vec<Def>,
    refs: Vec<Ref>,
    drafts: Vec<Draft>,
    tables: Tables,
    seed: Option<(String, PathBuf)>,
    /// The file (release-relative) when it could not be read as a whole (syntax error, missing
    /// or undecodable seed): checks that need every file, such as "is this gazetteer record
    /// quoted anywhere" and "does this id exist", are skipped.
    incomplete: Option<String>,
    /// Records some evidence was offered for (found or not).
    attempted: Vec<String>,
    /// The rows as they are spilled, worked out by [`seal`] (so a cached unit is never
    /// finished again); `tables` and `drafts` are empty once sealed.
    sealed: Sealed,
    /// sha256 of the canonical text of the source this file codes.
    text_sha256: Option<String>,
    /// Ids this file retracts.
    retracted: Vec<String>,
    /// The canonical text of the source (to archive; never cached).
    #[serde(skip)]
    text: Option<String>,
    /// Bytes of the archived canonical text, once written.
    #[serde(skip)]
    archived: Option<u64>,
}

/// A unit's rows as they are spilled: finished JSONL lines (`record_sha256` set, checked against
/// the schema), cases and events finished with the sources this file quotes for them (their
/// `source_ids` are derived when written, and they are finished again if that differs), and
/// evidence finished under the numbering it has if no earlier file quotes its
/// record. Worked out while the file is coded (in parallel, and cached), so that folding only
/// numbers evidence and appends bytes.
#[derive(Default, Serialize, Deserialize)]
struct Sealed {
    /// Per table, in [`Table::ALL`] order (evidence apart): `(id, line)`.
    rows: Vec<Vec<(String, String)>>,
    evidence: Vec<SealedEvidence>,
    /// The unit's definitions as JSON lines (appended to the definition log).
    def_log: String,
}

/// One evidence span, finished as the `n`th of its record.
#[derive(Serialize, Deserialize)]
struct SealedEvidence {
    record_id: String,
    source_id: String,
    /// Its number among this file's spans of the record (1-based): its evidence number when
    /// no earlier file quotes the record.
    n: u32,
    /// The finished line under that number; empty when the record's table is unknown (the
    /// reference is reported, no row is written).
    line: String,
}

/// Finishes the rows of a unit without problems (see [`Sealed`]); a row the schema refuses
/// becomes a problem of the unit. The definitions of every unit go to the definition log.
fn seal(unit: &mut Unit) {
    let mut def_log = String::new();
    for d in &unit.defs {
        def_log.push_str(&serde_json::to_string(d).unwrap_or_default());
        def_log.push('\n');
    }
    unit.sealed.def_log = def_log;
    if !unit.diags.is_empty() {
        return;
    }
    let t = std::mem::take(&mut unit.tables);
    unit.text_sha256 = unit.seed.as_ref().and_then(|(id, _)| {
        t.sources
            .iter()
            .find(|s| &s.source_id == id)
            .map(|s| s.text_sha256.clone())
    });
    unit.retracted = t.retractions.iter().map(|r| r.record_id.clone()).collect();
    let mut diags = Vec::new();
    let mut rows: Vec<Vec<(String, String)>> = vec![Vec::new(); Table::ALL.len()];
    let mut finished = |table: Table, lines: Vec<(String, String, Vec<Diagnostic>)>| {
        for (id, line, d) in lines {
            diags.extend(d);
            rows[table_index(table)].push((id, line));
        }
    };
    finished(Table::Sources, finish_all(t.sources));
    finished(Table::Persons, finish_all(t.persons));
    finished(Table::Places, finish_all(t.places));
    finished(Table::Actors, finish_all(t.actors));
    finished(Table::Statements, finish_all(t.statements));
    finished(Table::Retractions, finish_all(t.retractions));
    // Cases and events are finished with the sources this file quotes for them: when no
    // other file quotes them (the usual case), that is their derived `source_ids`, and
    // writing keeps the line instead of finishing it again.
    let mut own = own_sources(&unit.drafts);
    let mut own = |id: &str| own.remove(id).unwrap_or_default();
    let mut defections = t.defections;
    for d in &mut defections {
        d.source_ids = own(&d.defection_id);
    }
    let mut events = t.events;
    for e in &mut events {
        e.source_ids = own(&e.event_id);
    }
    finished(Table::Defections, speculative(defections));
    finished(Table::Events, speculative(events));
    let mut numbers: HashMap<String, u32> = HashMap::new();
    let mut evidence = Vec::with_capacity(unit.drafts.len());
    let validator = crate::schema::line_validator(Table::Evidence);
    for d in std::mem::take(&mut unit.drafts) {
        let n = numbers.entry(d.record_id.clone()).or_default();
        *n += 1;
        let n = *n;
        let (record_id, source_id) = (d.record_id.clone(), d.source_id.clone());
        let line = match evidence_row(d, n) {
            Some(mut r) => {
                let (line, d) = finish_one(&mut r, validator);
                diags.extend(d);
                line
            }
            None => String::new(),
        };
        evidence.push(SealedEvidence {
            record_id,
            source_id,
            n,
            line,
        });
    }
    unit.diags.extend(diags);
    unit.sealed.rows = rows;
    unit.sealed.evidence = evidence;
}

/// The evidence row of a draft numbered `n`; `None` when the record's table is unknown.
fn evidence_row(d: Draft, n: u32) -> Option<EvidenceRecord> {
    let table = Table::from_id(&d.record_id)?;
    Some(EvidenceRecord {
        evidence_id: format!("{}/{}", d.record_id, n),
        record_table: table.name().into(),
        record_id: d.record_id,
        fields: d.fields,
        source_id: d.source_id,
        char_start: d.span.char_start as i64,
        char_end: d.span.char_end as i64,
        byte_start: d.span.byte_start as i64,
        byte_end: d.span.byte_end as i64,
        quote_sha256: sha256_hex(d.span.exact.as_bytes()),
        exact: d.span.exact,
        prefix: d.span.prefix,
        suffix: d.span.suffix,
        source_text_sha256: d.text_sha256,
        record_sha256: String::new(),
    })
}

/// Rows finished: `(id, line, schema problems)`.
fn finish_all<R: Record>(rows: Vec<R>) -> Vec<(String, String, Vec<Diagnostic>)> {
    let validator = crate::schema::line_validator(R::TABLE);
    rows.into_iter()
        .map(|mut r| {
            let (line, diags) = finish_one(&mut r, validator);
            (r.id().to_string(), line, diags)
        })
        .collect()
}

/// Per case and event quoted by a file's spans, the sources quoted for it, sorted and unique
/// (what [`Built::source_ids`] gives when no other file quotes the record).
fn own_sources(drafts: &[Draft]) -> HashMap<&str, Vec<String>> {
    let mut own: HashMap<&str, Vec<String>> = HashMap::new();
    // Only cases and events derive their sources (as in the fold).
    let derives = |id: &str| matches!(Table::from_id(id), Some(Table::Defections | Table::Events));
    for d in drafts.iter().filter(|d| derives(&d.record_id)) {
        own.entry(d.record_id.as_str())
            .or_default()
            .push(d.source_id.clone());
    }
    for ids in own.values_mut() {
        ids.sort();
        ids.dedup();
    }
    own
}

/// Rows whose derived fields are only known at the end (`defections`, `events`), finished
/// with the values this file alone gives (see [`seal`]). Writing sets the derived values and
/// keeps the line only when they are unchanged and a `record_sha256` is set; otherwise it
/// finishes the row again. A row the schema refuses here is kept unfinished (no hash), and
/// its problems are reported when it is finished with its derived values.
fn speculative<R: Record>(rows: Vec<R>) -> Vec<(String, String, Vec<Diagnostic>)> {
    let validator = crate::schema::line_validator(R::TABLE);
    rows.into_iter()
        .map(|mut r| {
            let (line, diags) = finish_one(&mut r, validator);
            let line = if diags.is_empty() {
                line
            } else {
                r.set_record_sha256(String::new());
                serde_json::to_string(&r).unwrap_or_default()
            };
            (r.id().to_string(), line, Vec::new())
        })
        .collect()
}

/// Collects the problems of one file.
struct Ctx<'a> {
    file: String,
    unit: &'a mut Unit,
}

impl Ctx<'_> {
    fn diag(&mut self, d: Diagnostic) {
        self.unit.diags.push(d);
    }

    fn err<T>(
        &mut self,
        code: &'static str,
        at: &S<T>,
        ptr: &str,
        msg: String,
        hint: Option<String>,
    ) {
        let (l, c) = pos(at);
        let mut d = Diagnostic::new(code, self.file.clone(), msg)
            .at(l, c)
            .pointer(ptr);
        if let Some(h) = hint {
            d = d.hint(h);
        }
        self.diag(d);
    }

    fn vocab<V: Vocabulary>(&mut self, v: &S<String>, ptr: &str) -> Option<V> {
        let got = V::parse(&v.value);
        if got.is_none() {
            let allowed = V::VALUES.join(", ");
            let hint = match did_you_mean(&v.value, V::VALUES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? allowed values: {allowed}"),
                None => format!("allowed values: {allowed}"),
            };
            self.err(
                "unknown-vocabulary",
                v,
                ptr,
                format!("`{}` is not in the {} vocabulary", v.value, V::NAME),
                Some(hint),
            );
        }
        got
    }

    fn vocabs<V: Vocabulary>(&mut self, vs: &[S<String>], ptr: &str) -> Vec<V> {
        let mut out: Vec<V> = vs
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.vocab::<V>(v, &format!("{ptr}/{i}")))
            .collect();
        out.sort_by_key(|v| v.as_str());
        out.dedup_by_key(|v| v.as_str());
        out
    }

    fn define(&mut self, id: &S<String>, table: Table, ptr: &str) {
        let prefix = table.prefix().unwrap_or("");
        let ok_shape = id.value.starts_with(prefix)
            && id.value.len() > prefix.len()
            && id
                .value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.value.ends_with('-');
        if !ok_shape {
            self.err(
                "bad-id",
                id,
                ptr,
                format!("`{}` is not a valid {} id", id.value, table),
                Some(format!(
                    "ids are lowercase ASCII slugs starting with `{prefix}`, e.g. `{prefix}abu-hajer-al-kuwaiti`"
                )),
            );
        }
        let (line, col) = pos(id);
        self.unit.defs.push(Def {
            id: id.value.clone(),
            table,
            file: self.file.clone(),
            line,
            col,
        });
    }

    fn refer(&mut self, id: &S<String>, ptr: &str, allowed: Kinds) -> String {
        let (line, col) = pos(id);
        self.unit.refs.push(Ref {
            file: self.file.clone(),
            line,
            col,
            pointer: ptr.to_string(),
            id: id.value.clone(),
            allowed,
        });
        id.value.clone()
    }

    fn refer_opt(&mut self, id: &Option<S<String>>, ptr: &str, allowed: Kinds) -> Option<String> {
        id.as_ref().map(|i| self.refer(i, ptr, allowed))
    }

    fn refer_all(&mut self, ids: &[S<String>], ptr: &str, allowed: Kinds) -> Vec<String> {
        let mut out: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| self.refer(id, &format!("{ptr}/{i}"), allowed))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn date(&mut self, d: &Option<S<String>>, ptr: &str) -> Expanded {
        match d {
            None => Expanded::unknown(),
            Some(s) => match dates::expand(&s.value) {
                Ok(e) => e,
                Err(msg) => {
                    self.err(
                        "bad-date",
                        s,
                        ptr,
                        msg,
                        Some("dates are ISO 8601: 2014, 2014-09, 2014-09-15 or an interval 2014-10/2014-12".into()),
                    );
                    Expanded::unknown()
                }
            },
        }
    }

    fn code(&mut self, v: &S<String>, ptr: &str, len: usize, what: &str, example: &str) -> String {
        let ok = v.value.len() == len && v.value.bytes().all(|b| b.is_ascii_uppercase());
        if !ok {
            self.err(
                "bad-code",
                v,
                ptr,
                format!("`{}` is not an {what} code", v.value),
                Some(format!("write {len} capital letters, e.g. {example}")),
            );
        }
        v.value.clone()
    }

    fn countries(&mut self, vs: &[S<String>], ptr: &str) -> Vec<String> {
        let mut out: Vec<String> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| {
                self.code(
                    v,
                    &format!("{ptr}/{i}"),
                    2,
                    "ISO 3166-1 alpha-2",
                    "SY, IQ, KW",
                )
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn counts(
        &mut self,
        what: &str,
        low: &Option<S<i64>>,
        best: &Option<S<i64>>,
        high: &Option<S<i64>>,
        ptr: &str,
    ) {
        let vals = [low, best, high];
        for v in vals.iter().copied().flatten() {
            if v.value < 0 {
                self.err(
                    "bad-count",
                    v,
                    ptr,
                    format!("{what} count {} is negative", v.value),
                    None,
                );
            }
        }
        let present: Vec<&S<i64>> = vals.iter().copied().flatten().collect();
        if present.windows(2).any(|w| w[0].value > w[1].value) {
            let at = present[0];
            self.err(
                "bad-count",
                at,
                ptr,
                format!("{what}_low <= {what}_best <= {what}_high does not hold"),
                Some("low is the smallest number the source allows, high the largest".into()),
            );
        }
    }
}

/// Evidence `fields` aliases that stand for several columns.
fn expand_field(table: Table, f: &str) -> Option<Vec<String>> {
    let group = |p: &str, suffixes: &[&str]| suffixes.iter().map(|s| format!("{p}_{s}")).collect();
    match (table, f) {
        (Table::Defections | Table::Events, "date") => {
            Some(group("date", &["start", "end", "precision"]))
        }
        (Table::Sources, "published") => Some(group("published", &["start", "end", "precision"])),
        (Table::Defections, "size") => Some(group("size", &["low", "best", "high"])),
        (Table::Events, "deaths") => Some(group("deaths", &["low", "best", "high"])),
        (Table::Defections, "funds_taken") => Some(group("funds_taken", &["amount", "currency"])),
        _ => None,
    }
}

/// Columns an evidence span may support in `table`.
fn supportable(table: Table) -> Vec<String> {
    crate::schema::columns(table)
        .iter()
        .map(|(c, _)| c.clone())
        .filter(|c| c != "record_sha256" && c != "source_ids" && c != table.key())
        .collect()
}

/// Locates the quotes of one record in `text` and turns them into drafts.
#[allow(clippy::too_many_arguments)]
fn locate(
    cx: &mut Ctx,
    text: &SourceText,
    source_id: &str,
    record_id: &str,
    table: Option<Table>,
    evidence: &[EvidenceCoding],
    ptr: &str,
) {
    if !evidence.is_empty() {
        cx.unit.attempted.push(record_id.to_string());
    }
    for (i, ev) in evidence.iter().enumerate() {
        let p = format!("{ptr}/{i}");
        let mut fields = Vec::new();
        if let Some(table) = table {
            let allowed = supportable(table);
            for (j, f) in ev.fields.iter().enumerate() {
                if let Some(cols) = expand_field(table, &f.value) {
                    fields.extend(cols);
                } else if allowed.contains(&f.value) {
                    fields.push(f.value.clone());
                } else {
                    let hint = match did_you_mean(&f.value, allowed.iter().map(String::as_str)) {
                        Some(s) => format!(
                            "did you mean `{s}`? columns of {table}: {}",
                            allowed.join(", ")
                        ),
                        None => format!("columns of {table}: {}", allowed.join(", ")),
                    };
                    cx.err(
                        "unknown-field",
                        f,
                        &format!("{p}/fields/{j}"),
                        format!("`{}` is not a column of {table}", f.value),
                        Some(hint),
                    );
                }
            }
        }
        fields.sort();
        fields.dedup();
        if let Some(span) = find_quote(
            cx,
            text,
            &ev.quote,
            ev.occurrence.as_ref(),
            ev.prefix.as_ref(),
            &format!("{p}/quote"),
        ) {
            cx.unit.drafts.push(Draft {
                record_id: record_id.to_string(),
                fields,
                source_id: source_id.to_string(),
                span,
                text_sha256: text.text_sha256.clone(),
            });
        }
    }
}

/// Finds a quote exactly once (or the chosen occurrence), or reports why not.
fn find_quote(
    cx: &mut Ctx,
    text: &SourceText,
    quote: &S<String>,
    occurrence: Option<&S<u32>>,
    prefix: Option<&S<String>>,
    ptr: &str,
) -> Option<crate::sources::Span> {
    let mut hits = text.find_all(&quote.value);
    if let Some(pre) = prefix {
        let want: Vec<&str> = pre.value.split_whitespace().collect();
        hits.retain(|(s, _)| {
            let before: Vec<&str> = text.text[..*s].split_whitespace().collect();
            let tail = before.len().saturating_sub(want.len());
            // The prefix may end inside the last token before the quote.
            before.len() >= want.len() && before[tail..].concat().ends_with(&want.concat())
        });
    }
    let show = |q: &str| -> String {
        let short: String = q.chars().take(60).collect();
        if short.len() < q.len() {
            format!("{short}…")
        } else {
            short
        }
    };
    if quote.value.trim().is_empty() {
        cx.err(
            "empty-quote",
            quote,
            ptr,
            "the quote is empty".into(),
            Some("paste the source's words".into()),
        );
        return None;
    }
    match (hits.len(), occurrence) {
        (0, _) => {
            let hint = match text.closest(&quote.value) {
                Some(c) if c.matched > 0 => {
                    let (l, col) = text.line_col(c.byte_offset);
                    let squeezed: Vec<char> = quote
                        .value
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .chars()
                        .collect();
                    let differ = squeezed
                        .get(c.matched)
                        .map(|ch| format!("`{ch}` (U+{:04X})", *ch as u32))
                        .unwrap_or_else(|| "the end".into());
                    let src_ch = text.text[c.byte_offset..]
                        .chars()
                        .filter(|ch| !ch.is_whitespace())
                        .nth(
                            squeezed[..c.matched]
                                .iter()
                                .filter(|ch| **ch != ' ')
                                .count(),
                        )
                        .map(|ch| format!("`{ch}` (U+{:04X})", ch as u32))
                        .unwrap_or_else(|| "the end of the text".into());
                    format!(
                        "closest passage, at line {l}, column {col} of the source:\n  {}\n{} of {} characters match; the quote has {differ} where the source has {src_ch}",
                        c.passage.replace('\n', " "),
                        c.matched,
                        c.quote_chars
                    )
                }
                _ => {
                    "no passage of the source starts like this quote; copy it from the source again"
                        .into()
                }
            };
            cx.err(
                "quote-not-found",
                quote,
                ptr,
                format!("quote not found in the source: «{}»", show(&quote.value)),
                Some(hint),
            );
            None
        }
        (1, None) => Some(text.span(hits[0].0, hits[0].1)),
        (n, None) => {
            let places: Vec<String> = hits
                .iter()
                .map(|(s, _)| {
                    let (l, c) = text.line_col(*s);
                    format!("line {l}, column {c}")
                })
                .collect();
            cx.err(
                "quote-ambiguous",
                quote,
                ptr,
                format!(
                    "quote occurs {n} times in the source: «{}»",
                    show(&quote.value)
                ),
                Some(format!(
                    "found at {}; add `occurrence: N` (1-based) or lengthen the quote",
                    places.join("; ")
                )),
            );
            None
        }
        (n, Some(occ)) => {
            let k = occ.value as usize;
            if k == 0 || k > n {
                cx.err(
                    "bad-occurrence",
                    occ,
                    ptr,
                    format!("occurrence {k} asked for, but the quote occurs {n} time(s)"),
                    Some(format!("use a number from 1 to {n}")),
                );
                None
            } else {
                Some(text.span(hits[k - 1].0, hits[k - 1].1))
            }
        }
    }
}

/// What a reference may point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Kinds {
    Places,
    Persons,
    Actors,
    PersonsOrActors,
    Defections,
    AnyRecord,
}

impl Kinds {
    fn tables(self) -> &'static [Table] {
        match self {
            Kinds::Places => &[Table::Places],
            Kinds::Persons => &[Table::Persons],
            Kinds::Actors => &[Table::Actors],
            Kinds::PersonsOrActors => &[Table::Persons, Table::Actors],
            Kinds::Defections => &[Table::Defections],
            Kinds::AnyRecord => &[
                Table::Defections,
                Table::Events,
                Table::Statements,
                Table::Persons,
                Table::Places,
                Table::Actors,
            ],
        }
    }
}

const PLACES: Kinds = Kinds::Places;
const PERSONS: Kinds = Kinds::Persons;
const ACTORS: Kinds = Kinds::Actors;
const PERSONS_OR_ACTORS: Kinds = Kinds::PersonsOrActors;
const DEFECTIONS: Kinds = Kinds::Defections;
const ANY_RECORD: Kinds = Kinds::AnyRecord;

fn gazetteer_unit(root: &Path, path: &Path) -> Result<Unit, BuildError> {
    let mut unit = code_gazetteer(root, path)?;
    seal(&mut unit);
    Ok(unit)
}

fn code_gazetteer(root: &Path, path: &Path) -> Result<Unit, BuildError> {
    let mut unit = Unit::default();
    let file = rel(root, path);
    let raw = read(path)?;
    let text = String::from_utf8_lossy(&raw);
    let g: GazetteerFile = match codings::parse(&file, &text) {
        Ok(g) => g,
        Err(d) => {
            unit.diags.push(d);
            unit.incomplete = Some(file);
            return Ok(unit);
        }
    };
    let mut cx = Ctx {
        file,
        unit: &mut unit,
    };
    for (i, p) in g.places.iter().enumerate() {
        let ptr = format!("/places/{i}");
        let v = &p.value;
        cx.define(&v.id, Table::Places, &format!("{ptr}/id"));
        let feature = cx.vocab::<Feature>(&v.feature, &format!("{ptr}/feature"));
        let coord =
            cx.vocab::<CoordPrecision>(&v.coord_precision, &format!("{ptr}/coord_precision"));
        let country = cx.code(
            &v.country,
            &format!("{ptr}/country"),
            2,
            "ISO 3166-1 alpha-2",
            "SY",
        );
        let parent = cx.refer_opt(
            &v.parent_place_id,
            &format!("{ptr}/parent_place_id"),
            PLACES,
        );
        for (c, lim, name) in [
            (&v.latitude, 90.0, "latitude"),
            (&v.longitude, 180.0, "longitude"),
        ] {
            if let Some(x) = c {
                if !(-lim..=lim).contains(&x.value) {
                    cx.err(
                        "bad-coordinate",
                        x,
                        &format!("{ptr}/{name}"),
                        format!("{name} {} is out of range", x.value),
                        None,
                    );
                }
            }
        }
        if v.latitude.is_some() != v.longitude.is_some() {
            cx.err(
                "bad-coordinate",
                &v.id,
                &ptr,
                "give both latitude and longitude, or neither".into(),
                None,
            );
        }
        if let (Some(feature), Some(coord_precision)) = (feature, coord) {
            cx.unit.tables.places.push(PlaceRecord {
                place_id: v.id.value.clone(),
                name_ar: v.name_ar.clone(),
                aliases_ar: v.aliases_ar.clone(),
                name_en: v.name_en.clone(),
                feature,
                country,
                parent_place_id: parent,
                latitude: v.latitude.as_ref().map(|x| x.value),
                longitude: v.longitude.as_ref().map(|x| x.value),
                geonames_id: v.geonames_id,
                coord_precision,
                record_sha256: String::new(),
            });
        }
    }
    for (i, a) in g.actors.iter().enumerate() {
        let ptr = format!("/actors/{i}");
        let v = &a.value;
        cx.define(&v.id, Table::Actors, &format!("{ptr}/id"));
        let kind = cx.vocab::<ActorKind>(&v.kind, &format!("{ptr}/kind"));
        let country = v
            .country
            .as_ref()
            .map(|c| cx.code(c, &format!("{ptr}/country"), 2, "ISO 3166-1 alpha-2", "TR"));
        if let Some(kind) = kind {
            cx.unit.tables.actors.push(ActorRecord {
                actor_id: v.id.value.clone(),
                name_ar: v.name_ar.clone(),
                name_en: v.name_en.clone(),
                kind,
                country,
                record_sha256: String::new(),
            });
        }
    }
    for (i, p) in g.persons.iter().enumerate() {
        let ptr = format!("/persons/{i}");
        let v = &p.value;
        cx.define(&v.id, Table::Persons, &format!("{ptr}/id"));
        let name_kind = cx.vocab::<NameKind>(&v.name_kind, &format!("{ptr}/name_kind"));
        let category = cx.vocab::<PersonCategory>(&v.category, &format!("{ptr}/category"));
        let nationalities = cx.countries(&v.nationalities, &format!("{ptr}/nationalities"));
        let affiliation = cx.refer_opt(
            &v.affiliation_actor_id,
            &format!("{ptr}/affiliation_actor_id"),
            ACTORS,
        );
        if let (Some(name_kind), Some(category)) = (name_kind, category) {
            cx.unit.tables.persons.push(PersonRecord {
                person_id: v.id.value.clone(),
                name_ar: v.name_ar.clone(),
                name_en: v.name_en.clone(),
                name_kind,
                aliases_ar: v.aliases_ar.clone(),
                nationalities,
                category,
                affiliation_actor_id: affiliation,
                notes_en: v.notes_en.clone(),
                record_sha256: String::new(),
            });
        }
    }
    Ok(unit)
}

/// The unit of a source file, sealed.
fn source_unit(root: &Path, path: &Path, pre: Option<Preread>) -> Result<Unit, BuildError> {
    let mut unit = code_source(root, path, pre)?;
    seal(&mut unit);
    Ok(unit)
}

/// A coding file and its seed (`seeds/<stem>.txt`), read already: for the cache key.
struct Preread {
    coding: Vec<u8>,
    /// The seed's bytes and sha256; `None` when the seed could not be read.
    seed: Option<(Vec<u8>, String)>,
}

fn code_source(root: &Path, path: &Path, pre: Option<Preread>) -> Result<Unit, BuildError> {
    let mut unit = Unit::default();
    let file = rel(root, path);
    let (raw, mut pre_seed) = match pre {
        Some(r) => (r.coding, r.seed),
        None => (read(path)?, None),
    };
    // UTF-8 checked with SIMD; a file that is not UTF-8 is read lossily (as before).
    let yaml = match simdutf8::basic::from_utf8(&raw) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(&raw),
    };
    let sf: SourceFile = match codings::parse(&file, &yaml) {
        Ok(s) => s,
        Err(d) => {
            unit.diags.push(d);
            unit.incomplete = Some(file);
            return Ok(unit);
        }
    };
    let mut cx = Ctx {
        file,
        unit: &mut unit,
    };
    let s = &sf.source;
    let source_id = s.id.value.clone();
    cx.define(&s.id, Table::Sources, "/source/id");

    // The seed this file codes.
    let stem = path.file_stem().and_then(|x| x.to_str()).unwrap_or("");
    if s.file_name.value != format!("{stem}.txt") {
        cx.err(
            "wrong-seed",
            &s.file_name,
            "/source/file_name",
            format!(
                "this file codes `{}`, but its name says `{stem}.txt`",
                s.file_name.value
            ),
            Some(format!(
                "name the coding file after its seed: data/codings/sources/{}.yaml",
                s.file_name.value.trim_end_matches(".txt")
            )),
        );
        pre_seed = None; // what was read is not this file's seed
    }
    let seed_path = root.join("seeds").join(&s.file_name.value);
    if s.file_name.value.contains('/')
        || s.file_name.value.contains('\\')
        || (pre_seed.is_none() && !seed_path.is_file())
    {
        cx.err(
            "missing-seed",
            &s.file_name,
            "/source/file_name",
            format!("seeds/{} does not exist", s.file_name.value),
            Some("file_name is the name of a file in seeds/".into()),
        );
        cx.unit.incomplete = Some(cx.file.clone());
        return Ok(unit);
    }
    let (seed_raw, seed_sha256) = match pre_seed {
        Some((raw, sha)) => (raw, Some(sha)),
        None => (read(&seed_path)?, None),
    };
    let text = match SourceText::from_bytes_hashed(&seed_raw, seed_sha256) {
        Ok(t) => t,
        Err(e) => {
            let seed_rel = rel(root, &seed_path);
            cx.diag(
                Diagnostic::new("source-not-utf8", seed_rel, e.to_string())
                    .hint("sources must be UTF-8; convert the file (e.g. iconv -f WINDOWS-1256 -t UTF-8) and recode its hashes"),
            );
            cx.unit.incomplete = Some(cx.file.clone());
            return Ok(unit);
        }
    };
    cx.unit.seed = Some((
        source_id.clone(),
        PathBuf::from("seeds").join(&s.file_name.value),
    ));

    let source_kind = cx.vocab::<SourceKind>(&s.source_kind, "/source/source_kind");
    let published = cx.date(&s.published, "/source/published");
    let lang_ok = {
        let mut parts = s.language.value.split('-');
        let first = parts.next().unwrap_or("");
        (2..=3).contains(&first.len())
            && first.bytes().all(|b| b.is_ascii_lowercase())
            && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    if !lang_ok {
        cx.err(
            "bad-code",
            &s.language,
            "/source/language",
            format!("`{}` is not a BCP 47 language tag", s.language.value),
            Some("e.g. ar".into()),
        );
    }
    locate(
        &mut cx,
        &text,
        &source_id,
        &source_id,
        Some(Table::Sources),
        &s.evidence,
        "/source/evidence",
    );
    if let Some(source_kind) = source_kind {
        cx.unit.tables.sources.push(SourceRecord {
            source_id: source_id.clone(),
            file_name: s.file_name.value.clone(),
            title: s.title.clone(),
            publisher: s.publisher.clone(),
            publisher_en: s.publisher_en.clone(),
            author: s.author.clone(),
            language: s.language.value.clone(),
            source_kind,
            relays: s.relays.clone(),
            published_start: published.start,
            published_end: published.end,
            published_precision: published.precision,
            url: s.url.clone(),
            sha256: text.sha256.clone(),
            text_sha256: text.text_sha256.clone(),
            bytes: text.bytes as i64,
            chars: text.chars as i64,
            text_path: format!("sources/{source_id}.txt"),
            notes_en: s.notes_en.clone(),
            record_sha256: String::new(),
        });
    }

    for (i, d) in sf.defections.iter().enumerate() {
        let ptr = format!("/defections/{i}");
        let v = &d.value;
        cx.define(&v.id, Table::Defections, &format!("{ptr}/id"));
        let subject = cx.vocab::<Subject>(&v.subject, &format!("{ptr}/subject"));
        let place_precision =
            cx.vocab::<PlacePrecision>(&v.place_precision, &format!("{ptr}/place_precision"));
        let origin = cx.vocab::<Origin>(&v.origin, &format!("{ptr}/origin"));
        let motive_basis = cx.vocab::<MotiveBasis>(&v.motive_basis, &format!("{ptr}/motive_basis"));
        let stage = cx.vocab::<Stage>(&v.stage, &format!("{ptr}/stage"));
        let outcome = cx.vocab::<Outcome>(&v.outcome, &format!("{ptr}/outcome"));
        let authenticity =
            cx.vocab::<Authenticity>(&v.authenticity, &format!("{ptr}/authenticity"));
        let claim_status = cx.vocab::<ClaimStatus>(&v.claim_status, &format!("{ptr}/claim_status"));
        let roles = cx.vocabs::<Role>(&v.roles, &format!("{ptr}/roles"));
        let motives = cx.vocabs::<Motive>(&v.motives, &format!("{ptr}/motives"));
        let date = cx.date(&v.date, &format!("{ptr}/date"));
        let person_ids = cx.refer_all(&v.person_ids, &format!("{ptr}/person_ids"), PERSONS);
        let place_id = cx.refer_opt(&v.place_id, &format!("{ptr}/place_id"), PLACES);
        let destinations = cx.refer_all(
            &v.destination_place_ids,
            &format!("{ptr}/destination_place_ids"),
            PLACES,
        );
        let outcome_actor = cx.refer_opt(
            &v.outcome_actor_id,
            &format!("{ptr}/outcome_actor_id"),
            ACTORS,
        );
        let informants = cx.refer_all(
            &v.informant_ids,
            &format!("{ptr}/informant_ids"),
            PERSONS_OR_ACTORS,
        );
        let nationalities = cx.countries(&v.nationalities, &format!("{ptr}/nationalities"));
        let currency = v.funds_taken_currency.as_ref().map(|c| {
            cx.code(
                c,
                &format!("{ptr}/funds_taken_currency"),
                3,
                "ISO 4217",
                "SYP, USD",
            )
        });
        if v.funds_taken_amount.is_some() != v.funds_taken_currency.is_some() {
            cx.err(
                "bad-funds",
                &v.id,
                &ptr,
                "funds_taken_amount and funds_taken_currency go together".into(),
                Some("give both, or neither".into()),
            );
        }
        cx.counts(
            "size",
            &v.size_low,
            &v.size_best,
            &v.size_high,
            &format!("{ptr}/size_low"),
        );
        let (mut low, mut best, mut high) = (
            v.size_low.as_ref().map(|x| x.value),
            v.size_best.as_ref().map(|x| x.value),
            v.size_high.as_ref().map(|x| x.value),
        );
        if subject == Some(Subject::Individual) {
            if [low, best, high].iter().any(|x| x.is_some_and(|n| n != 1)) {
                cx.err(
                    "bad-count",
                    &v.subject,
                    &format!("{ptr}/subject"),
                    "an individual has size 1/1/1".into(),
                    Some("use subject: group for more than one person".into()),
                );
            }
            (low, best, high) = (Some(1), Some(1), Some(1));
        }
        if !text.contains(&v.subject_ar.value) {
            cx.err(
                "not-verbatim",
                &v.subject_ar,
                &format!("{ptr}/subject_ar"),
                format!("subject_ar «{}» is not in the source", v.subject_ar.value),
                Some("subject_ar is the source's own words, verbatim".into()),
            );
        }
        if v.evidence.is_empty() {
            cx.err(
                "no-evidence",
                &v.id,
                &format!("{ptr}/evidence"),
                format!("{} has no evidence", v.id.value),
                Some("add the quote that reports the case".into()),
            );
        }
        locate(
            &mut cx,
            &text,
            &source_id,
            &v.id.value,
            Some(Table::Defections),
            &v.evidence,
            &format!("{ptr}/evidence"),
        );
        if let (
            Some(subject),
            Some(place_precision),
            Some(origin),
            Some(motive_basis),
            Some(stage),
            Some(outcome),
            Some(authenticity),
            Some(claim_status),
        ) = (
            subject,
            place_precision,
            origin,
            motive_basis,
            stage,
            outcome,
            authenticity,
            claim_status,
        ) {
            cx.unit.tables.defections.push(DefectionRecord {
                defection_id: v.id.value.clone(),
                summary_en: v.summary_en.clone(),
                subject,
                person_ids,
                subject_ar: v.subject_ar.value.clone(),
                size_low: low,
                size_best: best,
                size_high: high,
                date_start: date.start,
                date_end: date.end,
                date_precision: date.precision,
                place_id,
                place_precision,
                destination_place_ids: destinations,
                nationalities,
                origin,
                roles,
                motives,
                motive_basis,
                stage,
                outcome,
                outcome_actor_id: outcome_actor,
                authenticity,
                funds_taken_amount: v.funds_taken_amount.as_ref().map(|x| x.value),
                funds_taken_currency: currency,
                informant_ids: informants,
                source_ids: Vec::new(),
                claim_status,
                notes_en: v.notes_en.clone(),
                record_sha256: String::new(),
            });
        }
    }

    for (i, e) in sf.events.iter().enumerate() {
        let ptr = format!("/events/{i}");
        let v = &e.value;
        cx.define(&v.id, Table::Events, &format!("{ptr}/id"));
        let event_type = cx.vocab::<EventType>(&v.event_type, &format!("{ptr}/event_type"));
        let place_precision =
            cx.vocab::<PlacePrecision>(&v.place_precision, &format!("{ptr}/place_precision"));
        let date = cx.date(&v.date, &format!("{ptr}/date"));
        let place_id = cx.refer_opt(&v.place_id, &format!("{ptr}/place_id"), PLACES);
        let perp = cx.refer_opt(
            &v.perpetrator_actor_id,
            &format!("{ptr}/perpetrator_actor_id"),
            ACTORS,
        );
        cx.counts(
            "deaths",
            &v.deaths_low,
            &v.deaths_best,
            &v.deaths_high,
            &format!("{ptr}/deaths_low"),
        );
        if v.evidence.is_empty() {
            cx.err(
                "no-evidence",
                &v.id,
                &format!("{ptr}/evidence"),
                format!("{} has no evidence", v.id.value),
                Some("add the quote that reports the event".into()),
            );
        }
        locate(
            &mut cx,
            &text,
            &source_id,
            &v.id.value,
            Some(Table::Events),
            &v.evidence,
            &format!("{ptr}/evidence"),
        );
        if let (Some(event_type), Some(place_precision)) = (event_type, place_precision) {
            cx.unit.tables.events.push(EventRecord {
                event_id: v.id.value.clone(),
                event_type,
                summary_en: v.summary_en.clone(),
                date_start: date.start,
                date_end: date.end,
                date_precision: date.precision,
                place_id,
                place_precision,
                perpetrator_actor_id: perp,
                deaths_low: v.deaths_low.as_ref().map(|x| x.value),
                deaths_best: v.deaths_best.as_ref().map(|x| x.value),
                deaths_high: v.deaths_high.as_ref().map(|x| x.value),
                source_ids: Vec::new(),
                record_sha256: String::new(),
            });
        }
    }

    for (i, st) in sf.statements.iter().enumerate() {
        let ptr = format!("/statements/{i}");
        let v = &st.value;
        cx.define(&v.id, Table::Statements, &format!("{ptr}/id"));
        let topic = cx.vocab::<Topic>(&v.topic, &format!("{ptr}/topic"));
        let speaker = cx.refer_opt(
            &v.speaker_person_id,
            &format!("{ptr}/speaker_person_id"),
            PERSONS,
        );
        let defection = cx.refer_opt(&v.defection_id, &format!("{ptr}/defection_id"), DEFECTIONS);
        if !text.contains(&v.speaker_ar.value) {
            cx.err(
                "not-verbatim",
                &v.speaker_ar,
                &format!("{ptr}/speaker_ar"),
                format!("speaker_ar «{}» is not in the source", v.speaker_ar.value),
                Some("speaker_ar is how the source names the speaker, verbatim".into()),
            );
        }
        let span = find_quote(
            &mut cx,
            &text,
            &v.quote_ar,
            v.occurrence.as_ref(),
            None,
            &format!("{ptr}/quote_ar"),
        );
        locate(
            &mut cx,
            &text,
            &source_id,
            &v.id.value,
            Some(Table::Statements),
            &v.evidence,
            &format!("{ptr}/evidence"),
        );
        if let Some(span) = span {
            let exact = span.exact.clone();
            cx.unit.drafts.push(Draft {
                record_id: v.id.value.clone(),
                fields: vec!["quote_ar".into()],
                source_id: source_id.clone(),
                span,
                text_sha256: text.text_sha256.clone(),
            });
            if let Some(topic) = topic {
                cx.unit.tables.statements.push(StatementRecord {
                    statement_id: v.id.value.clone(),
                    speaker_person_id: speaker,
                    speaker_ar: v.speaker_ar.value.clone(),
                    quote_ar: exact,
                    translation_en: v.translation_en.clone(),
                    topic,
                    defection_id: defection,
                    source_id: source_id.clone(),
                    record_sha256: String::new(),
                });
            }
        }
    }

    for (i, m) in sf.mentions.iter().enumerate() {
        let ptr = format!("/mentions/{i}");
        let v = &m.value;
        let id = cx.refer(&v.record_id, &format!("{ptr}/record_id"), ANY_RECORD);
        if v.evidence.is_empty() {
            cx.err(
                "no-evidence",
                &v.record_id,
                &format!("{ptr}/evidence"),
                format!("the mention of {id} gives no quote"),
                Some("add the span of this source that names it".into()),
            );
        }
        locate(
            &mut cx,
            &text,
            &source_id,
            &id,
            Table::from_id(&id),
            &v.evidence,
            &format!("{ptr}/evidence"),
        );
    }
    unit.text = Some(text.text);
    Ok(unit)
}

/// Sends the canonical text of a coded source to be written into `dir` as `<source_id>.txt`
/// (only for a source without problems, whose id is a checked slug).
fn archive(dir: &Path, unit: &mut Unit, to: &std::sync::mpsc::SyncSender<(PathBuf, String)>) {
    let text = unit.text.take();
    let (Some((id, _)), Some(text), true) = (&unit.seed, text, unit.diags.is_empty()) else {
        return;
    };
    unit.archived = Some(text.len() as u64);
    // A closed channel means the writer failed; its error is reported when it is joined.
    let _ = to.send((dir.join(format!("{id}.txt")), text));
}

/// [`source_unit`] through the cache: keyed by the coding file's path and bytes and its seed's
/// sha256; only results without diagnostics are stored.
fn cached_source_unit(
    root: &Path,
    path: &Path,
    cache: Option<&crate::cache::Cache>,
) -> Result<Unit, BuildError> {
    let Some(cache) = cache else {
        return source_unit(root, path, None);
    };
    let (unit, stamp) = stamped_source_unit(root, path, cache)?;
    if let Some(stamp) = stamp {
        cache.note(stamp);
    }
    Ok(unit)
}

/// A source's unit through the cache, and what it was made from (when it has no problems).
fn stamped_source_unit(
    root: &Path,
    path: &Path,
    cache: &crate::cache::Cache,
) -> Result<(Unit, Option<crate::stamp::SourceStamp>), BuildError> {
    let (coding, coding_meta) =
        crate::stamp::read_with_meta(path).map_err(|source| BuildError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    // Only a regular file is read (a FIFO would block the read); anything else is reported as a
    // missing seed when the file is coded.
    let seed_path = seed_of(root, path);
    let (seed, seed_meta) = match seed_path
        .is_file()
        .then(|| crate::stamp::read_with_meta(&seed_path).ok())
        .flatten()
    {
        Some((bytes, meta)) => (Some(bytes), Some(meta)),
        None => (None, None),
    };
    // The seed is hashed once: for the key, to tell whether it is its own canonical text, and
    // (on a miss) for its record.
    let seed_sha = sha256_hex(seed.as_deref().unwrap_or_default());
    let coding_rel = rel(root, path);
    let key = crate::cache::Cache::key(&[coding_rel.as_bytes(), &coding, seed_sha.as_bytes()]);
    let stamp = |digest: [u8; 32]| {
        seed_meta.map(|seed_meta| crate::stamp::SourceStamp {
            coding: coding_rel.clone(),
            coding_meta: Some(coding_meta),
            seed_meta: Some(seed_meta),
            key: key.bytes(),
            digest,
        })
    };
    if let Some((mut unit, digest)) = cache.get_digest::<Unit>(&key) {
        // The canonical text is not cached: it is the seed itself, or the seed normalised.
        let expected = unit.text_sha256.as_deref();
        let seed = seed.as_deref().unwrap_or_default();
        unit.text = if expected == Some(seed_sha.as_str()) {
            simdutf8::basic::from_utf8(seed).ok().map(str::to_owned)
        } else {
            SourceText::from_bytes_hashed(seed, Some(seed_sha.clone()))
                .ok()
                .map(|t| t.text)
        };
        return Ok((unit, stamp(digest)));
    }
    let pre = Preread {
        coding,
        seed: seed.map(|s| (s, seed_sha)),
    };
    let unit = source_unit(root, path, Some(pre))?;
    let mut stamped = None;
    if unit.diags.is_empty() {
        if let Ok((body, digest)) = crate::cache::Cache::body(&unit) {
            cache.put_body(&key, &body, &digest);
            stamped = stamp(digest);
        }
    }
    Ok((unit, stamped))
}

/// The sha256 of what a gazetteer file or the retractions file (project-relative) codes to
/// now (for [`crate::stamp`]); `None` for any other file, or one with problems.
pub(crate) fn input_result(root: &Path, rel: &str) -> Option<[u8; 32]> {
    let unit = if rel == "data/codings/retractions.yaml" {
        retraction_unit(root).ok()?
    } else if rel.starts_with("data/codings/gazetteer/") {
        gazetteer_unit(root, &root.join(rel)).ok()?
    } else {
        return None;
    };
    if !unit.diags.is_empty() {
        return None;
    }
    crate::cache::Cache::body(&unit)
        .ok()
        .map(|(_, digest)| digest)
}

/// What a source's coding file and seed give now, coded again or found in `cache` (for
/// [`crate::stamp::fresh`]); `None` when it has problems or cannot be read.
pub(crate) fn restamp_source(
    root: &Path,
    path: &Path,
    cache: &crate::cache::Cache,
) -> Option<crate::stamp::SourceStamp> {
    stamped_source_unit(root, path, cache).ok()?.1
}

/// The seed a source's coding file is named after: `seeds/<stem>.txt`.
pub(crate) fn seed_of(root: &Path, coding: &Path) -> PathBuf {
    let stem = coding.file_stem().and_then(|x| x.to_str()).unwrap_or("");
    root.join("seeds").join(format!("{stem}.txt"))
}

fn retraction_unit(root: &Path) -> Result<Unit, BuildError> {
    let mut unit = code_retractions(root)?;
    seal(&mut unit);
    Ok(unit)
}

fn code_retractions(root: &Path) -> Result<Unit, BuildError> {
    let mut unit = Unit::default();
    let path = root.join("data/codings/retractions.yaml");
    if !path.is_file() {
        return Ok(unit);
    }
    let file = rel(root, &path);
    let raw = read(&path)?;
    let r: RetractionsFile = match codings::parse(&file, &String::from_utf8_lossy(&raw)) {
        Ok(r) => r,
        Err(d) => {
            unit.diags.push(d);
            return Ok(unit);
        }
    };
    let mut cx = Ctx {
        file,
        unit: &mut unit,
    };
    for (i, r) in r.retractions.iter().enumerate() {
        let ptr = format!("/retractions/{i}");
        let v = &r.value;
        let table = Table::from_id(&v.id.value);
        if table.is_none() {
            cx.err(
                "bad-id",
                &v.id,
                &format!("{ptr}/id"),
                format!("`{}` is not a record id", v.id.value),
                Some(
                    "retract a coder-assigned id (src-, def-, per-, plc-, act-, evt-, stm-)".into(),
                ),
            );
        }
        if v.reason.value.trim().is_empty() {
            cx.err(
                "no-reason",
                &v.reason,
                &format!("{ptr}/reason"),
                format!("the retraction of {} gives no reason", v.id.value),
                Some("say why the record is withdrawn".into()),
            );
        }
        let replaced_by = cx.refer_opt(&v.replaced_by, &format!("{ptr}/replaced_by"), ANY_RECORD);
        if let Some(table) = table {
            cx.unit.tables.retractions.push(RetractionRecord {
                record_id: v.id.value.clone(),
                record_table: table.name().into(),
                reason: v.reason.value.clone(),
                replaced_by,
                record_sha256: String::new(),
            });
        }
    }
    Ok(unit)
}

/// Source files coded in parallel at a time; their rows are sorted and spilled as one run per
/// table. Bounds the memory of the build, whatever the number of files.
const CHUNK: usize = 512;
/// How many chunks, from the one being coded, have their files read ahead.
const READ_AHEAD_CHUNKS: usize = 3;

/// A row as spilled: its key and its bytes.
type Spilled = (String, Vec<u8>);

/// Sets `record_sha256` of one row, checks it against the schema and returns its JSONL line.
///
/// The row is written once; the line is read back in place ([`crate::jsonline`]) for the hash
/// and the schema check (cheaper than building a `serde_json::Value` of the row), and the hash
/// is then written into the line where the empty `record_sha256` was.
pub(crate) fn finish_one<R: Record>(
    r: &mut R,
    validator: &jsonschema::Validator<crate::jsonline::Lines>,
) -> (String, Vec<Diagnostic>) {
    r.set_record_sha256(String::new());
    // A `String`, not bytes: serde_json writes UTF-8, so nothing checks it again.
    let mut line = serde_json::to_string(&*r).unwrap_or_default();
    let (hash, diags) = {
        let tree = crate::jsonline::parse(&line);
        let Ok(mut tree) = tree else {
            // serde_json reads back what it wrote; this is not reached.
            return (line, Vec::new());
        };
        let hash = crate::jsonline::record_hash(&tree);
        tree.set(
            "record_sha256",
            crate::jsonline::Val::String(hash.clone().into()),
        );
        // The cheap check first: the detailed errors are collected only for an invalid row.
        let diags = if validator.is_valid(&tree) {
            Vec::new()
        } else {
            validator
                .iter_errors(&tree)
                .map(|e| {
                    Diagnostic::new(
                        "schema",
                        format!("records/{}.jsonl", R::TABLE),
                        format!("{} {}: {}", R::TABLE, r.id(), e),
                    )
                    .pointer(e.instance_path().to_string())
                })
                .collect()
        };
        (hash, diags)
    };
    r.set_record_sha256(hash);
    // `record_sha256` is the last field of every record type.
    const EMPTY: &str = r#""record_sha256":""}"#;
    if line.ends_with(EMPTY) {
        line.truncate(line.len() - 2);
        line.push_str(r.record_sha256());
        line.push_str("\"}");
    } else {
        line = serde_json::to_string(&*r).unwrap_or_default();
    }
    (line, diags)
}

/// Everything the build keeps across files: a compact index for the checks that need every
/// file (unique ids, references, retractions, quoted gazetteer records), evidence numbering and
/// derived source lists, and the spilled rows.
struct Fold {
    diags: Vec<Diagnostic>,
    /// Per id: first definition, evidence, sources.
    index: HashMap<Key, Entry>,
    /// Every definition, in file order, as JSON lines (read back only to explain problems).
    def_log: std::io::BufWriter<std::fs::File>,
    def_log_path: PathBuf,
    /// Ids defined more than once (the later definitions).
    dups: Vec<Def>,
    /// References whose id was not defined yet when they were read.
    pending: Vec<Ref>,
    source_index: HashMap<String, u32>,
    source_names: Vec<String>,
    retracted: Vec<String>,
    /// Files that could not be read as a whole (see [`Unit`]), in file order.
    incomplete: Vec<String>,
    archived: Vec<(String, String, u64)>,
    runs: Vec<Runs>,
}

impl Fold {
    fn new(dir: &Path) -> std::io::Result<Fold> {
        let def_log_path = dir.join("defs.jsonl");
        let runs = Table::ALL
            .iter()
            .map(|t| Runs::create(&dir.join(format!("{}.runs", t.name()))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Fold {
            diags: Vec::new(),
            index: HashMap::new(),
            def_log: std::io::BufWriter::new(std::fs::File::create(&def_log_path)?),
            def_log_path,
            dups: Vec::new(),
            pending: Vec::new(),
            source_index: HashMap::new(),
            source_names: Vec::new(),
            retracted: Vec::new(),
            incomplete: Vec::new(),
            archived: Vec::new(),
            runs,
        })
    }

    fn define(&mut self, d: Def) {
        let e = self.index.entry(key(&d.id)).or_default();
        if e.table.is_some() {
            self.dups.push(d);
        } else {
            e.table = Some(d.table);
        }
    }

    /// Checks a reference against the ids defined so far; keeps it for later if its id is not.
    fn refer(&mut self, r: Ref) {
        match self.index.get(&key(&r.id)).and_then(|e| e.table) {
            Some(t) if r.allowed.tables().contains(&t) => {}
            Some(t) => self.diags.push(wrong_reference(&r, t)),
            None => self.pending.push(r),
        }
    }

    fn source(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.source_index.get(id) {
            return i;
        }
        let i = self.source_names.len() as u32;
        self.source_names.push(id.to_string());
        self.source_index.insert(id.to_string(), i);
        i
    }

    /// Folds the units of one chunk of files, in file order, and spills their rows.
    fn add(&mut self, units: Vec<Unit>) -> Result<(), BuildError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| BuildError::Io { path: p, source }
        };
        let mut rows: Vec<Vec<Spilled>> = vec![Vec::new(); Table::ALL.len()];
        // Evidence numbered otherwise than sealed (an earlier file quotes its record): the
        // sealed line and its number, finished again after the loop.
        let mut renumbered: Vec<(String, u32)> = Vec::new();
        for u in units {
            self.incomplete.extend(u.incomplete);
            self.diags.extend(u.diags);
            for d in u.defs {
                self.define(d);
            }
            self.def_log
                .write_all(u.sealed.def_log.as_bytes())
                .map_err(io(&self.def_log_path))?;
            for r in u.refs {
                self.refer(r);
            }
            for a in &u.attempted {
                self.index.entry(key(a)).or_default().offered = true;
            }
            if let (Some((id, _)), Some(bytes)) = (u.seed, u.archived) {
                self.archived
                    .push((id, u.text_sha256.unwrap_or_default(), bytes));
            }
            // Evidence: numbered per record in file order; derives source_ids.
            for e in u.sealed.evidence {
                let table = Table::from_id(&e.record_id);
                // Only cases and events derive their sources.
                let src = matches!(table, Some(Table::Defections | Table::Events))
                    .then(|| self.source(&e.source_id));
                let entry = self.index.entry(key(&e.record_id)).or_default();
                entry.spans += 1;
                let n = entry.spans;
                if let Some(src) = src.filter(|s| !entry.sources.contains(s)) {
                    entry.sources.push(src);
                }
                if table.is_none() {
                    continue;
                }
                if n == e.n {
                    let id = format!("{}/{}", e.record_id, n);
                    rows[table_index(Table::Evidence)].push((id, e.line.into_bytes()));
                } else {
                    renumbered.push((e.line, n));
                }
            }
            self.retracted.extend(u.retracted);
            for (table, sealed) in rows.iter_mut().zip(u.sealed.rows) {
                table.extend(sealed.into_iter().map(|(id, line)| (id, line.into_bytes())));
            }
        }
        if !self.diags.is_empty() {
            // The build fails: rows are no longer spilled, problems are still collected.
            return Ok(());
        }
        let (again, diags): (Vec<Spilled>, Vec<Vec<Diagnostic>>) = renumbered
            .into_par_iter()
            .map(|(line, n)| renumber(&line, n))
            .unzip();
        rows[table_index(Table::Evidence)].extend(again);
        self.diags.extend(diags.into_iter().flatten());
        let spill = |source| BuildError::Io {
            path: PathBuf::from("(spill folder)"),
            source,
        };
        for (runs, rows) in self.runs.iter_mut().zip(rows) {
            runs.push_run(rows).map_err(spill)?;
        }
        Ok(())
    }
}

/// A sealed evidence line numbered `n` instead: its id and line, finished again.
fn renumber(line: &str, n: u32) -> (Spilled, Vec<Diagnostic>) {
    let Ok(mut r) = serde_json::from_str::<EvidenceRecord>(line) else {
        // A line sealed by this compiler reads back; this is not reached.
        return ((String::new(), line.as_bytes().to_vec()), Vec::new());
    };
    r.evidence_id = format!("{}/{}", r.record_id, n);
    let (line, diags) = finish_one(&mut r, crate::schema::line_validator(Table::Evidence));
    ((r.evidence_id, line.into_bytes()), diags)
}

fn wrong_reference(r: &Ref, table: Table) -> Diagnostic {
    Diagnostic::new(
        "wrong-reference",
        r.file.clone(),
        format!(
            "`{}` is a {} record, but a {} id is expected here",
            r.id,
            table,
            names(r.allowed.tables())
        ),
    )
    .at(r.line, r.col)
    .pointer(r.pointer.clone())
}

impl Fold {
    /// The checks that need every file, once all are folded; reads the definition log back
    /// only to explain problems.
    fn check_all(&mut self) -> std::io::Result<()> {
        self.def_log.flush()?;
        let pending = std::mem::take(&mut self.pending);
        let mut dangling = Vec::new();
        for r in pending {
            match self.index.get(&key(&r.id)).and_then(|e| e.table) {
                Some(t) if r.allowed.tables().contains(&t) => {}
                Some(t) => self.diags.push(wrong_reference(&r, t)),
                None => dangling.push(r),
            }
        }
        // Gazetteer records are claims too: each needs a span that names it.
        // A file that could not be read may define what the others refer to: the references are
        // counted, not reported one by one (each would be a false alarm once it is fixed).
        if !self.incomplete.is_empty() && !dangling.is_empty() {
            let first = &dangling[0];
            self.diags.push(
                Diagnostic::new(
                    "references-unchecked",
                    first.file.clone(),
                    format!(
                        "{} reference(s) to ids not defined were not checked (the first: `{}`), because {} could not be read and may define them",
                        dangling.len(),
                        first.id,
                        self.incomplete.join(", ")
                    ),
                )
                .at(first.line, first.col)
                .hint("fix the problems above and compile again: the references are then checked"),
            );
            dangling.clear();
        }
        let unquoted: HashSet<Key> = if !self.incomplete.is_empty() {
            HashSet::new()
        } else {
            self.index
                .iter()
                .filter(|(_, e)| {
                    matches!(
                        e.table,
                        Some(Table::Persons | Table::Places | Table::Actors)
                    ) && !e.offered
                        && e.spans == 0
                })
                .map(|(k, _)| *k)
                .collect()
        };
        let retracted: HashSet<Key> = self
            .retracted
            .iter()
            .map(|id| key(id))
            .filter(|k| self.index.get(k).is_some_and(|e| e.table.is_some()))
            .collect();
        let dup_keys: HashSet<Key> = self.dups.iter().map(|d| key(&d.id)).collect();
        if dangling.is_empty() && unquoted.is_empty() && retracted.is_empty() && dup_keys.is_empty()
        {
            return Ok(());
        }
        // Something to explain: read the definitions back (in file order).
        let log = std::io::BufReader::new(std::fs::File::open(&self.def_log_path)?);
        let mut first: HashMap<Key, Def> = HashMap::new();
        let mut all: Vec<(String, Table)> = Vec::new();
        for line in std::io::BufRead::lines(log) {
            let d: Def = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
            let k = key(&d.id);
            if !dangling.is_empty() {
                all.push((d.id.clone(), d.table));
            }
            if matches!(d.table, Table::Persons | Table::Places | Table::Actors)
                && unquoted.contains(&k)
            {
                self.diags.push(
                    Diagnostic::new("no-evidence", d.file.clone(), format!("`{}` is never quoted from any source", d.id))
                        .at(d.line, d.col)
                        .hint("add a `mentions` entry with the span that names it to a source that uses it, or remove it"),
                );
            }
            if (dup_keys.contains(&k) || retracted.contains(&k)) && !first.contains_key(&k) {
                first.insert(k, d);
            }
        }
        for d in std::mem::take(&mut self.dups) {
            let Some(f) = first.get(&key(&d.id)) else {
                continue;
            };
            self.diags.push(
                Diagnostic::new(
                    "duplicate-id",
                    d.file.clone(),
                    format!("`{}` is defined twice", d.id),
                )
                .at(d.line, d.col)
                .hint(format!(
                    "first defined at {}:{}; ids are never reused for a different thing",
                    f.file, f.line
                )),
            );
        }
        for id in &self.retracted {
            if let Some(d) = first.get(&key(id)).filter(|_| retracted.contains(&key(id))) {
                self.diags.push(
                    Diagnostic::new(
                        "retracted-but-defined",
                        d.file.clone(),
                        format!("`{id}` is retracted but still defined"),
                    )
                    .at(d.line, d.col)
                    .hint("remove the record, or remove its retraction"),
                );
            }
        }
        for r in dangling {
            let candidates = all
                .iter()
                .filter(|(_, t)| r.allowed.tables().contains(t))
                .map(|(id, _)| id.as_str());
            let hint = match did_you_mean(&r.id, candidates) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("define it in data/codings/ ({})", names(r.allowed.tables())),
            };
            self.diags.push(
                Diagnostic::new(
                    "dangling-reference",
                    r.file.clone(),
                    format!("`{}` does not exist", r.id),
                )
                .at(r.line, r.col)
                .pointer(r.pointer.clone())
                .hint(hint),
            );
        }
        Ok(())
    }
}

/// Builds the release of the project at `root`: reads every input, checks everything, and
/// returns the records (spilled under `spill_in`) or every problem found.
pub fn build(root: &Path, spill_in: &Path) -> Result<Built, BuildError> {
    build_cached(root, &crate::progress::Silent, None, spill_in)
}

/// [`build`] with progress and, optionally, a cache of per-source results.
///
/// Coding files are read in chunks (512 at a time), each chunk in parallel; each chunk's results
/// are folded in file-name order into a compact index (so the output never depends on thread
/// timing) and its rows are spilled to a temporary folder made in `spill_in` as one key-sorted
/// run per table. Memory is bounded by the chunk and the index, not by the corpus.
pub fn build_cached(
    root: &Path,
    progress: &dyn crate::progress::Progress,
    cache: Option<&crate::cache::Cache>,
    spill_in: &Path,
) -> Result<Built, BuildError> {
    let mut diags = Vec::new();
    let version = match read_version(root) {
        Ok(v) => v,
        Err(BuildError::Invalid(d)) => {
            diags.extend(d);
            String::new()
        }
        Err(e) => return Err(e),
    };
    let dataset_path = root.join("data/dataset.yaml");
    let dataset = if dataset_path.is_file() {
        let text = String::from_utf8_lossy(&read(&dataset_path)?).into_owned();
        match codings::parse::<crate::metadata::DatasetMeta>("data/dataset.yaml", &text) {
            Ok(m) => m,
            Err(d) => {
                diags.push(d);
                crate::metadata::DatasetMeta::default()
            }
        }
    } else {
        crate::metadata::DatasetMeta::default()
    };
    let codings = root.join("data/codings");
    let gazetteer = list(&codings.join("gazetteer"), "yaml")?;
    let source_files = list(&codings.join("sources"), "yaml")?;
    let seeds = list(&root.join("seeds"), "txt")?;

    std::fs::create_dir_all(spill_in).map_err(|source| BuildError::Io {
        path: spill_in.to_path_buf(),
        source,
    })?;
    let spill = tempfile::Builder::new()
        .prefix(".spill-")
        .tempdir_in(spill_in)
        .map_err(|source| BuildError::Io {
            path: spill_in.to_path_buf(),
            source,
        })?;
    let mut fold = Fold::new(spill.path()).map_err(|source| BuildError::Io {
        path: spill.path().to_path_buf(),
        source,
    })?;
    let texts = spill.path().join("sources");
    std::fs::create_dir_all(&texts).map_err(|source| BuildError::Io {
        path: texts.clone(),
        source,
    })?;
    fold.diags = diags;

    progress.start("coding", (gazetteer.len() + source_files.len()) as u64);
    let files: Vec<(bool, &PathBuf)> = gazetteer
        .iter()
        .map(|p| (true, p))
        .chain(source_files.iter().map(|p| (false, p)))
        .collect();
    // The files each unit reads (its coding and, for a source, its seed), in the order the
    // units are coded, read ahead a few chunks in front of the coding (see `crate::readahead`).
    let mut ahead_paths = Vec::with_capacity(2 * files.len());
    for (j, (gaz, p)) in files.iter().enumerate() {
        ahead_paths.push((j, p.to_path_buf()));
        if !*gaz {
            ahead_paths.push((j, seed_of(root, p)));
        }
    }
    // Archived texts are written by one thread of their own, in file order: threads that
    // create files in one folder at once contend for it.
    let (send, receive) = std::sync::mpsc::sync_channel::<(PathBuf, String)>(256);
    crate::readahead::with(ahead_paths, |ahead| {
        std::thread::scope(|scope| -> Result<(), BuildError> {
            let writer = scope.spawn(move || -> Result<(), BuildError> {
                for (path, text) in receive {
                    std::fs::write(&path, text.as_bytes())
                        .map_err(|source| BuildError::Io { path, source })?;
                }
                Ok(())
            });
            let code = |chunk: &[(bool, &PathBuf)]| {
                chunk
                    .par_iter()
                    .map(|(gaz, p)| {
                        if *gaz {
                            gazetteer_unit(root, p)
                        } else {
                            let mut unit = cached_source_unit(root, p, cache)?;
                            archive(&texts, &mut unit, &send);
                            Ok(unit)
                        }
                    })
                    .inspect(|_| progress.inc(1))
                    .collect::<Result<Vec<_>, _>>()
            };
            // Pipelined: chunk k is folded (in file order, on this thread) while chunk k + 1 is
            // coded, so the fold's sequential part does not leave a core idle.
            let coded = (|| -> Result<(), BuildError> {
                let mut pending: Option<Vec<Unit>> = None;
                for (k, chunk) in files.chunks(CHUNK).enumerate() {
                    ahead.allow((k + READ_AHEAD_CHUNKS) * CHUNK);
                    let (folded, units) = rayon::join(
                        || pending.take().map_or(Ok(()), |units| fold.add(units)),
                        || code(chunk),
                    );
                    folded?;
                    pending = Some(units?);
                }
                pending.map_or(Ok(()), |units| fold.add(units))
            })();
            drop(send);
            let written = writer.join().unwrap_or_else(|_| {
                Err(BuildError::Io {
                    path: texts.clone(),
                    source: std::io::Error::other("the thread archiving texts failed"),
                })
            });
            coded.and(written)
        })
    })?;
    fold.add(vec![retraction_unit(root)?])?;
    progress.finish();

    // Every seed is coded.
    let coded: BTreeSet<String> = source_files
        .iter()
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
        .collect();
    for s in &seeds {
        let stem = s.file_stem().and_then(|x| x.to_str()).unwrap_or("");
        if !coded.contains(stem) {
            fold.diags.push(
                Diagnostic::new(
                    "uncoded-seed",
                    rel(root, s),
                    "this source has no coding file",
                )
                .hint(format!(
                    "add data/codings/sources/{stem}.yaml (see docs/CODING.md)"
                )),
            );
        }
    }
    fold.check_all().map_err(|source| BuildError::Io {
        path: spill.path().to_path_buf(),
        source,
    })?;
    if !fold.diags.is_empty() {
        crate::diagnostics::sort(&mut fold.diags);
        return Err(BuildError::Invalid(fold.diags));
    }
    for r in &mut fold.runs {
        r.finish().map_err(|source| BuildError::Io {
            path: spill.path().to_path_buf(),
            source,
        })?;
    }
    fold.archived.sort();
    // What writing needs of the index: the sources of each defection and event.
    let mut derived = Vec::new();
    let mut sources = Vec::new();
    for (k, e) in std::mem::take(&mut fold.index) {
        if !e.sources.is_empty() {
            derived.push((k, sources.len() as u32, e.sources.len() as u32));
            sources.extend(e.sources);
        }
    }
    derived.sort_unstable_by_key(|d| d.0);
    Ok(Built {
        version,
        archive: (texts, fold.archived),
        dataset,
        runs: fold.runs,
        derived,
        sources,
        source_names: fold.source_names,
        _spill: spill,
    })
}

fn names(tables: &[Table]) -> String {
    tables
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Counts of rows per table, for reports.
pub fn counts(t: &Tables) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("sources", t.sources.len()),
        ("defections", t.defections.len()),
        ("persons", t.persons.len()),
        ("places", t.places.len()),
        ("actors", t.actors.len()),
        ("events", t.events.len()),
        ("statements", t.statements.len()),
        ("evidence", t.evidence.len()),
        ("retractions", t.retractions.len()),
    ])
}
