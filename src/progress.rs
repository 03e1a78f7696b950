//! Progress reporting: the stages tell how far they are; the binary decides how to show it.
//!
//! In: calls from long-running stages (compile, validate). Out: nothing in the library (it
//! never prints); the binary implements [`Progress`] with a progress bar on stderr, shown only
//! on a terminal.

/// Receives progress from a long-running stage.
pub trait Progress: Sync {
    /// A phase starts, with `len` steps (0 when unknown).
    fn start(&self, _phase: &str, _len: u64) {}
    /// `n` more steps are done.
    fn inc(&self, _n: u64) {}
    /// The phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
