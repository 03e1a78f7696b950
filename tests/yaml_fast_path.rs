//! The fast YAML path (`src/yaml.rs`) gives what serde-saphyr gives, positions included, or
//! declines: for every committed coding file, a synthetic corpus, and files written to catch
//! a difference (null, numbers, quoting, anchors, repeated keys, syntax errors).

mod common;

use std::fmt::Debug;
use std::path::Path;

use defections::codings::{parse_with_serde_saphyr, GazetteerFile, RetractionsFile, SourceFile};
use defections::metadata::DatasetMeta;
use serde::de::DeserializeOwned;

/// What a fast read gave: the value, or declined.
#[derive(Debug, PartialEq)]
enum Fast {
    Same,
    Declined,
}

/// `Debug` of a value without serde-saphyr's byte spans (the fast path gives line and column,
/// the only parts of a position the compiler reads).
fn shown<T: Debug>(v: &T) -> String {
    let mut s = format!("{v:?}");
    while let Some(i) = s.find("span: Span {") {
        let end = i + s[i..].find('}').expect("a span ends") + 1;
        let end = if s[end..].starts_with(", ") {
            end + 2
        } else {
            end
        };
        s.replace_range(i..end, "");
    }
    s
}

/// Reads `text` both ways; panics if the fast path gives a value the compiler's serde-saphyr
/// read does not.
fn check<T: DeserializeOwned + Debug>(name: &str, text: &str) -> Fast {
    match defections::yaml::from_str::<T>(text) {
        None => Fast::Declined,
        Some(fast) => {
            let slow = parse_with_serde_saphyr::<T>(name, text).unwrap_or_else(|d| {
                panic!(
                    "{name}: the fast path read a file serde-saphyr rejects ({})",
                    d.message
                )
            });
            assert_eq!(shown(&fast), shown(&slow), "{name}: the two readers differ");
            Fast::Same
        }
    }
}

/// Every `.yaml` file of `dir` is read by the fast path, to the same value as serde-saphyr's.
fn check_dir<T: DeserializeOwned + Debug>(dir: &Path) -> usize {
    let files = defections::records::list(dir, "yaml").unwrap();
    for p in &files {
        let name = p.display().to_string();
        let text = std::fs::read_to_string(p).unwrap();
        assert_eq!(check::<T>(&name, &text), Fast::Same, "{name} declined");
    }
    files.len()
}

/// Every coding file of a project is read by the fast path, to the same value.
fn check_project(root: &Path) -> usize {
    let codings = root.join("data/codings");
    let mut n = check_dir::<SourceFile>(&codings.join("sources"))
        + check_dir::<GazetteerFile>(&codings.join("gazetteer"));
    let r = codings.join("retractions.yaml");
    if r.exists() {
        let name = r.display().to_string();
        let text = std::fs::read_to_string(&r).unwrap();
        assert_eq!(
            check::<RetractionsFile>(&name, &text),
            Fast::Same,
            "{name} declined"
        );
        n += 1;
    }
    n
}

#[test]
fn committed_coding_files_read_the_same() {
    let repo = common::repo();
    assert!(check_project(&repo) >= 7);
    let meta = std::fs::read_to_string(repo.join("data/dataset.yaml")).unwrap();
    assert_eq!(check::<DatasetMeta>("data/dataset.yaml", &meta), Fast::Same);
    assert!(check_project(&repo.join("tests/fixtures/tiny")) >= 2);
}

#[test]
fn a_synthetic_corpus_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    defections::synth::synth(
        &common::repo().join("seeds"),
        dir.path(),
        &defections::synth::SynthOptions {
            sources: 300,
            seed: 7,
        },
    )
    .unwrap();
    assert!(check_project(dir.path()) >= 300);
}

/// A retractions file around one value, with the value's line and column at (3, 9).
fn retraction(reason: &str) -> String {
    format!("retractions:\n  - id: def-1\n    reason: {reason}\n")
}

#[test]
fn values_whose_type_yaml_resolves_are_left_to_serde_saphyr() {
    use Fast::*;
    // (value of a string field, expected)
    for (reason, want) in [
        ("plain words", Same),
        ("'single quoted'", Same),
        ("\"double \\u00e9 quoted\"", Same),
        ("شهادة منشق", Same),
        ("123", Same),
        ("2015-03-01", Same),
        ("true", Same),
        ("|\n      a literal\n      block", Same),
        (">\n      a folded\n      block", Same),
        ("''", Same),
        ("a plain scalar\n      over two lines", Same),
        ("'a quoted '' scalar\n      over two lines'", Same),
        ("\"an escaped\\n\\\"line\\\"\"", Same),
        ("null", Declined),
        ("~", Declined),
        ("", Declined),
        ("NULL", Declined),
        ("!!str tagged", Declined),
        ("&a anchored", Declined),
        ("[a, list]", Declined),
        ("'unterminated", Declined),
    ] {
        assert_eq!(
            check::<RetractionsFile>(reason, &retraction(reason)),
            want,
            "{reason:?}"
        );
    }
    // An optional string: null-like plain scalars are None in both readers.
    for (replaced_by, want) in [
        ("null", Same),
        ("~", Same),
        ("", Same),
        ("Null", Same),
        ("'null'", Same),
        ("nULL", Same),
        ("def-2", Same),
    ] {
        let text = format!("{}    replaced_by: {replaced_by}\n", retraction("why"));
        assert_eq!(
            check::<RetractionsFile>(replaced_by, &text),
            want,
            "{replaced_by:?}"
        );
    }
}

#[test]
fn numbers_are_read_only_from_plain_decimal_digits() {
    use Fast::*;
    let place = |lat: &str| {
        format!(
            "places:\n  - id: plc-x\n    name_ar: x\n    name_en: x\n    feature: city\n    \
             country: SY\n    latitude: {lat}\n    geonames_id: 12\n    coord_precision: exact\n"
        )
    };
    for (lat, want) in [
        ("36.25", Same),
        ("-12", Same),
        ("0", Same),
        ("null", Same),
        ("'36.25'", Declined),
        ("3.6e1", Declined),
        (".5", Declined),
        ("+36", Declined),
        ("0x24", Declined),
        ("036", Declined),
        (".nan", Declined),
        ("north", Declined),
    ] {
        assert_eq!(check::<GazetteerFile>(lat, &place(lat)), want, "{lat:?}");
    }
}

#[test]
fn anything_unusual_or_wrong_is_declined() {
    use Fast::*;
    for (what, text) in [
        (
            "a second document",
            format!("{}---\nretractions: []\n", retraction("x")),
        ),
        (
            "an alias",
            "retractions:\n  - &r {id: a, reason: b}\n  - *r\n".to_string(),
        ),
        (
            "a merge key",
            "retractions:\n  - <<: {id: a}\n    reason: b\n".to_string(),
        ),
        (
            "a repeated field",
            format!("{}    reason: again\n", retraction("x")),
        ),
        (
            "an unknown field",
            format!("{}    why: x\n", retraction("x")),
        ),
        (
            "a missing field",
            "retractions:\n  - id: def-1\n".to_string(),
        ),
        (
            "a syntax error",
            "retractions:\n  - id: [def-1\n".to_string(),
        ),
        ("an empty file", String::new()),
        ("a tagged mapping", "!!map {retractions: []}".to_string()),
    ] {
        assert_eq!(check::<RetractionsFile>(what, &text), Declined, "{what}");
    }
    // Line ends and a byte-order mark: either reader may be asked, but they must agree.
    for (what, text) in [
        ("CRLF", retraction("x").replace('\n', "\r\n")),
        ("BOM", format!("\u{feff}{}", retraction("x"))),
        (
            "tabs",
            "retractions:\n  - id:\tdef-1\n    reason: a\tb\n".to_string(),
        ),
    ] {
        check::<RetractionsFile>(what, &text);
    }
    // Flow style and comments are plain YAML: read, and the same.
    let flow = "# note\nretractions: [{id: def-1, reason: x}]  # end\n";
    assert_eq!(check::<RetractionsFile>("flow", flow), Same);
}
