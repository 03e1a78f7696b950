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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::model::*;
use crate::schema;
use crate::sources::{canonicalize, SourceText, CONTEXT};
use crate::tables::{sha256_hex, Record, Table};
use crate::write::{hash_file, records_digest, Manifest};

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

/// The typed records of a release, as read from its JSONL files.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// The manifest, if it parsed.
    pub manifest: Option<Manifest>,
    /// The records.
    pub tables: crate::records::Tables,
}

struct Ctx {
    dir: PathBuf,
    findings: Vec<Finding>,
    listed: HashSet<String>,
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

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, bool)>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let meta = std::fs::symlink_metadata(e.path())?;
        let rel = crate::records::rel(base, &e.path());
        if meta.file_type().is_symlink() {
            out.push((rel, true));
        } else if meta.is_dir() {
            walk(&e.path(), base, out)?;
        } else {
            out.push((rel, false));
        }
    }
    Ok(())
}

fn read_limited(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

/// Validates the release in `dir`.
pub fn validate(dir: &Path) -> Result<Report, ValidateError> {
    let (report, _) = validate_and_load(dir)?;
    Ok(report)
}

/// Validates the release in `dir` and returns what could be loaded of it.
pub fn validate_and_load(dir: &Path) -> Result<(Report, Loaded), ValidateError> {
    validate_and_load_with(dir, &crate::progress::Silent)
}

/// [`validate_and_load`], reporting progress per table.
pub fn validate_and_load_with(
    dir: &Path,
    progress: &dyn crate::progress::Progress,
) -> Result<(Report, Loaded), ValidateError> {
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
    };
    let mut loaded = Loaded::default();
    let mut report = Report::default();

    // Files present.
    let mut present = Vec::new();
    walk(dir, dir, &mut present).map_err(|source| ValidateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut present_set: BTreeSet<String> = BTreeSet::new();
    for (p, is_link) in &present {
        if *is_link {
            cx.add(
                Finding::new("symlink", "symbolic links are not allowed in a release")
                    .file(p.clone()),
            );
        } else {
            present_set.insert(p.clone());
        }
    }

    // Manifest.
    let manifest = match read_limited(&dir.join("manifest.json"), MAX_MANIFEST_BYTES) {
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
    let manifest_ok = manifest.is_some();
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
            if !present_set.contains(&f.path) {
                cx.add(
                    Finding::new("file-missing", "listed in the manifest but absent")
                        .file(f.path.clone()),
                );
                continue;
            }
            match hash_file(&dir.join(&f.path)) {
                Ok((sha, bytes)) => {
                    if bytes != f.bytes {
                        cx.add(
                            Finding::new(
                                "size-mismatch",
                                format!("{bytes} bytes, the manifest says {}", f.bytes),
                            )
                            .file(f.path.clone()),
                        );
                    }
                    if sha != f.sha256 {
                        cx.add(
                            Finding::new("hash-mismatch", "sha256 differs from the manifest")
                                .file(f.path.clone()),
                        );
                    }
                }
                Err(e) => {
                    cx.add(Finding::new("file-unreadable", e.to_string()).file(f.path.clone()))
                }
            }
        }
        for p in &present_set {
            if !cx.listed.contains(p) && p != "manifest.json" && p != "SHA256SUMS" {
                cx.add(
                    Finding::new(
                        "unlisted-file",
                        "present in the release but not listed in the manifest",
                    )
                    .file(p.clone()),
                );
            }
        }
        check_sums(&mut cx, m);
        // The schema copies must be this validator's own schemas.
        for t in Table::ALL {
            let rel = format!("schema/{}.schema.json", t.name());
            match std::fs::read(dir.join(&rel)) {
                Ok(bytes) if bytes == schema::embedded(t).as_bytes() => {}
                Ok(_) => cx.add(
                    Finding::new(
                        "schema-modified",
                        "differs from the built-in JSON Schema of this schema version",
                    )
                    .file(rel)
                    .table(t),
                ),
                Err(_) if !present_set.contains(&rel) => {}
                Err(e) => cx.add(Finding::new("file-unreadable", e.to_string()).file(rel)),
            }
        }
    }

    // Tables.
    if manifest_ok {
        let m = manifest.as_ref().expect("checked");
        let t = &mut loaded.tables;
        progress.start("validating", Table::ALL.len() as u64 + 1);
        t.sources = table::<SourceRecord>(&mut cx, m);
        progress.inc(1);
        t.defections = table::<DefectionRecord>(&mut cx, m);
        progress.inc(1);
        t.persons = table::<PersonRecord>(&mut cx, m);
        progress.inc(1);
        t.places = table::<PlaceRecord>(&mut cx, m);
        progress.inc(1);
        t.actors = table::<ActorRecord>(&mut cx, m);
        progress.inc(1);
        t.events = table::<EventRecord>(&mut cx, m);
        progress.inc(1);
        t.statements = table::<StatementRecord>(&mut cx, m);
        progress.inc(1);
        t.evidence = table::<EvidenceRecord>(&mut cx, m);
        progress.inc(1);
        t.retractions = table::<RetractionRecord>(&mut cx, m);
        progress.inc(1);
        for (name, n) in crate::records::counts(t) {
            report.rows.insert(name.to_string(), n as u64);
        }
        references(&mut cx, t);
        evidence(&mut cx, t);
        progress.inc(1);
        progress.finish();
    }
    loaded.manifest = manifest;

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
    Ok((report, loaded))
}

fn check_sums(cx: &mut Ctx, m: &Manifest) {
    let text = match read_limited(&cx.dir.join("SHA256SUMS"), MAX_MANIFEST_BYTES) {
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
    match hash_file(&cx.dir.join("manifest.json")) {
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
const BATCH_LINES: usize = 8192;

/// Checks one JSONL line: JSON, JSON Schema, `record_sha256`; returns the findings and the
/// typed record when it is well formed.
fn check_line<R: Record>(jsonl: &str, line_no: usize, buf: &[u8]) -> (Vec<Finding>, Option<R>) {
    let t = R::TABLE;
    let ptr = format!("line {line_no}");
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
    let value: Value = match serde_json::from_slice(buf) {
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
    let id = value
        .get(t.key())
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let mut schema_ok = true;
    for e in schema::validator(t).iter_errors(&value) {
        schema_ok = false;
        out.push(
            Finding::new("schema", format!("{ptr}: {e}"))
                .file(jsonl)
                .table(t)
                .record(id.clone())
                .pointer(e.instance_path().to_string()),
        );
    }
    let mut value = value;
    let stored = value
        .get("record_sha256")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Recompute without copying the record, then put the stored hash back.
    let recomputed = crate::tables::record_hash_of_owned(&mut value);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("record_sha256".into(), Value::String(stored.clone()));
    }
    if recomputed != stored {
        out.push(
            Finding::new("record-hash", "record_sha256 does not recompute (RFC 8785 JSON of the record without record_sha256)")
                .file(jsonl)
                .table(t)
                .record(id.clone())
                .pointer("/record_sha256"),
        );
    }
    if !schema_ok {
        return (out, None);
    }
    match serde_json::from_value::<R>(value) {
        Ok(r) => (out, Some(r)),
        Err(e) => {
            out.push(
                Finding::new("schema", format!("{ptr}: {e}"))
                    .file(jsonl)
                    .table(t)
                    .record(id),
            );
            (out, None)
        }
    }
}

/// Reads and checks one table: JSONL against the schema and hashes, Parquet against JSONL.
fn table<R: Record + PartialEq>(cx: &mut Ctx, m: &Manifest) -> Vec<R> {
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
    let mut rows: Vec<R> = Vec::new();
    if let Ok(f) = File::open(cx.dir.join(&jsonl)) {
        let mut reader = BufReader::new(f);
        let mut line_no = 0usize;
        let mut done = false;
        while !done {
            // Read a batch of lines (bounded in length), then check them in parallel; results
            // are gathered in line order, so findings do not depend on thread timing.
            let mut batch: Vec<(usize, Vec<u8>)> = Vec::with_capacity(BATCH_LINES);
            while batch.len() < BATCH_LINES {
                let mut buf = Vec::new();
                match (&mut reader)
                    .take(MAX_LINE_BYTES as u64 + 1)
                    .read_until(b'\n', &mut buf)
                {
                    Ok(0) => {
                        done = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        cx.add(Finding::new("file-unreadable", e.to_string()).file(jsonl.clone()));
                        done = true;
                        break;
                    }
                }
                line_no += 1;
                if buf.len() > MAX_LINE_BYTES {
                    cx.add(
                        Finding::new(
                            "line-too-long",
                            format!("line {line_no} is longer than {MAX_LINE_BYTES} bytes"),
                        )
                        .file(jsonl.clone())
                        .table(t),
                    );
                    done = true;
                    break;
                }
                batch.push((line_no, buf));
            }
            let checked: Vec<(Vec<Finding>, Option<R>)> = batch
                .par_iter()
                .map(|(n, bytes)| check_line::<R>(&jsonl, *n, bytes))
                .collect();
            for (findings, row) in checked {
                for f in findings {
                    cx.add(f);
                }
                rows.extend(row);
            }
        }
    }
    // Keys: sorted and unique.
    for w in rows.windows(2) {
        match w[0].id().cmp(w[1].id()) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => cx.add(
                Finding::new(
                    "duplicate-key",
                    format!("{} `{}` occurs more than once", t.key(), w[1].id()),
                )
                .file(jsonl.clone())
                .table(t)
                .record(w[1].id()),
            ),
            std::cmp::Ordering::Greater => cx.add(
                Finding::new("unsorted", format!("rows are not sorted by {}", t.key()))
                    .file(jsonl.clone())
                    .table(t)
                    .record(w[1].id()),
            ),
        }
    }
    if let Some(entry) = m.tables.get(t.name()) {
        if entry.rows != rows.len() as u64 {
            cx.add(
                Finding::new(
                    "row-count",
                    format!(
                        "{} valid rows, the manifest says {}",
                        rows.len(),
                        entry.rows
                    ),
                )
                .file(jsonl.clone())
                .table(t),
            );
        }
        let digest = records_digest(rows.iter().map(|r| r.record_sha256()));
        if digest != entry.records_sha256 {
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
    parquet_matches::<R>(cx, &parquet, &rows);
    rows
}

fn parquet_matches<R: Record + PartialEq>(cx: &mut Ctx, rel: &str, jsonl: &[R]) {
    let t = R::TABLE;
    let path = cx.dir.join(rel);
    let Ok(file) = File::open(&path) else { return };
    let builder = match ParquetRecordBatchReaderBuilder::try_new(file) {
        Ok(b) => b,
        Err(e) => {
            cx.add(
                Finding::new("parquet-invalid", format!("cannot read Parquet: {e}"))
                    .file(rel)
                    .table(t),
            );
            return;
        }
    };
    let expected = schema::arrow_schema(t);
    let got = builder.schema().clone();
    let shape = |s: &arrow::datatypes::Schema| -> Vec<(String, arrow::datatypes::DataType, bool)> {
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
        return;
    }
    // Guard against files whose metadata claims more rows than the JSONL could justify.
    let claimed: i64 = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .sum();
    if claimed != jsonl.len() as i64 {
        cx.add(
            Finding::new(
                "parquet-rows",
                format!(
                    "Parquet holds {claimed} rows, JSONL {} valid rows",
                    jsonl.len()
                ),
            )
            .file(rel)
            .table(t),
        );
        return;
    }
    let reader = match builder.with_batch_size(8192).build() {
        Ok(r) => r,
        Err(e) => {
            cx.add(
                Finding::new("parquet-invalid", format!("cannot read Parquet: {e}"))
                    .file(rel)
                    .table(t),
            );
            return;
        }
    };
    let mut i = 0usize;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                cx.add(
                    Finding::new("parquet-invalid", format!("cannot decode Parquet: {e}"))
                        .file(rel)
                        .table(t),
                );
                return;
            }
        };
        let rows: Vec<R> = match serde_arrow::from_record_batch(&batch) {
            Ok(r) => r,
            Err(e) => {
                cx.add(
                    Finding::new(
                        "parquet-invalid",
                        format!("cannot decode Parquet rows: {e}"),
                    )
                    .file(rel)
                    .table(t),
                );
                return;
            }
        };
        for r in rows {
            if jsonl.get(i) != Some(&r) {
                cx.add(
                    Finding::new(
                        "parquet-jsonl-differ",
                        format!("row {} differs between Parquet and JSONL", i + 1),
                    )
                    .file(rel)
                    .table(t)
                    .record(r.id()),
                );
            }
            i += 1;
        }
    }
}

fn references(cx: &mut Ctx, t: &crate::records::Tables) {
    let ids =
        |it: &mut dyn Iterator<Item = &str>| -> HashSet<String> { it.map(String::from).collect() };
    let sources = ids(&mut t.sources.iter().map(|r| r.id()));
    let defections = ids(&mut t.defections.iter().map(|r| r.id()));
    let persons = ids(&mut t.persons.iter().map(|r| r.id()));
    let places = ids(&mut t.places.iter().map(|r| r.id()));
    let actors = ids(&mut t.actors.iter().map(|r| r.id()));
    let events = ids(&mut t.events.iter().map(|r| r.id()));
    let statements = ids(&mut t.statements.iter().map(|r| r.id()));
    let set_of = |table: Table| -> &HashSet<String> {
        match table {
            Table::Sources => &sources,
            Table::Defections => &defections,
            Table::Persons => &persons,
            Table::Places => &places,
            Table::Actors => &actors,
            Table::Events => &events,
            _ => &statements,
        }
    };
    let dangling = std::cell::RefCell::new(Vec::new());
    let check = |table: Table, id: &str, ptr: &str, target: &str, to: Table| {
        if !set_of(to).contains(target) {
            dangling.borrow_mut().push(
                Finding::new(
                    "dangling-reference",
                    format!("`{target}` does not exist in {to}"),
                )
                .file(format!("records/{table}.jsonl"))
                .table(table)
                .record(id)
                .pointer(ptr),
            );
        }
    };
    for r in &t.defections {
        let id = r.id();
        for (i, p) in r.person_ids.iter().enumerate() {
            check(
                Table::Defections,
                id,
                &format!("/person_ids/{i}"),
                p,
                Table::Persons,
            );
        }
        if let Some(p) = &r.place_id {
            check(Table::Defections, id, "/place_id", p, Table::Places);
        }
        for (i, p) in r.destination_place_ids.iter().enumerate() {
            check(
                Table::Defections,
                id,
                &format!("/destination_place_ids/{i}"),
                p,
                Table::Places,
            );
        }
        if let Some(a) = &r.outcome_actor_id {
            check(Table::Defections, id, "/outcome_actor_id", a, Table::Actors);
        }
        for (i, x) in r.informant_ids.iter().enumerate() {
            let to = if x.starts_with("act-") {
                Table::Actors
            } else {
                Table::Persons
            };
            check(Table::Defections, id, &format!("/informant_ids/{i}"), x, to);
        }
        for (i, s) in r.source_ids.iter().enumerate() {
            check(
                Table::Defections,
                id,
                &format!("/source_ids/{i}"),
                s,
                Table::Sources,
            );
        }
    }
    for r in &t.persons {
        if let Some(a) = &r.affiliation_actor_id {
            check(
                Table::Persons,
                r.id(),
                "/affiliation_actor_id",
                a,
                Table::Actors,
            );
        }
    }
    for r in &t.places {
        if let Some(p) = &r.parent_place_id {
            check(Table::Places, r.id(), "/parent_place_id", p, Table::Places);
        }
    }
    for r in &t.events {
        if let Some(p) = &r.place_id {
            check(Table::Events, r.id(), "/place_id", p, Table::Places);
        }
        if let Some(a) = &r.perpetrator_actor_id {
            check(
                Table::Events,
                r.id(),
                "/perpetrator_actor_id",
                a,
                Table::Actors,
            );
        }
        for (i, s) in r.source_ids.iter().enumerate() {
            check(
                Table::Events,
                r.id(),
                &format!("/source_ids/{i}"),
                s,
                Table::Sources,
            );
        }
    }
    for r in &t.statements {
        if let Some(p) = &r.speaker_person_id {
            check(
                Table::Statements,
                r.id(),
                "/speaker_person_id",
                p,
                Table::Persons,
            );
        }
        if let Some(d) = &r.defection_id {
            check(
                Table::Statements,
                r.id(),
                "/defection_id",
                d,
                Table::Defections,
            );
        }
        check(
            Table::Statements,
            r.id(),
            "/source_id",
            &r.source_id,
            Table::Sources,
        );
    }
    for r in &t.evidence {
        check(
            Table::Evidence,
            r.id(),
            "/source_id",
            &r.source_id,
            Table::Sources,
        );
        match Table::from_name(&r.record_table) {
            Some(to) if to.prefix().is_some() => {
                check(Table::Evidence, r.id(), "/record_id", &r.record_id, to)
            }
            _ => dangling.borrow_mut().push(
                Finding::new(
                    "dangling-reference",
                    format!("`{}` is not a table evidence can support", r.record_table),
                )
                .file("records/evidence.jsonl")
                .table(Table::Evidence)
                .record(r.id())
                .pointer("/record_table"),
            ),
        }
    }
    for r in &t.retractions {
        if let Some(to) = Table::from_name(&r.record_table) {
            if to.prefix().is_some() && set_of(to).contains(&r.record_id) {
                dangling.borrow_mut().push(
                    Finding::new(
                        "retracted-present",
                        format!("`{}` is retracted but still in {to}", r.record_id),
                    )
                    .file("records/retractions.jsonl")
                    .table(Table::Retractions)
                    .record(r.id()),
                );
            }
        }
        if let Some(x) = &r.replaced_by {
            if let Some(to) = Table::from_id(x) {
                check(Table::Retractions, r.id(), "/replaced_by", x, to);
            }
        }
    }
    for f in dangling.into_inner() {
        cx.add(f);
    }
}

fn evidence(cx: &mut Ctx, t: &crate::records::Tables) {
    // Archived texts, each read once.
    let mut texts: HashMap<&str, Option<SourceText>> = HashMap::new();
    for s in &t.sources {
        let expected_path = format!("sources/{}.txt", s.source_id);
        let file = format!("records/{}.jsonl", Table::Sources);
        if s.text_path != expected_path || !cx.listed.contains(&s.text_path) {
            cx.add(
                Finding::new(
                    "text-missing",
                    format!(
                        "text_path `{}` is not the listed archive `{expected_path}`",
                        s.text_path
                    ),
                )
                .file(file)
                .table(Table::Sources)
                .record(s.id())
                .pointer("/text_path"),
            );
            texts.insert(&s.source_id, None);
            continue;
        }
        let text = match read_limited(&cx.dir.join(&s.text_path), MAX_TEXT_BYTES) {
            Ok(Some(b)) => match String::from_utf8(b) {
                Ok(s) => Some(s),
                Err(_) => {
                    cx.add(
                        Finding::new("text-invalid", "the archived text is not UTF-8")
                            .file(s.text_path.clone())
                            .table(Table::Sources)
                            .record(s.id()),
                    );
                    None
                }
            },
            _ => None,
        };
        let Some(text) = text else {
            texts.insert(&s.source_id, None);
            continue;
        };
        if canonicalize(&text) != text {
            cx.add(
                Finding::new(
                    "text-not-canonical",
                    "the archived text is not in canonical form (NFC, LF, no BOM)",
                )
                .file(s.text_path.clone())
                .table(Table::Sources)
                .record(s.id()),
            );
        }
        let st = SourceText::from_canonical(text);
        if st.text_sha256 != s.text_sha256 {
            cx.add(
                Finding::new(
                    "text-hash",
                    "the archived text does not hash to text_sha256",
                )
                .file(s.text_path.clone())
                .table(Table::Sources)
                .record(s.id())
                .pointer("/text_sha256"),
            );
        }
        if st.chars as i64 != s.chars {
            cx.add(
                Finding::new(
                    "text-length",
                    format!(
                        "the archived text has {} code points, chars says {}",
                        st.chars, s.chars
                    ),
                )
                .file(s.text_path.clone())
                .table(Table::Sources)
                .record(s.id())
                .pointer("/chars"),
            );
        }
        texts.insert(&s.source_id, Some(st));
    }
    let file = "records/evidence.jsonl";
    let mut derived: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut numbers: HashMap<&str, Vec<u64>> = HashMap::new();
    for e in &t.evidence {
        let f = |rule, msg: String, ptr: &str| {
            Finding::new(rule, msg)
                .file(file)
                .table(Table::Evidence)
                .record(e.id())
                .pointer(ptr)
        };
        derived
            .entry(&e.record_id)
            .or_default()
            .insert(&e.source_id);
        match e
            .evidence_id
            .strip_prefix(&format!("{}/", e.record_id))
            .and_then(|n| n.parse::<u64>().ok())
        {
            Some(n) => numbers.entry(&e.record_id).or_default().push(n),
            None => cx.add(f(
                "evidence-id",
                format!("evidence_id is not `{}/<n>`", e.record_id),
                "/evidence_id",
            )),
        }
        if sha256_hex(e.exact.as_bytes()) != e.quote_sha256 {
            cx.add(f(
                "quote-hash",
                "quote_sha256 is not the sha256 of exact".into(),
                "/quote_sha256",
            ));
        }
        let Some(Some(st)) = texts.get(e.source_id.as_str()) else {
            continue;
        };
        if e.source_text_sha256 != st.text_sha256 {
            cx.add(f(
                "span-mismatch",
                "source_text_sha256 is not the archived text's hash".into(),
                "/source_text_sha256",
            ));
        }
        let (cs, ce) = (e.char_start, e.char_end);
        let in_range = 0 <= cs && cs <= ce && ce as u64 <= st.chars as u64;
        if !in_range {
            cx.add(f(
                "span-mismatch",
                format!(
                    "char offsets {cs}..{ce} are outside the text (0..{})",
                    st.chars
                ),
                "/char_start",
            ));
            continue;
        }
        let (cs, ce) = (cs as usize, ce as usize);
        if st.slice(cs, ce) != Some(e.exact.as_str()) {
            cx.add(f(
                "span-mismatch",
                format!("text[{cs}:{ce}] is not `exact`"),
                "/char_start",
            ));
        }
        if st.byte_of(cs) != Some(e.byte_start as usize)
            || st.byte_of(ce) != Some(e.byte_end as usize)
        {
            cx.add(f(
                "span-mismatch",
                "byte offsets do not match the char offsets".into(),
                "/byte_start",
            ));
        }
        let pre = st.slice(cs.saturating_sub(CONTEXT), cs).unwrap_or("");
        let suf = st.slice(ce, (ce + CONTEXT).min(st.chars)).unwrap_or("");
        if pre != e.prefix {
            cx.add(f(
                "span-mismatch",
                "prefix is not the 32 code points before the span".into(),
                "/prefix",
            ));
        }
        if suf != e.suffix {
            cx.add(f(
                "span-mismatch",
                "suffix is not the 32 code points after the span".into(),
                "/suffix",
            ));
        }
    }
    for (id, mut ns) in numbers {
        ns.sort_unstable();
        if ns.iter().enumerate().any(|(i, n)| *n != i as u64 + 1) {
            cx.add(
                Finding::new("evidence-id", "evidence of a record is not numbered 1..n")
                    .file(file)
                    .table(Table::Evidence)
                    .record(id),
            );
        }
    }
    // Derived source_ids equal the sources of the evidence.
    let none = BTreeSet::new();
    let cases = t
        .defections
        .iter()
        .map(|r| (Table::Defections, r.id(), &r.source_ids));
    let events = t
        .events
        .iter()
        .map(|r| (Table::Events, r.id(), &r.source_ids));
    for (table, id, source_ids) in cases.chain(events) {
        let want: Vec<&str> = derived.get(id).unwrap_or(&none).iter().copied().collect();
        if source_ids.iter().map(String::as_str).collect::<Vec<_>>() != want {
            cx.add(
                Finding::new(
                    "derived-field",
                    "source_ids is not the set of sources of its evidence",
                )
                .file(format!("records/{table}.jsonl"))
                .table(table)
                .record(id)
                .pointer("/source_ids"),
            );
        }
    }
}
