//! Writing a release: built records in, an immutable release folder out.
//!
//! In: a [`Built`] release (rows spilled as key-sorted runs). Out: `data/releases/<version>/` holding `tables/*.parquet`,
//! `records/*.jsonl`, `schema/*.schema.json`, `sources/*.txt`, `manifest.json` and `SHA256SUMS`.
//! The release is written into a hidden temporary folder beside its final place and renamed
//! into place only when complete, so it appears whole or not at all. An existing release is
//! never overwritten: the same bytes are "up to date", different bytes are an error.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diagnostics::Diagnostic;
use crate::direct::DirectWriter;
use crate::metadata::{Summarised, Summary};
use crate::model::*;
use crate::records::Built;
use crate::schema;
use crate::tables::hex;

/// The dataset's name, as written in manifests.
pub const DATASET: &str = "Islamic State Defections Dataset";

/// The `created_by` written into every Parquet file (fixed: no time, no machine).
pub fn created_by() -> String {
    format!("defections {}", env!("CARGO_PKG_VERSION"))
}

/// Rows per Arrow batch and Parquet row group when writing.
pub const ROWS_PER_GROUP: usize = 65_536;

/// `manifest.json` of a release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`DATASET`].
    pub dataset: String,
    /// The release's semantic version.
    pub release_version: String,
    /// The schema version its records follow.
    pub schema_version: String,
    /// Name and version of the compiler that wrote it.
    pub compiler: String,
    /// Per table: rows and the digest of its record hashes.
    pub tables: BTreeMap<String, TableEntry>,
    /// Every file of the release except `manifest.json` and `SHA256SUMS`, sorted by path.
    pub files: Vec<FileEntry>,
}

/// A table in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEntry {
    /// Number of records.
    pub rows: u64,
    /// sha256 of the records' `record_sha256` values, each followed by `\n`, in key order.
    pub records_sha256: String,
}

/// A file in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Release-relative path, forward slashes.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256 of the bytes.
    pub sha256: String,
}

/// Why writing failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Arrow or Parquet refused the data.
    #[error("{path}: {message}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A different release with this version exists already.
    #[error("release {version} already exists at {path} with different contents; published releases are never overwritten: bump data/VERSION")]
    Exists {
        /// The version.
        version: String,
        /// The existing release.
        path: PathBuf,
    },
    /// Rows failed their schema while being finished.
    #[error("{} problem(s) in the records", .0.len())]
    Invalid(Vec<Diagnostic>),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What [`publish`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// A new release was written.
    Written(PathBuf),
    /// An identical release already existed; nothing was written.
    UpToDate(PathBuf),
}

/// sha256 and size of a file, read in chunks.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    hash_opened(File::open(path)?)
}

/// sha256 and size of an opened file, read in chunks to its end.
pub fn hash_opened(mut f: File) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    // Sized to the file (most are small archived texts), at most 1 MiB.
    let size = f.metadata().map_or(1 << 20, |m| m.len()).clamp(1, 1 << 20);
    let mut buf = vec![0u8; size as usize];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

/// A writer that hashes and counts what goes through it (so written files are never read
/// back to be listed).
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hash.finalize()), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The release being written; files are recorded (path, size, sha256) as they are written,
/// from any thread, and sorted by path before the manifest is made.
struct Out {
    dir: PathBuf,
    files: std::sync::Mutex<Vec<FileEntry>>,
}

/// A row ready to write: the record, its JSONL line and its schema problems.
type Finished<R> = (R, Vec<u8>, Vec<Diagnostic>);

/// Rows merged from the spill, parsed and finished, per batch.
const BATCH: usize = 8192;

impl Out {
    fn path(&self, rel: &str) -> Result<PathBuf, WriteError> {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        Ok(p)
    }

    fn list(&self, rel: &str, sha256: String, bytes: u64) {
        let entry = FileEntry {
            path: rel.to_string(),
            bytes,
            sha256,
        };
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
    }

    /// Writes and lists a file whose bytes are in memory (hashed there, not read back).
    fn put(&self, rel: &str, bytes: &[u8]) -> Result<(), WriteError> {
        let p = self.path(rel)?;
        let mut f = File::create(&p).map_err(io(&p))?;
        f.write_all(bytes).map_err(io(&p))?;
        self.list(rel, crate::tables::sha256_hex(bytes), bytes.len() as u64);
        Ok(())
    }

    /// Creates a file to stream into; list it with [`Out::close`].
    fn create(&self, rel: &str) -> Result<(PathBuf, Hashing<DirectWriter>), WriteError> {
        let p = self.path(rel)?;
        let f = DirectWriter::create(&p).map_err(io(&p))?;
        Ok((p, Hashing::new(f)))
    }

    fn close(&self, rel: &str, p: &Path, w: Hashing<DirectWriter>) -> Result<(), WriteError> {
        let (w, sha256, bytes) = w.finish();
        w.finish().map_err(io(p))?;
        self.list(rel, sha256, bytes);
        Ok(())
    }

    /// Writes one table from its spilled runs, merged in key order, a batch at a time: the
    /// JSONL records, the Parquet table (row groups of [`ROWS_PER_GROUP`]) and the schema copy.
    /// `derive` sets the derived fields of rows (`true` when it changed them): a row it changed,
    /// or one spilled without its `record_sha256`, is finished again here; the others are kept.
    fn table<R: Summarised>(
        &self,
        built: &Built,
        derive: Option<&(dyn Fn(&mut R) -> bool + Sync)>,
    ) -> Result<(TableEntry, Summary), WriteError> {
        let name = R::TABLE.name();
        let runs = built.runs(R::TABLE);
        let spill = |source| WriteError::Io {
            path: PathBuf::from(format!("(spill of {name})")),
            source,
        };
        let mut merge = runs.merge().map_err(spill)?;
        let jsonl_rel = format!("records/{name}.jsonl");
        let (jsonl_path, mut jsonl) = self.create(&jsonl_rel)?;
        let parquet_rel = format!("tables/{name}.parquet");
        let (parquet_path, parquet) = self.create(&parquet_rel)?;
        let enc = |e: &dyn std::fmt::Display| WriteError::Encode {
            path: parquet_path.clone(),
            message: e.to_string(),
        };
        let arrow_schema = schema::arrow_schema(R::TABLE);
        let pq = ArrowWriter::try_new(parquet, arrow_schema.clone(), Some(parquet_properties()?))
            .map_err(|e| enc(&e))?;
        let validator = crate::schema::line_validator(R::TABLE);
        let mut digest = Sha256::new();
        let mut summary = Summary::default();
        let mut rows_written = 0u64;
        // Pipelined: this thread merges, parses and writes the JSONL while a thread of its own
        // encodes the previous batches into Parquet (batches go through in order).
        let (to_parquet, batches) = std::sync::mpsc::sync_channel::<Vec<R>>(2);
        let (produced, encoded) = std::thread::scope(|scope| {
            let encoder = scope.spawn(move || -> Result<_, WriteError> {
                let mut pq = pq;
                for rows in batches {
                    let batch = serde_arrow::to_record_batch(arrow_schema.fields(), &rows)
                        .map_err(|e| enc(&e))?;
                    pq.write(&batch).map_err(|e| enc(&e))?;
                }
                Ok(pq)
            });
            let produced = (|| -> Result<(), WriteError> {
                loop {
                    let values = merge.next_values(BATCH).map_err(spill)?;
                    if values.is_empty() {
                        return Ok(());
                    }
                    let parsed: Vec<Result<Finished<R>, String>> = values
                        .into_par_iter()
                        .map(|v| {
                            // UTF-8 checked once (SIMD), not string by string.
                            let mut r: R = crate::jsonline::text(&v)
                                .and_then(serde_json::from_str)
                                .map_err(|e| e.to_string())?;
                            match derive {
                                Some(f) if f(&mut r) || r.record_sha256().is_empty() => {
                                    let (line, diags) =
                                        crate::records::finish_one(&mut r, validator);
                                    Ok((r, line.into_bytes(), diags))
                                }
                                _ => Ok((r, v, Vec::new())),
                            }
                        })
                        .collect();
                    let mut rows = Vec::with_capacity(parsed.len());
                    let mut problems = Vec::new();
                    for p in parsed {
                        let (r, line, diags) = p.map_err(|message| WriteError::Encode {
                            path: jsonl_path.clone(),
                            message: format!("spilled row unreadable: {message}"),
                        })?;
                        problems.extend(diags);
                        jsonl.write_all(&line).map_err(io(&jsonl_path))?;
                        jsonl.write_all(b"\n").map_err(io(&jsonl_path))?;
                        digest.update(r.record_sha256().as_bytes());
                        digest.update(b"\n");
                        rows.push(r);
                    }
                    if !problems.is_empty() {
                        return Err(WriteError::Invalid(problems));
                    }
                    R::summarise(&rows, &mut summary);
                    rows_written += rows.len() as u64;
                    if to_parquet.send(rows).is_err() {
                        // The encoder stopped: its error is reported when it is joined.
                        return Ok(());
                    }
                }
            })();
            drop(to_parquet);
            let encoded = encoder.join().unwrap_or_else(|_| {
                Err(WriteError::Encode {
                    path: parquet_path.clone(),
                    message: "the thread encoding Parquet failed".into(),
                })
            });
            (produced, encoded)
        });
        produced?;
        let pq = encoded?;
        self.close(&jsonl_rel, &jsonl_path, jsonl)?;
        let parquet = pq.into_inner().map_err(|e| enc(&e))?;
        self.close(&parquet_rel, &parquet_path, parquet)?;
        self.put(
            &format!("schema/{name}.schema.json"),
            schema::embedded(R::TABLE).as_bytes(),
        )?;
        Ok((
            TableEntry {
                rows: rows_written,
                records_sha256: hex(&digest.finalize()),
            },
            summary,
        ))
    }
}

/// zstd, fixed `created_by`, row groups of [`ROWS_PER_GROUP`], sorted by the key.
fn parquet_properties() -> Result<WriterProperties, WriteError> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(|e| {
            WriteError::Encode {
                path: PathBuf::from("(parquet properties)"),
                message: e.to_string(),
            }
        })?))
        .set_created_by(created_by())
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .build())
}

/// Writes the release files of `built` into `dir` (which must be empty or absent).
///
/// Tables are merged from the spill and written first; then `changelog` is called with `dir`
/// (whose `records/` are complete) to compare with the previous release and give the
/// `CHANGELOG.md`, if any; then the metadata documents, `manifest.json` and `SHA256SUMS`.
pub fn write_into<E: From<WriteError>>(
    dir: &Path,
    built: &Built,
    changelog: impl FnOnce(&Path) -> Result<Option<String>, E>,
) -> Result<Manifest, E> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let out = Out {
        dir: dir.to_path_buf(),
        files: std::sync::Mutex::new(Vec::new()),
    };
    // Sets a derived list; `true` when it changed (the row is then finished again).
    let set = |field: &mut Vec<String>, derived: Vec<String>| {
        let changed = *field != derived;
        *field = derived;
        changed
    };
    let source_ids =
        |d: &mut DefectionRecord| set(&mut d.source_ids, built.source_ids(&d.defection_id));
    let event_ids = |e: &mut EventRecord| set(&mut e.source_ids, built.source_ids(&e.event_id));
    // The archived texts were written while the sources were read: moved in whole.
    let (texts, archived) = &built.archive;
    if !archived.is_empty() {
        let to = dir.join("sources");
        std::fs::rename(texts, &to).map_err(io(&to))?;
        for (id, sha256, bytes) in archived {
            out.list(&format!("sources/{id}.txt"), sha256.clone(), *bytes);
        }
    }
    // The evidence table (the largest) is written while the other tables are; which thread
    // writes what does not change any byte.
    let (evidence, rest) = rayon::join(
        || out.table::<EvidenceRecord>(built, None),
        || -> Result<_, WriteError> {
            Ok(vec![
                ("sources", out.table::<SourceRecord>(built, None)?),
                (
                    "defections",
                    out.table::<DefectionRecord>(built, Some(&source_ids))?,
                ),
                ("persons", out.table::<PersonRecord>(built, None)?),
                ("places", out.table::<PlaceRecord>(built, None)?),
                ("actors", out.table::<ActorRecord>(built, None)?),
                ("events", out.table::<EventRecord>(built, Some(&event_ids))?),
                ("statements", out.table::<StatementRecord>(built, None)?),
                ("retractions", out.table::<RetractionRecord>(built, None)?),
            ])
        },
    );
    let mut summary = Summary::default();
    let mut tables: BTreeMap<String, TableEntry> = BTreeMap::new();
    for (name, (entry, s)) in rest?.into_iter().chain([("evidence", evidence?)]) {
        tables.insert(name.to_string(), entry);
        summary.merge(s);
    }

    let changelog = changelog(dir)?;
    if let Some(changelog) = &changelog {
        out.put("CHANGELOG.md", changelog.as_bytes())?;
    }
    let mut files = out.files.lock().unwrap_or_else(|e| e.into_inner()).clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let docs = crate::metadata::documents(
        &built.dataset,
        &built.version,
        summary,
        &files,
        changelog.as_deref(),
    );
    for (path, text) in docs {
        out.put(&path, text.as_bytes())?;
    }

    let mut files = out.files.lock().unwrap_or_else(|e| e.into_inner()).clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        dataset: DATASET.into(),
        release_version: built.version.clone(),
        schema_version: schema::SCHEMA_VERSION.into(),
        compiler: created_by(),
        tables,
        files: files.clone(),
    };
    let mut json = serde_json::to_string_pretty(&manifest).map_err(|e| WriteError::Encode {
        path: dir.join("manifest.json"),
        message: e.to_string(),
    })?;
    json.push('\n');
    out.put("manifest.json", json.as_bytes())?;
    let mut sums = out.files.lock().unwrap_or_else(|e| e.into_inner()).clone();
    sums.sort_by(|a, b| a.path.cmp(&b.path));
    let text: String = sums
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    let p = dir.join("SHA256SUMS");
    std::fs::write(&p, text).map_err(io(&p))?;
    Ok(manifest)
}

/// Every file under `dir`, relative, sorted (for comparing two release folders).
pub fn tree(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                out.push(crate::records::rel(dir, &e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether two release folders hold the same files with the same bytes.
pub fn same_tree(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ta, tb) = (tree(a)?, tree(b)?);
    if ta != tb {
        return Ok(false);
    }
    for f in &ta {
        if hash_file(&a.join(f))? != hash_file(&b.join(f))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Flushes the file system holding `dir` to disk (one `syncfs` instead of one `fsync` per file).
#[cfg(target_os = "linux")]
fn sync_filesystem(dir: &Path) -> Result<(), WriteError> {
    let d = File::open(dir).map_err(io(dir))?;
    rustix::fs::syncfs(&d).map_err(|e| WriteError::Io {
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// Elsewhere: every file is flushed, in parallel.
#[cfg(not(target_os = "linux"))]
fn sync_filesystem(dir: &Path) -> Result<(), WriteError> {
    let files = tree(dir).map_err(io(dir))?;
    files.par_iter().try_for_each(|rel| {
        let p = dir.join(rel);
        File::open(&p).and_then(|f| f.sync_all()).map_err(io(&p))
    })
}

/// Writes release `version` into `releases/<version>/` through `write` (given a hidden
/// temporary folder beside it), atomically, never overwriting a different release.
pub fn publish<T, E: From<WriteError>>(
    releases: &Path,
    version: &str,
    write: impl FnOnce(&Path) -> Result<T, E>,
) -> Result<(Published, T), E> {
    std::fs::create_dir_all(releases).map_err(io(releases))?;
    let final_dir = releases.join(version);
    let tmp = releases.join(format!(".tmp-{}-{}", version, std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    let result = write(&tmp).and_then(|written| {
        if final_dir.exists() {
            if same_tree(&tmp, &final_dir).map_err(io(&final_dir))? {
                Ok((Published::UpToDate(final_dir.clone()), written))
            } else {
                Err(WriteError::Exists {
                    version: version.to_string(),
                    path: final_dir.clone(),
                }
                .into())
            }
        } else {
            // Files are written without a flush each; one `syncfs` makes them all durable
            // before the rename publishes them, and the parent is flushed after it.
            sync_filesystem(&tmp)?;
            std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
            File::open(releases)
                .and_then(|d| d.sync_all())
                .map_err(io(releases))?;
            Ok((Published::Written(final_dir.clone()), written))
        }
    });
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
