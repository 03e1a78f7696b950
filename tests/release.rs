//! Compiling: the tiny fixture and the real seeds, reproducibility, and the committed release.

mod common;
use common::*;

#[test]
fn tiny_corpus_compiles_and_validates() {
    let dir = tiny();
    let r = run(dir.path(), &["compile"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(normalise(&r.stdout, dir.path()), @"wrote release 1.0.0 to data/releases/1.0.0: 1 actors, 1 defections, 1 events, 12 evidence, 2 persons, 3 places, 0 retractions, 1 sources, 1 statements");
    let v = run(dir.path(), &["validate", "data/releases/1.0.0"]);
    assert_eq!(v.code, 0, "{}", v.stdout);

    // Spans and derived fields of the tiny corpus.
    let ev = std::fs::read_to_string(
        dir.path()
            .join("data/releases/1.0.0/records/evidence.jsonl"),
    )
    .unwrap();
    let date_span = ev
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["record_id"] == "def-abu-hajer-2014" && e["fields"][0] == "date_end")
        .expect("the date evidence");
    assert_eq!(date_span["exact"], "في شهر أيلول 2014");
    assert_eq!(
        date_span["fields"],
        serde_json::json!(["date_end", "date_precision", "date_start"])
    );
    let text = std::fs::read_to_string(dir.path().join("seeds/a.txt")).unwrap();
    let (s, e) = (
        date_span["char_start"].as_u64().unwrap() as usize,
        date_span["char_end"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        text.chars().skip(s).take(e - s).collect::<String>(),
        "في شهر أيلول 2014"
    );
    let (bs, be) = (
        date_span["byte_start"].as_u64().unwrap() as usize,
        date_span["byte_end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[bs..be], "في شهر أيلول 2014");

    let def = std::fs::read_to_string(
        dir.path()
            .join("data/releases/1.0.0/records/defections.jsonl"),
    )
    .unwrap();
    let def: serde_json::Value = serde_json::from_str(def.lines().next().unwrap()).unwrap();
    assert_eq!(def["date_start"], "2014-09-01");
    assert_eq!(def["date_end"], "2014-09-30");
    assert_eq!(def["date_precision"], "month");
    assert_eq!(def["source_ids"], serde_json::json!(["src-a"]));
    assert_eq!(
        (
            def["size_low"].as_i64(),
            def["size_best"].as_i64(),
            def["size_high"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
}

#[test]
fn compiling_again_is_up_to_date_and_a_different_release_is_never_overwritten() {
    let dir = tiny();
    assert_eq!(run(dir.path(), &["compile"]).code, 0);
    let before = snapshot_tree(&dir.path().join("data/releases/1.0.0"));
    let again = run(dir.path(), &["compile"]);
    assert_eq!(again.code, 0);
    assert_eq!(
        again.stdout.trim(),
        "release 1.0.0 at data/releases/1.0.0 is up to date (its inputs give the release stamped when it was compiled)"
    );

    edit(
        dir.path(),
        "data/codings/sources/a.yaml",
        "translation_en: We discovered the truth.",
        "translation_en: We found out the truth.",
    );
    let changed = run(dir.path(), &["compile"]);
    assert_eq!(changed.code, 1);
    assert!(
        changed
            .stderr
            .contains("published releases are never overwritten: bump data/VERSION"),
        "{}",
        changed.stderr
    );
    assert_eq!(
        snapshot_tree(&dir.path().join("data/releases/1.0.0")),
        before,
        "the published release is untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data/releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("1.0.0")],
        "no temporary folder is left behind"
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes_in_another_directory() {
    let a = real_project();
    let b = real_project();
    assert_eq!(run(a.path(), &["compile"]).code, 0);
    let rb = run(b.path(), &["compile"]);
    assert_eq!(rb.code, 0, "{}", rb.stderr);
    let ta = snapshot_tree(&release_of(a.path()));
    let tb = snapshot_tree(&release_of(b.path()));
    assert!(!ta.is_empty());
    assert_eq!(ta, tb);
}

#[test]
fn the_committed_release_is_what_the_inputs_compile_to() {
    let dir = real_project();
    copy_older_releases(dir.path());
    let r = run(dir.path(), &["compile"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let built = snapshot_tree(&release_of(dir.path()));
    let committed = snapshot_tree(&committed_release());
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&built), names(&committed));
    for ((n, a), (_, b)) in built.iter().zip(&committed) {
        assert!(
            a == b,
            "{n} differs from the committed release: recompile and commit data/releases"
        );
    }
}

#[test]
fn the_committed_release_validates() {
    let r = run(
        &repo(),
        &["validate", committed_release().to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = run(
        &repo(),
        &[
            "validate",
            committed_release().to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert!(v["report"]["rows"]["defections"].as_u64().unwrap() > 20);
}
