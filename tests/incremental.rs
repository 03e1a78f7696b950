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
    snapshot_tree(&release_of(root))
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

/// The `act-isis` evidence rows of a release: `(evidence_id, source_id)`.
fn isis_evidence(root: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(release_of(root).join("records/evidence.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["record_id"] == "act-isis")
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("evidence_id"), s("source_id"))
        })
        .collect()
}

#[test]
fn evidence_numbers_shifted_by_an_earlier_file_are_renumbered_in_cached_files() {
    // The first source file quotes act-isis twice; every later source quotes it too, so its
    // evidence numbers in the later (cached) files depend on the first file.
    const FIRST: &str = "data/codings/sources/000_ac6feeaf835e3f1c.yaml";
    const QUOTE: &str =
        "      - quote: الدولة الإسلامية\n        occurrence: 1\n        fields: []\n";
    let inc = real_project();
    let first = compile_json(inc.path(), &[]);
    let sources = first["rows"]["sources"].as_u64().unwrap();
    let before = isis_evidence(inc.path());
    std::fs::remove_dir_all(inc.path().join("data/releases")).unwrap();
    edit(inc.path(), FIRST, QUOTE, "");
    let second = compile_json(inc.path(), &[]);
    assert_eq!(second["cache"]["hits"].as_u64().unwrap(), sources - 1);
    let after = isis_evidence(inc.path());
    assert_eq!(after.len(), before.len() - 1);
    // A span of a later source kept its place in the order, one number lower.
    let later = &before.last().unwrap().1;
    let number = |rows: &[(String, String)]| {
        let (id, _) = rows.iter().rev().find(|(_, s)| s == later).unwrap();
        id.rsplit('/').next().unwrap().parse::<u32>().unwrap()
    };
    assert_eq!(number(&after), number(&before) - 1);

    let clean = real_project();
    edit(clean.path(), FIRST, QUOTE, "");
    compile_json(clean.path(), &["--no-cache"]);
    assert_eq!(release(inc.path()), release(clean.path()));
}

#[test]
fn a_corrupted_cache_entry_is_detected_and_rebuilt() {
    let dir = real_project();
    compile_json(dir.path(), &[]);
    let reference = release(dir.path());
    std::fs::remove_dir_all(dir.path().join("data/releases")).unwrap();

    // Corrupt three entries of the pack a different way: a flipped byte in a body, a body
    // overwritten with garbage, and the last entry cut short. Entry layout (src/cache.rs):
    // [key: 32][body length: u64 LE][body sha256: 32][body].
    let packs = walk(&dir.path().join("data/.cache/compile"));
    assert_eq!(packs.len(), 1, "one compile writes one pack: {packs:?}");
    let mut b = std::fs::read(&packs[0]).unwrap();
    let mut bodies = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let len = u64::from_le_bytes(b[at + 32..at + 40].try_into().unwrap()) as usize;
        bodies.push(at + 72..at + 72 + len);
        at += 72 + len;
    }
    assert_eq!(at, b.len());
    assert!(bodies.len() >= 3);
    let first = bodies[0].start + 10;
    b[first] ^= 0x20;
    b[bodies[1].clone()].fill(b'x');
    b.truncate(bodies[bodies.len() - 1].end - 1);
    std::fs::write(&packs[0], b).unwrap();

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
