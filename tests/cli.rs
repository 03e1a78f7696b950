//! The command line: help reads like a manual (snapshot-tested), the generated man pages and
//! completions are current, and usage errors exit 2.

mod common;
use common::*;

#[test]
fn help_of_every_command() {
    let mut all = String::new();
    for args in [
        vec!["--help"],
        vec!["compile", "--help"],
        vec!["validate", "--help"],
        vec!["diff", "--help"],
        vec!["stats", "--help"],
        vec!["schema", "--help"],
        vec!["manual", "--help"],
        vec!["synth", "--help"],
    ] {
        let r = run(&repo(), &args);
        assert_eq!(r.code, 0, "{args:?}");
        all.push_str(&format!("$ defections {}\n{}\n", args.join(" "), r.stdout));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn usage_errors_exit_2() {
    let r = run(&repo(), &["validate"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("Usage: defections validate"),
        "{}",
        r.stderr
    );
    let r = run(&repo(), &["frobnicate"]);
    assert_eq!(r.code, 2);
}

#[test]
fn committed_man_pages_and_completions_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&repo(), &["manual", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let generated = snapshot_tree(dir.path());
    let committed = snapshot_tree(&repo().join("docs/cli"));
    assert_eq!(
        generated.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        committed.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in generated.iter().zip(&committed) {
        assert!(a == b, "docs/cli/{name} is stale: run `defections manual`");
    }
}

#[test]
fn stats_reports_counts_and_fill_rates() {
    let r = run(
        &repo(),
        &[
            "stats",
            committed_release().to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = &v["stats"]["rows"];
    assert!(rows["defections"].as_u64().unwrap() >= 27);
    assert_eq!(
        v["stats"]["per_source"].as_object().unwrap().len(),
        rows["sources"].as_u64().unwrap() as usize
    );
    let fill = v["stats"]["fill"]["defections"].as_array().unwrap();
    let key = fill.iter().find(|c| c["column"] == "defection_id").unwrap();
    assert_eq!(key["filled"], key["rows"], "every case has an id");
    let text = run(&repo(), &["stats", committed_release().to_str().unwrap()]);
    assert!(text.stdout.contains("| defections |"), "{}", text.stdout);
}
