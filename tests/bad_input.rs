//! Bad inputs: each gives exit 1, writes nothing, and says exactly what is wrong and where.

mod common;
use common::*;

/// Compiles the tiny project after `mutate`, asserts exit 1 and no release, and returns the
/// normalised diagnostics.
fn check(mutate: impl FnOnce(&std::path::Path)) -> String {
    let dir = tiny();
    mutate(dir.path());
    let r = run(dir.path(), &["compile"]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    // Nothing at all: no release, no temporary or spill folder, not even `data/releases/`.
    let releases = dir.path().join("data/releases");
    assert!(!releases.exists(), "nothing is written on error");
    normalise(&r.stderr, dir.path())
}

#[test]
fn invalid_utf8_in_a_source() {
    insta::assert_snapshot!(check(|p| {
        let mut bytes = std::fs::read(p.join("seeds/a.txt")).unwrap();
        bytes.splice(10..10, [0xff, 0xfe]);
        std::fs::write(p.join("seeds/a.txt"), bytes).unwrap();
    }));
}

#[test]
fn quote_not_in_the_source() {
    insta::assert_snapshot!(check(|p| edit(
        p,
        "data/codings/sources/a.yaml",
        "quote: في شهر أيلول 2014",
        "quote: في شهر أيار 2014"
    )));
}

#[test]
fn ambiguous_quote() {
    insta::assert_snapshot!(check(|p| edit(
        p,
        "data/codings/sources/a.yaml",
        "evidence: [{quote: أبو هاجر الكويتي, fields: [name_ar]}]",
        "evidence: [{quote: أبو هاجر, fields: [name_ar]}]"
    )));
}

#[test]
fn unknown_vocabulary_value() {
    insta::assert_snapshot!(check(|p| edit(
        p,
        "data/codings/sources/a.yaml",
        "stage: completed",
        "stage: complete"
    )));
}

#[test]
fn dangling_reference() {
    insta::assert_snapshot!(check(|p| edit(
        p,
        "data/codings/sources/a.yaml",
        "destination_place_ids: [plc-turkey]",
        "destination_place_ids: [plc-turky]"
    )));
}

#[test]
fn duplicate_id() {
    insta::assert_snapshot!(check(|p| {
        let extra = "actors:\n  - id: act-isis\n    name_ar: داعش\n    name_en: ISIS\n    kind: jihadist_group\n";
        std::fs::write(p.join("data/codings/gazetteer/zz-extra.yaml"), extra).unwrap();
    }));
}

#[test]
fn malformed_date() {
    insta::assert_snapshot!(check(|p| edit(
        p,
        "data/codings/sources/a.yaml",
        "date: 2014-09",
        "date: 2014-13"
    )));
}

#[test]
fn coding_file_syntax_error() {
    insta::assert_snapshot!(check(|p| edit(
        p,
        "data/codings/sources/a.yaml",
        "summary_en: Abu Hajer",
        "summary_en: [Abu Hajer"
    )));
}

/// A gazetteer file that cannot be read defines nothing: the references to its records are
/// not reported one by one as dangling (each would be a false alarm once the file is fixed),
/// but counted in one problem that names the file.
#[test]
fn a_file_that_cannot_be_read_does_not_make_every_reference_to_it_dangle() {
    let out = check(|p| {
        edit(
            p,
            "data/codings/gazetteer/places.yaml",
            "name_en: Deir ez-Zor",
            "name_en: Deir ez-Zor: the city",
        )
    });
    assert!(!out.contains("error[dangling-reference]"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let out = check(|p| {
        edit(
            p,
            "data/codings/sources/a.yaml",
            "stage: completed",
            "stage: complete",
        );
        edit(
            p,
            "data/codings/sources/a.yaml",
            "date: 2014-09",
            "date: 2014-13",
        );
        edit(
            p,
            "data/codings/gazetteer/places.yaml",
            "kind: jihadist_group",
            "kind: jihadists",
        );
    });
    assert!(
        out.contains("error[unknown-vocabulary]: `complete` is not in the Stage vocabulary"),
        "{out}"
    );
    assert!(out.contains("error[bad-date]"), "{out}");
    assert!(
        out.contains("`jihadists` is not in the ActorKind vocabulary"),
        "{out}"
    );
    assert!(out.contains("3 problem(s) found"), "{out}");
}

#[test]
fn diagnostics_as_json_for_machines() {
    let dir = tiny();
    edit(
        dir.path(),
        "data/codings/sources/a.yaml",
        "stage: completed",
        "stage: complete",
    );
    let r = run(dir.path(), &["compile", "--format", "json"]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "unknown-vocabulary");
    assert_eq!(d["file"], "data/codings/sources/a.yaml");
    assert_eq!(d["pointer"], "/defections/0/stage");
    assert!(d["line"].as_u64().unwrap() > 1);
}

/// A FIFO in place of a seed: a missing seed, reported, not a compile that waits forever for a
/// writer (with the cache, which reads each seed before coding, and without it).
#[cfg(target_os = "linux")]
#[test]
fn a_fifo_in_place_of_a_seed_is_a_missing_seed() {
    for args in [&["compile"][..], &["compile", "--no-cache"][..]] {
        let dir = tiny();
        fifo_in_place_of(&dir.path().join("seeds/a.txt"));
        let r = run(dir.path(), args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("missing-seed"), "{args:?}: {}", r.stderr);
        assert!(!dir.path().join("data/releases").exists());
    }
}
