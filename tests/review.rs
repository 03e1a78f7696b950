//! Review facts: per source, the facts a reader of the Arabic text would check, asserted
//! against the committed release (tests/review/<NNN>.yaml), so an edit that loses a fact fails.

mod common;
use common::*;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Facts {
    source_id: String,
    facts: Vec<Fact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fact {
    record: String,
    column: String,
    /// `equals: null` means "the release has null", so a present key is always `Some`.
    #[serde(default, deserialize_with = "present")]
    equals: Option<Value>,
    #[serde(default)]
    contains: Option<Value>,
    because: String,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn records() -> HashMap<String, (String, Value)> {
    let mut out = HashMap::new();
    for t in defections::tables::Table::ALL {
        let text = std::fs::read_to_string(
            committed_release().join(format!("records/{}.jsonl", t.name())),
        )
        .unwrap();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let id = v[t.key()].as_str().unwrap().to_string();
            out.insert(id, (t.name().to_string(), v));
        }
    }
    out
}

/// Whether two JSON values are equal, reading numbers as numbers (1e9 == 1000000000.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

#[test]
fn every_review_fact_holds_in_the_committed_release() {
    let recs = records();
    let mut files: Vec<_> = std::fs::read_dir(repo().join("tests/review"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "one fact table per source");
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let facts: Facts =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let (_, src) = recs
            .get(&facts.source_id)
            .unwrap_or_else(|| panic!("{}: unknown source {}", f.display(), facts.source_id));
        let seed = std::fs::read_to_string(
            repo()
                .join("seeds")
                .join(src["file_name"].as_str().unwrap()),
        )
        .unwrap();
        let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let seed_squeezed = squeeze(&seed);
        for fact in &facts.facts {
            checked += 1;
            let at = format!("{}: {} {}", f.display(), fact.record, fact.column);
            if !seed_squeezed.contains(&squeeze(&fact.because)) {
                failures.push(format!(
                    "{at}: `because` is not in the source: {}",
                    fact.because
                ));
            }
            let Some((_, rec)) = recs.get(&fact.record) else {
                failures.push(format!("{at}: record missing from the release"));
                continue;
            };
            let Some(got) = rec.get(&fact.column) else {
                failures.push(format!("{at}: no such column"));
                continue;
            };
            match (&fact.equals, &fact.contains) {
                (Some(want), None) if !same(got, want) => {
                    failures.push(format!("{at}: expected {want}, release has {got}"))
                }
                (None, Some(want))
                    if !got
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| same(x, want))) =>
                {
                    failures.push(format!(
                        "{at}: expected a list containing {want}, release has {got}"
                    ))
                }
                (Some(_), Some(_)) | (None, None) => {
                    failures.push(format!("{at}: give exactly one of equals/contains"))
                }
                _ => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} facts fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 60, "only {checked} facts");
}
