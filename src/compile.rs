//! The main job: project inputs in, a published release (or every problem) out; and the
//! reproducibility check of a committed release.
//!
//! In: a project root. Out: `data/releases/<data/VERSION>/` written by [`crate::write`], with a
//! `CHANGELOG.md` against the newest older release when there is one; or, for
//! [`check`], how the committed release compares with a fresh rebuild (identical bytes, same
//! data with different encoding, or different data).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compat::{self, Snapshot};
use crate::diagnostics::Diagnostic;
use crate::records::{self, BuildError};
use crate::write::{self, Manifest, Published, WriteError};

/// Why compiling failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// Reading or checking the inputs failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Writing the release failed.
    #[error(transparent)]
    Write(WriteError),
    /// The previous release could not be read.
    #[error("cannot read the previous release: {0}")]
    Previous(#[from] compat::SnapshotError),
}

/// What [`compile`] did.
#[derive(Debug)]
pub struct Compiled {
    /// The release version.
    pub version: String,
    /// The manifest of the release (rows per table, every file).
    pub manifest: Manifest,
    /// Written or up to date.
    pub published: Published,
    /// The previous release compared against, if any.
    pub previous: Option<PathBuf>,
    /// Found up to date by the stamp of the last compile (see [`crate::stamp`]), without
    /// building the release.
    pub stamped: bool,
}

impl From<WriteError> for CompileError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Invalid(d) => CompileError::Build(BuildError::Invalid(d)),
            e => CompileError::Write(e),
        }
    }
}

/// Compares the release written into `dir` with `previous` and gives its `CHANGELOG.md`, or
/// the changes no version bump allows as problems.
fn changelog_against(
    previous: Option<&Path>,
    dir: &Path,
    version: &str,
) -> Result<Option<String>, CompileError> {
    let Some(prev) = previous else {
        return Ok(None);
    };
    let old = Snapshot::from_release(prev)?;
    let new = Snapshot::from_written(dir, version)?;
    let changes = compat::compare(&old, &new)?;
    if compat::has_errors(&changes) {
        let diags: Vec<Diagnostic> = changes
            .iter()
            .filter(|c| c.bump == compat::Bump::Error)
            .map(|c| {
                Diagnostic::new(
                    "incompatible-with-previous",
                    format!("data/releases/{}", prev.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
                    c.render(),
                )
                .hint("see rules/compatibility.yaml: retract records in data/codings/retractions.yaml, never reuse ids, add corrected sources as new sources, and bump data/VERSION to fit")
            })
            .collect();
        return Err(BuildError::Invalid(diags).into());
    }
    Ok(Some(compat::changelog(&old, &new, &changes)))
}

/// Builds the release of `root` into `dir`: checks every input (spilling rows under
/// `spill_in`), writes the tables, compares with the newest older release (its
/// `CHANGELOG.md`), and writes the metadata and manifest.
fn build_into(
    root: &Path,
    dir: &Path,
    spill_in: &Path,
    progress: &dyn crate::progress::Progress,
    cache: Option<&crate::cache::Cache>,
) -> Result<(String, Manifest, Option<PathBuf>), CompileError> {
    let built = records::build_cached(root, progress, cache, spill_in)?;
    let previous = compat::previous_release(&root.join("data/releases"), &built.version);
    progress.start("writing", 0);
    let manifest = write::write_into(dir, &built, |d| {
        changelog_against(previous.as_deref(), d, &built.version)
    })?;
    progress.finish();
    Ok((built.version.clone(), manifest, previous))
}

/// Compiles the project at `root` into `data/releases/<version>/`.
pub fn compile(root: &Path) -> Result<Compiled, CompileError> {
    compile_with(root, &crate::progress::Silent, None)
}

/// [`compile`], reporting progress, with an optional cache of per-source results (see
/// [`crate::cache`]); the release is the same bytes with or without it.
pub fn compile_with(
    root: &Path,
    progress: &dyn crate::progress::Progress,
    cache: Option<&crate::cache::Cache>,
) -> Result<Compiled, CompileError> {
    let releases = root.join("data/releases");
    let version = records::read_version(root)?;
    if let Some(cache) = cache {
        progress.start("checking the stamp", 0);
        let fresh = crate::stamp::fresh(root, &version, cache);
        progress.finish();
        if let Some(manifest) = fresh {
            // Only what changed was looked up: the cache is not compacted to that.
            cache.finish(false);
            return Ok(Compiled {
                previous: compat::previous_release(&releases, &version),
                published: Published::UpToDate(releases.join(&version)),
                version,
                manifest,
                stamped: true,
            });
        }
    }
    let before = cache.and_then(|_| crate::stamp::before(root, &version));
    let existed = releases.is_dir();
    let result = write::publish(&releases, &version, |tmp| {
        build_into(root, tmp, &releases, progress, cache)
    });
    if let (Some(cache), Some(before), Ok((published, (_, manifest, _)))) = (cache, before, &result)
    {
        let (Published::Written(dir) | Published::UpToDate(dir)) = published;
        crate::stamp::record(root, &version, cache, before, dir, manifest);
    }
    if let Some(cache) = cache {
        cache.finish(result.is_ok());
    }
    if result.is_err() && !existed {
        // Nothing is written on failure, not even an empty releases folder.
        let _ = std::fs::remove_dir(&releases);
    }
    let (published, (version, manifest, previous)) = result?;
    Ok(Compiled {
        version,
        manifest,
        published,
        previous,
        stamped: false,
    })
}

/// How a committed release compares with a rebuild from the inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Byte for byte the same.
    Identical,
    /// Different bytes, same records (e.g. a newer Parquet encoder).
    EncodingOnly,
    /// Different records.
    DataChanged,
    /// There is no committed release of this version.
    Missing,
}

/// The result of [`check`].
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The version checked.
    pub version: String,
    /// Overall status.
    pub status: CheckStatus,
    /// Files whose bytes differ (or exist on one side only).
    pub differing_files: Vec<String>,
    /// Per table whose records differ: the ids that differ.
    pub differing_records: BTreeMap<String, Vec<String>>,
}

/// Rebuilds the release of `data/VERSION` into a temporary folder and compares it with the
/// committed one.
pub fn check(root: &Path) -> Result<CheckReport, CompileError> {
    let version = records::read_version(root)?;
    let committed = root.join("data/releases").join(&version);
    let mut report = CheckReport {
        version: version.clone(),
        status: CheckStatus::Missing,
        differing_files: Vec::new(),
        differing_records: BTreeMap::new(),
    };
    let tmp = tempfile::tempdir().map_err(|source| WriteError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let fresh = tmp.path().join(&version);
    build_into(root, &fresh, tmp.path(), &crate::progress::Silent, None)?;
    if !committed.is_dir() {
        return Ok(report);
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| WriteError::Io { path: p, source }
    };
    let a = write::tree(&committed).map_err(io(&committed))?;
    let b = write::tree(&fresh).map_err(io(&fresh))?;
    let all: std::collections::BTreeSet<&String> = a.iter().chain(b.iter()).collect();
    for f in all {
        let ha = write::hash_file(&committed.join(f)).ok();
        let hb = write::hash_file(&fresh.join(f)).ok();
        if ha.is_none() || ha != hb {
            report.differing_files.push(f.clone());
        }
    }
    if report.differing_files.is_empty() {
        report.status = CheckStatus::Identical;
        return Ok(report);
    }
    // Bytes differ: compare the data, table by table, by record digests.
    let read_manifest = |d: &Path| -> Option<Manifest> {
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).ok()?).ok()
    };
    let (ma, mb) = (read_manifest(&committed), read_manifest(&fresh));
    let old = Snapshot::from_release(&committed)?;
    let new = Snapshot::from_release(&fresh)?;
    for t in new.tables() {
        let hash = |v: Option<&serde_json::Value>| v.and_then(|v| v.get("record_sha256")).cloned();
        let mut ids: Vec<String> = Vec::new();
        compat::join(old.records(t)?, new.records(t)?, |id, o, n| {
            if hash(o) != hash(n) {
                ids.push(id.to_string());
            }
        })?;
        if !ids.is_empty() {
            report.differing_records.insert(t.to_string(), ids);
        }
    }
    let texts_differ = report
        .differing_files
        .iter()
        .any(|f| f.starts_with("sources/"));
    let digests_differ = ma.map(|m| m.tables) != mb.map(|m| m.tables);
    report.status = if report.differing_records.is_empty() && !texts_differ && !digests_differ {
        CheckStatus::EncodingOnly
    } else {
        CheckStatus::DataChanged
    };
    Ok(report)
}
