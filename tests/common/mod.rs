//! Helpers shared by the integration tests: temporary project copies, running the binary,
//! and normalising paths and hashes out of its output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A temporary copy of the tiny fixture project.
pub fn tiny() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/fixtures/tiny"), dir.path());
    dir
}

/// A temporary project holding the real seeds/, data/codings/, data/VERSION and data/dataset.yaml
/// (no releases).
pub fn real_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("seeds"), &dir.path().join("seeds"));
    copy_tree(
        &repo().join("data/codings"),
        &dir.path().join("data/codings"),
    );
    std::fs::copy(repo().join("data/VERSION"), dir.path().join("data/VERSION")).unwrap();
    std::fs::copy(
        repo().join("data/dataset.yaml"),
        dir.path().join("data/dataset.yaml"),
    )
    .unwrap();
    dir
}

/// Copies the committed releases other than the current one into the project at `root` (so
/// that a compile there compares with its predecessor and writes its `CHANGELOG.md`, as in the
/// repository).
pub fn copy_older_releases(root: &Path) {
    let current = version_of(&repo());
    for e in std::fs::read_dir(repo().join("data/releases")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() && name != current && !name.starts_with('.') {
            copy_tree(&e.path(), &root.join("data/releases").join(&name));
        }
    }
}

/// The version in a project's `data/VERSION`.
pub fn version_of(root: &Path) -> String {
    let v = std::fs::read_to_string(root.join("data/VERSION")).unwrap();
    v.trim().to_string()
}

/// The release folder of a project's `data/VERSION`.
pub fn release_of(root: &Path) -> PathBuf {
    root.join("data/releases").join(version_of(root))
}

/// The committed release of the current data/VERSION.
pub fn committed_release() -> PathBuf {
    release_of(&repo())
}

/// Output of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `defections` with `args` in `cwd`.
pub fn run(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_defections"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces temporary paths and sha256 digests so that snapshots are stable.
pub fn normalise(s: &str, tmp: &Path) -> String {
    let mut out = s.replace(&tmp.display().to_string(), "[TMP]");
    // 64-hex-digit runs are digests.
    let mut result = String::with_capacity(out.len());
    let chars: Vec<char> = out.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if run == 64 {
            result.push_str("[SHA256]");
            i += 64;
        } else if run > 0 {
            result.extend(&chars[i..i + run]);
            i += run;
        } else {
            result.push(chars[i]);
            i += 1;
        }
    }
    out = result;
    out
}

/// Edits a file of a project: replaces `from` by `to` exactly once.
pub fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let p = root.join(file);
    let s = std::fs::read_to_string(&p).unwrap();
    assert_eq!(
        s.matches(from).count(),
        1,
        "`{from}` must occur once in {file}"
    );
    std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
}

/// Every file of a tree with its bytes, for byte-for-byte comparisons.
pub fn snapshot_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                files.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Appends `suffix` to the first line of the first value of `key` in a coding file (the
/// line after `key: >-` when the value is a folded scalar), and returns the edited line.
pub fn append_to_first(file: &Path, key: &str, suffix: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no `{key}:` in {}", file.display()));
    let line = if lines[at].trim_end().ends_with(">-") {
        lines[at + 1]
    } else {
        lines[at]
    };
    let edited = format!("{line}{suffix}");
    std::fs::write(file, text.replacen(line, &edited, 1)).unwrap();
    edited
}

/// Replaces a file with a FIFO of the same name.
#[cfg(target_os = "linux")]
pub fn fifo_in_place_of(p: &Path) {
    std::fs::remove_file(p).unwrap();
    let mode = rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR;
    rustix::fs::mkfifoat(rustix::fs::CWD, p, mode).unwrap();
}
