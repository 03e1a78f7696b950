//! Hostile releases: a release folder from a pull request is untrusted input. Corrupt,
//! truncated, oversized or deeply nested files give findings, never a panic, a hang or an
//! unbounded allocation. Includes a brief property-based fuzz over every release reader.

mod common;
use common::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The tiny corpus compiled once; tests copy it.
fn pristine() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tiny();
        assert_eq!(run(dir.path(), &["compile"]).code, 0);
        let rel = dir.path().join("data/releases/1.0.0");
        (dir, rel)
    })
    .1
}

fn copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let rel = dir.path().join("1.0.0");
    copy_tree(pristine(), &rel);
    (dir, rel)
}

fn rules(rel: &Path) -> Vec<&'static str> {
    let report = defections::validate::validate(rel).expect("a readable folder");
    let mut r: Vec<&'static str> = report.findings.iter().map(|f| f.rule).collect();
    r.dedup();
    r
}

#[test]
fn a_huge_jsonl_line_is_a_finding() {
    let (_d, rel) = copy();
    let p = rel.join("records/actors.jsonl");
    let mut s = std::fs::read_to_string(&p).unwrap();
    s.push_str(&format!("{{\"actor_id\": \"{}\"}}\n", "x".repeat(5 << 20)));
    std::fs::write(&p, s).unwrap();
    let r = rules(&rel);
    assert!(r.contains(&"line-too-long"), "{r:?}");
    // Reading stopped at the long line, so the file is hashed whole on its own.
    assert!(r.contains(&"hash-mismatch"), "{r:?}");
    assert!(r.contains(&"size-mismatch"), "{r:?}");
}

#[test]
fn a_deeply_nested_json_value_is_a_finding() {
    let (_d, rel) = copy();
    let p = rel.join("records/actors.jsonl");
    let mut s = std::fs::read_to_string(&p).unwrap();
    s.push_str(&format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000)));
    std::fs::write(&p, s).unwrap();
    assert!(rules(&rel).contains(&"jsonl-invalid"));
}

#[test]
fn a_parquet_file_claiming_more_rows_than_it_holds_is_refused_before_decoding() {
    // Replace a table by another table's file: valid Parquet, wrong shape and row count.
    let (_d, rel) = copy();
    std::fs::copy(
        rel.join("tables/evidence.parquet"),
        rel.join("tables/actors.parquet"),
    )
    .unwrap();
    let r = rules(&rel);
    assert!(r.contains(&"parquet-schema"), "{r:?}");
}

#[test]
fn garbage_instead_of_a_manifest_is_a_finding() {
    let (_d, rel) = copy();
    std::fs::write(rel.join("manifest.json"), vec![0xffu8; 4096]).unwrap();
    let r = rules(&rel);
    assert!(r.contains(&"manifest-invalid"), "{r:?}");
}

#[test]
fn an_absolute_manifest_path_is_refused() {
    let (_d, rel) = copy();
    let p = rel.join("manifest.json");
    let s = std::fs::read_to_string(&p).unwrap().replacen(
        "\"path\": \"records/actors.jsonl\"",
        "\"path\": \"/etc/passwd\"",
        1,
    );
    std::fs::write(&p, s).unwrap();
    assert!(rules(&rel).contains(&"unsafe-path"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any change to any byte of any file is caught, and nothing panics.
    #[test]
    fn any_corruption_is_a_finding_never_a_panic(
        file_index in 0usize..64,
        offset in any::<prop::sample::Index>(),
        kind in 0u8..4,
        byte in any::<u8>(),
    ) {
        let (_d, rel) = copy();
        let files = defections::write::tree(&rel).unwrap();
        let name = &files[file_index % files.len()];
        let path = rel.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        let original = bytes.clone();
        match kind {
            0 if !bytes.is_empty() => { let i = offset.index(bytes.len()); bytes[i] = bytes[i].wrapping_add(byte.max(1)); }
            1 => { let i = offset.index(bytes.len() + 1); bytes.truncate(i); }
            2 => { let i = offset.index(bytes.len() + 1); bytes.insert(i, byte); }
            _ => { bytes.extend(std::iter::repeat_n(byte, 1 + offset.index(4096))); }
        }
        prop_assume!(bytes != original);
        std::fs::write(&path, &bytes).unwrap();
        let report = defections::validate::validate(&rel).unwrap();
        prop_assert!(!report.is_valid(), "corrupting {} went unnoticed", name);
    }
}
