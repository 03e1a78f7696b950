//! Validating a release: a release folder in (untrusted), a list of findings out.
//!
//! In: `data/releases/<version>/` as written by [`crate::write`], or anything claiming to be
//! one. Out: a [`Report`] with every [`Finding`] (rule code, file, table, record id, JSON
//! pointer, message). Checks: manifest and `SHA256SUMS` against the files, no unlisted files,
//! no escaping paths or symlinks, the schema copies equal the built-in schemas, every JSONL
//! record against its JSON Schema, Parquet columns and types, Parquet and JSONL holding the
//! same records, sort order and unique keys, references, derived fields, every evidence span
//! against the archived text, and every `record_sha256`. Never panics on bad input; reads
//! are bounded.
//!
//! Streams: tables are read once, in batches, in an order where every table follows the tables
//! it refers to; only a compact index (key digests, per-source facts, span offsets) outlives a
//! batch, so memory does not grow with the records' size (see ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;

use crate::jsonline::Val;
use crate::model::*;
use crate::schema;
use crate::sources::{is_canonical, SourceText, CONTEXT};
use crate::tables::{sha256_hex, Record, Table};
use crate::write::{hash_opened, Manifest};
use sha2::{Digest, Sha256};

/// Largest `manifest.json` read.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// Longest JSONL line read.
pub const MAX_LINE_BYTES: usize = 4 << 20;
/// Largest archived source text read.
pub const MAX_TEXT_BYTES: u64 = 256 << 20;
/// Largest ratio of claimed uncompressed Parquet bytes to file size accepted before decoding.
pub const MAX_PARQUET_EXPANSION: u64 = 256;
/// Most findings reported per rule (the rest are counted).
pub const MAX_FINDINGS_PER_RULE: usize = 200;

/// One thing wrong with a release.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Stable rule code, e.g. `hash-mismatch`.
    pub rule: &'static str,
    /// Release-relative file.
    pub file: Option<String>,
    /// Table.
    pub table: Option<String>,
    /// Record id.
    pub record_id: Option<String>,
    /// JSON pointer inside the record.
    pub pointer: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Finding {
    fn new(rule: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            file: None,
            table: None,
            record_id: None,
            pointer: None,
            message: message.into(),
        }
    }
    fn file(mut self, f: impl Into<String>) -> Self {
        self.file = Some(f.into());
        self
    }
    fn table(mut self, t: Table) -> Self {
        self.table = Some(t.name().into());
        self
    }
    fn record(mut self, id: impl Into<String>) -> Self {
        self.record_id = Some(id.into());
        self
    }
    fn pointer(mut self, p: impl Into<String>) -> Self {
        self.pointer = Some(p.into());
        self
    }

    /// One-line text rendering.
    pub fn render(&self) -> String {
        let mut where_ = Vec::new();
        if let Some(f) = &self.file {
            where_.push(f.clone());
        }
        if let Some(t) = &self.table {
            where_.push(format!("table {t}"));
        }
        if let Some(r) = &self.record_id {
            where_.push(format!("record {r}"));
        }
        if let Some(p) = &self.pointer {
            if !p.is_empty() {
                where_.push(format!("at {p}"));
            }
        }
        format!("[{}] {}: {}", self.rule, where_.join(", "), self.message)
    }
}

/// The result of validating a release.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The release version, if the manifest could be read.
    pub release_version: Option<String>,
    /// Rows per table that were read.
    pub rows: BTreeMap<String, u64>,
    /// Everything wrong, sorted.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether the release is valid.
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Why validation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The release folder cannot be read.
    #[error("cannot read release folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

struct Ctx {
    dir: PathBuf,
    findings: Vec<Finding>,
    listed: HashSet<String>,
    /// The regular files found in the release folder (not through a symbolic link): the only
    /// files ever opened (see [`open_in`]).
    present: HashSet<String>,
    /// Size and sha256 listed in the manifest of each table's JSONL file and each archived
    /// text, checked from the bytes read to check their records or spans (so each is read
    /// once), or at the end for those that were not read whole.
    deferred: HashMap<String, (u64, String)>,
}

impl Ctx {
    fn add(&mut self, f: Finding) {
        self.findings.push(f);
    }
}

/// Whether a manifest path is a plain relative path that stays inside the release.
pub fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.contains('\\')
        && !p.contains('\0')
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Whether a release path is an archived text.
fn is_text(path: &str) -> bool {
    path.starts_with("sources/") && path.ends_with(".txt")
}

/// Whether a release path is the JSONL file of a table.
fn is_table_jsonl(path: &str) -> bool {
    path.strip_prefix("records/")
        .and_then(|p| p.strip_suffix(".jsonl"))
        .is_some_and(|name| Table::from_name(name).is_some())
}

/// The findings of a listed file, given what reading and hashing it gave.
fn listed_file(
    path: &str,
    bytes: u64,
    sha256: &str,
    got: std::io::Result<(String, u64)>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    match got {
        Ok((sha, n)) => {
            if n != bytes {
                out.push(
                    Finding::new(
                        "size-mismatch",
                        format!("{n} bytes, the manifest says {bytes}"),
                    )
                    .file(path),
                );
            }
            if sha != sha256 {
                out.push(
                    Finding::new("hash-mismatch", "sha256 differs from the manifest").file(path),
                );
            }
        }
        Err(e) => out.push(Finding::new("file-unreadable", e.to_string()).file(path)),
    }
    out
}

/// What a path in a release folder is (symbolic links are not followed).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Link,
    /// A FIFO, socket or device: never opened (opening a FIFO would wait for a writer).
    Special,
}

/// Every path under `dir`, relative to `base`, with its kind. An entry's type comes with the
/// listing (`DirEntry::file_type` does not follow a link, and asks the file system only where
/// the listing does not say): a release holds a file per source, so a stat each was most of
/// the time of the walk.
fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Kind)>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let kind = e.file_type()?;
        let rel = crate::records::rel(base, &e.path());
        if kind.is_symlink() {
            out.push((rel, Kind::Link));
        } else if kind.is_dir() {
            walk(&e.path(), base, out)?;
        } else if kind.is_file() {
            out.push((rel, Kind::File));
        } else {
            out.push((rel, Kind::Special));
        }
    }
    Ok(())
}

/// Opens a file of the release for reading: only a regular file found in the release folder
/// itself (not through a symbolic link), opened without following a link in its last
/// component and without blocking, and checked to be a regular file once open.
fn open_in(dir: &Path, present: &HashSet<String>, rel: &str) -> std::io::Result<File> {
    if !present.contains(rel) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not a regular file of the release",
        ));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        options.custom_flags(flags.bits() as i32);
    }
    let f = options.open(dir.join(rel))?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(f)
}

fn read_limited(f: File, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    // Room for the whole file at once (a `Take` has no size hint, so the buffer would grow from
    // a small probe by doubling); its size is believed only up to the limit.
    let size = f.metadata().map_or(0, |m| m.len()).min(limit) + 1;
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    f.take(limit + 1).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

/// Validates the release in `dir`.
pub fn validate(dir: &Path) -> Result<Report, ValidateError> {
    validate_with(dir, &crate::progress::Silent)
}

/// [`validate`], reporting progress per table.
///
/// Memory: one batch of JSONL lines and of Parquet rows at a time, plus a compact index of
/// the release (a 128-bit digest per key, one entry per source, 40 bytes per evidence span);
/// archived texts are read one per worker while spans are checked.
pub fn validate_with(
    dir: &Path,
    progress: &dyn crate::progress::Progress,
) -> Result<Report, ValidateError> {
    let meta = std::fs::metadata(dir).map_err(|source| ValidateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ValidateError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let mut cx = Ctx {
        dir: dir.to_path_buf(),
        findings: Vec::new(),
        listed: HashSet::new(),
        present: HashSet::new(),
        deferred: HashMap::new(),
    };
    let mut report = Report::default();

    // Files present.
    let mut present = Vec::new();
    walk(dir, dir, &mut present).map_err(|source| ValidateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for (p, kind) in present {
        match kind {
            Kind::Link => cx.add(
                Finding::new("symlink", "symbolic links are not allowed in a release").file(p),
            ),
            Kind::Special => cx.add(
                Finding::new(
                    "special-file",
                    "FIFOs, sockets and devices are not allowed in a release (not opened)",
                )
                .file(p),
            ),
            Kind::File => {
                cx.present.insert(p);
            }
        }
    }

    // Manifest.
    let manifest = match open_in(dir, &cx.present, "manifest.json")
        .and_then(|f| read_limited(f, MAX_MANIFEST_BYTES))
    {
        Err(e) => {
            cx.add(
                Finding::new(
                    "manifest-missing",
                    format!("cannot read manifest.json: {e}"),
                )
                .file("manifest.json"),
            );
            None
        }
        Ok(None) => {
            cx.add(
                Finding::new("manifest-too-large", "manifest.json exceeds the size limit")
                    .file("manifest.json"),
            );
            None
        }
        Ok(Some(bytes)) => match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                cx.add(
                    Finding::new(
                        "manifest-invalid",
                        format!("manifest.json is not a valid manifest: {e}"),
                    )
                    .file("manifest.json"),
                );
                None
            }
        },
    };
    if let Some(m) = &manifest {
        report.release_version = Some(m.release_version.clone());
        if crate::version::Version::parse(&m.release_version).is_none() {
            cx.add(
                Finding::new(
                    "manifest-invalid",
                    format!(
                        "release_version `{}` is not a semantic version",
                        m.release_version
                    ),
                )
                .file("manifest.json"),
            );
        }
        if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
            if crate::version::Version::parse(name).is_some() && name != m.release_version {
                cx.add(
                    Finding::new(
                        "version-mismatch",
                        format!(
                            "the folder is named {name} but the manifest says {}",
                            m.release_version
                        ),
                    )
                    .file("manifest.json"),
                );
            }
        }
        if m.schema_version != schema::SCHEMA_VERSION {
            cx.add(
                Finding::new(
                    "unknown-schema-version",
                    format!(
                        "schema version `{}` is not one this validator knows (it knows {})",
                        m.schema_version,
                        schema::SCHEMA_VERSION
                    ),
                )
                .file("manifest.json"),
            );
        }
        if m.dataset != crate::write::DATASET {
            cx.add(
                Finding::new(
                    "manifest-invalid",
                    format!(
                        "dataset is `{}`, expected `{}`",
                        m.dataset,
                        crate::write::DATASET
                    ),
                )
                .file("manifest.json"),
            );
        }
        let mut seen = HashSet::new();
        let mut to_hash = Vec::new();
        for f in &m.files {
            if !safe_path(&f.path) || f.path == "manifest.json" || f.path == "SHA256SUMS" {
                cx.add(
                    Finding::new(
                        "unsafe-path",
                        format!(
                            "manifest path `{}` is not a plain relative path inside the release",
                            f.path
                        ),
                    )
                    .file("manifest.json"),
                );
                continue;
            }
            if !seen.insert(f.path.clone()) {
                cx.add(
                    Finding::new("manifest-invalid", format!("`{}` is listed twice", f.path))
                        .file("manifest.json"),
                );
                continue;
            }
            cx.listed.insert(f.path.clone());
            if !cx.present.contains(&f.path) {
                cx.add(
                    Finding::new("file-missing", "listed in the manifest but absent")
                        .file(f.path.clone()),
                );
                continue;
            }
            to_hash.push(f);
        }
        // Every listed file is hashed, in parallel; the tables' JSONL files and the archived
        // texts when they are read anyway (see `table` and `Index::texts`).
        let (later, now): (Vec<&crate::write::FileEntry>, Vec<_>) = to_hash
            .into_iter()
            .partition(|f| is_text(&f.path) || is_table_jsonl(&f.path));
        for f in later {
            cx.deferred
                .insert(f.path.clone(), (f.bytes, f.sha256.clone()));
        }
        let present = &cx.present;
        let hashed: Vec<_> = now
            .par_iter()
            .map(|f| {
                let got = open_in(dir, present, &f.path).and_then(hash_opened);
                listed_file(&f.path, f.bytes, &f.sha256, got)
            })
            .collect();
        for f in hashed.into_iter().flatten() {
            cx.add(f);
        }
        let unlisted: Vec<Finding> = cx
            .present
            .iter()
            .filter(|p| !cx.listed.contains(*p) && *p != "manifest.json" && *p != "SHA256SUMS")
            .map(|p| {
                Finding::new(
                    "unlisted-file",
                    "present in the release but not listed in the manifest",
                )
                .file(p.clone())
            })
            .collect();
        for f in unlisted {
            cx.add(f);
        }
        check_sums(&mut cx, m);
        // The schema copies must be this validator's own schemas.
        for t in Table::ALL {
            let rel = format!("schema/{}.schema.json", t.name());
            let read = open_in(dir, &cx.present, &rel).and_then(|f| {
                read_limited(f, MAX_MANIFEST_BYTES)?.ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "too large")
                })
            });
            match read {
                Ok(bytes) if bytes == schema::embedded(t).as_bytes() => {}
                Ok(_) => cx.add(
                    Finding::new(
                        "schema-modified",
                        "differs from the built-in JSON Schema of this schema version",
                    )
                    .file(rel)
                    .table(t),
                ),
                Err(_) if !cx.present.contains(&rel) => {}
                Err(e) => cx.add(Finding::new("file-unreadable", e.to_string()).file(rel)),
            }
        }
    }

    // Tables, streamed: each is read once, in an order where every table comes after the
    // tables it refers to, so references are checked as rows go by against the keys seen.
    if let Some(m) = &manifest {
        progress.start("validating", Table::ALL.len() as u64 + 1);
        let mut ix = Index::default();
        ix.reserve(m);
        let mut count = |t: Table, n: u64| {
            report.rows.insert(t.name().to_string(), n);
            progress.inc(1);
        };
        let n = table::<SourceRecord>(&mut cx, m, |cx, _, r, _| ix.source(cx, r));
        count(Table::Sources, n);
        let n = table::<ActorRecord>(&mut cx, m, |_, _, r, _| ix.define(Table::Actors, r.id()));
        count(Table::Actors, n);
        let n = table::<PlaceRecord>(&mut cx, m, |_, _, r, _| ix.place(r));
        ix.parents(&mut cx);
        count(Table::Places, n);
        let n = table::<PersonRecord>(&mut cx, m, |cx, _, r, _| ix.person(cx, r));
        count(Table::Persons, n);
        let n = table::<DefectionRecord>(&mut cx, m, |cx, _, r, _| ix.defection(cx, r));
        count(Table::Defections, n);
        let n = table::<EventRecord>(&mut cx, m, |cx, _, r, _| ix.event(cx, r));
        count(Table::Events, n);
        let n = table::<StatementRecord>(&mut cx, m, |cx, _, r, _| ix.statement(cx, r));
        count(Table::Statements, n);
        ix.spans.reserve_exact(span_capacity(m));
        let n = table::<EvidenceRecord>(&mut cx, m, |cx, line, r, done| {
            ix.evidence(cx, line, r, done)
        });
        ix.close_group(&mut cx);
        ix.unsupported(&mut cx);
        count(Table::Evidence, n);
        let n = table::<RetractionRecord>(&mut cx, m, |cx, _, r, _| ix.retraction(cx, r));
        count(Table::Retractions, n);
        ix.texts(&mut cx);
        progress.inc(1);
        progress.finish();
    }

    // Bound the report: keep the first findings of each rule, count the rest.
    let mut findings = std::mem::take(&mut cx.findings);
    findings.sort();
    findings.dedup();
    let mut per_rule: HashMap<&'static str, usize> = HashMap::new();
    let mut kept = Vec::new();
    for f in findings {
        let n = per_rule.entry(f.rule).or_insert(0);
        *n += 1;
        if *n <= MAX_FINDINGS_PER_RULE {
            kept.push(f);
        }
    }
    let mut extra: Vec<_> = per_rule
        .into_iter()
        .filter(|(_, n)| *n > MAX_FINDINGS_PER_RULE)
        .collect();
    extra.sort();
    for (rule, n) in extra {
        kept.push(Finding::new(
            rule,
            format!(
                "{} more findings of this rule not shown",
                n - MAX_FINDINGS_PER_RULE
            ),
        ));
    }
    report.findings = kept;
    Ok(report)
}

fn check_sums(cx: &mut Ctx, m: &Manifest) {
    let read = open_in(&cx.dir, &cx.present, "SHA256SUMS")
        .and_then(|f| read_limited(f, MAX_MANIFEST_BYTES));
    let text = match read {
        Ok(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(None) => {
            cx.add(
                Finding::new("sums-invalid", "SHA256SUMS exceeds the size limit")
                    .file("SHA256SUMS"),
            );
            return;
        }
        Err(e) => {
            cx.add(
                Finding::new("sums-missing", format!("cannot read SHA256SUMS: {e}"))
                    .file("SHA256SUMS"),
            );
            return;
        }
    };
    let mut expected: BTreeMap<String, String> = m
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    match open_in(&cx.dir, &cx.present, "manifest.json").and_then(hash_opened) {
        Ok((sha, _)) => {
            expected.insert("manifest.json".into(), sha);
        }
        Err(_) => return,
    }
    let mut got = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        match line.split_once("  ") {
            Some((h, p)) if h.len() == 64 => {
                got.insert(p.to_string(), h.to_string());
            }
            _ => cx.add(
                Finding::new(
                    "sums-invalid",
                    format!("line {} is not `<sha256>  <path>`", i + 1),
                )
                .file("SHA256SUMS"),
            ),
        }
    }
    for (p, h) in &expected {
        match got.get(p) {
            None => cx.add(
                Finding::new("sums-mismatch", format!("`{p}` is missing from SHA256SUMS"))
                    .file("SHA256SUMS"),
            ),
            Some(g) if g != h => cx.add(
                Finding::new(
                    "sums-mismatch",
                    format!("the sha256 of `{p}` in SHA256SUMS is wrong"),
                )
                .file("SHA256SUMS"),
            ),
            _ => {}
        }
    }
    for p in got.keys() {
        if !expected.contains_key(p) {
            cx.add(
                Finding::new(
                    "sums-mismatch",
                    format!("`{p}` is in SHA256SUMS but not in the manifest"),
                )
                .file("SHA256SUMS"),
            );
        }
    }
}

/// Lines of JSONL checked in parallel at a time.
const BATCH_LINES: usize = 4096;

/// Rows of a batch compared with the Parquet rows at a time (in parallel).
const COMPARED_ROWS: usize = 512;

/// Checks one JSONL line: JSON, JSON Schema, `record_sha256`; returns the findings and, when it
/// is well formed, the typed record and the line's tree (compared with the Parquet row).
fn check_line<'l, R: Record>(
    jsonl: &str,
    line_no: usize,
    buf: &'l [u8],
) -> (Vec<Finding>, Option<(R, Val<'l>)>) {
    let t = R::TABLE;
    // Written only into findings: most lines have none.
    let ptr = LineNo(line_no);
    let mut out = Vec::new();
    if buf.last() != Some(&b'\n') {
        out.push(
            Finding::new(
                "jsonl-invalid",
                format!("{ptr} does not end with a newline"),
            )
            .file(jsonl)
            .table(t),
        );
    }
    let value = match crate::jsonline::text(buf).and_then(crate::jsonline::parse) {
        Ok(v) => v,
        Err(e) => {
            out.push(
                Finding::new("jsonl-invalid", format!("{ptr}: {e}"))
                    .file(jsonl)
                    .table(t),
            );
            return (out, None);
        }
    };
    let id = || value.get_str(t.key()).unwrap_or("?").to_string();
    let validator = schema::line_validator(t);
    let mut schema_ok = true;
    let errors = if validator.is_valid(&value) {
        None
    } else {
        Some(validator.iter_errors(&value))
    };
    for e in errors.into_iter().flatten() {
        schema_ok = false;
        out.push(
            Finding::new("schema", format!("{ptr}: {e}"))
                .file(jsonl)
                .table(t)
                .record(id())
                .pointer(e.instance_path().to_string()),
        );
    }
    let stored = value.get_str("record_sha256").unwrap_or("");
    if crate::jsonline::record_hash(&value) != stored {
        out.push(
            Finding::new("record-hash", "record_sha256 does not recompute (RFC 8785 JSON of the record without record_sha256)")
                .file(jsonl)
                .table(t)
                .record(id())
                .pointer("/record_sha256"),
        );
    }
    if !schema_ok {
        return (out, None);
    }
    match crate::jsonline::from_val::<R>(&value) {
        Ok(r) => (out, Some((r, value))),
        Err(e) => {
            out.push(
                Finding::new("schema", format!("{ptr}: {e}"))
                    .file(jsonl)
                    .table(t)
                    .record(id()),
            );
            (out, None)
        }
    }
}

/// "line N" in a finding's message, formatted only when a finding is made.
struct LineNo(usize);

impl std::fmt::Display for LineNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.0)
    }
}

/// One batch of JSONL lines as read: the bytes, the end of each line, the number of its
/// first line and what reading found (unreadable file, over-long line).
struct Batch {
    first: usize,
    buf: Vec<u8>,
    ends: Vec<usize>,
    findings: Vec<Finding>,
}

impl Batch {
    fn lines(&self) -> Vec<&[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter())
            .map(|(a, b)| &self.buf[a..*b])
            .collect()
    }
}

/// Reads one batch of at most [`BATCH_LINES`] lines into `buf`; returns the line ends, whether
/// the file is exhausted (or unreadable, or has an over-long line) and a finding for either.
fn read_batch(
    reader: &mut BufReader<File>,
    jsonl: &str,
    t: Table,
    first_line: usize,
    buf: &mut Vec<u8>,
) -> (Vec<usize>, bool, Option<Finding>) {
    buf.clear();
    let mut ends = Vec::with_capacity(BATCH_LINES);
    while ends.len() < BATCH_LINES {
        let start = buf.len();
        match (&mut *reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', buf)
        {
            Ok(0) => return (ends, true, None),
            Ok(_) => {}
            Err(e) => {
                let f = Finding::new("file-unreadable", e.to_string()).file(jsonl);
                return (ends, true, Some(f));
            }
        }
        if buf.len() - start > MAX_LINE_BYTES {
            let line_no = first_line + ends.len();
            let f = Finding::new(
                "line-too-long",
                format!("line {line_no} is longer than {MAX_LINE_BYTES} bytes"),
            )
            .file(jsonl)
            .table(t);
            buf.truncate(start);
            return (ends, true, Some(f));
        }
        ends.push(buf.len());
    }
    (ends, false, None)
}

/// Reads a JSONL file batch by batch on a thread of its own, sending each batch on; buffers
/// come back through `reuse` so that they are allocated once. Returns the sha256 and size of
/// the whole file when it was read to its end (so it is not read a second time to be hashed),
/// `None` when reading stopped early.
fn read_batches(
    f: File,
    jsonl: &str,
    t: Table,
    to: std::sync::mpsc::SyncSender<Batch>,
    reuse: std::sync::mpsc::Receiver<Vec<u8>>,
) -> Option<(String, u64)> {
    let mut reader = BufReader::with_capacity(1 << 20, f);
    let mut first = 1;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    // The largest batch so far: a new buffer starts with that much room, so that it is not
    // grown by doubling (each step a fresh allocation, page faults and a copy).
    let mut largest = 0;
    loop {
        let mut buf = reuse.try_recv().unwrap_or_default();
        buf.clear();
        buf.reserve(largest);
        let (ends, eof, finding) = read_batch(&mut reader, jsonl, t, first, &mut buf);
        largest = largest.max(buf.len());
        let whole = finding.is_none();
        hash.update(&buf);
        bytes += buf.len() as u64;
        first += ends.len();
        let batch = Batch {
            first: first - ends.len(),
            buf,
            ends,
            findings: finding.into_iter().collect(),
        };
        if to.send(batch).is_err() || !whole {
            return None;
        }
        if eof {
            return Some((crate::tables::hex(&hash.finalize()), bytes));
        }
    }
}

/// The Parquet file of a table, read in step with its JSONL: row `i` pairs with line `i + 1`.
struct ParquetSide<R> {
    rel: String,
    reader: Option<parquet::arrow::arrow_reader::ParquetRecordBatchReader>,
    /// Decoded batches not yet paired with lines, and how many rows they hold.
    pending: std::collections::VecDeque<RecordBatch>,
    pending_rows: usize,
    claimed: i64,
    findings: Vec<Finding>,
    rows: std::marker::PhantomData<R>,
}

impl<R: Row> ParquetSide<R> {
    /// Opens the file and checks its columns and its row count (against the manifest) before
    /// any row is decoded; a file that fails either is not read further.
    fn open(cx: &mut Ctx, rel: &str, manifest_rows: Option<u64>) -> ParquetSide<R> {
        let t = R::TABLE;
        let mut side = ParquetSide {
            rel: rel.to_string(),
            reader: None,
            pending: Default::default(),
            pending_rows: 0,
            claimed: 0,
            findings: Vec::new(),
            rows: std::marker::PhantomData,
        };
        let Ok(file) = open_in(&cx.dir, &cx.present, rel) else {
            return side;
        };
        let builder = match ParquetRecordBatchReaderBuilder::try_new(file) {
            Ok(b) => b,
            Err(e) => {
                cx.add(
                    Finding::new("parquet-invalid", format!("cannot read Parquet: {e}"))
                        .file(rel)
                        .table(t),
                );
                return side;
            }
        };
        let expected = schema::arrow_schema(t);
        let got = builder.schema().clone();
        let shape =
            |s: &arrow::datatypes::Schema| -> Vec<(String, arrow::datatypes::DataType, bool)> {
                s.fields()
                    .iter()
                    .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
                    .collect()
            };
        if shape(&got) != shape(&expected) {
            cx.add(
                Finding::new(
                    "parquet-schema",
                    format!(
                        "columns differ from schema v{}:\nexpected:\n{}found:\n{}",
                        schema::SCHEMA_VERSION,
                        schema::describe_arrow(&expected),
                        schema::describe_arrow(&got)
                    ),
                )
                .file(rel)
                .table(t),
            );
            return side;
        }
        // Guard against files whose metadata claims more rows than the manifest lists.
        side.claimed = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .sum();
        if manifest_rows != Some(side.claimed as u64) {
            cx.add(
                Finding::new(
                    "parquet-rows",
                    format!(
                        "Parquet holds {} rows, the manifest lists {}",
                        side.claimed,
                        manifest_rows.map_or("none".to_string(), |n| n.to_string())
                    ),
                )
                .file(rel)
                .table(t),
            );
            return side;
        }
        match builder.with_batch_size(BATCH_LINES).build() {
            Ok(r) => side.reader = Some(r),
            Err(e) => cx.add(
                Finding::new("parquet-invalid", format!("cannot read Parquet: {e}"))
                    .file(rel)
                    .table(t),
            ),
        }
        side
    }

    /// Stops reading after a decoding failure: the rows are not compared any further and the
    /// row count is not compared with the JSONL's.
    fn fail(&mut self, message: String) {
        self.findings.push(
            Finding::new("parquet-invalid", message)
                .file(self.rel.clone())
                .table(R::TABLE),
        );
        self.reader = None;
        self.pending.clear();
        self.pending_rows = 0;
        self.claimed = -1;
    }

    /// The next `n` rows as one Arrow batch (fewer rows at the end of the file or after a
    /// decoding failure; `None` when there are none).
    fn take(&mut self, n: usize) -> Option<RecordBatch> {
        while self.pending_rows < n {
            let Some(reader) = self.reader.as_mut() else {
                break;
            };
            match reader.next() {
                None => {
                    self.reader = None;
                    break;
                }
                Some(Err(e)) => self.fail(format!("cannot decode Parquet: {e}")),
                Some(Ok(batch)) => {
                    self.pending_rows += batch.num_rows();
                    self.pending.push_back(batch);
                }
            }
        }
        let mut parts = Vec::new();
        let mut need = n.min(self.pending_rows);
        while need > 0 {
            let first = self.pending.pop_front()?;
            let k = first.num_rows().min(need);
            if k < first.num_rows() {
                self.pending
                    .push_front(first.slice(k, first.num_rows() - k));
            }
            parts.push(first.slice(0, k));
            need -= k;
            self.pending_rows -= k;
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => match arrow::compute::concat_batches(&parts[0].schema(), &parts) {
                Ok(b) => Some(b),
                Err(e) => {
                    self.fail(format!("cannot decode Parquet: {e}"));
                    None
                }
            },
        }
    }

    /// Which of `rows` (the records of a batch of lines) differ from the Parquet rows in step
    /// with them. When every line is a record and there are as many Parquet rows, each line's
    /// tree is compared with its Parquet row cell by cell (in slices, in parallel); only when
    /// they differ (or lines are missing) are the Parquet rows decoded into records, one by
    /// one, and compared as records.
    fn differs(
        &mut self,
        rows: &[(Vec<Finding>, Option<R>)],
        trees: &[Option<Val<'_>>],
        parquet: Option<RecordBatch>,
    ) -> Vec<bool> {
        let same = vec![false; rows.len()];
        let Some(parquet) = parquet else {
            return same;
        };
        if parquet.num_rows() == rows.len() {
            let trees: Option<Vec<&Val>> = trees.iter().map(Option::as_ref).collect();
            let columns = Columns::of(&parquet);
            let equal = trees.zip(columns).is_some_and(|(trees, columns)| {
                trees
                    .par_chunks(COMPARED_ROWS)
                    .enumerate()
                    .all(|(i, chunk)| {
                        let first = i * COMPARED_ROWS;
                        chunk
                            .iter()
                            .enumerate()
                            .all(|(k, tree)| columns.row_is(first + k, tree))
                    })
            });
            if equal {
                return same;
            }
        }
        let decoded = match serde_arrow::from_record_batch::<Vec<R>>(&parquet) {
            Ok(decoded) => decoded,
            Err(e) => {
                self.fail(format!("cannot decode Parquet rows: {e}"));
                return same;
            }
        };
        rows.par_iter()
            .enumerate()
            .map(|(i, (_, row))| match (row, decoded.get(i)) {
                (Some(r), Some(p)) => p != r,
                _ => false,
            })
            .collect()
    }
}

/// The columns of a decoded Parquet batch, typed once, for comparing rows with JSON lines cell
/// by cell. Only a match is conclusive: a row that does not match is decoded and compared as a
/// record (so a date written another way, say, is not called a difference here).
struct Columns<'a>(Vec<(&'a str, Column<'a>)>);

/// A column of one of the five types the schema uses.
enum Column<'a> {
    Str(&'a arrow::array::StringArray),
    Int(&'a arrow::array::Int64Array),
    Float(&'a arrow::array::Float64Array),
    Date(&'a arrow::array::Date32Array),
    Strs(&'a arrow::array::ListArray, &'a arrow::array::StringArray),
}

impl<'a> Columns<'a> {
    /// The typed columns; `None` when one has a type the schema does not use.
    fn of(batch: &'a RecordBatch) -> Option<Columns<'a>> {
        use arrow::array::AsArray;
        use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
        let fields = batch.schema_ref().fields();
        let columns = fields.iter().zip(batch.columns()).map(|(f, a)| {
            let column = match f.data_type() {
                DataType::Utf8 => Column::Str(a.as_string_opt::<i32>()?),
                DataType::Int64 => Column::Int(a.as_primitive_opt::<Int64Type>()?),
                DataType::Float64 => Column::Float(a.as_primitive_opt::<Float64Type>()?),
                DataType::Date32 => Column::Date(a.as_primitive_opt::<Date32Type>()?),
                DataType::List(_) => {
                    let list = a.as_list_opt::<i32>()?;
                    Column::Strs(list, list.values().as_string_opt::<i32>()?)
                }
                _ => return None,
            };
            Some((f.name().as_str(), column))
        });
        columns.collect::<Option<Vec<_>>>().map(Columns)
    }

    /// Whether row `i` holds what the line's tree holds: every column the member of its name
    /// (an absent member is null), and no other member.
    fn row_is(&self, i: usize, tree: &Val<'_>) -> bool {
        let Val::Object(members) = tree else {
            return false;
        };
        let named = |name: &str| tree.get(name);
        // Members are in column order in a release written by the compiler: then member `j` is
        // column `j`, and there is no other member to look for.
        if members.len() > self.0.len() {
            return false;
        }
        let mut in_order = true;
        let cells = self.0.iter().enumerate().all(|(j, (name, column))| {
            let v = match members.get(j) {
                Some((k, v)) if k == name => Some(v),
                found => {
                    in_order &= found.is_none();
                    named(name)
                }
            };
            column.cell_is(i, v)
        });
        let no_other = || {
            members
                .iter()
                .all(|(k, _)| self.0.iter().any(|(name, _)| name == k))
        };
        cells && (in_order || no_other())
    }
}

impl Column<'_> {
    /// Whether cell `i` holds `v` (`None`: the member is absent, as null).
    fn cell_is(&self, i: usize, v: Option<&Val<'_>>) -> bool {
        use arrow::array::Array;
        let null = matches!(v, None | Some(Val::Null));
        let is_null = match self {
            Column::Str(a) => a.is_null(i),
            Column::Int(a) => a.is_null(i),
            Column::Float(a) => a.is_null(i),
            Column::Date(a) => a.is_null(i),
            Column::Strs(a, _) => a.is_null(i),
        };
        if is_null || null {
            return is_null && null;
        }
        match (self, v) {
            (Column::Str(a), Some(Val::String(s))) => a.value(i) == s,
            (Column::Int(a), Some(Val::Number(n))) => n.as_i64() == Some(a.value(i)),
            (Column::Float(a), Some(Val::Number(n))) => {
                n.as_f64().map(f64::to_bits) == Some(a.value(i).to_bits())
            }
            (Column::Date(a), Some(Val::String(s))) => {
                crate::dates::days_since_epoch(s) == Some(a.value(i))
            }
            (Column::Strs(list, values), Some(Val::Array(items))) => {
                let offsets = list.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                items.len() == end - start
                    && items.iter().zip(start..end).all(|(item, k)| {
                        !values.is_null(k) && matches!(item, Val::String(s) if values.value(k) == s)
                    })
            }
            _ => false,
        }
    }
}

/// A batch of lines checked: per line its findings, its record and what was checked of it
/// alone, whether its Parquet row differs, and what reading the Parquet found.
struct Checked<R: Row> {
    batch: Batch,
    rows: Vec<(Vec<Finding>, Option<R>)>,
    done: Vec<Option<R::Done>>,
    differs: Vec<bool>,
    parquet_findings: Vec<Finding>,
}

/// A table's row as the validator reads it: what can be checked of a well-formed record without
/// any other row ([`Row::done`]) is worked out in parallel with the line's own checks, then
/// handed to the table's visitor, which sees the rows one at a time in order.
trait Row: Record + PartialEq + Send {
    type Done: Send;
    fn done(&self) -> Self::Done;
}

macro_rules! no_row_work {
    ($($t:ty),*) => {
        $(impl Row for $t {
            type Done = ();
            fn done(&self) {}
        })*
    };
}
no_row_work!(
    SourceRecord,
    ActorRecord,
    PlaceRecord,
    PersonRecord,
    DefectionRecord,
    EventRecord,
    StatementRecord,
    RetractionRecord
);

/// Of an evidence row: whether `quote_sha256` is the sha256 of `exact`, and the digest of its
/// prefix, quote and suffix (compared later with the archived text).
struct EvidenceDone {
    quote_ok: bool,
    digest: u128,
    /// [`crate::tables::digest128`] of `source_id` and of `record_id`, for the index.
    source_key: u128,
    record_key: u128,
}

impl Row for EvidenceRecord {
    type Done = EvidenceDone;
    fn done(&self) -> EvidenceDone {
        EvidenceDone {
            quote_ok: sha256_hex(self.exact.as_bytes()) == self.quote_sha256,
            digest: list128([
                self.prefix.as_str(),
                self.exact.as_str(),
                self.suffix.as_str(),
            ]),
            source_key: crate::tables::digest128(&self.source_id),
            record_key: crate::tables::digest128(&self.record_id),
        }
    }
}

/// Checks the lines of a batch in parallel while its Parquet rows are decoded, then compares
/// the two.
fn check_batch<R: Row>(batch: Batch, jsonl: &str, side: &mut ParquetSide<R>) -> Checked<R> {
    let lines = batch.lines();
    let first = batch.first;
    let n = lines.len();
    let ((rows, rest), from_parquet) = rayon::join(
        || {
            lines
                .par_iter()
                .enumerate()
                .map(|(i, bytes)| {
                    let (findings, checked) = check_line::<R>(jsonl, first + i, bytes);
                    let (row, tree) = checked.unzip();
                    let done = row.as_ref().map(Row::done);
                    ((findings, row), (done, tree))
                })
                .unzip::<_, _, Vec<_>, Vec<_>>()
        },
        || side.take(n),
    );
    let (done, trees): (Vec<_>, Vec<_>) = rest.into_iter().unzip();
    let differs = side.differs(&rows, &trees, from_parquet);
    drop(trees);
    drop(lines);
    let parquet_findings = side.findings.drain(..).collect();
    Checked {
        batch,
        rows,
        done,
        differs,
        parquet_findings,
    }
}

/// Visits a checked batch in line order: findings, Parquet comparison, key order, digest and
/// the table's own checks. Returns the batch's buffer for reuse.
#[allow(clippy::too_many_arguments)]
fn visit_batch<R: Row>(
    cx: &mut Ctx,
    c: Checked<R>,
    jsonl: &str,
    parquet: &str,
    digest: &mut Sha256,
    last: &mut Option<String>,
    rows: &mut u64,
    visit: &mut (impl FnMut(&mut Ctx, usize, &R, &R::Done) + Send),
) -> Vec<u8> {
    let t = R::TABLE;
    let first = c.batch.first;
    for f in c.batch.findings.into_iter().chain(c.parquet_findings) {
        cx.add(f);
    }
    for (i, ((findings, row), done)) in c.rows.into_iter().zip(c.done).enumerate() {
        for f in findings {
            cx.add(f);
        }
        let (Some(r), Some(done)) = (row, done) else {
            continue;
        };
        if c.differs[i] {
            cx.add(
                Finding::new(
                    "parquet-jsonl-differ",
                    format!("row {} differs between Parquet and JSONL", first + i),
                )
                .file(parquet)
                .table(t)
                .record(r.id()),
            );
        }
        if let Some(prev) = &*last {
            match prev.as_str().cmp(r.id()) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => cx.add(
                    Finding::new(
                        "duplicate-key",
                        format!("{} `{}` occurs more than once", t.key(), r.id()),
                    )
                    .file(jsonl)
                    .table(t)
                    .record(r.id()),
                ),
                std::cmp::Ordering::Greater => cx.add(
                    Finding::new("unsorted", format!("rows are not sorted by {}", t.key()))
                        .file(jsonl)
                        .table(t)
                        .record(r.id()),
                ),
            }
        }
        digest.update(r.record_sha256().as_bytes());
        digest.update(b"\n");
        *rows += 1;
        visit(cx, first + i, &r, &done);
        let last = last.get_or_insert_with(String::new);
        last.clear();
        last.push_str(r.id());
    }
    c.batch.buf
}

/// Streams one table: JSONL lines checked in parallel batches (JSON, schema, `record_sha256`)
/// while the matching Parquet rows are decoded; keys must be sorted and unique; row count and
/// digest must match the manifest. `visit` sees every well-formed record with its line number.
/// Returns the number of well-formed records.
fn table<R: Row>(
    cx: &mut Ctx,
    m: &Manifest,
    mut visit: impl FnMut(&mut Ctx, usize, &R, &R::Done) + Send,
) -> u64 {
    let t = R::TABLE;
    let jsonl = format!("records/{}.jsonl", t.name());
    let parquet = format!("tables/{}.parquet", t.name());
    for f in [&jsonl, &parquet] {
        if !cx.listed.contains(f.as_str()) {
            cx.add(
                Finding::new(
                    "table-missing",
                    "the manifest does not list this table file",
                )
                .file(f.clone())
                .table(t),
            );
        }
    }
    let entry = m.tables.get(t.name());
    let mut side = ParquetSide::<R>::open(cx, &parquet, entry.map(|e| e.rows));
    let parquet_readable = side.reader.is_some();
    let mut rows = 0u64;
    let mut lines = 0usize;
    let mut digest = Sha256::new();
    let mut last: Option<String> = None;
    if let Ok(f) = open_in(&cx.dir, &cx.present, &jsonl) {
        // Three stages in step: a thread reads batch k + 2 while batch k + 1 is checked in
        // parallel (JSON, schema, hash; its Parquet rows decoded alongside) and batch k is
        // visited in line order on this thread (so findings never depend on thread timing).
        let (to, batches) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (give_back, reuse) = std::sync::mpsc::channel::<Vec<u8>>();
        let whole = std::thread::scope(|scope| {
            let jsonl_name = jsonl.as_str();
            let reader = scope.spawn(move || read_batches(f, jsonl_name, t, to, reuse));
            let mut checked_batch: Option<Checked<R>> = None;
            loop {
                let next = batches.recv().ok();
                if next.is_none() && checked_batch.is_none() {
                    break;
                }
                let side = &mut side;
                let jsonl = jsonl.as_str();
                let (_, checked_next) = rayon::join(
                    || {
                        if let Some(c) = checked_batch.take() {
                            let buf = visit_batch(
                                cx,
                                c,
                                jsonl,
                                &parquet,
                                &mut digest,
                                &mut last,
                                &mut rows,
                                &mut visit,
                            );
                            let _ = give_back.send(buf);
                        }
                    },
                    || next.map(|b| check_batch::<R>(b, jsonl, side)),
                );
                if let Some(c) = &checked_next {
                    lines += c.rows.len();
                }
                checked_batch = checked_next;
            }
            reader.join().ok().flatten()
        });
        // The file was hashed as it was read, if it was read whole; else it is hashed now.
        if let Some((bytes, sha)) = cx.deferred.remove(&jsonl) {
            let got = whole.map_or_else(
                || open_in(&cx.dir, &cx.present, &jsonl).and_then(hash_opened),
                Ok,
            );
            for f in listed_file(&jsonl, bytes, &sha, got) {
                cx.add(f);
            }
        }
    }
    if parquet_readable && side.claimed >= 0 && side.claimed as u64 != lines as u64 {
        cx.add(
            Finding::new(
                "parquet-rows",
                format!("Parquet holds {} rows, JSONL {lines} lines", side.claimed),
            )
            .file(parquet.clone())
            .table(t),
        );
    }
    if let Some(entry) = entry {
        if entry.rows != rows {
            cx.add(
                Finding::new(
                    "row-count",
                    format!("{rows} valid rows, the manifest says {}", entry.rows),
                )
                .file(jsonl.clone())
                .table(t),
            );
        }
        if crate::tables::hex(&digest.finalize()) != entry.records_sha256 {
            cx.add(
                Finding::new(
                    "table-digest",
                    "the digest of the record hashes differs from the manifest",
                )
                .file(jsonl.clone())
                .table(t),
            );
        }
    } else {
        cx.add(
            Finding::new("table-missing", "the manifest has no entry for this table")
                .file("manifest.json")
                .table(t),
        );
    }
    rows
}

/// Room for one span per evidence row, so the list is allocated once rather than grown by
/// doubling; the manifest's count is believed only as far as the file's size allows (an
/// evidence line holds three 64-character hashes, so it is never shorter than 256 bytes).
fn span_capacity(m: &Manifest) -> usize {
    row_capacity(m, Table::Evidence, 256)
}

/// How many rows of `t` to make room for: the rows the manifest lists, but never more than
/// the table's JSONL file could hold at `min_line` bytes a line (the manifest is untrusted, so
/// what it makes the validator reserve stays proportional to the bytes it really has).
fn row_capacity(m: &Manifest, t: Table, min_line: u64) -> usize {
    let rows = m.tables.get(t.name()).map_or(0, |e| e.rows);
    let path = format!("records/{}.jsonl", t.name());
    let bytes = m
        .files
        .iter()
        .find(|f| f.path == path)
        .map_or(0, |f| f.bytes);
    usize::try_from(rows.min(bytes / min_line)).unwrap_or(0)
}

/// A digest of a list of ids (length-prefixed, so no two lists share one).
fn list128<'a>(ids: impl IntoIterator<Item = &'a str>) -> u128 {
    let mut h = Sha256::new();
    for id in ids {
        h.update((id.len() as u64).to_le_bytes());
        h.update(id.as_bytes());
    }
    u128::from_le_bytes(h.finalize()[..16].try_into().expect("16 bytes"))
}

/// Sets and maps keyed by a 128-bit digest ([`crate::tables::digest128`]), hashed with
/// foldhash (already in the tree through hashbrown): a few multiplies where SipHash, the
/// default, spends rounds; seeded per process, so a release cannot be made of ids that
/// collide in the table (the ids are untrusted input).
type DigestState = foldhash::fast::RandomState;
type DigestSet = HashSet<u128, DigestState>;
type DigestMap<V> = HashMap<u128, V, DigestState>;

/// What the cross-table checks keep of a source.
struct SourceInfo {
    id: Box<str>,
    /// `None` when `text_path` is not the listed archive (already a finding).
    text_path: Option<Box<str>>,
    text_sha256: Box<str>,
    chars: i64,
}

/// One evidence span to check against its archived text.
struct SpanCheck {
    source: u32,
    line: u32,
    char_start: u32,
    char_end: u32,
    byte_start: u32,
    byte_end: u32,
    /// Digest of prefix, exact and suffix as the record states them.
    digest: u128,
}

/// The evidence rows of one record (contiguous, since rows are sorted by `evidence_id`).
struct Group {
    record: Box<str>,
    /// [`crate::tables::digest128`] of `record`.
    key: u128,
    sources: BTreeSet<Box<str>>,
    numbers: Vec<u64>,
}

/// The compact index of a release that cross-table checks need.
#[derive(Default)]
struct Index {
    keys: HashMap<Table, DigestSet>,
    sources: Vec<SourceInfo>,
    /// Digest of a `source_id` → its place in `sources`.
    source_of: DigestMap<u32>,
    /// Defections and events: key → (table, id, digest of the stated `source_ids`).
    claimed: DigestMap<(Table, Box<str>, u128)>,
    parents: Vec<(Box<str>, Box<str>)>,
    group: Option<Group>,
    closed: DigestSet,
    spans: Vec<SpanCheck>,
}

impl Index {
    /// Room in the key sets for the rows the manifest lists (bounded by [`row_capacity`]),
    /// so that they are allocated once instead of doubling, and rehashing, as they fill.
    fn reserve(&mut self, m: &Manifest) {
        // A record's line is hardly ever under 128 bytes (its `record_sha256` alone takes 83);
        // shorter lines would only mean less room reserved than needed, never a wrong result.
        let cap = |t| row_capacity(m, t, 128);
        // The tables whose ids are keys (those with an id prefix); evidence closes one group
        // per record of any of them.
        let mut records = 0;
        for t in Table::ALL.into_iter().filter(|t| t.prefix().is_some()) {
            let n = cap(t);
            self.keys.entry(t).or_default().reserve(n);
            records += n;
        }
        self.closed.reserve(records);
        self.sources.reserve(cap(Table::Sources));
        self.source_of.reserve(cap(Table::Sources));
        self.claimed
            .reserve(cap(Table::Defections) + cap(Table::Events));
    }

    fn define(&mut self, t: Table, id: &str) {
        self.keys
            .entry(t)
            .or_default()
            .insert(crate::tables::digest128(id));
    }

    fn has(&self, t: Table, id: &str) -> bool {
        self.has_key(t, crate::tables::digest128(id))
    }

    /// [`Index::has`] of an id's digest.
    fn has_key(&self, t: Table, key: u128) -> bool {
        self.keys.get(&t).is_some_and(|k| k.contains(&key))
    }

    #[allow(clippy::too_many_arguments)]
    fn refer(&self, cx: &mut Ctx, from: Table, id: &str, ptr: &str, target: &str, to: Table) {
        self.refer_key(
            cx,
            from,
            id,
            ptr,
            target,
            crate::tables::digest128(target),
            to,
        );
    }

    /// [`Index::refer`] with the digest of `target` worked out already.
    #[allow(clippy::too_many_arguments)]
    fn refer_key(
        &self,
        cx: &mut Ctx,
        from: Table,
        id: &str,
        ptr: &str,
        target: &str,
        key: u128,
        to: Table,
    ) {
        if !self.has_key(to, key) {
            cx.add(
                Finding::new(
                    "dangling-reference",
                    format!("`{target}` does not exist in {to}"),
                )
                .file(format!("records/{from}.jsonl"))
                .table(from)
                .record(id)
                .pointer(ptr),
            );
        }
    }

    fn source(&mut self, cx: &mut Ctx, s: &SourceRecord) {
        self.define(Table::Sources, s.id());
        let expected_path = format!("sources/{}.txt", s.source_id);
        let listed = s.text_path == expected_path && cx.listed.contains(&s.text_path);
        if !listed {
            cx.add(
                Finding::new(
                    "text-missing",
                    format!(
                        "text_path `{}` is not the listed archive `{expected_path}`",
                        s.text_path
                    ),
                )
                .file(format!("records/{}.jsonl", Table::Sources))
                .table(Table::Sources)
                .record(s.id())
                .pointer("/text_path"),
            );
        }
        let key = crate::tables::digest128(&s.source_id);
        if self.source_of.contains_key(&key) {
            return;
        }
        self.source_of.insert(key, self.sources.len() as u32);
        self.sources.push(SourceInfo {
            id: s.source_id.as_str().into(),
            text_path: listed.then(|| s.text_path.as_str().into()),
            text_sha256: s.text_sha256.as_str().into(),
            chars: s.chars,
        });
    }

    fn place(&mut self, p: &PlaceRecord) {
        self.define(Table::Places, p.id());
        if let Some(parent) = &p.parent_place_id {
            self.parents.push((p.id().into(), parent.as_str().into()));
        }
    }

    /// Parent places are places: checked once the whole table is known.
    fn parents(&mut self, cx: &mut Ctx) {
        for (id, parent) in std::mem::take(&mut self.parents) {
            self.refer(
                cx,
                Table::Places,
                &id,
                "/parent_place_id",
                &parent,
                Table::Places,
            );
        }
    }

    fn person(&mut self, cx: &mut Ctx, r: &PersonRecord) {
        self.define(Table::Persons, r.id());
        if let Some(a) = &r.affiliation_actor_id {
            self.refer(
                cx,
                Table::Persons,
                r.id(),
                "/affiliation_actor_id",
                a,
                Table::Actors,
            );
        }
    }

    fn defection(&mut self, cx: &mut Ctx, r: &DefectionRecord) {
        let t = Table::Defections;
        let id = r.id();
        self.define(t, id);
        for (i, p) in r.person_ids.iter().enumerate() {
            self.refer(cx, t, id, &format!("/person_ids/{i}"), p, Table::Persons);
        }
        if let Some(p) = &r.place_id {
            self.refer(cx, t, id, "/place_id", p, Table::Places);
        }
        for (i, p) in r.destination_place_ids.iter().enumerate() {
            let ptr = format!("/destination_place_ids/{i}");
            self.refer(cx, t, id, &ptr, p, Table::Places);
        }
        if let Some(a) = &r.outcome_actor_id {
            self.refer(cx, t, id, "/outcome_actor_id", a, Table::Actors);
        }
        for (i, x) in r.informant_ids.iter().enumerate() {
            let to = if x.starts_with("act-") {
                Table::Actors
            } else {
                Table::Persons
            };
            self.refer(cx, t, id, &format!("/informant_ids/{i}"), x, to);
        }
        self.claim(cx, t, id, &r.source_ids);
    }

    fn event(&mut self, cx: &mut Ctx, r: &EventRecord) {
        let t = Table::Events;
        let id = r.id();
        self.define(t, id);
        if let Some(p) = &r.place_id {
            self.refer(cx, t, id, "/place_id", p, Table::Places);
        }
        if let Some(a) = &r.perpetrator_actor_id {
            self.refer(cx, t, id, "/perpetrator_actor_id", a, Table::Actors);
        }
        self.claim(cx, t, id, &r.source_ids);
    }

    /// `source_ids` must exist now and equal the sources of the record's evidence later.
    fn claim(&mut self, cx: &mut Ctx, t: Table, id: &str, source_ids: &[String]) {
        for (i, s) in source_ids.iter().enumerate() {
            self.refer(cx, t, id, &format!("/source_ids/{i}"), s, Table::Sources);
        }
        let digest = list128(source_ids.iter().map(String::as_str));
        self.claimed
            .insert(crate::tables::digest128(id), (t, id.into(), digest));
    }

    fn statement(&mut self, cx: &mut Ctx, r: &StatementRecord) {
        let t = Table::Statements;
        let id = r.id();
        self.define(t, id);
        if let Some(p) = &r.speaker_person_id {
            self.refer(cx, t, id, "/speaker_person_id", p, Table::Persons);
        }
        if let Some(d) = &r.defection_id {
            self.refer(cx, t, id, "/defection_id", d, Table::Defections);
        }
        self.refer(cx, t, id, "/source_id", &r.source_id, Table::Sources);
    }

    fn evidence(&mut self, cx: &mut Ctx, line: usize, e: &EvidenceRecord, done: &EvidenceDone) {
        let t = Table::Evidence;
        let f = |rule, msg: String, ptr: &str| {
            Finding::new(rule, msg)
                .file("records/evidence.jsonl")
                .table(t)
                .record(e.id())
                .pointer(ptr)
        };
        let (source_key, record_key) = (done.source_key, done.record_key);
        let id = e.id();
        self.refer_key(
            cx,
            t,
            id,
            "/source_id",
            &e.source_id,
            source_key,
            Table::Sources,
        );
        match Table::from_name(&e.record_table) {
            Some(to) if to.prefix().is_some() => {
                self.refer_key(cx, t, id, "/record_id", &e.record_id, record_key, to)
            }
            _ => cx.add(f(
                "dangling-reference",
                format!("`{}` is not a table evidence can support", e.record_table),
                "/record_table",
            )),
        }
        // Numbering and derived source_ids, one record's group at a time.
        if self.group.as_ref().map(|g| &*g.record) != Some(e.record_id.as_str()) {
            self.close_group(cx);
            if !self.closed.insert(record_key) {
                cx.add(f(
                    "unsorted",
                    format!(
                        "the evidence of {} is not contiguous; rows must be sorted by evidence_id",
                        e.record_id
                    ),
                    "/evidence_id",
                ));
            }
            self.group = Some(Group {
                record: e.record_id.as_str().into(),
                key: record_key,
                sources: BTreeSet::new(),
                numbers: Vec::new(),
            });
        }
        let group = self.group.as_mut().expect("just set");
        group.sources.insert(e.source_id.as_str().into());
        match e
            .evidence_id
            .strip_prefix(e.record_id.as_str())
            .and_then(|n| n.strip_prefix('/'))
            .and_then(|n| n.parse::<u64>().ok())
        {
            Some(n) => group.numbers.push(n),
            None => cx.add(f(
                "evidence-id",
                format!("evidence_id is not `{}/<n>`", e.record_id),
                "/evidence_id",
            )),
        }
        if !done.quote_ok {
            cx.add(f(
                "quote-hash",
                "quote_sha256 is not the sha256 of exact".into(),
                "/quote_sha256",
            ));
        }
        // The span itself is checked against the archived text later, source by source.
        let Some(&source) = self.source_of.get(&source_key) else {
            return;
        };
        let s = &self.sources[source as usize];
        if s.text_path.is_none() {
            return;
        }
        if *e.source_text_sha256 != *s.text_sha256 {
            cx.add(f(
                "span-mismatch",
                "source_text_sha256 is not the archived text's hash".into(),
                "/source_text_sha256",
            ));
        }
        let (cs, ce) = (e.char_start, e.char_end);
        if !(0 <= cs && cs <= ce && ce <= s.chars) {
            cx.add(f(
                "span-mismatch",
                format!(
                    "char offsets {cs}..{ce} are outside the text (0..{})",
                    s.chars
                ),
                "/char_start",
            ));
            return;
        }
        let as_u32 = |x: i64| u32::try_from(x).ok();
        let offsets = (
            as_u32(cs),
            as_u32(ce),
            as_u32(e.byte_start),
            as_u32(e.byte_end),
            u32::try_from(line).ok(),
        );
        let (Some(cs), Some(ce), Some(bs), Some(be), Some(line)) = offsets else {
            cx.add(f(
                "span-mismatch",
                "byte offsets do not match the char offsets".into(),
                "/byte_start",
            ));
            return;
        };
        self.spans.push(SpanCheck {
            source,
            line,
            char_start: cs,
            char_end: ce,
            byte_start: bs,
            byte_end: be,
            digest: done.digest,
        });
    }

    fn close_group(&mut self, cx: &mut Ctx) {
        let Some(mut g) = self.group.take() else {
            return;
        };
        g.numbers.sort_unstable();
        if g.numbers
            .iter()
            .enumerate()
            .any(|(i, n)| *n != i as u64 + 1)
        {
            cx.add(
                Finding::new("evidence-id", "evidence of a record is not numbered 1..n")
                    .file("records/evidence.jsonl")
                    .table(Table::Evidence)
                    .record(&*g.record),
            );
        }
        if let Some((t, id, stated)) = self.claimed.remove(&g.key) {
            if stated != list128(g.sources.iter().map(|s| &**s)) {
                cx.add(derived_finding(t, &id));
            }
        }
    }

    /// Defections and events without evidence must list no sources.
    fn unsupported(&mut self, cx: &mut Ctx) {
        let none = list128([]);
        let mut left: Vec<_> = self
            .claimed
            .drain()
            .filter(|(_, (_, _, stated))| *stated != none)
            .map(|(_, (t, id, _))| (t, id))
            .collect();
        left.sort();
        for (t, id) in left {
            cx.add(derived_finding(t, &id));
        }
    }

    fn retraction(&mut self, cx: &mut Ctx, r: &RetractionRecord) {
        let t = Table::Retractions;
        if let Some(to) = Table::from_name(&r.record_table) {
            if to.prefix().is_some() && self.has(to, &r.record_id) {
                cx.add(
                    Finding::new(
                        "retracted-present",
                        format!("`{}` is retracted but still in {to}", r.record_id),
                    )
                    .file("records/retractions.jsonl")
                    .table(t)
                    .record(r.id()),
                );
            }
        }
        if let Some(x) = &r.replaced_by {
            if let Some(to) = Table::from_id(x) {
                self.refer(cx, t, r.id(), "/replaced_by", x, to);
            }
        }
    }

    /// Reads every archived text once (in parallel, one per worker at a time), checks it and
    /// the spans that quote it; spans that do not match are re-read and explained.
    fn texts(&mut self, cx: &mut Ctx) {
        self.spans.par_sort_unstable_by_key(|s| (s.source, s.line));
        let mut bounds = vec![0usize; self.sources.len() + 1];
        for s in &self.spans {
            bounds[s.source as usize + 1] += 1;
        }
        for i in 1..bounds.len() {
            bounds[i] += bounds[i - 1];
        }
        let dir = &cx.dir;
        let deferred = &cx.deferred;
        let spans = &self.spans;
        // A chunk of texts at a time, in parallel, while the next chunks' files are read
        // ahead (a cold page cache would otherwise keep only one read per core in flight).
        // Only paths that `read_text` opens anyway are read ahead.
        let present = &cx.present;
        let paths = self
            .sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let path = s.text_path.as_deref().filter(|p| present.contains(*p))?;
                Some((i, dir.join(path)))
            })
            .collect();
        let sources = &self.sources;
        let checked: Vec<TextResult> = crate::readahead::with(paths, |ahead| {
            let mut checked = Vec::with_capacity(sources.len());
            for start in (0..sources.len()).step_by(TEXT_CHUNK) {
                ahead.allow(start + (1 + TEXTS_READ_AHEAD) * TEXT_CHUNK);
                let end = (start + TEXT_CHUNK).min(sources.len());
                checked.par_extend((start..end).into_par_iter().map(|i| {
                    let spans = &spans[bounds[i]..bounds[i + 1]];
                    check_text(dir, present, deferred, &sources[i], spans)
                }));
            }
            checked
        });
        let mut bad = Vec::new();
        let mut hashed = HashSet::new();
        for (findings, lines, listed) in checked {
            for f in findings {
                cx.add(f);
            }
            bad.extend(lines);
            hashed.extend(listed);
        }
        self.spans = Vec::new();
        // Deferred files that were not read whole (texts no source names, texts too large,
        // unreadable files): hashed here.
        let dir = &cx.dir;
        let present = &cx.present;
        let rest: Vec<Finding> = cx
            .deferred
            .par_iter()
            .filter(|(p, _)| !hashed.contains(p.as_str()))
            .flat_map_iter(|(p, (bytes, sha))| {
                let got = open_in(dir, present, p).and_then(hash_opened);
                listed_file(p, *bytes, sha, got)
            })
            .collect();
        for f in rest {
            cx.add(f);
        }
        explain_spans(cx, &self.sources, bad);
    }
}

fn derived_finding(t: Table, id: &str) -> Finding {
    Finding::new(
        "derived-field",
        "source_ids is not the set of sources of its evidence",
    )
    .file(format!("records/{t}.jsonl"))
    .table(t)
    .record(id)
    .pointer("/source_ids")
}

/// Reads an archived text that the sources table lists; `None` (with a finding when it is
/// present but unusable) otherwise. With `listed` (its size and sha256 in the manifest), the
/// bytes read are checked against the manifest too, and `hashed` says so.
fn read_text(
    dir: &Path,
    present: &HashSet<String>,
    listed: Option<&(u64, String)>,
    s: &SourceInfo,
    findings: &mut Vec<Finding>,
    hashed: &mut bool,
) -> Option<SourceText> {
    let path = s.text_path.as_deref()?;
    let read = open_in(dir, present, path).and_then(|f| read_limited(f, MAX_TEXT_BYTES));
    let bytes = match read {
        Ok(Some(b)) => b,
        // Too large to read whole: hashed as a stream with the unnamed texts.
        Ok(None) => return None,
        Err(e) => {
            if let Some((n, sha)) = listed {
                findings.extend(listed_file(path, *n, sha, Err(e)));
                *hashed = true;
            }
            return None;
        }
    };
    let sha = crate::tables::sha256_hex(&bytes);
    if let Some((n, want)) = listed {
        findings.extend(listed_file(
            path,
            *n,
            want,
            Ok((sha.clone(), bytes.len() as u64)),
        ));
        *hashed = true;
    }
    // Checked with SIMD and copied: cheaper than the standard check on Arabic text.
    match simdutf8::basic::from_utf8(&bytes) {
        Ok(text) => Some(SourceText::from_canonical_hashed(text.to_owned(), sha)),
        Err(_) => {
            findings.push(
                Finding::new("text-invalid", "the archived text is not UTF-8")
                    .file(path)
                    .table(Table::Sources)
                    .record(&*s.id),
            );
            None
        }
    }
}

/// The findings of one archived text, the `(source, line)` of its spans that do not match, and
/// its path if it was checked against the manifest.
type TextResult = (Vec<Finding>, Vec<(u32, u32)>, Option<String>);

/// Checks one archived text and the spans quoting it; returns the findings and the
/// `(source, line)` of every span that does not match.
fn check_text(
    dir: &Path,
    present: &HashSet<String>,
    deferred: &HashMap<String, (u64, String)>,
    s: &SourceInfo,
    spans: &[SpanCheck],
) -> TextResult {
    let mut findings = Vec::new();
    let path = s.text_path.as_deref().unwrap_or_default();
    let listed = deferred.get(path);
    let mut hashed = false;
    let st = read_text(dir, present, listed, s, &mut findings, &mut hashed);
    let hashed = hashed.then(|| path.to_string());
    let Some(st) = st else {
        return (findings, Vec::new(), hashed);
    };
    let f = |rule, msg: String| {
        Finding::new(rule, msg)
            .file(path)
            .table(Table::Sources)
            .record(&*s.id)
    };
    if !is_canonical(&st.text) {
        findings.push(f(
            "text-not-canonical",
            "the archived text is not in canonical form (NFC, LF, no BOM)".into(),
        ));
    }
    if *st.text_sha256 != *s.text_sha256 {
        findings.push(
            f(
                "text-hash",
                "the archived text does not hash to text_sha256".into(),
            )
            .pointer("/text_sha256"),
        );
    }
    if st.chars as i64 != s.chars {
        findings.push(
            f(
                "text-length",
                format!(
                    "the archived text has {} code points, chars says {}",
                    st.chars, s.chars
                ),
            )
            .pointer("/chars"),
        );
    }
    let bad = spans
        .iter()
        .filter(|c| {
            let (cs, ce) = (c.char_start as usize, c.char_end as usize);
            // Four offsets looked up once each (prefix start, start, end, suffix end).
            let offsets = (
                st.byte_of(cs.saturating_sub(CONTEXT)),
                st.byte_of(cs),
                st.byte_of(ce),
                st.byte_of((ce + CONTEXT).min(st.chars)),
            );
            let (Some(p0), Some(b0), Some(b1), Some(s1)) = offsets else {
                return true;
            };
            if b0 > b1 || p0 > b0 || b1 > s1 {
                return true;
            }
            let t = &st.text;
            list128([&t[p0..b0], &t[b0..b1], &t[b1..s1]]) != c.digest
                || b0 != c.byte_start as usize
                || b1 != c.byte_end as usize
        })
        .map(|c| (c.source, c.line))
        .collect();
    (findings, bad, hashed)
}

/// Spans explained in detail (the rest get one finding each naming the line).
const MAX_EXPLAINED_SPANS: usize = 1000;

/// Archived texts checked in parallel at a time.
const TEXT_CHUNK: usize = 1024;
/// How many chunks of texts, after the one being checked, are read ahead.
const TEXTS_READ_AHEAD: usize = 2;

/// Re-reads the evidence lines whose spans did not match and says what differs.
fn explain_spans(cx: &mut Ctx, sources: &[SourceInfo], mut bad: Vec<(u32, u32)>) {
    if bad.is_empty() {
        return;
    }
    let file = "records/evidence.jsonl";
    for &(_, line) in bad.iter().skip(MAX_EXPLAINED_SPANS) {
        cx.add(
            Finding::new(
                "span-mismatch",
                format!("line {line}: the span does not match the archived text"),
            )
            .file(file)
            .table(Table::Evidence),
        );
    }
    bad.truncate(MAX_EXPLAINED_SPANS);
    let wanted: HashMap<u32, u32> = bad.iter().map(|&(s, l)| (l, s)).collect();
    let mut records: Vec<(u32, EvidenceRecord)> = Vec::new();
    if let Ok(f) = open_in(&cx.dir, &cx.present, file) {
        let mut reader = BufReader::new(f);
        let mut buf = Vec::new();
        let mut line = 0u32;
        loop {
            buf.clear();
            match (&mut reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => line += 1,
            }
            if let Some(&source) = wanted.get(&line) {
                if let Ok(e) = serde_json::from_slice::<EvidenceRecord>(&buf) {
                    records.push((source, e));
                }
            }
        }
    }
    let mut text: Option<(u32, Option<SourceText>)> = None;
    for (source, e) in records {
        if text.as_ref().map(|t| t.0) != Some(source) {
            let mut ignored = Vec::new();
            text = Some((
                source,
                read_text(
                    &cx.dir,
                    &cx.present,
                    None,
                    &sources[source as usize],
                    &mut ignored,
                    &mut false,
                ),
            ));
        }
        let Some((_, Some(st))) = &text else { continue };
        let f = |msg: String, ptr: &str| {
            Finding::new("span-mismatch", msg)
                .file(file)
                .table(Table::Evidence)
                .record(e.id())
                .pointer(ptr)
        };
        let (cs, ce) = (e.char_start as usize, e.char_end as usize);
        if st.slice(cs, ce) != Some(e.exact.as_str()) {
            cx.add(f(format!("text[{cs}:{ce}] is not `exact`"), "/char_start"));
        }
        if st.byte_of(cs) != Some(e.byte_start as usize)
            || st.byte_of(ce) != Some(e.byte_end as usize)
        {
            cx.add(f(
                "byte offsets do not match the char offsets".into(),
                "/byte_start",
            ));
        }
        let pre = st.slice(cs.saturating_sub(CONTEXT), cs).unwrap_or("");
        let suf = st.slice(ce, (ce + CONTEXT).min(st.chars)).unwrap_or("");
        if pre != e.prefix {
            cx.add(f(
                "prefix is not the 32 code points before the span".into(),
                "/prefix",
            ));
        }
        if suf != e.suffix {
            cx.add(f(
                "suffix is not the 32 code points after the span".into(),
                "/suffix",
            ));
        }
    }
}

/// Reads the typed records of a release's JSONL files, without checking them (lines that do
/// not parse are skipped): for `stats` and other whole-table summaries.
pub fn load(dir: &Path) -> Result<crate::records::Tables, ValidateError> {
    fn rows<R: Record>(dir: &Path) -> Result<Vec<R>, ValidateError> {
        let path = dir.join(format!("records/{}.jsonl", R::TABLE.name()));
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(ValidateError::Io { path, source }),
        };
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|source| ValidateError::Io {
                path: path.clone(),
                source,
            })?;
            out.extend(serde_json::from_str::<R>(&line).ok());
        }
        Ok(out)
    }
    Ok(crate::records::Tables {
        sources: rows(dir)?,
        defections: rows(dir)?,
        persons: rows(dir)?,
        places: rows(dir)?,
        actors: rows(dir)?,
        events: rows(dir)?,
        statements: rows(dir)?,
        evidence: rows(dir)?,
        retractions: rows(dir)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A committed case with an amount, as its line and as a one-row Arrow batch.
    fn case() -> (String, RecordBatch) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/releases/1.0.0/records/defections.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let line = text
            .lines()
            .find(|l| {
                !l.contains(r#""funds_taken_amount":null"#) && l.contains(r#""date_start":""#)
            })
            .expect("a case with an amount and a date")
            .to_string();
        let r: DefectionRecord = serde_json::from_str(&line).unwrap();
        let fields = schema::arrow_schema(Table::Defections).fields().clone();
        (line, serde_arrow::to_record_batch(&fields, &[r]).unwrap())
    }

    #[test]
    fn a_row_matches_its_own_line_and_no_line_with_one_cell_changed() {
        let (line, batch) = case();
        let columns = Columns::of(&batch).unwrap();
        let tree = crate::jsonline::parse(&line).unwrap();
        assert!(columns.row_is(0, &tree));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let changed = |key: &str, value: serde_json::Value| {
            let mut v = v.clone();
            v[key] = value;
            serde_json::to_string(&v).unwrap()
        };
        let first_source = v["source_ids"][0].as_str().unwrap().to_string();
        for edited in [
            changed("summary_en", "another summary".into()),
            changed("subject_ar", serde_json::Value::Null),
            changed("size_best", 1_000_000.into()),
            changed("funds_taken_amount", 0.5.into()),
            changed("date_start", "1999-01-01".into()),
            changed("source_ids", serde_json::json!([first_source, "src-other"])),
            changed("source_ids", serde_json::json!([])),
            changed("roles", serde_json::json!(["hisba"])),
            changed("record_sha256", "0".repeat(64).into()),
            changed("extra", 1.into()),
            line.replace(r#""notes_en":"#, r#""note":"#),
        ] {
            let tree = crate::jsonline::parse(&edited).unwrap();
            assert!(!columns.row_is(0, &tree), "{edited}");
        }
        // Members in another order are the same row.
        let mut members: Vec<(String, serde_json::Value)> =
            v.as_object().unwrap().clone().into_iter().collect();
        members.reverse();
        let reordered = format!(
            "{{{}}}",
            members
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(columns.row_is(0, &crate::jsonline::parse(&reordered).unwrap()));
    }
}
