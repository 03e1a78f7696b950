//! A content-addressed cache of per-source compile results, for incremental compiles.
//!
//! In: the bytes of a coding file and of its seed, and the compiler's fingerprint (its version,
//! the schema version and the identity of the running executable). Out: the stored result of
//! coding that source, or a miss.
//!
//! Entries live in a few append-only pack files, not one file per source: creating 100,000
//! files costs more than coding them on some file systems (ext4 searching for free inodes
//! after mass deletions), and a handful of files can be garbage-collected. Layout:
//! `<dir>/<fingerprint>/<n>.pack`, each pack a sequence of entries
//! `[key: 32 bytes][body length: u64 LE][sha256 of body: 32 bytes][body: postcard]`, and beside
//! each finished pack its index file `<n>.idx` (key, offset and length of every entry, with the
//! pack's size and a sha256). Opening the cache reads the index files (or, for a pack without a
//! whole one, the entry headers across the pack) into an index (key → pack, offset, length);
//! a hit reads the entry whole and checks its key, length and the sha256 of its body: a
//! corrupted or truncated entry fails that check, is counted, and is rebuilt, never trusted. So no write needs to be atomic
//! or synced: each compile appends its new entries to a pack of its own.
//!
//! [`Cache::finish`] collects garbage: the packs of compilers other than the two most recently
//! used are removed, and when less than half of the current compiler's pack bytes were used by
//! the compile that just ended (or there are more than 16 packs), the used entries
//! are copied into a new pack and the old packs removed.
//!
//! A pack store is hand-written here rather than an embedded database: entries are never
//! trusted (so no transactions or fsync are needed), and the whole format is the header above.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};

use crate::direct::DirectWriter;
use crate::tables::hex;

/// Hit and miss counts of one compile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Results reused.
    pub hits: u64,
    /// Results computed (absent entries).
    pub misses: u64,
    /// Entries found corrupt and rebuilt.
    pub corrupt: u64,
}

/// The key of an entry: the sha256 of its inputs and of the compiler fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl Key {
    /// The 32 bytes of the key.
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }
}

/// Packs beyond which they are compacted into one, however much of them was used (each
/// compile that codes something writes one).
const MAX_PACKS: usize = 16;

/// Bytes of an entry header: key, body length, body sha256.
const HEADER: u64 = 32 + 8 + 32;

/// Where an entry is: pack number, offset of its header, length of its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loc {
    pack: u32,
    offset: u64,
    len: u64,
}

/// The packs of the current compiler, opened and indexed on first use.
#[derive(Default)]
struct Packs {
    files: HashMap<u32, File>,
    index: HashMap<Key, Loc>,
    bytes: u64,
}

/// The pack this compile appends to.
struct Writer {
    pack: u32,
    out: DirectWriter,
    /// Where each entry written so far is (for the pack's index file).
    entries: Vec<(Key, Loc)>,
}

/// The cache folder and its counters.
pub struct Cache {
    dir: PathBuf,
    packs: OnceLock<Packs>,
    writer: Mutex<Option<Writer>>,
    /// Entries read or written by this compile (what compaction keeps).
    used: Mutex<Vec<Loc>>,
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
    /// What each source coded (or found) by this compile was made from, for its stamp
    /// (see [`crate::stamp`]).
    noted: Mutex<Vec<crate::stamp::SourceStamp>>,
}

/// What identifies the compiler: a cached result is valid only for the same code. The
/// running executable is identified by its path, size and modification time (a rebuilt
/// binary gets a new one), which is cheap, unlike hashing it.
pub(crate) fn fingerprint() -> &'static str {
    static FP: OnceLock<String> = OnceLock::new();
    FP.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(crate::schema::SCHEMA_VERSION.as_bytes());
        if let Ok(exe) = std::env::current_exe() {
            h.update(exe.to_string_lossy().as_bytes());
            if let Ok(meta) = std::fs::metadata(&exe) {
                h.update(meta.len().to_le_bytes());
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                h.update(mtime.to_le_bytes());
            }
        }
        hex(&h.finalize())
    })
}

/// Removes a file or a folder (best effort).
fn remove(path: &Path) {
    let _ = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
}

/// The number of a pack file name (`<n>.pack`).
fn pack_number(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".pack")?.parse().ok()
}

/// What an index file starts with (and its format's version).
const INDEX_MAGIC: &[u8; 8] = b"DFIDX001";

/// Bytes of an index entry: key, offset, body length.
const INDEX_ENTRY: usize = 32 + 8 + 8;

/// The path of the index file of a pack (`<n>.idx` beside `<n>.pack`).
fn index_path(pack: &Path) -> PathBuf {
    pack.with_extension("idx")
}

/// Writes the index of a finished pack of `size` bytes:
/// `[magic][pack size: u64 LE][key, offset, length]*[sha256 of the rest]`, so that a later
/// compile finds the pack's entries in one small read instead of one read per entry header
/// across the whole pack. Best effort: a pack without its index is scanned.
fn write_index(pack: &Path, size: u64, entries: &[(Key, Loc)]) {
    let mut b = Vec::with_capacity(INDEX_MAGIC.len() + 8 + entries.len() * INDEX_ENTRY + 32);
    b.extend_from_slice(INDEX_MAGIC);
    b.extend_from_slice(&size.to_le_bytes());
    for (key, loc) in entries {
        b.extend_from_slice(&key.0);
        b.extend_from_slice(&loc.offset.to_le_bytes());
        b.extend_from_slice(&loc.len.to_le_bytes());
    }
    let digest = Sha256::digest(&b);
    b.extend_from_slice(&digest);
    if std::fs::write(index_path(pack), &b).is_err() {
        let _ = std::fs::remove_file(index_path(pack));
    }
}

/// The entries of a pack of `size` bytes from its index file, if the file is whole, was
/// written for a pack of that size and every entry lies within the pack. Like the pack, the
/// index is not trusted: it only says where an entry is, and a hit still checks the entry's
/// key and body there.
fn read_index(pack: u32, path: &Path, size: u64, index: &mut HashMap<Key, Loc>) -> bool {
    let Ok(b) = std::fs::read(index_path(path)) else {
        return false;
    };
    let Some(body_len) = b.len().checked_sub(32) else {
        return false;
    };
    let (body, digest) = b.split_at(body_len);
    let Some(rest) = body.strip_prefix(INDEX_MAGIC.as_slice()) else {
        return false;
    };
    let Some((indexed_size, entries)) = rest.split_first_chunk::<8>() else {
        return false;
    };
    if u64::from_le_bytes(*indexed_size) != size
        || entries.len() % INDEX_ENTRY != 0
        || Sha256::digest(body)[..] != *digest
    {
        return false;
    }
    let mut found = Vec::with_capacity(entries.len() / INDEX_ENTRY);
    for e in entries.chunks_exact(INDEX_ENTRY) {
        let mut key = [0u8; 32];
        key.copy_from_slice(&e[..32]);
        let offset = u64::from_le_bytes(e[32..40].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(e[40..48].try_into().unwrap_or_default());
        let end = offset.checked_add(HEADER).and_then(|x| x.checked_add(len));
        if end.is_none_or(|end| end > size) {
            return false;
        }
        found.push((Key(key), Loc { pack, offset, len }));
    }
    index.extend(found);
    true
}

/// The entries of one pack, read header by header; stops at the first header that is cut
/// short or claims more bytes than the file holds (the tail of a pack whose compile died).
fn scan(pack: u32, file: &File, index: &mut HashMap<Key, Loc>) -> u64 {
    let size = file.metadata().map_or(0, |m| m.len());
    let mut offset = 0;
    let mut header = [0u8; HEADER as usize];
    while offset + HEADER <= size && file.read_exact_at(&mut header, offset).is_ok() {
        let mut key = [0u8; 32];
        key.copy_from_slice(&header[..32]);
        let len = u64::from_le_bytes(header[32..40].try_into().unwrap_or_default());
        let left = size - offset - HEADER;
        // A cut-short entry (or a damaged length) is indexed with the bytes there are, so
        // that looking it up finds it corrupt; nothing after it is trusted to be aligned.
        index.insert(
            Key(key),
            Loc {
                pack,
                offset,
                len: len.min(left),
            },
        );
        if len > left {
            break;
        }
        offset += HEADER + len;
    }
    size
}

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache {
            dir: dir.into(),
            packs: OnceLock::new(),
            writer: Mutex::new(None),
            used: Mutex::new(Vec::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            noted: Mutex::new(Vec::new()),
        }
    }

    /// The default cache of a project: `data/.cache/compile/`.
    pub fn for_project(root: &Path) -> Cache {
        Cache::new(root.join("data/.cache/compile"))
    }

    /// The key of a set of inputs (length-prefixed, with the compiler fingerprint).
    pub fn key(parts: &[&[u8]]) -> Key {
        let mut h = Sha256::new();
        h.update(fingerprint().as_bytes());
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Key(h.finalize().into())
    }

    /// The folder of the current compiler's packs (and of its stamps).
    pub(crate) fn packs_dir(&self) -> PathBuf {
        self.dir.join(&fingerprint()[..16])
    }

    /// The path of the current compiler's pack number `n`.
    fn pack_path(&self, n: u32) -> PathBuf {
        self.packs_dir().join(format!("{n}.pack"))
    }

    fn packs(&self) -> &Packs {
        self.packs.get_or_init(|| {
            let mut packs = Packs::default();
            let Ok(entries) = std::fs::read_dir(self.packs_dir()) else {
                return packs;
            };
            let mut numbers: Vec<u32> = entries
                .filter_map(|e| pack_number(&e.ok()?.path()))
                .collect();
            // Later packs win: an entry rebuilt after corruption is in a newer pack.
            numbers.sort_unstable();
            for n in numbers {
                let path = self.pack_path(n);
                if let Ok(file) = File::open(&path) {
                    let size = file.metadata().map_or(0, |m| m.len());
                    packs.bytes += if read_index(n, &path, size, &mut packs.index) {
                        size
                    } else {
                        scan(n, &file, &mut packs.index)
                    };
                    packs.files.insert(n, file);
                }
            }
            packs
        })
    }

    /// The body of the entry at `loc` and its sha256, if its header names `key` and its
    /// checksum holds.
    fn read(packs: &Packs, key: &Key, loc: Loc) -> Option<(Vec<u8>, [u8; 32])> {
        let file = packs.files.get(&loc.pack)?;
        let mut entry = vec![0u8; usize::try_from(HEADER + loc.len).ok()?];
        file.read_exact_at(&mut entry, loc.offset).ok()?;
        let digest: [u8; 32] = Sha256::digest(&entry[HEADER as usize..]).into();
        (entry[..32] == key.0 && entry[32..40] == loc.len.to_le_bytes() && entry[40..72] == digest)
            .then(|| (entry.split_off(HEADER as usize), digest))
    }

    /// The stored value for `key`, if present and intact.
    pub fn get<T: DeserializeOwned>(&self, key: &Key) -> Option<T> {
        self.get_digest(key).map(|(v, _)| v)
    }

    /// [`Cache::get`], with the sha256 of the stored body (checked against it).
    pub fn get_digest<T: DeserializeOwned>(&self, key: &Key) -> Option<(T, [u8; 32])> {
        let packs = self.packs();
        let Some(&loc) = packs.index.get(key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let value = Cache::read(packs, key, loc)
            .and_then(|(body, digest)| Some((postcard::from_bytes::<T>(&body).ok()?, digest)));
        match value {
            Some(v) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut used) = self.used.lock() {
                    used.push(loc);
                }
                Some(v)
            }
            None => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Stores `value` under `key` (best effort: a cache that cannot be written is no error).
    pub fn put<T: Serialize>(&self, key: &Key, value: &T) {
        if let Ok(body) = Cache::body(value) {
            self.put_body(key, &body.0, &body.1);
        }
    }

    /// The stored form of `value` and its sha256 (what [`Cache::get_digest`] gives back).
    pub fn body<T: Serialize>(value: &T) -> Result<(Vec<u8>, [u8; 32]), postcard::Error> {
        let body = postcard::to_stdvec(value)?;
        let digest = Sha256::digest(&body).into();
        Ok((body, digest))
    }

    /// Stores a body made by [`Cache::body`] under `key` (best effort, like [`Cache::put`]).
    pub fn put_body(&self, key: &Key, body: &[u8], digest: &[u8; 32]) {
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(&key.0);
        header.extend_from_slice(&(body.len() as u64).to_le_bytes());
        header.extend_from_slice(digest);
        let Ok(mut writer) = self.writer.lock() else {
            return;
        };
        if writer.is_none() {
            *writer = self.new_pack();
        }
        let Some(w) = writer.as_mut() else { return };
        let loc = Loc {
            pack: w.pack,
            offset: w.out.position(),
            len: body.len() as u64,
        };
        if w.out.write_all(&header).is_err() || w.out.write_all(body).is_err() {
            // A pack that cannot be written is abandoned; what it holds so far stays valid.
            *writer = None;
            return;
        }
        w.entries.push((*key, loc));
        if let Ok(mut used) = self.used.lock() {
            used.push(loc);
        }
    }

    /// A new pack, numbered after every existing one (created, never opened for append: two
    /// compiles at once write packs of their own).
    fn new_pack(&self) -> Option<Writer> {
        let dir = self.packs_dir();
        std::fs::create_dir_all(&dir).ok()?;
        let mut n = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| pack_number(&e.ok()?.path()))
            .max()
            .map_or(0, |m| m + 1);
        loop {
            match DirectWriter::create_new(&self.pack_path(n)) {
                Ok(out) => {
                    // An index left by an earlier pack of this number is not this pack's.
                    let _ = std::fs::remove_file(index_path(&self.pack_path(n)));
                    return Some(Writer {
                        pack: n,
                        out,
                        entries: Vec::new(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(_) => return None,
            }
        }
    }

    /// Ends a compile: flushes the pack being written and collects garbage. `complete` says
    /// whether the compile looked up every source (only then is what it used all that is
    /// worth keeping).
    pub fn finish(&self, complete: bool) {
        let written = self.writer.lock().ok().and_then(|mut w| w.take());
        let written = written.and_then(|w| {
            let size = w.out.finish().ok()?.metadata().ok()?.len();
            write_index(&self.pack_path(w.pack), size, &w.entries);
            Some(w.pack)
        });
        self.remove_other_compilers();
        if complete {
            self.compact(written);
        }
    }

    /// Removes everything in the cache folder but the packs of the current compiler and of
    /// the one used most recently before it (a debug and a release build used in turn).
    fn remove_other_compilers(&self) {
        let current = self.packs_dir();
        // Marks the current compiler's folder as just used.
        if let Ok(dir) = File::open(&current) {
            let _ = dir.set_modified(std::time::SystemTime::now());
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut others: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let compiler = e.file_name().len() == 16 && path.is_dir();
            match e.metadata().and_then(|m| m.modified()) {
                Ok(modified) if compiler && path != current => others.push((modified, path)),
                _ if path == current => {}
                // Not a compiler's folder (an older cache layout): removed.
                _ => remove(&path),
            }
        }
        others.sort_by_key(|o| std::cmp::Reverse(o.0));
        for (_, path) in others.into_iter().skip(1) {
            remove(&path);
        }
    }

    /// When less than half of the current compiler's pack bytes were used, or there are more
    /// than [`MAX_PACKS`] packs, copies the used entries into a new pack and removes the others
    /// (`written`, this compile's own pack, is then one of the packs removed, its entries
    /// copied like the rest).
    fn compact(&self, written: Option<u32>) {
        let Ok(used) = self.used.lock() else { return };
        let packs = self.packs();
        let used_bytes: u64 = used.iter().map(|l| HEADER + l.len).sum();
        let mut files: HashMap<u32, File> = packs
            .files
            .iter()
            .filter_map(|(&n, f)| Some((n, f.try_clone().ok()?)))
            .collect();
        let mut total = packs.bytes;
        if let Some(n) = written.filter(|n| !files.contains_key(n)) {
            if let Ok(f) = File::open(self.pack_path(n)) {
                total += f.metadata().map_or(0, |m| m.len());
                files.insert(n, f);
            }
        }
        if used_bytes * 2 >= total && files.len() <= MAX_PACKS {
            return;
        }
        let Some(mut w) = self.new_pack() else { return };
        let mut entry = Vec::new();
        for loc in used.iter() {
            let Some(file) = files.get(&loc.pack) else {
                continue;
            };
            entry.resize((HEADER + loc.len) as usize, 0);
            let at = Loc {
                pack: w.pack,
                offset: w.out.position(),
                len: loc.len,
            };
            if file.read_exact_at(&mut entry, loc.offset).is_err()
                || w.out.write_all(&entry).is_err()
            {
                break;
            }
            let mut key = [0u8; 32];
            key.copy_from_slice(&entry[..32]);
            w.entries.push((Key(key), at));
        }
        let pack = w.pack;
        let complete = w.out.finish().ok().and_then(|f| f.metadata().ok());
        if complete.is_none_or(|m| m.len() != used_bytes) {
            // The new pack is incomplete: it goes, the old ones stay.
            let _ = std::fs::remove_file(self.pack_path(pack));
            return;
        }
        write_index(&self.pack_path(pack), used_bytes, &w.entries);
        for n in files.keys() {
            let _ = std::fs::remove_file(self.pack_path(*n));
            let _ = std::fs::remove_file(index_path(&self.pack_path(*n)));
        }
    }

    /// Notes what a source was coded from and what it gave (for the stamp of this compile).
    pub(crate) fn note(&self, source: crate::stamp::SourceStamp) {
        if let Ok(mut noted) = self.noted.lock() {
            noted.push(source);
        }
    }

    /// The sources noted so far (taken: the list is left empty).
    pub(crate) fn take_noted(&self) -> Vec<crate::stamp::SourceStamp> {
        self.noted
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            corrupt: self.corrupt.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packs(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(&fingerprint()[..16]))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| pack_number(p).is_some())
            .collect();
        v.sort();
        v
    }

    fn fill(dir: &Path, values: &[&str]) {
        let c = Cache::new(dir);
        for v in values {
            assert_eq!(c.get::<String>(&Cache::key(&[v.as_bytes()])), None);
            c.put(&Cache::key(&[v.as_bytes()]), &v.to_string());
        }
        c.finish(true);
    }

    #[test]
    fn entries_are_found_again_by_a_later_compile() {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), &["a", "b"]);
        // A compile that uses a and b again and adds c.
        let c = Cache::new(dir.path());
        assert!(c.get::<String>(&Cache::key(&[b"a"])).is_some());
        assert!(c.get::<String>(&Cache::key(&[b"b"])).is_some());
        c.put(&Cache::key(&[b"c"]), &"c".to_string());
        c.finish(true);
        let c = Cache::new(dir.path());
        for v in ["a", "b", "c"] {
            assert_eq!(
                c.get::<String>(&Cache::key(&[v.as_bytes()])).as_deref(),
                Some(v)
            );
        }
        assert_eq!(c.get::<String>(&Cache::key(&[b"d"])), None);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.corrupt), (3, 1, 0));
        assert_eq!(
            packs(dir.path()).len(),
            2,
            "one pack per compile that wrote"
        );
    }

    #[test]
    fn a_compile_that_used_less_than_half_keeps_only_what_it_used() {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), &["a", "b", "c", "d"]);
        // An incomplete compile collects nothing.
        let c = Cache::new(dir.path());
        assert!(c.get::<String>(&Cache::key(&[b"b"])).is_some());
        c.finish(false);
        assert_eq!(packs(dir.path()).len(), 1);
        // A complete one that used one entry of four (and added one) compacts the packs into one.
        let c = Cache::new(dir.path());
        assert!(c.get::<String>(&Cache::key(&[b"b"])).is_some());
        c.put(&Cache::key(&[b"e"]), &"e".to_string());
        c.finish(true);
        let after = packs(dir.path());
        assert_eq!(after.len(), 1, "{after:?}");
        assert!(
            pack_number(&after[0]).unwrap() >= 2,
            "a new pack: {after:?}"
        );
        let c = Cache::new(dir.path());
        assert!(c.get::<String>(&Cache::key(&[b"b"])).is_some());
        assert!(c.get::<String>(&Cache::key(&[b"e"])).is_some());
        assert!(c.get::<String>(&Cache::key(&[b"a"])).is_none());
        assert_eq!(c.stats().corrupt, 0);
    }

    #[test]
    fn many_small_packs_are_compacted_into_one() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<String> = (0..=MAX_PACKS).map(|i| format!("value {i}")).collect();
        // Each compile uses every entry so far and adds one: never less than half used.
        for (i, v) in values.iter().enumerate() {
            let c = Cache::new(dir.path());
            for old in &values[..i] {
                assert!(c.get::<String>(&Cache::key(&[old.as_bytes()])).is_some());
            }
            c.put(&Cache::key(&[v.as_bytes()]), v);
            c.finish(true);
            assert!(packs(dir.path()).len() <= MAX_PACKS, "after compile {i}");
        }
        let c = Cache::new(dir.path());
        for v in &values {
            assert_eq!(
                c.get::<String>(&Cache::key(&[v.as_bytes()])).as_ref(),
                Some(v)
            );
        }
        assert_eq!(c.stats().corrupt, 0);
    }

    #[test]
    fn other_compilers_packs_are_removed_but_the_most_recent() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("aaaaaaaaaaaaaaaa");
        let recent = dir.path().join("bbbbbbbbbbbbbbbb");
        let layout = dir.path().join("00");
        for d in [&old, &recent, &layout] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("0.pack"), b"").unwrap();
        }
        let day = std::time::Duration::from_secs(86_400);
        let now = std::time::SystemTime::now();
        File::open(&old)
            .unwrap()
            .set_modified(now - 2 * day)
            .unwrap();
        File::open(&recent)
            .unwrap()
            .set_modified(now - day)
            .unwrap();
        fill(dir.path(), &["a"]);
        assert!(!old.exists(), "an older compiler's packs are removed");
        assert!(
            recent.exists(),
            "the most recent other compiler's packs stay"
        );
        assert!(!layout.exists(), "an older layout is removed");
        assert_eq!(packs(dir.path()).len(), 1);
    }

    /// Two entries stored, their pack damaged by `damage`, both looked up again: the stats.
    fn damaged(damage: impl FnOnce(&mut Vec<u8>)) -> CacheStats {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), &["first value", "second value"]);
        let pack = &packs(dir.path())[0];
        let mut bytes = std::fs::read(pack).unwrap();
        damage(&mut bytes);
        std::fs::write(pack, bytes).unwrap();
        // The pack is read header by header (its index is tested apart).
        std::fs::remove_file(index_path(pack)).unwrap();
        let c = Cache::new(dir.path());
        assert_eq!(c.get::<String>(&Cache::key(&[b"first value"])), None);
        assert_eq!(c.get::<String>(&Cache::key(&[b"second value"])), None);
        c.stats()
    }

    #[test]
    fn a_damaged_length_is_corrupt_not_a_huge_read() {
        let s = damaged(|b| b[32..40].copy_from_slice(&u64::MAX.to_le_bytes()));
        // The entries after a damaged length are not found (a miss, rebuilt).
        assert_eq!((s.corrupt, s.misses), (1, 1));
    }

    #[test]
    fn a_flipped_byte_or_a_cut_entry_is_corrupt_never_trusted() {
        let s = damaged(|b| {
            b[HEADER as usize + 3] ^= 0x20;
            b.truncate(b.len() - 2);
        });
        assert_eq!((s.corrupt, s.misses), (2, 0));
    }

    #[test]
    fn a_pack_index_is_used_only_when_whole_and_never_trusted_for_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let values = ["first value", "second value", "third value"];
        fill(dir.path(), &values);
        let pack = &packs(dir.path())[0];
        let size = std::fs::metadata(pack).unwrap().len();
        // Whole: the same locations as reading the pack header by header.
        let (mut indexed, mut scanned) = (HashMap::new(), HashMap::new());
        assert!(read_index(0, pack, size, &mut indexed));
        scan(0, &File::open(pack).unwrap(), &mut scanned);
        assert_eq!(indexed, scanned);
        assert_eq!(indexed.len(), values.len());
        let found = |expect_corrupt: u64| {
            let c = Cache::new(dir.path());
            let got: Vec<Option<String>> = values
                .iter()
                .map(|v| c.get::<String>(&Cache::key(&[v.as_bytes()])))
                .collect();
            assert_eq!(c.stats().corrupt, expect_corrupt);
            got
        };
        let all: Vec<Option<String>> = values.iter().map(|v| Some(v.to_string())).collect();
        assert_eq!(found(0), all);

        // A flipped byte, or an index written for a pack of another size: not used (the pack
        // is read header by header instead), every entry still found.
        let good = std::fs::read(index_path(pack)).unwrap();
        let mut flipped = good.clone();
        flipped[20] ^= 0x01;
        std::fs::write(index_path(pack), &flipped).unwrap();
        assert!(!read_index(0, pack, size, &mut HashMap::new()));
        assert_eq!(found(0), all);
        let entries: Vec<(Key, Loc)> = {
            let mut e: Vec<(Key, Loc)> = scanned.iter().map(|(k, l)| (*k, *l)).collect();
            e.sort_by_key(|(_, l)| l.offset);
            e
        };
        write_index(pack, size + 1, &entries);
        assert!(!read_index(0, pack, size, &mut HashMap::new()));
        assert_eq!(found(0), all);

        // Whole but wrong (two entries' places swapped): each lookup finds another key there,
        // so both are corrupt (rebuilt), never the other value.
        let mut swapped = entries.clone();
        let (a, b) = (swapped[0].1, swapped[1].1);
        swapped[0].1 = b;
        swapped[1].1 = a;
        write_index(pack, size, &swapped);
        assert!(read_index(0, pack, size, &mut HashMap::new()));
        let got = found(2);
        assert_eq!(got[0], None);
        assert_eq!(got[1], None);
        assert_eq!(got[2], all[2]);
    }
}
