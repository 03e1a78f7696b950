//! Compile stamps: what the last compile of a version was made from, so that a recompile whose
//! inputs give the same release can say "up to date" after work proportional to what changed,
//! instead of building the whole release again to compare it byte for byte.
//!
//! In: the project root, the version and the cache ([`crate::cache::Cache`], which notes, while
//! a compile codes each source, what the source was read from and the sha256 of its coded
//! result). Out: after a compile that published or confirmed a release, [`record`] writes a
//! stamp into the current compiler's cache folder (`<fingerprint>/stamp-<version>`); before a
//! compile, [`fresh`] gives the release's manifest if the stamp shows that the inputs as they are
//! now give exactly the release as it is now, and nothing otherwise.
//!
//! A stamp lists every input of the release (data/VERSION, data/dataset.yaml, the retractions
//! and gazetteer coding files, the names of the seeds, every source's coding file and seed) and
//! every file of the release and of the previous release (whose records the `CHANGELOG.md` is
//! made from), each with its size, device, inode and modification and change times, and the
//! sha256 of its bytes; for a source, the cache key of its inputs and the sha256 of its coded
//! result instead, and for a gazetteer or the retractions file also the sha256 of its coded
//! result. The release is a function of these (and of the compiler, whose fingerprint
//! names the folder), so [`fresh`] checks each file's metadata, hashes a file whose metadata
//! changed, and codes a source whose files changed again (or finds its result in the cache), and
//! a gazetteer or retractions file with other bytes again: an input whose result is the same
//! bytes gives the same release. Anything else (a file added or removed, another input with other
//! bytes, another result, an unreadable or corrupt stamp) is a full build, which compares the
//! release byte for byte as before.
//!
//! Like a cache entry, a stamp is never trusted: it carries the sha256 of its body, and the
//! metadata of a file changed less than [`SETTLE_NS`] before it was read (or, for the release,
//! before it was stamped) is not kept, so that file is hashed every time: a later change within
//! the same tick of the file system's clock would not show in the metadata. The clock is read
//! only for that; nothing of the stamp reaches a release.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::records;
use crate::write::Manifest;

/// What a stamp file starts with (and its format's version).
const MAGIC: &[u8; 8] = b"DFSTAMP1";

/// How long before a file was read (or stamped) its last change must be for its metadata to
/// stand for its bytes: file times have the granularity of the kernel's clock tick, so a change
/// within the same tick after it was read would not show.
pub const SETTLE_NS: i128 = 2_000_000_000;

/// The metadata of a file that changes whenever its bytes may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Meta {
    fn of(m: &std::fs::Metadata) -> Meta {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Meta {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        }
    }

    /// The metadata of a regular file (a link is not followed; anything else is `None`).
    fn read(path: &Path) -> Option<Meta> {
        let m = std::fs::symlink_metadata(path).ok()?;
        m.is_file().then(|| Meta::of(&m))
    }

    /// `self` if it changed long enough before `reference` (ns since the epoch) to stand for the
    /// bytes read then.
    fn settled(self, reference: i128) -> Option<Meta> {
        (self.mtime_ns < reference - SETTLE_NS && self.ctime_ns < reference - SETTLE_NS)
            .then_some(self)
    }
}

/// Now, in ns since the epoch (0 if the clock is before it: nothing is then settled).
fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// A file's bytes as they were: their sha256 (lowercase hex, as the manifest gives it), and the
/// metadata that stands for them when it is settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FileStamp {
    meta: Option<Meta>,
    sha256: String,
}

/// Reads a file whole with the metadata it had when opened (taken before the bytes are read, so
/// a change while reading shows as other metadata next time).
pub(crate) fn read_with_meta(path: &Path) -> std::io::Result<(Vec<u8>, Meta)> {
    let mut f = File::open(path)?;
    let m = f.metadata()?;
    let meta = Meta::of(&m);
    let mut bytes = Vec::with_capacity(usize::try_from(m.len()).unwrap_or(0));
    f.read_to_end(&mut bytes)?;
    Ok((bytes, meta))
}

/// A file hashed now, read in chunks (`None` if it is not a readable regular file).
fn hash_now(path: &Path, reference: i128) -> Option<FileStamp> {
    if !std::fs::symlink_metadata(path).ok()?.is_file() {
        return None;
    }
    let f = File::open(path).ok()?;
    let meta = Meta::of(&f.metadata().ok()?);
    let (sha256, _) = crate::write::hash_opened(f).ok()?;
    Some(FileStamp {
        meta: meta.settled(reference),
        sha256,
    })
}

/// What a source was coded from and what it gave: its coding file (project-relative), the
/// metadata of the coding file and of its seed when read, the cache key of their bytes, and the
/// sha256 of the coded result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SourceStamp {
    pub(crate) coding: String,
    pub(crate) coding_meta: Option<Meta>,
    pub(crate) seed_meta: Option<Meta>,
    pub(crate) key: [u8; 32],
    pub(crate) digest: [u8; 32],
}

impl SourceStamp {
    /// Keeps only the metadata that stands for the bytes read (see [`Meta::settled`]).
    fn settle(mut self, reference: i128) -> SourceStamp {
        self.coding_meta = self.coding_meta.and_then(|m| m.settled(reference));
        self.seed_meta = self.seed_meta.and_then(|m| m.settled(reference));
        self
    }
}

/// A folder's files (release-relative) with their stamps.
type TreeStamp = Vec<(String, FileStamp)>;

/// An input other than a source: its project-relative path, its stamp (`None`: absent) and,
/// for the gazetteer and retractions files, the sha256 of what it codes to (so that other
/// bytes with the same result, a comment say, give the same release).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Input {
    rel: String,
    file: Option<FileStamp>,
    result: Option<[u8; 32]>,
}

impl Input {
    /// The input as it is now. Its result is worked out between two readings of its bytes,
    /// which must agree (so the result is that of the bytes stamped).
    fn now(root: &Path, rel: &str, reference: i128) -> Input {
        let path = root.join(rel);
        let file = hash_now(&path, reference);
        let result = file.as_ref().and_then(|f| {
            let r = records::input_result(root, rel)?;
            (hash_now(&path, reference)?.sha256 == f.sha256).then_some(r)
        });
        Input {
            rel: rel.to_string(),
            file,
            result,
        }
    }
}

/// The stamp of one version.
#[derive(Debug, Serialize, Deserialize)]
struct Stamp {
    fingerprint: String,
    version: String,
    /// data/VERSION, data/dataset.yaml, the retractions and the gazetteer coding files.
    inputs: Vec<Input>,
    /// The names of `seeds/*.txt` (a seed without a coding file is a problem of the build).
    seeds: Vec<String>,
    /// Every source, by coding file.
    sources: Vec<SourceStamp>,
    /// The release the CHANGELOG is made against, and its files.
    previous: Option<(String, TreeStamp)>,
    /// The files of the release.
    release: TreeStamp,
}

/// What [`record`] needs from before the build: when it started and the inputs other than the
/// sources as they were then (so a change during the build shows next time).
pub struct Before {
    started: i128,
    inputs: Vec<Input>,
    seeds: Vec<String>,
    previous: Option<(String, TreeStamp)>,
}

/// The inputs other than the sources: project-relative paths, in a fixed order.
fn other_inputs(root: &Path) -> Option<Vec<String>> {
    let mut out: Vec<String> = [
        "data/VERSION",
        "data/dataset.yaml",
        "data/codings/retractions.yaml",
    ]
    .map(String::from)
    .into();
    let gazetteer = records::list(&root.join("data/codings/gazetteer"), "yaml").ok()?;
    out.extend(gazetteer.iter().map(|p| records::rel(root, p)));
    Some(out)
}

/// The names of the seeds.
fn seed_names(root: &Path) -> Option<Vec<String>> {
    let seeds = records::list(&root.join("seeds"), "txt").ok()?;
    Some(seeds.iter().map(|p| records::rel(root, p)).collect())
}

/// A release folder's files: stat'ed, and hashed only when not listed in its manifest (the
/// manifest and `SHA256SUMS` themselves, or a release whose manifest cannot be read).
/// `manifest` is the release's when the caller has it (it just wrote it); otherwise it is read.
fn tree_stamp(dir: &Path, manifest: Option<&Manifest>, reference: i128) -> Option<TreeStamp> {
    let files = crate::write::tree(dir).ok()?;
    let read;
    let manifest = match manifest {
        Some(m) => Some(m),
        None => {
            read = std::fs::read(dir.join("manifest.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok());
            read.as_ref()
        }
    };
    let listed: std::collections::HashMap<&str, &crate::write::FileEntry> = manifest
        .map(|m| m.files.iter().map(|f| (f.path.as_str(), f)).collect())
        .unwrap_or_default();
    files
        .into_par_iter()
        .map(|rel| {
            let path = dir.join(&rel);
            let stamp = match (listed.get(rel.as_str()), Meta::read(&path)) {
                (Some(f), Some(meta)) if meta.size == f.bytes => FileStamp {
                    meta: meta.settled(reference),
                    sha256: f.sha256.clone(),
                },
                _ => hash_now(&path, reference)?,
            };
            Some((rel, stamp))
        })
        .collect()
}

/// Takes what the stamp needs before a build reads the inputs.
pub fn before(root: &Path, version: &str) -> Option<Before> {
    let started = now_ns();
    let inputs = other_inputs(root)?
        .iter()
        .map(|rel| Input::now(root, rel, started))
        .collect();
    let releases = root.join("data/releases");
    let previous = match crate::compat::previous_release(&releases, version) {
        Some(p) => {
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((name, tree_stamp(&p, None, started)?))
        }
        None => None,
    };
    Some(Before {
        started,
        inputs,
        seeds: seed_names(root)?,
        previous,
    })
}

/// Where the stamp of `version` is kept.
fn stamp_path(cache: &Cache, version: &str) -> PathBuf {
    cache.packs_dir().join(format!("stamp-{version}"))
}

/// Writes a stamp (best effort: a stamp that cannot be written only means a full build next
/// time). Written beside and renamed into place, so a reader sees a whole stamp or the old one.
fn write_stamp(cache: &Cache, stamp: &Stamp) {
    let Ok(body) = postcard::to_stdvec(stamp) else {
        return;
    };
    let path = stamp_path(cache, &stamp.version);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut bytes = Vec::with_capacity(MAGIC.len() + 32 + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&Sha256::digest(&body));
    bytes.extend_from_slice(&body);
    let written = std::fs::create_dir_all(cache.packs_dir())
        .and_then(|()| std::fs::write(&tmp, &bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Reads the stamp of `version`, if it is whole and for this compiler and version.
fn read_stamp(cache: &Cache, version: &str) -> Option<Stamp> {
    let bytes = std::fs::read(stamp_path(cache, version)).ok()?;
    let body = bytes.get(MAGIC.len() + 32..)?;
    if &bytes[..MAGIC.len()] != MAGIC
        || bytes[MAGIC.len()..MAGIC.len() + 32] != Sha256::digest(body)[..]
    {
        return None;
    }
    let stamp: Stamp = postcard::from_bytes(body).ok()?;
    (stamp.fingerprint == crate::cache::fingerprint() && stamp.version == version).then_some(stamp)
}

/// After a compile that published `release` with `manifest` (or found it up to date) from the
/// inputs taken in `before` and the sources the cache noted: writes the stamp of `version`. Nothing is written
/// when the sources noted are not exactly the coding files (a compile without a cache entry for
/// every source).
pub fn record(
    root: &Path,
    version: &str,
    cache: &Cache,
    before: Before,
    release: &Path,
    manifest: &Manifest,
) {
    let mut sources = cache.take_noted();
    sources.sort_by(|a, b| a.coding.cmp(&b.coding));
    let Ok(codings) = records::list(&root.join("data/codings/sources"), "yaml") else {
        return;
    };
    let same = codings.len() == sources.len()
        && codings
            .iter()
            .zip(&sources)
            .all(|(p, s)| records::rel(root, p) == s.coding);
    if !same {
        return;
    }
    // The other inputs were hashed before the build read them: one that changed meanwhile
    // may have given the build other bytes, so nothing is stamped.
    let unchanged = before.inputs.iter().all(|input| {
        let now = hash_now(&root.join(&input.rel), before.started);
        now.as_ref().map(|n| &n.sha256) == input.file.as_ref().map(|s| &s.sha256)
    });
    if !unchanged {
        return;
    }
    let sources = sources
        .into_iter()
        .map(|s| s.settle(before.started))
        .collect();
    let Some(release) = tree_stamp(release, Some(manifest), now_ns()) else {
        return;
    };
    write_stamp(
        cache,
        &Stamp {
            fingerprint: crate::cache::fingerprint().to_string(),
            version: version.to_string(),
            inputs: before.inputs,
            seeds: before.seeds,
            sources,
            previous: before.previous,
            release,
        },
    );
}

/// The stamp of a file as it is now if its bytes are those stamped, `None` if not. Its
/// metadata is trusted only when it was settled when stamped.
fn check_file(path: &Path, stamped: &FileStamp, reference: i128) -> Option<FileStamp> {
    if stamped.meta.is_some() && Meta::read(path) == stamped.meta {
        return Some(stamped.clone());
    }
    hash_now(path, reference).filter(|now| now.sha256 == stamped.sha256)
}

/// [`check_file`] for every file of a folder (the same files, none more).
fn check_tree(dir: &Path, stamped: &TreeStamp, reference: i128) -> Option<TreeStamp> {
    let files = crate::write::tree(dir).ok()?;
    if files.len() != stamped.len() || files.iter().zip(stamped).any(|(f, (s, _))| f != s) {
        return None;
    }
    stamped
        .par_iter()
        .map(|(rel, s)| Some((rel.clone(), check_file(&dir.join(rel), s, reference)?)))
        .collect()
}

/// The manifest of the published release of `version` if the stamp shows that the inputs as
/// they are now give exactly the release as it is now; `None` means: build it. Sources whose
/// files changed are coded again through `cache` (a result already in the cache is found
/// there); the stamp is brought up to date when anything was hashed or coded again.
pub fn fresh(root: &Path, version: &str, cache: &Cache) -> Option<Manifest> {
    let reference = now_ns();
    let releases = root.join("data/releases");
    let dir = releases.join(version);
    if !dir.is_dir() {
        return None;
    }
    let stamp = read_stamp(cache, version)?;
    let mut changed = false;

    // The inputs other than the sources.
    let names = other_inputs(root)?;
    if names.len() != stamp.inputs.len()
        || names.iter().zip(&stamp.inputs).any(|(n, i)| *n != i.rel)
    {
        return None;
    }
    let mut inputs = Vec::with_capacity(names.len());
    for input in &stamp.inputs {
        let path = root.join(&input.rel);
        let now = match &input.file {
            None => (!path.exists()).then(|| input.clone())?,
            Some(s) => match check_file(&path, s, reference) {
                Some(file) => Input {
                    file: Some(file),
                    ..input.clone()
                },
                // Other bytes: the same release if they code to the same result.
                None => Some(Input::now(root, &input.rel, reference))
                    .filter(|now| now.result.is_some() && now.result == input.result)?,
            },
        };
        changed |= now != *input;
        inputs.push(now);
    }
    if seed_names(root)? != stamp.seeds {
        return None;
    }

    // The previous release and the release itself.
    let previous = match (
        crate::compat::previous_release(&releases, version),
        &stamp.previous,
    ) {
        (None, None) => None,
        (Some(p), Some((name, files))) if p.file_name()?.to_string_lossy() == *name => {
            let now = check_tree(&p, files, reference)?;
            changed |= now != *files;
            Some((name.clone(), now))
        }
        _ => return None,
    };
    let release = check_tree(&dir, &stamp.release, reference)?;
    changed |= release != stamp.release;

    // The sources: a coding file or seed whose metadata changed is coded again (or found in
    // the cache), and its result compared.
    let codings = records::list(&root.join("data/codings/sources"), "yaml").ok()?;
    if codings.len() != stamp.sources.len()
        || codings
            .iter()
            .zip(&stamp.sources)
            .any(|(p, s)| records::rel(root, p) != s.coding)
    {
        return None;
    }
    let sources: Vec<(SourceStamp, bool)> = codings
        .par_iter()
        .zip(stamp.sources.par_iter())
        .map(|(path, s)| {
            let same = |m: Option<Meta>, p: &Path| m.is_some() && Meta::read(p) == m;
            if same(s.coding_meta, path) && same(s.seed_meta, &records::seed_of(root, path)) {
                return Some((s.clone(), false));
            }
            let now = records::restamp_source(root, path, cache)?;
            (now.digest == s.digest).then(|| (now.settle(reference), true))
        })
        .collect::<Option<_>>()?;
    changed |= sources.iter().any(|(_, again)| *again);

    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()?;
    if changed {
        write_stamp(
            cache,
            &Stamp {
                fingerprint: stamp.fingerprint,
                version: stamp.version,
                inputs,
                seeds: stamp.seeds,
                sources: sources.into_iter().map(|(s, _)| s).collect(),
                previous,
                release,
            },
        );
    }
    Some(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_changed_within_the_settling_time_is_not_kept() {
        let m = Meta {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 10 * SETTLE_NS,
            ctime_ns: 10 * SETTLE_NS,
        };
        assert_eq!(m.settled(11 * SETTLE_NS + 1), Some(m));
        assert_eq!(m.settled(11 * SETTLE_NS), None);
        let changed_later = Meta {
            ctime_ns: 11 * SETTLE_NS,
            ..m
        };
        assert_eq!(changed_later.settled(11 * SETTLE_NS + 1), None);
    }

    #[test]
    fn an_input_changed_while_building_is_not_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let release = root.join("data/releases/1.0.0");
        std::fs::create_dir_all(&release).unwrap();
        std::fs::write(root.join("data/VERSION"), "1.0.0\n").unwrap();
        let dataset = root.join("data/dataset.yaml");
        std::fs::write(&dataset, "name: first\n").unwrap();
        let cache = Cache::new(root.join("data/.cache/compile"));
        let stamp = stamp_path(&cache, "1.0.0");
        // An empty release: nothing listed, nothing to stamp but the inputs.
        let manifest = Manifest {
            dataset: String::new(),
            release_version: "1.0.0".into(),
            schema_version: String::new(),
            compiler: String::new(),
            tables: Default::default(),
            files: Vec::new(),
        };

        let before_build = before(root, "1.0.0").unwrap();
        std::fs::write(&dataset, "name: other\n").unwrap();
        record(root, "1.0.0", &cache, before_build, &release, &manifest);
        assert!(!stamp.exists(), "the build may have read the other bytes");

        let before_build = before(root, "1.0.0").unwrap();
        record(root, "1.0.0", &cache, before_build, &release, &manifest);
        let stamped = read_stamp(&cache, "1.0.0").expect("a stamp");
        let input = stamped
            .inputs
            .iter()
            .find(|i| i.rel == "data/dataset.yaml")
            .unwrap();
        let expected = crate::tables::sha256_hex(b"name: other\n");
        assert_eq!(input.file.as_ref().map(|s| &s.sha256), Some(&expected));
    }
}
