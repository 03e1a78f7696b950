//! A content-addressed cache of per-source compile results, for incremental compiles.
//!
//! In: the bytes of a coding file and of its seed, and the compiler's fingerprint (its version,
//! the schema version and the sha256 of the running executable). Out: the stored result of
//! coding that source, or a miss. An entry is a file named by the sha256 of its inputs whose
//! first line is the sha256 of the rest: a corrupted or truncated entry fails that check, is
//! counted, and is rebuilt, never trusted; so entries are written in place (no rename).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};

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

/// The cache folder and its counters.
pub struct Cache {
    dir: PathBuf,
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
}

/// What identifies the compiler: a cached result is valid only for the same code. The
/// running executable is identified by its path, size and modification time (a rebuilt
/// binary gets a new one), which is cheap, unlike hashing it.
fn fingerprint() -> &'static str {
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

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache {
            dir: dir.into(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
        }
    }

    /// The default cache of a project: `data/.cache/compile/`.
    pub fn for_project(root: &Path) -> Cache {
        Cache::new(root.join("data/.cache/compile"))
    }

    /// The key of a set of inputs (length-prefixed, with the compiler fingerprint).
    pub fn key(parts: &[&[u8]]) -> String {
        let mut h = Sha256::new();
        h.update(fingerprint().as_bytes());
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        hex(&h.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(key)
    }

    /// The stored value for `key`, if present and intact.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let bytes = match std::fs::read(self.path(key)) {
            Ok(b) => b,
            Err(_) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let value = bytes
            .iter()
            .position(|b| *b == b'\n')
            .filter(|&nl| {
                nl == 64 && bytes[..nl] == *hex(&Sha256::digest(&bytes[nl + 1..])).as_bytes()
            })
            .and_then(|nl| serde_json::from_slice::<T>(&bytes[nl + 1..]).ok());
        match value {
            Some(v) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(v)
            }
            None => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Stores `value` under `key` (best effort: a cache that cannot be written is no error).
    pub fn put<T: Serialize>(&self, key: &str, value: &T) {
        let Ok(body) = serde_json::to_vec(value) else {
            return;
        };
        let path = self.path(key);
        let Some(parent) = path.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        let mut data = hex(&Sha256::digest(&body)).into_bytes();
        data.push(b'\n');
        data.extend_from_slice(&body);
        // Written in place, without a temporary name: an entry cut short (a crash, two
        // compiles writing it at once) fails its checksum and is rebuilt, never trusted.
        let _ = std::fs::write(&path, &data);
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
