//! Writing large files past the page cache (`O_DIRECT`), where the system allows it.
//!
//! In: the bytes of one large file written front to back (a release table, a cache pack). Out: the same file, byte for byte, as [`std::io::BufWriter`] over [`File`]
//! would leave it; only the path the bytes take differs.
//!
//! Why: a buffered write copies every byte into a page-cache page that the kernel must first
//! find and clear. On a virtual machine that hands its free memory back to the host (as the
//! benchmark machine does), each such page is also a fault in the host, and writing a
//! 100,000-source release cost more system time than computing it (see `benches/RESULTS.md`:
//! `dd` of 2 GB, buffered 4–7 s of system time, `O_DIRECT` 0.2 s). A direct write goes from
//! one reused, aligned buffer to the disk.
//!
//! How: bytes gather in a buffer of [`BUFFER`] bytes aligned to [`ALIGN`]; whole buffers are
//! written at aligned offsets. [`DirectWriter::finish`] writes the last, partial block padded
//! with zeros and cuts the file back to its length. Where `O_DIRECT` is refused (a file system
//! without it, such as tmpfs, or an alignment the device does not accept) the file is written
//! through the page cache instead; the bytes are the same either way. [`Write::flush`] writes
//! the whole blocks gathered so far and keeps the partial one: the file is complete only after
//! [`DirectWriter::finish`]. Setting `DEFECTIONS_BUFFERED` in the environment turns direct
//! writes off (for comparing the two in a benchmark, or a file system that misbehaves).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Alignment of the buffer, of every direct write's offset and of its length (the page size,
/// a multiple of any block size a disk uses).
pub const ALIGN: usize = 4096;

/// Bytes gathered before a write (and the size of each direct write).
pub const BUFFER: usize = 1 << 20;

/// A [`Write`] for one file written from its start, past the page cache where possible.
/// Unlike [`std::io::BufWriter`] it does not write on drop: bytes not yet written when it is
/// dropped without [`DirectWriter::finish`] are lost.
#[derive(Debug)]
pub struct DirectWriter {
    file: File,
    /// `BUFFER + ALIGN` bytes, of which `[at..at + BUFFER]` is the aligned buffer.
    raw: Vec<u8>,
    at: usize,
    /// Bytes gathered in the buffer.
    len: usize,
    /// Bytes written to the file (always a multiple of `ALIGN` while `direct`).
    written: u64,
    direct: bool,
}

impl DirectWriter {
    /// Creates (or truncates) `path`, opened for direct writes when the system allows it.
    pub fn create(path: &Path) -> std::io::Result<DirectWriter> {
        Self::open(path, false)
    }

    /// Creates `path`, failing if it exists.
    pub fn create_new(path: &Path) -> std::io::Result<DirectWriter> {
        Self::open(path, true)
    }

    fn open(path: &Path, new: bool) -> std::io::Result<DirectWriter> {
        let options = |direct: bool| {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true);
            if new {
                o.create_new(true);
            } else {
                o.truncate(true);
            }
            #[cfg(target_os = "linux")]
            if direct {
                use std::os::unix::fs::OpenOptionsExt;
                o.custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
            }
            #[cfg(not(target_os = "linux"))]
            let _ = direct;
            o
        };
        let want = std::env::var_os("DEFECTIONS_BUFFERED").is_none();
        let (file, direct) = match options(want).open(path) {
            Ok(f) => (f, want && cfg!(target_os = "linux")),
            // EINVAL: the file system has no O_DIRECT (tmpfs); any other error is real.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                (options(false).open(path)?, false)
            }
            Err(e) => return Err(e),
        };
        let raw = vec![0u8; BUFFER + ALIGN];
        let at = raw.as_ptr().align_offset(ALIGN);
        Ok(DirectWriter {
            file,
            raw,
            at,
            len: 0,
            written: 0,
            direct,
        })
    }

    /// Bytes accepted so far (written or gathered).
    pub fn position(&self) -> u64 {
        self.written + self.len as u64
    }

    /// Writes `[0..n]` of the buffer (`n` a multiple of `ALIGN` while direct) and moves the
    /// rest to its front. A direct write refused with EINVAL turns direct writing off for the
    /// rest of the file and is made again through the page cache.
    fn drain(&mut self, n: usize) -> std::io::Result<()> {
        let block = &self.raw[self.at..self.at + n];
        match self.file.write_all_at(block, self.written) {
            Err(e) if self.direct && e.kind() == std::io::ErrorKind::InvalidInput => {
                self.buffered()?;
                let block = &self.raw[self.at..self.at + n];
                self.file.write_all_at(block, self.written)?;
            }
            r => r?,
        }
        self.written += n as u64;
        self.raw
            .copy_within(self.at + n..self.at + self.len, self.at);
        self.len -= n;
        Ok(())
    }

    /// Turns `O_DIRECT` off for the rest of the file.
    fn buffered(&mut self) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            let flags = rustix::fs::fcntl_getfl(&self.file)?;
            rustix::fs::fcntl_setfl(&self.file, flags - rustix::fs::OFlags::DIRECT)?;
        }
        self.direct = false;
        Ok(())
    }

    /// Writes what is gathered and gives the file back, exactly [`DirectWriter::position`]
    /// bytes long. Not synced: the caller decides about durability.
    pub fn finish(mut self) -> std::io::Result<File> {
        let len = self.len;
        if len > 0 {
            if self.direct {
                let padded = len.div_ceil(ALIGN) * ALIGN;
                self.raw[self.at + len..self.at + padded].fill(0);
                self.len = padded;
                self.drain(padded)?;
                let end = self.written - (padded - len) as u64;
                self.file.set_len(end)?;
                self.written = end;
            } else {
                self.drain(len)?;
            }
        }
        Ok(self.file)
    }
}

impl Write for DirectWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.len == BUFFER {
            self.drain(BUFFER)?;
        }
        let k = buf.len().min(BUFFER - self.len);
        self.raw[self.at + self.len..self.at + self.len + k].copy_from_slice(&buf[..k]);
        self.len += k;
        Ok(k)
    }

    /// Writes the whole blocks gathered; the partial last block waits for
    /// [`DirectWriter::finish`] (a direct write must end on a block boundary).
    fn flush(&mut self) -> std::io::Result<()> {
        let whole = if self.direct {
            self.len / ALIGN * ALIGN
        } else {
            self.len
        };
        if whole > 0 {
            self.drain(whole)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `parts` through a [`DirectWriter`] (flushing after each when asked) and checks
    /// the file holds exactly their concatenation.
    fn check(parts: &[Vec<u8>], flush_each: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = DirectWriter::create(&path).unwrap();
        let mut expected = Vec::new();
        for p in parts {
            w.write_all(p).unwrap();
            expected.extend_from_slice(p);
            if flush_each {
                w.flush().unwrap();
            }
            assert_eq!(w.position(), expected.len() as u64);
        }
        drop(w.finish().unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn any_length_comes_out_exact() {
        check(&[], false);
        check(&[bytes(1, 1)], false);
        check(&[bytes(ALIGN, 2)], false);
        check(&[bytes(ALIGN + 1, 3)], false);
        check(&[bytes(BUFFER, 4)], false);
        check(
            &[bytes(BUFFER - 1, 5), bytes(2, 6), bytes(3 * BUFFER + 17, 7)],
            false,
        );
    }

    #[test]
    fn flushing_keeps_the_partial_block_until_finish() {
        check(&[bytes(10, 1), bytes(ALIGN, 2), bytes(5000, 3)], true);
        check(&[bytes(BUFFER + 100, 4), bytes(1, 5)], true);
    }

    #[test]
    fn truncates_an_existing_file_and_create_new_refuses_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes(3 * ALIGN + 5, 9)).unwrap();
        let mut w = DirectWriter::create(&path).unwrap();
        w.write_all(b"short").unwrap();
        drop(w.finish().unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
        let e = DirectWriter::create_new(&path).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
