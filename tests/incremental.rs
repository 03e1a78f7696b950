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
    let packs: Vec<_> = walk(&dir.path().join("data/.cache/compile"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .collect();
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

// Stamps (src/stamp.rs): a recompile whose inputs give the published release is found up to
// date by looking again only at what changed; anything else is a full build, as before.

/// Whether the stamp decided a successful compile (its `--format json` output).
fn stamped(out: &serde_json::Value) -> bool {
    out["stamped"].as_bool().unwrap()
}

/// A compile that fails, with its message.
fn refused(root: &Path) -> String {
    let r = run(root, &["compile"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    r.stderr
}

const REFUSED: &str = "already exists";

#[test]
fn an_unchanged_project_is_up_to_date_by_its_stamp() {
    let dir = real_project();
    let first = compile_json(dir.path(), &[]);
    assert!(!stamped(&first));
    let sources = first["rows"]["sources"].as_u64().unwrap();
    let reference = release(dir.path());
    for _ in 0..2 {
        let again = compile_json(dir.path(), &[]);
        assert!(stamped(&again), "{again}");
        assert_eq!(again["status"], "up-to-date");
        assert_eq!(again["rows"], first["rows"]);
        // Nothing is coded again; files changed just before they were read are looked up
        // again (their times cannot vouch for their bytes), the rest are not.
        assert_eq!(again["cache"]["misses"].as_u64().unwrap(), 0, "{again}");
        assert!(again["cache"]["hits"].as_u64().unwrap() <= sources);
    }
    assert_eq!(release(dir.path()), reference);
}

#[test]
fn a_change_that_gives_the_same_release_codes_only_that_source() {
    let dir = real_project();
    let first = compile_json(dir.path(), &[]);
    let reference = release(dir.path());
    // A comment appended: the file's bytes change, its coded result does not.
    let path = dir.path().join(EDITED);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n# reviewed\n")).unwrap();
    // The same bytes written again (new times, same content), and data/dataset.yaml too.
    let dataset = dir.path().join("data/dataset.yaml");
    std::fs::write(&dataset, std::fs::read(&dataset).unwrap()).unwrap();
    let again = compile_json(dir.path(), &[]);
    assert!(stamped(&again), "{again}");
    assert_eq!(again["cache"]["misses"].as_u64().unwrap(), 1, "{again}");
    assert_eq!(again["rows"], first["rows"]);
    assert_eq!(release(dir.path()), reference);
}

#[test]
fn a_change_that_gives_another_release_is_built_and_refused_under_the_same_version() {
    let dir = real_project();
    compile_json(dir.path(), &[]);
    correct_one_file(dir.path());
    assert!(refused(dir.path()).contains(REFUSED));
    // The change undone: the stamp still describes the release.
    let path = dir.path().join(EDITED);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen(" [checked]", "", 1)).unwrap();
    assert!(stamped(&compile_json(dir.path(), &[])));
    // Another dataset description changes the release's metadata.
    edit(
        dir.path(),
        "data/dataset.yaml",
        "short_name: isdd",
        "short_name: isdd-draft",
    );
    assert!(refused(dir.path()).contains(REFUSED));
}

#[test]
fn a_changed_release_or_stamp_is_never_trusted() {
    let dir = real_project();
    compile_json(dir.path(), &[]);
    let reference = release(dir.path());
    // A release file changed in place, same size: a full build finds it differs.
    let sources = release_of(dir.path()).join("records/sources.jsonl");
    let mut b = std::fs::read(&sources).unwrap();
    b[2] ^= 0x01;
    std::fs::write(&sources, &b).unwrap();
    assert!(refused(dir.path()).contains(REFUSED));
    b[2] ^= 0x01;
    std::fs::write(&sources, &b).unwrap();
    assert!(stamped(&compile_json(dir.path(), &[])));

    // A seed without a coding file, then removed again.
    let extra = dir.path().join("seeds/zz-uncoded.txt");
    std::fs::write(&extra, "نص").unwrap();
    let r = run(dir.path(), &["compile"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("uncoded-seed"), "{}", r.stderr);
    std::fs::remove_file(&extra).unwrap();

    // A corrupt stamp is ignored: a full build, which writes a good stamp again.
    let stamp = walk(&dir.path().join("data/.cache/compile"))
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("stamp-")
        })
        .expect("a stamp");
    let mut s = std::fs::read(&stamp).unwrap();
    let last = s.len() - 1;
    s[last] ^= 0x01;
    std::fs::write(&stamp, &s).unwrap();
    let full = compile_json(dir.path(), &[]);
    assert!(!stamped(&full), "{full}");
    assert_eq!(full["status"], "up-to-date");
    assert!(stamped(&compile_json(dir.path(), &[])));
    assert_eq!(release(dir.path()), reference);
}

#[test]
fn the_previous_release_is_part_of_the_stamp() {
    // The CHANGELOG is made against the previous release: a change there is a full build.
    let dir = real_project();
    copy_older_releases(dir.path());
    compile_json(dir.path(), &[]);
    assert!(stamped(&compile_json(dir.path(), &[])));
    let previous = std::fs::read_dir(dir.path().join("data/releases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &release_of(dir.path()))
        .max()
        .unwrap();
    let readme = previous.join("README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    std::fs::write(&readme, format!("{text}\n")).unwrap();
    let full = compile_json(dir.path(), &[]);
    assert!(!stamped(&full), "{full}");
}

/// What a compile after an edit does: refused (the release would change: exit 1), or up to date,
/// decided by the stamp or (for inputs stamped by their bytes, not by their coded result) by a
/// full build.
#[derive(Debug, PartialEq)]
enum After {
    Refused,
    UpToDateByStamp,
    UpToDateByBuild,
}

/// An edit: what it does, the edit itself, and what the compile after it does.
type Edit = (&'static str, fn(&Path), After);

/// Edits of every kind of input, and what the compile after each does, for
/// [`the_stamp_agrees_with_a_full_build_on_every_kind_of_edit`].
fn edits() -> Vec<Edit> {
    fn append(root: &Path, file: &str, tail: &[u8]) {
        let p = root.join(file);
        let mut b = std::fs::read(&p).unwrap();
        b.extend_from_slice(tail);
        std::fs::write(&p, b).unwrap();
    }
    fn rewrite_all(root: &Path) {
        for dir in ["seeds", "data/codings/sources", "data/codings/gazetteer"] {
            for p in walk(&root.join(dir)) {
                std::fs::write(&p, std::fs::read(&p).unwrap()).unwrap();
            }
        }
    }
    const SEED: &str = "seeds/000_ac6feeaf835e3f1c.txt";
    const GAZETTEER: &str = "data/codings/gazetteer/000.yaml";
    use After::*;
    vec![
        (
            "every file written again, same bytes",
            rewrite_all,
            UpToDateByStamp,
        ),
        (
            "comment appended to a source's coding",
            |r| append(r, EDITED, b"\n# reviewed\n"),
            UpToDateByStamp,
        ),
        (
            "a value of a source's coding changed",
            correct_one_file,
            Refused,
        ),
        (
            // Lines move: the coded result keeps line numbers (for messages), so it differs,
            // and a full build finds the same release.
            "comment inserted at the top of a source's coding",
            |r| {
                let p = r.join(EDITED);
                let text = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, format!("# reviewed\n{text}")).unwrap();
            },
            UpToDateByBuild,
        ),
        (
            "a seed's text grown",
            |r| append(r, SEED, " نهاية".as_bytes()),
            Refused,
        ),
        (
            "a seed's lines ended with CRLF",
            |r| {
                let p = r.join(SEED);
                let text = std::fs::read_to_string(&p).unwrap();
                // The canonical text is the same, but the release keeps the seed's own sha256.
                std::fs::write(&p, text.replace('\n', "\r\n")).unwrap();
            },
            Refused,
        ),
        (
            "comment appended to a gazetteer file",
            |r| append(r, GAZETTEER, b"\n# reviewed\n"),
            UpToDateByStamp,
        ),
        (
            "a gazetteer value changed",
            |r| {
                let p = r.join(GAZETTEER);
                let text = std::fs::read_to_string(&p).unwrap();
                let changed = text.replacen(
                    "coord_precision: settlement",
                    "coord_precision: district",
                    1,
                );
                std::fs::write(&p, changed).unwrap();
            },
            Refused,
        ),
        (
            "comment appended to the retractions",
            |r| append(r, "data/codings/retractions.yaml", b"\n# reviewed\n"),
            UpToDateByStamp,
        ),
        (
            "a coding file renamed",
            |r| std::fs::rename(r.join(EDITED), r.join("data/codings/sources/zz.yaml")).unwrap(),
            Refused,
        ),
        (
            "data/VERSION written again",
            |r| append(r, "data/VERSION", b""),
            UpToDateByStamp,
        ),
    ]
}

#[test]
fn the_stamp_agrees_with_a_full_build_on_every_kind_of_edit() {
    // For each edit: a full build (--no-cache: no stamp) says whether the inputs still give
    // the published release; the stamp must say the same, and the release is never changed.
    for (what, edit, expected) in edits() {
        let dir = real_project();
        copy_older_releases(dir.path());
        compile_json(dir.path(), &[]);
        let reference = release(dir.path());
        edit(dir.path());
        let outcome = |extra: &[&str]| {
            let mut args = vec!["compile", "--format", "json"];
            args.extend_from_slice(extra);
            let r = run(dir.path(), &args);
            let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
            (r.code, out["status"].clone(), out)
        };
        let (code, status, _) = outcome(&["--no-cache"]);
        let (stamp_code, stamp_status, out) = outcome(&[]);
        assert_eq!(
            (stamp_code, &stamp_status),
            (code, &status),
            "{what}: {out}"
        );
        assert_eq!(release(dir.path()), reference, "{what}");
        let after = match (code, out["stamped"].as_bool()) {
            (1, _) => After::Refused,
            (0, Some(true)) => After::UpToDateByStamp,
            (0, Some(false)) => After::UpToDateByBuild,
            _ => panic!("{what}: exit {code}: {out}"),
        };
        assert_eq!(after, expected, "{what}: {out}");
    }
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
