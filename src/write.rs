//! Writing a release: built records in, an immutable release folder out.
//!
//! In: a [`Built`] release. Out: `data/releases/<version>/` holding `tables/*.parquet`,
//! `records/*.jsonl`, `schema/*.schema.json`, `sources/*.txt`, `manifest.json` and `SHA256SUMS`.
//! The release is written into a hidden temporary folder beside its final place and renamed
//! into place only when complete, so it appears whole or not at all. An existing release is
//! never overwritten: the same bytes are "up to date", different bytes are an error.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::records::{Built, Tables};
use crate::schema;
use crate::sources::SourceText;
use crate::tables::{hex, Record, Table};

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
    /// A seed changed between checking and archiving.
    #[error("{path} changed while the release was being written")]
    SeedChanged {
        /// The seed.
        path: PathBuf,
    },
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
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
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

/// Digest of a table's record hashes, as stored in the manifest.
pub fn records_digest<'a>(hashes: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for r in hashes {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// The release being written; files are recorded (path, size, sha256) as they are written,
/// from any thread, and sorted by path before the manifest is made.
struct Out {
    dir: PathBuf,
    files: std::sync::Mutex<Vec<FileEntry>>,
}

impl Out {
    fn path(&self, rel: &str) -> Result<PathBuf, WriteError> {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        Ok(p)
    }

    /// Lists a file that a streaming writer has written (hashed by reading it back).
    fn record(&self, rel: &str) -> Result<(), WriteError> {
        let p = self.dir.join(rel);
        let (sha256, bytes) = hash_file(&p).map_err(io(&p))?;
        self.list(rel, sha256, bytes);
        Ok(())
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

    fn table<R: Record>(&self, rows: &[R]) -> Result<TableEntry, WriteError> {
        let name = R::TABLE.name();
        // JSONL
        let rel = format!("records/{name}.jsonl");
        let p = self.path(&rel)?;
        let f = File::create(&p).map_err(io(&p))?;
        let mut w = BufWriter::new(f);
        for r in rows {
            serde_json::to_writer(&mut w, r).map_err(|e| WriteError::Encode {
                path: p.clone(),
                message: e.to_string(),
            })?;
            w.write_all(b"\n").map_err(io(&p))?;
        }
        w.into_inner().map_err(|e| WriteError::Io {
            path: p.clone(),
            source: e.into_error(),
        })?;
        self.record(&rel)?;

        // Parquet
        let rel = format!("tables/{name}.parquet");
        let p = self.path(&rel)?;
        write_parquet(&p, R::TABLE, rows)?;
        self.record(&rel)?;

        // Schema copy
        self.put(
            &format!("schema/{name}.schema.json"),
            schema::embedded(R::TABLE).as_bytes(),
        )?;
        Ok(TableEntry {
            rows: rows.len() as u64,
            records_sha256: records_digest(rows.iter().map(|r| r.record_sha256())),
        })
    }
}

/// Writes `rows` as a zstd Parquet file with the table's fixed Arrow schema.
pub fn write_parquet<R: Record>(path: &Path, table: Table, rows: &[R]) -> Result<(), WriteError> {
    let enc = |e: &dyn std::fmt::Display| WriteError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let arrow_schema = schema::arrow_schema(table);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| enc(&e))?,
        ))
        .set_created_by(created_by())
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .build();
    let f = File::create(path).map_err(io(path))?;
    let mut w = ArrowWriter::try_new(f, arrow_schema.clone(), Some(props)).map_err(|e| enc(&e))?;
    for chunk in rows.chunks(ROWS_PER_GROUP) {
        let batch =
            serde_arrow::to_record_batch(arrow_schema.fields(), &chunk).map_err(|e| enc(&e))?;
        w.write(&batch).map_err(|e| enc(&e))?;
    }
    w.into_inner().map_err(|e| enc(&e))?;
    Ok(())
}

/// Archives the canonical text of one seed as `sources/<source_id>.txt`, checking that it is
/// still the text the records were built from.
fn archive_text(out: &Out, t: &Tables, source_id: &str, seed: &Path) -> Result<(), WriteError> {
    let raw = std::fs::read(seed).map_err(io(seed))?;
    let text = SourceText::from_bytes(&raw).map_err(|_| WriteError::SeedChanged {
        path: seed.to_path_buf(),
    })?;
    // `sources` is sorted by source_id.
    let expected = t
        .sources
        .binary_search_by(|s| s.source_id.as_str().cmp(source_id))
        .ok()
        .map(|i| t.sources[i].text_sha256.as_str());
    if expected != Some(text.text_sha256.as_str()) {
        return Err(WriteError::SeedChanged {
            path: seed.to_path_buf(),
        });
    }
    out.put(&format!("sources/{source_id}.txt"), text.text.as_bytes())
}

/// Writes the release files of `built` into `dir` (which must be empty or absent).
pub fn write_into(dir: &Path, built: &Built) -> Result<Manifest, WriteError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let out = Out {
        dir: dir.to_path_buf(),
        files: std::sync::Mutex::new(Vec::new()),
    };
    let t: &Tables = &built.tables;
    // The evidence table (the largest) is written while the other tables and the archived
    // texts are; which thread writes what does not change any byte.
    let (evidence, rest) = rayon::join(
        || out.table(&t.evidence),
        || -> Result<_, WriteError> {
            let tables = vec![
                ("sources", out.table(&t.sources)?),
                ("defections", out.table(&t.defections)?),
                ("persons", out.table(&t.persons)?),
                ("places", out.table(&t.places)?),
                ("actors", out.table(&t.actors)?),
                ("events", out.table(&t.events)?),
                ("statements", out.table(&t.statements)?),
                ("retractions", out.table(&t.retractions)?),
            ];
            built
                .seed_files
                .par_iter()
                .try_for_each(|(source_id, seed)| archive_text(&out, t, source_id, seed))?;
            Ok(tables)
        },
    );
    let mut tables: BTreeMap<String, TableEntry> = rest?
        .into_iter()
        .map(|(name, entry)| (name.to_string(), entry))
        .collect();
    tables.insert("evidence".to_string(), evidence?);

    if let Some(changelog) = &built.changelog {
        out.put("CHANGELOG.md", changelog.as_bytes())?;
    }
    let mut files = out.files.lock().unwrap_or_else(|e| e.into_inner()).clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let docs = crate::metadata::documents(
        &built.dataset,
        &built.version,
        t,
        &files,
        built.changelog.as_deref(),
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

/// Writes `built` as `releases/<version>/`, atomically, never overwriting a different release.
pub fn publish(releases: &Path, built: &Built) -> Result<Published, WriteError> {
    std::fs::create_dir_all(releases).map_err(io(releases))?;
    let final_dir = releases.join(&built.version);
    let tmp = releases.join(format!(".tmp-{}-{}", built.version, std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    let result = write_into(&tmp, built).and_then(|_| {
        if final_dir.exists() {
            if same_tree(&tmp, &final_dir).map_err(io(&final_dir))? {
                Ok(Published::UpToDate(final_dir.clone()))
            } else {
                Err(WriteError::Exists {
                    version: built.version.clone(),
                    path: final_dir.clone(),
                })
            }
        } else {
            // Files are written without a flush each; one `syncfs` makes them all durable
            // before the rename publishes them, and the parent is flushed after it.
            sync_filesystem(&tmp)?;
            std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
            File::open(releases)
                .and_then(|d| d.sync_all())
                .map_err(io(releases))?;
            Ok(Published::Written(final_dir.clone()))
        }
    });
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
