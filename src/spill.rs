//! Spill files: key-sorted runs of records on disk, merged back in key order.
//!
//! In: chunks of `(key, bytes)` entries (one chunk per batch of coding files, sorted here by
//! key). Out: one stream of entries in key order over every chunk (a k-way merge), read a
//! buffer at a time. This is how the compiler sorts a table far larger than the memory it
//! keeps: each chunk is sorted and written as a run; the runs are merged while the release is
//! written.
//!
//! A run is a sequence of frames `u32 key length, key, u32 value length, value` (little
//! endian). All runs of one table live in one file; a run is a byte range of it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::slice::ParallelSliceMut;

/// Bytes read from a run at a time while merging.
const RUN_BUFFER: usize = 64 * 1024;

/// One table's runs.
#[derive(Debug)]
pub struct Runs {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    written: u64,
    runs: Vec<(u64, u64)>,
    entries: u64,
}

impl Runs {
    /// A new, empty spill file at `path`.
    pub fn create(path: &Path) -> std::io::Result<Runs> {
        let f = File::create(path)?;
        Ok(Runs {
            path: path.to_path_buf(),
            writer: Some(BufWriter::with_capacity(RUN_BUFFER, f)),
            written: 0,
            runs: Vec::new(),
            entries: 0,
        })
    }

    /// Sorts `entries` by key and appends them as one run.
    pub fn push_run(&mut self, mut entries: Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        entries.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("spill file already closed"))?;
        let start = self.written;
        for (key, value) in &entries {
            for part in [key.as_bytes(), value.as_slice()] {
                let len = u32::try_from(part.len())
                    .map_err(|_| std::io::Error::other("spilled record larger than 4 GiB"))?;
                w.write_all(&len.to_le_bytes())?;
                w.write_all(part)?;
                self.written += 4 + part.len() as u64;
            }
        }
        self.entries += entries.len() as u64;
        self.runs.push((start, self.written));
        Ok(())
    }

    /// Entries in all runs.
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether no entry was spilled.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Flushes and closes the file: no more runs.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some(w) = self.writer.take() {
            w.into_inner().map_err(|e| e.into_error())?;
        }
        Ok(())
    }

    /// A merging reader over every run, in key order (after [`Runs::finish`]).
    pub fn merge(&self) -> std::io::Result<Merge> {
        if self.writer.is_some() {
            return Err(std::io::Error::other("spill file still open for writing"));
        }
        let file = File::open(&self.path)?;
        let mut cursors = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::with_capacity(self.runs.len());
        for &(start, end) in &self.runs {
            let mut c = Cursor {
                pos: start,
                end,
                buf: Vec::new(),
                at: 0,
            };
            if let Some(key) = c.next_part(&file)? {
                heap.push(Reverse((key, cursors.len())));
            }
            cursors.push(c);
        }
        Ok(Merge {
            file,
            cursors,
            heap,
        })
    }
}

/// A read position in one run.
struct Cursor {
    /// Next file offset to read into the buffer.
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    /// Next unread byte of `buf`.
    at: usize,
}

impl Cursor {
    /// Makes at least `n` unread bytes available (fewer only at the end of the run).
    fn fill(&mut self, file: &File, n: usize) -> std::io::Result<()> {
        if self.buf.len() - self.at >= n {
            return Ok(());
        }
        self.buf.drain(..self.at);
        self.at = 0;
        let want = n.max(RUN_BUFFER) - self.buf.len();
        let want = want.min((self.end - self.pos) as usize);
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        read_exact_at(file, &mut self.buf[old..], self.pos)?;
        self.pos += want as u64;
        Ok(())
    }

    /// The next length-prefixed part, or `None` at the end of the run.
    fn next_part(&mut self, file: &File) -> std::io::Result<Option<Vec<u8>>> {
        self.fill(file, 4)?;
        if self.buf.len() - self.at < 4 {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.buf[self.at..self.at + 4]);
        let len = u32::from_le_bytes(len) as usize;
        self.at += 4;
        self.fill(file, len)?;
        if self.buf.len() - self.at < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "spill file truncated",
            ));
        }
        let part = self.buf[self.at..self.at + len].to_vec();
        self.at += len;
        Ok(Some(part))
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, buf, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

/// Entries of every run of a table, in key order.
pub struct Merge {
    file: File,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
}

impl Merge {
    /// The next `(key, value)` in key order (equal keys: the earlier run first).
    pub fn next_entry(&mut self) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(Reverse((key, run))) = self.heap.pop() else {
            return Ok(None);
        };
        let c = &mut self.cursors[run];
        let value = c.next_part(&self.file)?.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "spill file truncated")
        })?;
        if let Some(next) = c.next_part(&self.file)? {
            self.heap.push(Reverse((next, run)));
        }
        Ok(Some((key, value)))
    }

    /// Up to `n` next values, in key order (empty at the end).
    pub fn next_values(&mut self, n: usize) -> std::io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.next_entry()? {
                Some((_, v)) => out.push(v),
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the chunks, the merge yields every entry exactly once, in key order.
        #[test]
        fn merge_is_a_sort(chunks in proptest::collection::vec(
            proptest::collection::vec(("[a-d]{0,6}", proptest::collection::vec(any::<u8>(), 0..300)), 0..40), 0..8)) {
            let dir = tempfile::tempdir().unwrap();
            let mut runs = Runs::create(&dir.path().join("t.runs")).unwrap();
            let mut all: Vec<(String, Vec<u8>)> = Vec::new();
            for c in &chunks {
                all.extend(c.iter().cloned());
                runs.push_run(c.clone()).unwrap();
            }
            prop_assert_eq!(runs.len(), all.len() as u64);
            runs.finish().unwrap();
            let m = runs.merge().unwrap();
            let mut m = m;
            let mut got = Vec::new();
            while let Some((k, v)) = m.next_entry().unwrap() {
                got.push((String::from_utf8(k).unwrap(), v));
            }
            let keys: Vec<&String> = got.iter().map(|e| &e.0).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            prop_assert_eq!(keys, sorted);
            let mut a = all.clone();
            a.sort();
            got.sort();
            prop_assert_eq!(a, got);
        }
    }

    #[test]
    fn values_larger_than_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let mut runs = Runs::create(&dir.path().join("t.runs")).unwrap();
        let big = vec![7u8; RUN_BUFFER * 3 + 5];
        runs.push_run(vec![("b".into(), big.clone()), ("a".into(), vec![1])])
            .unwrap();
        runs.push_run(vec![("c".into(), vec![2])]).unwrap();
        runs.finish().unwrap();
        let mut m = runs.merge().unwrap();
        let vals = m.next_values(10).unwrap();
        assert_eq!(vals, vec![vec![1], big, vec![2]]);
    }
}
