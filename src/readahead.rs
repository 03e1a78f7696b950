//! Reading ahead: the paths of the files a stage will read next in, the kernel asked to read
//! them into the page cache now (nothing comes out; no byte is read here).
//!
//! Compile reads two small files per source (the coding and the seed), each on a coding
//! thread: with a cold page cache (a corpus not read since the machine started, or pushed out
//! by other work) each read waits for the disk while its core idles, two reads at a time. A few
//! threads that open the files of the next chunks and `posix_fadvise(WILLNEED)` them keep many
//! reads in flight instead (measured in benches/RESULTS.md). They only change what is in the
//! page cache, never what is read, so the output cannot depend on them; they run at most a
//! bounded number of files ahead of the coding, so that a large corpus does not evict itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Threads that open files ahead of the reader; they spend their time waiting for the disk.
pub const THREADS: usize = 8;

/// The files of a stage, each with the unit of work (a source, say) that reads it, in the order
/// of the units; and how far ahead they may be read.
pub struct ReadAhead {
    paths: Vec<(usize, PathBuf)>,
    next: AtomicUsize,
    /// The files of units below this one may be read ahead; `usize::MAX` once the stage has
    /// stopped.
    allowed: Mutex<usize>,
    moved: Condvar,
}

/// Runs `stage` while [`THREADS`] threads read `paths` (each with the index of the unit of work
/// that reads it, in the order of the units) ahead of it, as far as it
/// [allows](ReadAhead::allow); the threads end with the stage, however it ends.
pub fn with<T>(paths: Vec<(usize, PathBuf)>, stage: impl FnOnce(&ReadAhead) -> T) -> T {
    struct Stop<'a>(&'a ReadAhead);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.stop();
        }
    }
    let ahead = ReadAhead::new(paths);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| ahead.run());
        }
        let _stop = Stop(&ahead);
        stage(&ahead)
    })
}

impl ReadAhead {
    /// The files to read ahead, with their units, in the order the stage will read them.
    fn new(paths: Vec<(usize, PathBuf)>) -> ReadAhead {
        ReadAhead {
            paths,
            next: AtomicUsize::new(0),
            allowed: Mutex::new(0),
            moved: Condvar::new(),
        }
    }

    /// Lets the files of the units below `n` be read ahead.
    pub fn allow(&self, n: usize) {
        let mut allowed = self.allowed.lock().unwrap_or_else(|e| e.into_inner());
        if n > *allowed {
            *allowed = n;
            self.moved.notify_all();
        }
    }

    /// Lets the threads finish: the stage read what it needed (or stopped on an error).
    fn stop(&self) {
        self.allow(usize::MAX);
    }

    /// The work of one read-ahead thread: takes the next path, waits until it is allowed, asks
    /// the kernel to read it; returns when every path was taken or the stage stopped.
    fn run(&self) {
        self.run_with(will_need);
    }

    fn run_with(&self, read: impl Fn(&Path)) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((unit, path)) = self.paths.get(i) else {
                return;
            };
            let mut allowed = self.allowed.lock().unwrap_or_else(|e| e.into_inner());
            while *unit >= *allowed {
                allowed = self.moved.wait(allowed).unwrap_or_else(|e| e.into_inner());
            }
            let stopped = *allowed == usize::MAX;
            drop(allowed);
            if stopped {
                return;
            }
            read(path);
        }
    }
}

/// Asks the kernel to read `path` into the page cache (best effort: a file that cannot be
/// opened is left to the reader, which reports it). Opened without blocking, so that a FIFO
/// in an untrusted release cannot hold a read-ahead thread.
pub fn will_need(path: &Path) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path);
        if let Ok(f) = opened {
            let _ = rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::WillNeed);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` files, one per unit.
    fn paths(n: usize) -> Vec<(usize, PathBuf)> {
        (0..n).map(|i| (i, PathBuf::from(i.to_string()))).collect()
    }

    #[test]
    fn only_allowed_paths_are_read_each_once_and_threads_end_on_stop() {
        let ahead = ReadAhead::new(paths(50));
        let read = Mutex::new(Vec::new());
        let record = |p: &Path| {
            read.lock()
                .unwrap()
                .push(p.to_str().unwrap().parse().unwrap())
        };
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| ahead.run_with(record));
            }
            ahead.allow(20);
            while read.lock().unwrap().len() < 20 {
                std::thread::yield_now();
            }
            // The threads now wait at paths 20 and on, which are not allowed; stopping ends
            // them without reading those.
            ahead.stop();
        });
        let mut read: Vec<usize> = read.into_inner().unwrap();
        read.sort();
        assert_eq!(read, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn threads_end_when_every_path_was_read() {
        let ahead = ReadAhead::new(paths(30));
        let read = Mutex::new(Vec::new());
        let record = |p: &Path| read.lock().unwrap().push(p.to_path_buf());
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| ahead.run_with(record));
            }
            ahead.allow(10);
            ahead.allow(5); // never backwards
            ahead.allow(30);
        });
        let mut read = read.into_inner().unwrap();
        read.sort();
        let mut all: Vec<PathBuf> = paths(30).into_iter().map(|(_, p)| p).collect();
        all.sort();
        assert_eq!(read, all);
    }

    #[test]
    fn the_threads_end_with_the_stage_even_when_it_allowed_little() {
        let dir = tempfile::tempdir().unwrap();
        let all = (0..100)
            .map(|i| (i, dir.path().join(i.to_string())))
            .collect();
        let out = with(all, |ahead| {
            ahead.allow(3);
            "stage result"
        });
        assert_eq!(out, "stage result");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_does_not_hold_a_thread() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        with(vec![(0, fifo)], |ahead| ahead.allow(1));
    }

    #[test]
    fn a_missing_file_is_left_to_the_reader() {
        will_need(Path::new("/nonexistent/defections-read-ahead"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"text").unwrap();
        will_need(&p);
        assert_eq!(std::fs::read(&p).unwrap(), b"text");
    }
}
