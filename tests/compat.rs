//! Release-to-release rules: a fixture release 1.0.0 (the tiny corpus) and a family of
//! successors, each showing one rule firing, checked by exact findings; and the real release
//! with a coding correction compiled as 1.0.1.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `(rule, table, record_id or column)` of a change.
type Found = (String, String, String);

struct Pair {
    _dirs: Vec<tempfile::TempDir>,
    old: PathBuf,
    new: PathBuf,
}

/// The tiny project with its release 1.0.0 compiled.
fn base() -> tempfile::TempDir {
    let dir = tiny();
    let r = run(dir.path(), &["compile"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

/// A successor built from the base's inputs, edited by `mutate`, compiled as `version` in a
/// separate project (so the compiler's own compatibility check does not stop it).
fn successor(version: &str, mutate: impl FnOnce(&Path)) -> Pair {
    let old_dir = base();
    let new_dir = tiny();
    std::fs::write(new_dir.path().join("data/VERSION"), format!("{version}\n")).unwrap();
    mutate(new_dir.path());
    let r = run(new_dir.path(), &["compile"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    Pair {
        old: old_dir.path().join("data/releases/1.0.0"),
        new: new_dir.path().join("data/releases").join(version),
        _dirs: vec![old_dir, new_dir],
    }
}

/// Runs `validate NEW --previous OLD` and returns its exit code and the changes found.
fn changes(p: &Pair) -> (i32, Vec<Found>) {
    let r = run(
        Path::new("/"),
        &[
            "validate",
            p.new.to_str().unwrap(),
            "--previous",
            p.old.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    let mut out: Vec<Found> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            let what = if c["record_id"].is_string() {
                s("record_id")
            } else {
                s("column")
            };
            (s("rule"), s("table"), what)
        })
        .collect();
    out.sort();
    (r.code, out)
}

fn f(rule: &str, table: &str, what: &str) -> Found {
    (rule.into(), table.into(), what.into())
}

/// Edits a release file in place (for fixtures no compiler would write).
fn edit_release(rel: &Path, file: &str, edit: impl FnOnce(&mut Value)) {
    let p = rel.join(file);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
}

const TINY: &str = "data/codings/sources/a.yaml";

/// The changes of a patch successor (1.0.1) whose tiny coding file has `from` replaced by `to`.
fn patched(from: &str, to: &str) -> (i32, Vec<Found>) {
    changes(&successor("1.0.1", |p| edit(p, TINY, from, to)))
}

fn new_event(p: &Path) {
    let s = std::fs::read_to_string(p.join(TINY)).unwrap();
    let s = s.replace(
        "statements:\n",
        "  - id: evt-raqqa-executions-2\n    event_type: other\n    summary_en: Same quote, another event.\n    place_precision: unknown\n    evidence:\n      - quote: وأعدم التنظيم\n\nstatements:\n",
    );
    std::fs::write(p.join(TINY), s).unwrap();
}

fn remove_event(p: &Path) {
    let s = std::fs::read_to_string(p.join(TINY)).unwrap();
    let start = s.find("events:\n").unwrap();
    let end = s.find("statements:\n").unwrap();
    std::fs::write(p.join(TINY), format!("{}{}", &s[..start], &s[end..])).unwrap();
}

// ---- one case per rule ----

fn clean_correction() -> (i32, Vec<Found>) {
    patched(
        "translation_en: We discovered the truth.",
        "translation_en: We have discovered the truth.",
    )
}

fn added() -> (i32, Vec<Found>) {
    changes(&successor("1.1.0", new_event))
}

fn added_with_patch_bump() -> (i32, Vec<Found>) {
    changes(&successor("1.0.1", new_event))
}

fn removed() -> (i32, Vec<Found>) {
    changes(&successor("1.1.0", remove_event))
}

fn retracted() -> (i32, Vec<Found>) {
    changes(&successor("1.0.1", |p| {
        remove_event(p);
        std::fs::write(p.join("data/codings/retractions.yaml"), "retractions:\n  - id: evt-raqqa-executions\n    reason: The source reports a rumour, not an event.\n").unwrap();
        // The place is no longer used by any record but is still quoted by a mention.
    }))
}

fn retracted_without_reason() -> (i32, Vec<Found>) {
    let pair = successor("1.0.1", |p| {
        remove_event(p);
        std::fs::write(
            p.join("data/codings/retractions.yaml"),
            "retractions:\n  - id: evt-raqqa-executions\n    reason: x\n",
        )
        .unwrap();
    });
    // No compiler writes an empty reason; a hand-made release can.
    let p = pair.new.join("records/retractions.jsonl");
    let s = std::fs::read_to_string(&p)
        .unwrap()
        .replace("\"reason\":\"x\"", "\"reason\":\" \"");
    std::fs::write(p, s).unwrap();
    changes(&pair)
}

fn reused_id() -> (i32, Vec<Found>) {
    patched("subject: individual", "subject: group\n    size_low: 2")
}

/// The second and third spans of a case swapped: their published ids now name each other's
/// quote.
fn evidence_moved() -> (i32, Vec<Found>) {
    patched(
        "      - quote: في شهر أيلول 2014\n        fields: [date]\n      - quote: وهرب إلى تركيا\n        fields: [destination_place_ids, outcome]\n",
        "      - quote: وهرب إلى تركيا\n        fields: [destination_place_ids, outcome]\n      - quote: في شهر أيلول 2014\n        fields: [date]\n",
    )
}

fn retracted_id_back() -> (i32, Vec<Found>) {
    // OLD retracts the event; NEW defines it again.
    let old_dir = tiny();
    remove_event(old_dir.path());
    std::fs::write(
        old_dir.path().join("data/codings/retractions.yaml"),
        "retractions:\n  - id: evt-raqqa-executions\n    reason: Withdrawn.\n",
    )
    .unwrap();
    assert_eq!(run(old_dir.path(), &["compile"]).code, 0);
    let new_dir = tiny();
    std::fs::write(new_dir.path().join("data/VERSION"), "1.1.0\n").unwrap();
    assert_eq!(run(new_dir.path(), &["compile"]).code, 0);
    changes(&Pair {
        old: old_dir.path().join("data/releases/1.0.0"),
        new: new_dir.path().join("data/releases/1.1.0"),
        _dirs: vec![old_dir, new_dir],
    })
}

fn source_changed() -> (i32, Vec<Found>) {
    changes(&successor("1.0.1", |p| {
        let s = std::fs::read_to_string(p.join("seeds/a.txt")).unwrap();
        std::fs::write(
            p.join("seeds/a.txt"),
            s.replace("انشقاق في دير الزور\n", "انشقاق في دير الزور.\n"),
        )
        .unwrap();
    }))
}

fn not_newer() -> (i32, Vec<Found>) {
    changes(&successor("0.9.0", |_| {}))
}

fn schema_change(version: &str, edit: impl FnOnce(&mut Value)) -> (i32, Vec<Found>) {
    let pair = successor(version, |_| {});
    edit_release(&pair.new, "schema/defections.schema.json", edit);
    changes(&pair)
}

fn prop<'a>(v: &'a mut Value, name: &str) -> &'a mut Value {
    &mut v["properties"][name]
}

fn table_removed() -> (i32, Vec<Found>) {
    let pair = successor("2.0.0", |_| {});
    edit_release(&pair.new, "manifest.json", |m| {
        m["tables"].as_object_mut().unwrap().remove("retractions");
    });
    changes(&pair)
}

fn table_added() -> (i32, Vec<Found>) {
    let pair = successor("1.1.0", |_| {});
    std::fs::write(
        pair.new.join("schema/notes.schema.json"),
        "{\"type\": \"object\", \"properties\": {}}\n",
    )
    .unwrap();
    std::fs::write(pair.new.join("records/notes.jsonl"), "").unwrap();
    edit_release(&pair.new, "manifest.json", |m| {
        m["tables"]["notes"] = serde_json::json!({"rows": 0, "records_sha256": ""});
    });
    changes(&pair)
}

fn column_removed() -> (i32, Vec<Found>) {
    schema_change("2.0.0", |v| {
        v["properties"].as_object_mut().unwrap().remove("notes_en");
    })
}

fn column_retyped() -> (i32, Vec<Found>) {
    schema_change("2.0.0", |v| {
        *prop(v, "size_best") = serde_json::json!({"type": ["string", "null"]})
    })
}

fn column_now_required() -> (i32, Vec<Found>) {
    schema_change("2.0.0", |v| {
        prop(v, "notes_en")["type"] = serde_json::json!("string")
    })
}

fn vocabulary_removed() -> (i32, Vec<Found>) {
    schema_change("2.0.0", |v| {
        prop(v, "stage")["enum"]
            .as_array_mut()
            .unwrap()
            .retain(|x| x != "requested");
    })
}

fn vocabulary_added() -> (i32, Vec<Found>) {
    schema_change("1.1.0", |v| {
        prop(v, "stage")["enum"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!("intercepted"))
    })
}

fn column_added() -> (i32, Vec<Found>) {
    schema_change("1.1.0", |v| {
        *prop(v, "notes_ar") = serde_json::json!({"type": ["string", "null"]})
    })
}

fn column_added_required() -> (i32, Vec<Found>) {
    schema_change("2.0.0", |v| {
        *prop(v, "notes_ar") = serde_json::json!({"type": "string"})
    })
}

#[test]
fn a_correction_with_a_patch_bump_is_clean() {
    let (code, found) = clean_correction();
    assert_eq!(
        found,
        vec![f("record-changed", "statements", "stm-abu-hajer-truth")]
    );
    assert_eq!(code, 0);
}

#[test]
fn new_records_with_a_minor_bump_are_clean() {
    let (code, found) = added();
    assert_eq!(code, 0, "{found:?}");
    assert!(
        found.contains(&f("record-added", "events", "evt-raqqa-executions-2")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .all(|(r, _, _)| r == "record-added" || r == "record-changed"),
        "{found:?}"
    );
}

#[test]
fn new_records_with_a_patch_bump_are_too_small_a_bump() {
    let (code, found) = added_with_patch_bump();
    assert_eq!(code, 1);
    assert!(found.contains(&f("bump-too-small", "", "")), "{found:?}");
}

#[test]
fn a_record_gone_without_retraction_is_an_error() {
    let (code, found) = removed();
    assert_eq!(code, 1);
    assert!(
        found.contains(&f("record-removed", "events", "evt-raqqa-executions")),
        "{found:?}"
    );
}

#[test]
fn a_retracted_record_is_a_patch() {
    let (code, found) = retracted();
    assert_eq!(code, 0, "{found:?}");
    assert!(
        found.contains(&f("record-retracted", "events", "evt-raqqa-executions")),
        "{found:?}"
    );
}

#[test]
fn a_retraction_needs_a_reason() {
    let (code, found) = retracted_without_reason();
    assert_eq!(code, 1);
    assert!(
        found.contains(&f(
            "retraction-without-reason",
            "retractions",
            "evt-raqqa-executions"
        )),
        "{found:?}"
    );
}

#[test]
fn an_id_reused_for_another_kind_of_thing_is_an_error() {
    let (code, found) = reused_id();
    assert_eq!(code, 1);
    assert!(
        found.contains(&f("id-reused", "defections", "def-abu-hajer-2014")),
        "{found:?}"
    );
}

#[test]
fn an_evidence_id_naming_another_span_is_an_error() {
    let (code, found) = evidence_moved();
    assert_eq!(code, 1);
    let moved: Vec<&Found> = found.iter().filter(|c| c.0 == "evidence-moved").collect();
    assert_eq!(
        moved,
        [
            &f("evidence-moved", "evidence", "def-abu-hajer-2014/2"),
            &f("evidence-moved", "evidence", "def-abu-hajer-2014/3"),
        ],
        "{found:?}"
    );
}

#[test]
fn a_span_trimmed_in_place_is_a_correction_not_a_move() {
    let (code, found) = patched("- quote: وهرب إلى تركيا", "- quote: هرب إلى تركيا");
    assert_eq!(code, 0, "{found:?}");
    assert!(
        found.contains(&f("record-changed", "evidence", "def-abu-hajer-2014/3")),
        "{found:?}"
    );
    assert!(!found.iter().any(|c| c.0 == "evidence-moved"), "{found:?}");
}

#[test]
fn a_retracted_id_back_in_use_is_an_error() {
    let (code, found) = retracted_id_back();
    assert_eq!(code, 1);
    assert!(
        found.contains(&f("id-reused", "events", "evt-raqqa-executions")),
        "{found:?}"
    );
}

#[test]
fn a_changed_published_source_is_an_error() {
    let (code, found) = source_changed();
    assert_eq!(code, 1);
    assert!(
        found.contains(&f("source-changed", "sources", "src-a")),
        "{found:?}"
    );
}

#[test]
fn a_release_that_is_not_newer_is_an_error() {
    let (code, found) = not_newer();
    assert_eq!(code, 1);
    assert_eq!(found, vec![f("version-not-newer", "", "")]);
}

#[test]
fn schema_rules_fire_exactly() {
    assert_eq!(
        table_removed().1,
        vec![f("table-removed", "retractions", "")]
    );
    assert_eq!(table_added().1, vec![f("table-added", "notes", "")]);
    assert_eq!(
        column_removed().1,
        vec![f("column-removed", "defections", "notes_en")]
    );
    assert_eq!(
        column_retyped().1,
        vec![f("column-retyped", "defections", "size_best")]
    );
    assert_eq!(
        column_now_required().1,
        vec![f("column-now-required", "defections", "notes_en")]
    );
    assert_eq!(
        vocabulary_removed().1,
        vec![f("vocabulary-value-removed", "defections", "stage")]
    );
    assert_eq!(
        vocabulary_added().1,
        vec![f("vocabulary-value-added", "defections", "stage")]
    );
    assert_eq!(
        column_added().1,
        vec![f("column-added", "defections", "notes_ar")]
    );
    assert_eq!(
        column_added_required().1,
        vec![f("column-added-required", "defections", "notes_ar")]
    );
    // A minor schema addition released as a patch is too small a bump.
    let (_, found) = schema_change("1.0.1", |v| {
        *prop(v, "notes_ar") = serde_json::json!({"type": ["string", "null"]})
    });
    assert!(found.contains(&f("bump-too-small", "", "")), "{found:?}");
}

#[test]
fn every_rule_has_a_fixture() {
    type Case = fn() -> (i32, Vec<Found>);
    let fixtures: &[(&str, Case)] = &[
        ("table-removed", table_removed),
        ("column-removed", column_removed),
        ("column-retyped", column_retyped),
        ("column-now-required", column_now_required),
        ("vocabulary-value-removed", vocabulary_removed),
        ("table-added", table_added),
        ("column-added", column_added),
        ("column-added-required", column_added_required),
        ("vocabulary-value-added", vocabulary_added),
        ("record-added", added),
        ("record-changed", clean_correction),
        ("record-retracted", retracted),
        ("record-removed", removed),
        ("retraction-without-reason", retracted_without_reason),
        ("id-reused", reused_id),
        ("evidence-moved", evidence_moved),
        ("source-changed", source_changed),
        ("version-not-newer", not_newer),
        ("bump-too-small", added_with_patch_bump),
    ];
    for rule in defections::compat::rules() {
        let (_, case) = fixtures
            .iter()
            .find(|(c, _)| *c == rule.code)
            .unwrap_or_else(|| panic!("rule {} has no fixture", rule.code));
        let (_, found) = case();
        assert!(
            found.iter().any(|(r, _, _)| *r == rule.code),
            "the fixture of {} does not fire it: {found:?}",
            rule.code
        );
    }
    assert_eq!(
        fixtures.len(),
        defections::compat::rules().len(),
        "a fixture for a rule that is not listed"
    );
}

#[test]
fn a_coding_correction_to_the_real_release_compiles_as_a_patch_and_diff_names_the_field() {
    let dir = real_project();
    // The committed release and the patch release after it.
    let old = version_of(&repo());
    let (minor, patch) = old.rsplit_once('.').unwrap();
    let new = format!("{minor}.{}", patch.parse::<u64>().unwrap() + 1);
    let (old_dir, new_dir) = (
        format!("data/releases/{old}"),
        format!("data/releases/{new}"),
    );
    copy_tree(&committed_release(), &dir.path().join(&old_dir));
    std::fs::write(dir.path().join("data/VERSION"), format!("{new}\n")).unwrap();
    // A correction: the case's English summary is reworded.
    let coding = dir
        .path()
        .join("data/codings/sources/001_057a14e6b97f8e27.yaml");
    append_to_first(&coding, "summary_en", " (corrected)");

    let c = run(dir.path(), &["compile"]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    let v = run(dir.path(), &["validate", &new_dir, "--previous", &old_dir]);
    assert_eq!(v.code, 0, "{}", v.stdout);

    let d = run(
        dir.path(),
        &["diff", &old_dir, &new_dir, "--format", "json"],
    );
    let j: Value = serde_json::from_str(&d.stdout).unwrap();
    let changes = j["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["rule"], "record-changed");
    assert_eq!(changes[0]["table"], "defections");
    let fields: Vec<&str> = changes[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["summary_en"]);
    assert!(changes[0]["fields"][0]["new"]
        .as_str()
        .unwrap()
        .contains("(corrected)"));

    let changelog =
        std::fs::read_to_string(dir.path().join(&new_dir).join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.starts_with(&format!("# Changes from {old} to {new}")),
        "{changelog}"
    );
    assert!(changelog.contains("`summary_en`"), "{changelog}");
    let manifest =
        std::fs::read_to_string(dir.path().join(&new_dir).join("manifest.json")).unwrap();
    assert!(manifest.contains("\"path\": \"CHANGELOG.md\""));
}

/// Runs `diff OLD NEW` on a pair whose old release was damaged by `damage`, expects it to fail
/// (exit 2) and checks that its error says each of `says`.
fn diff_fails(damage: impl FnOnce(&Path), says: &[&str]) {
    let p = successor("1.1.0", new_event);
    damage(&p.old);
    let r = run(
        Path::new("/"),
        &["diff", p.old.to_str().unwrap(), p.new.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    for s in says {
        assert!(r.stderr.contains(s), "`{s}` not in: {}", r.stderr);
    }
}

/// Releases are compared one line at a time in primary-key order (a merge join), so a
/// previous release whose rows are out of order cannot be compared: `diff` says which file
/// and line, and what to do, instead of reporting wrong changes.
#[test]
fn a_previous_release_with_rows_out_of_order_is_an_error_naming_file_and_line() {
    let swap_first_two = |old: &Path| {
        let evidence = old.join("records/evidence.jsonl");
        let text = std::fs::read_to_string(&evidence).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 2);
        lines.swap(0, 1);
        std::fs::write(&evidence, lines.join("\n") + "\n").unwrap();
    };
    diff_fails(
        swap_first_two,
        &["records/evidence.jsonl line 2", "defections validate"],
    );
}

/// Lines of a release being compared are read with the validator's bound, not whole.
#[test]
fn a_previous_release_with_an_over_long_line_is_an_error_not_a_huge_read() {
    let append_long_line = |old: &Path| {
        let actors = old.join("records/actors.jsonl");
        let mut text = std::fs::read_to_string(&actors).unwrap();
        text.push_str(&format!("{{\"actor_id\": \"{}\"}}\n", "z".repeat(5 << 20)));
        std::fs::write(&actors, text).unwrap();
    };
    diff_fails(
        append_long_line,
        &["records/actors.jsonl line", "longer than 4194304 bytes"],
    );
}

/// Releases are compared line by line and a line that is the same in both is skipped unparsed;
/// a record written differently (its keys in another order) is parsed and compared, so it
/// counts as a change only when its content changed.
#[test]
fn a_record_written_differently_is_compared_by_its_content() {
    let p = successor("1.1.0", new_event);
    let (_, before) = changes(&p);
    let evidence = p.old.join("records/evidence.jsonl");
    let text = std::fs::read_to_string(&evidence).unwrap();
    let mut first = String::new();
    let mut rewritten = String::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let mut m = serde_json::Map::new();
        for (k, x) in v.as_object().unwrap().iter().rev() {
            m.insert(k.clone(), x.clone());
        }
        if i == 0 {
            first = v["evidence_id"].as_str().unwrap().to_string();
            m.insert("prefix".into(), "another prefix".into());
        }
        let out = Value::Object(m).to_string();
        assert_ne!(out, line);
        rewritten.push_str(&out);
        rewritten.push('\n');
    }
    assert!(
        text.lines().count() >= 2,
        "the fixture needs two evidence rows"
    );
    std::fs::write(&evidence, rewritten).unwrap();
    let (_, after) = changes(&p);
    let mut expected = before;
    expected.push(f("record-changed", "evidence", &first));
    expected.sort();
    assert_eq!(after, expected);
}
