//! Incremental compiles: per-source results are cached by the hashes of their inputs; a
//! recompile after one change reuses the rest and gives the same bytes as a clean compile; a
//! corrupted cache entry is detected and rebuilt, never trusted.

mod common;
use common::*;
use std::path::Path;

fn compile_json(root: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["compile", "--format", "json"];
    args.extend_from_slice(extra);
    let r = run(root, &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn release(root: &Path) -> Vec<(String, Vec<u8>)> {
    snapshot_tree(&root.join("data/releases/1.0.0"))
}

const EDITED: &str = "data/codings/sources/004_cbfbf9d43873636c.yaml";

fn correct_one_file(root: &Path) {
    append_to_first(&root.join(EDITED), "translation_en", " [checked]");
}

#[test]
fn one_changed_file_is_recomputed_and_the_result_equals_a_clean_compile() {
    let inc = real_project();
    let first = compile_json(inc.path(), &[]);
    let sources = first["rows"]["sources"].as_u64().unwrap();
    assert_eq!(first["cache"]["misses"].as_u64().unwrap(), sources);

    std::fs::remove_dir_all(inc.path().join("data/releases")).unwrap();
    correct_one_file(inc.path());
    let second = compile_json(inc.path(), &[]);
    assert_eq!(
        second["cache"]["hits"].as_u64().unwrap(),
        sources - 1,
        "{second}"
    );
    assert_eq!(second["cache"]["misses"].as_u64().unwrap(), 1, "{second}");

    let clean = real_project();
    correct_one_file(clean.path());
    let c = compile_json(clean.path(), &["--no-cache"]);
    assert!(c["cache"].is_null());
    assert_eq!(release(inc.path()), release(clean.path()));
}

#[test]
fn a_corrupted_cache_entry_is_detected_and_rebuilt() {
    let dir = real_project();
    compile_json(dir.path(), &[]);
    let reference = release(dir.path());
    std::fs::remove_dir_all(dir.path().join("data/releases")).unwrap();

    // Corrupt every entry a different way: a flipped byte in the body, a truncation, garbage.
    let mut entries: Vec<_> = walk(&dir.path().join("data/.cache/compile"));
    entries.sort();
    assert!(entries.len() >= 3);
    let mut b = std::fs::read(&entries[0]).unwrap();
    let last = b.len() - 2;
    b[last] ^= 0x20;
    std::fs::write(&entries[0], b).unwrap();
    let b = std::fs::read(&entries[1]).unwrap();
    std::fs::write(&entries[1], &b[..b.len() / 2]).unwrap();
    std::fs::write(&entries[2], b"not a cache entry").unwrap();

    let out = compile_json(dir.path(), &[]);
    assert_eq!(out["cache"]["corrupt"].as_u64().unwrap(), 3, "{out}");
    assert_eq!(
        release(dir.path()),
        reference,
        "a corrupt entry must never change the release"
    );

    // The rebuilt entries are good again.
    std::fs::remove_dir_all(dir.path().join("data/releases")).unwrap();
    let again = compile_json(dir.path(), &[]);
    assert_eq!(again["cache"]["corrupt"].as_u64().unwrap(), 0, "{again}");
    assert_eq!(again["cache"]["misses"].as_u64().unwrap(), 0, "{again}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
