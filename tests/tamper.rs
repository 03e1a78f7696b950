//! Tampering with a release: every change is caught by `validate` with exit 1 and a named rule.

mod common;
use common::*;
use std::path::Path;

/// Validates a tampered copy of the committed release; returns the rules that fired.
fn check(tamper: impl FnOnce(&Path)) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let version = version_of(&repo());
    let rel = dir.path().join(&version);
    copy_tree(&committed_release(), &rel);
    tamper(&rel);
    let r = run(dir.path(), &["validate", &version, "--format", "json"]);
    assert_eq!(r.code, 1, "tampering must be caught: {}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut rules: Vec<String> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

fn rewrite_line(path: &Path, line: usize, f: impl FnOnce(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut v: serde_json::Value = serde_json::from_str(&lines[line]).unwrap();
    f(&mut v);
    lines[line] = serde_json::to_string(&v).unwrap();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_flipped_byte_in_a_parquet_file() {
    let rules = check(|r| {
        let p = r.join("tables/defections.parquet");
        let mut b = std::fs::read(&p).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x01;
        std::fs::write(&p, b).unwrap();
    });
    assert!(rules.contains(&"hash-mismatch".to_string()), "{rules:?}");
}

#[test]
fn an_edited_jsonl_record() {
    let rules = check(|r| {
        rewrite_line(&r.join("records/defections.jsonl"), 0, |v| {
            v["size_best"] = serde_json::json!(999)
        })
    });
    assert!(rules.contains(&"record-hash".to_string()), "{rules:?}");
    assert!(rules.contains(&"hash-mismatch".to_string()), "{rules:?}");
    assert!(
        rules.contains(&"parquet-jsonl-differ".to_string()),
        "{rules:?}"
    );
}

#[test]
fn a_shifted_evidence_offset_even_with_hashes_fixed_up() {
    // A forger who also recomputes record_sha256 and the manifest is still caught by the span check.
    let rules = check(|r| {
        rewrite_line(&r.join("records/evidence.jsonl"), 3, |v| {
            v["char_start"] = serde_json::json!(v["char_start"].as_i64().unwrap() + 1);
            let h = defections::tables::record_hash_of_value(v);
            v["record_sha256"] = serde_json::json!(h);
        });
    });
    assert!(rules.contains(&"span-mismatch".to_string()), "{rules:?}");
    assert!(!rules.contains(&"record-hash".to_string()), "{rules:?}");
}

#[test]
fn an_edited_archived_text() {
    // Archived texts are hashed from the bytes read to check their spans.
    let rules = check(|r| {
        let dir = r.join("sources");
        let mut texts: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        texts.sort();
        let mut text = std::fs::read_to_string(&texts[0]).unwrap();
        text.push_str("\nسطر مضاف");
        std::fs::write(&texts[0], text).unwrap();
    });
    for rule in ["hash-mismatch", "size-mismatch", "text-hash", "text-length"] {
        assert!(rules.contains(&rule.to_string()), "{rule}: {rules:?}");
    }
}

#[test]
fn an_extra_file_dropped_into_the_release() {
    let rules = check(|r| std::fs::write(r.join("records/notes.txt"), "hello").unwrap());
    assert_eq!(rules, vec!["unlisted-file".to_string()]);
}

#[test]
fn a_deleted_file() {
    let rules = check(|r| std::fs::remove_file(r.join("tables/events.parquet")).unwrap());
    assert!(rules.contains(&"file-missing".to_string()), "{rules:?}");
}

#[test]
fn a_loosened_schema_copy() {
    let rules = check(|r| {
        let p = r.join("schema/defections.schema.json");
        let s = std::fs::read_to_string(&p).unwrap().replace(
            "\"additionalProperties\": false",
            "\"additionalProperties\": true",
        );
        std::fs::write(p, s).unwrap();
    });
    assert!(rules.contains(&"schema-modified".to_string()), "{rules:?}");
}

#[test]
fn a_manifest_path_escaping_the_release() {
    let rules = check(|r| {
        let p = r.join("manifest.json");
        let s = std::fs::read_to_string(&p).unwrap().replacen(
            "\"path\": \"records/actors.jsonl\"",
            "\"path\": \"../../etc/passwd\"",
            1,
        );
        std::fs::write(p, s).unwrap();
    });
    assert!(rules.contains(&"unsafe-path".to_string()), "{rules:?}");
}

#[cfg(unix)]
#[test]
fn a_symlink_in_the_release() {
    let rules = check(|r| {
        std::os::unix::fs::symlink("/etc/hostname", r.join("sources/extra.txt")).unwrap()
    });
    assert!(rules.contains(&"symlink".to_string()), "{rules:?}");
}

/// The first archived text of a release (by name).
fn first_text(release: &Path) -> std::path::PathBuf {
    let mut texts: Vec<_> = std::fs::read_dir(release.join("sources"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    texts.sort();
    texts.swap_remove(0)
}

/// A FIFO where a listed file should be: a finding, and validate does not wait for a writer
/// (opening a FIFO for reading blocks until one comes).
#[cfg(target_os = "linux")]
#[test]
fn a_fifo_in_place_of_a_listed_file_is_a_finding_and_never_opened() {
    for listed in [
        "records/actors.jsonl",
        "tables/places.parquet",
        "SHA256SUMS",
    ] {
        let rules = check(|r| fifo_in_place_of(&r.join(listed)));
        assert!(
            rules.contains(&"special-file".to_string()),
            "{listed}: {rules:?}"
        );
    }
    // An archived text: read while its spans are checked (and read ahead before).
    let rules = check(|r| fifo_in_place_of(&first_text(r)));
    assert!(rules.contains(&"special-file".to_string()), "{rules:?}");
    assert!(rules.contains(&"file-missing".to_string()), "{rules:?}");
}

/// A listed text replaced by a symbolic link to a file outside: the link is a finding and is
/// not followed (the text is missing, not hashed from the link's target).
#[cfg(unix)]
#[test]
fn a_symlink_in_place_of_a_listed_text_is_not_followed() {
    let rules = check(|r| {
        let text = first_text(r);
        let outside = r.parent().unwrap().join("outside.txt");
        std::fs::write(
            &outside,
            "another text, where no span of this source matches",
        )
        .unwrap();
        std::fs::remove_file(&text).unwrap();
        std::os::unix::fs::symlink(&outside, &text).unwrap();
    });
    assert!(rules.contains(&"symlink".to_string()), "{rules:?}");
    assert!(rules.contains(&"file-missing".to_string()), "{rules:?}");
    // Followed, the link's target would have been read and its spans found not to match.
    assert!(!rules.contains(&"span-mismatch".to_string()), "{rules:?}");
    assert!(!rules.contains(&"text-length".to_string()), "{rules:?}");
}

#[test]
fn a_truncated_parquet_file_is_a_finding_not_a_panic() {
    let rules = check(|r| {
        let p = r.join("tables/evidence.parquet");
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() / 3]).unwrap();
    });
    assert!(rules.contains(&"parquet-invalid".to_string()), "{rules:?}");
}

#[test]
fn a_missing_release_folder_is_an_io_failure() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["validate", "nope"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot validate nope"), "{}", r.stderr);
}

/// Rewrites a line and recomputes its `record_sha256`, as a careful forger would.
fn forge_line(path: &Path, line: usize, f: impl FnOnce(&mut serde_json::Value)) {
    rewrite_line(path, line, |v| {
        f(v);
        let h = defections::tables::record_hash_of_value(v);
        v["record_sha256"] = serde_json::json!(h);
    });
}

#[test]
fn a_forged_prefix_is_named_even_when_the_span_is_right() {
    let rules = check(|r| {
        forge_line(&r.join("records/evidence.jsonl"), 5, |v| {
            v["prefix"] = serde_json::json!("forged context");
        });
    });
    assert!(rules.contains(&"span-mismatch".to_string()), "{rules:?}");
}

#[test]
fn a_derived_source_list_that_no_longer_matches_the_evidence() {
    let rules = check(|r| {
        forge_line(&r.join("records/defections.jsonl"), 0, |v| {
            v["source_ids"] = serde_json::json!([]);
        });
    });
    assert!(rules.contains(&"derived-field".to_string()), "{rules:?}");
}

#[test]
fn evidence_numbers_with_a_gap() {
    let rules = check(|r| {
        let p = r.join("records/evidence.jsonl");
        let text = std::fs::read_to_string(&p).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let record = first["record_id"].as_str().unwrap().to_string();
        forge_line(&p, 0, |v| {
            v["evidence_id"] = serde_json::json!(format!("{record}/7"));
        });
    });
    assert!(rules.contains(&"evidence-id".to_string()), "{rules:?}");
}

#[test]
fn a_dangling_parent_place() {
    let rules = check(|r| {
        forge_line(&r.join("records/places.jsonl"), 0, |v| {
            v["parent_place_id"] = serde_json::json!("plc-nowhere");
        });
    });
    assert!(
        rules.contains(&"dangling-reference".to_string()),
        "{rules:?}"
    );
}

fn fires(rules: &[String], rule: &str) -> bool {
    rules.iter().any(|r| r == rule)
}

/// Edits `manifest.json` as JSON.
fn edit_manifest(r: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = r.join("manifest.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// Rewrites the lines of a JSONL file.
fn edit_lines(p: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    f(&mut lines);
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    std::fs::write(p, text).unwrap();
}

/// A change made to a copy of the release.
type Tamper = Box<dyn FnOnce(&Path)>;

/// One tampering per rule that the fixtures above do not already make fire.
#[test]
fn each_rule_fires_on_its_own_fixture() {
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "manifest-missing",
            Box::new(|r| std::fs::remove_file(r.join("manifest.json")).unwrap()),
        ),
        (
            "manifest-too-large",
            Box::new(|r| std::fs::write(r.join("manifest.json"), vec![b' '; 65 << 20]).unwrap()),
        ),
        (
            "unknown-schema-version",
            Box::new(|r| edit_manifest(r, |m| m["schema_version"] = "99".into())),
        ),
        (
            "table-missing",
            Box::new(|r| {
                edit_manifest(r, |m| {
                    let files = m["files"].as_array_mut().unwrap();
                    files.retain(|f| f["path"] != "records/actors.jsonl");
                })
            }),
        ),
        (
            "row-count",
            Box::new(|r| edit_manifest(r, |m| m["tables"]["actors"]["rows"] = 26.into())),
        ),
        (
            "table-digest",
            Box::new(|r| {
                edit_manifest(r, |m| {
                    m["tables"]["actors"]["records_sha256"] = "0".repeat(64).into()
                })
            }),
        ),
        (
            "sums-missing",
            Box::new(|r| std::fs::remove_file(r.join("SHA256SUMS")).unwrap()),
        ),
        (
            "sums-invalid",
            Box::new(|r| {
                let p = r.join("SHA256SUMS");
                let text = std::fs::read_to_string(&p).unwrap() + "not a sum line\n";
                std::fs::write(p, text).unwrap();
            }),
        ),
        (
            "sums-mismatch",
            Box::new(|r| {
                let p = r.join("SHA256SUMS");
                let text = std::fs::read_to_string(&p).unwrap();
                let (first, rest) = text.split_once('\n').unwrap();
                std::fs::write(p, format!("{}{}\n{rest}", "0".repeat(64), &first[64..])).unwrap();
            }),
        ),
        (
            "file-unreadable",
            // A schema copy too large to compare is reported as unreadable.
            Box::new(|r| {
                std::fs::write(r.join("schema/actors.schema.json"), vec![b' '; 65 << 20]).unwrap()
            }),
        ),
        (
            "duplicate-key",
            Box::new(|r| {
                edit_lines(&r.join("records/actors.jsonl"), |l| {
                    let first = l[0].clone();
                    l.insert(1, first);
                })
            }),
        ),
        (
            "unsorted",
            Box::new(|r| edit_lines(&r.join("records/actors.jsonl"), |l| l.swap(0, 1))),
        ),
        (
            "parquet-rows",
            Box::new(|r| {
                edit_lines(&r.join("records/actors.jsonl"), |l| {
                    l.pop();
                })
            }),
        ),
        (
            "text-invalid",
            Box::new(|r| std::fs::write(first_text(r), b"\xff\xfe not UTF-8").unwrap()),
        ),
        (
            "text-missing",
            Box::new(|r| {
                rewrite_line(&r.join("records/sources.jsonl"), 0, |v| {
                    v["text_path"] = "sources/elsewhere.txt".into()
                })
            }),
        ),
        (
            "retracted-present",
            Box::new(|r| {
                let actors = std::fs::read_to_string(r.join("records/actors.jsonl")).unwrap();
                let actor: serde_json::Value =
                    serde_json::from_str(actors.lines().next().unwrap()).unwrap();
                let retraction = serde_json::json!({
                    "record_id": actor["actor_id"],
                    "record_table": "actors",
                    "reason": "a fixture",
                    "replaced_by": null,
                    "record_sha256": "0".repeat(64),
                });
                std::fs::write(
                    r.join("records/retractions.jsonl"),
                    format!("{retraction}\n"),
                )
                .unwrap();
            }),
        ),
        (
            "manifest-invalid",
            Box::new(|r| edit_manifest(r, |m| m["dataset"] = "another dataset".into())),
        ),
        (
            "jsonl-invalid",
            Box::new(|r| {
                edit_lines(&r.join("records/actors.jsonl"), |l| {
                    l[0] = "{not json".into()
                })
            }),
        ),
        (
            "line-too-long",
            Box::new(|r| {
                edit_lines(&r.join("records/actors.jsonl"), |l| {
                    l.push("x".repeat(5 << 20))
                })
            }),
        ),
        (
            "schema",
            Box::new(|r| {
                rewrite_line(&r.join("records/actors.jsonl"), 0, |v| {
                    v["extra"] = 1.into()
                })
            }),
        ),
        (
            "quote-hash",
            Box::new(|r| {
                rewrite_line(&r.join("records/evidence.jsonl"), 0, |v| {
                    v["quote_sha256"] = "0".repeat(64).into()
                })
            }),
        ),
        (
            "parquet-schema",
            Box::new(|r| {
                std::fs::copy(
                    r.join("tables/places.parquet"),
                    r.join("tables/actors.parquet"),
                )
                .unwrap();
            }),
        ),
        (
            "text-not-canonical",
            Box::new(|r| std::fs::write(first_text(r), "a line\r\nanother line\r\n").unwrap()),
        ),
    ];
    for (rule, tamper) in cases {
        let rules = check(tamper);
        assert!(fires(&rules, rule), "{rule} did not fire: {rules:?}");
    }
    // The folder named after another version than the manifest's.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&committed_release(), &dir.path().join("9.9.9"));
    let r = run(dir.path(), &["validate", "9.9.9", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rules: Vec<String> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    assert!(fires(&rules, "version-mismatch"), "{rules:?}");
}

/// Every rule code `src/validate.rs` can report has a row in docs/validate-rules.md (and
/// every row is a rule), and a fixture in this file that makes it fire.
#[test]
fn every_rule_is_documented_and_has_a_fixture() {
    let source = std::fs::read_to_string(repo().join("src/validate.rs")).unwrap();
    // A rule is the first argument of `Finding::new(` or of a finding-making closure `f(`.
    let mut in_code = std::collections::BTreeSet::new();
    for opener in ["Finding::new(", " f(", "(f("] {
        for (i, _) in source.match_indices(opener) {
            let rest = source[i + opener.len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else {
                continue;
            };
            let code = &rest[..rest.find('"').unwrap()];
            if !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                in_code.insert(code.to_string());
            }
        }
    }
    assert!(in_code.len() > 30, "{in_code:?}");
    let docs = std::fs::read_to_string(repo().join("docs/validate-rules.md")).unwrap();
    let documented: std::collections::BTreeSet<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(code, _)| code.to_string()))
        .collect();
    assert_eq!(
        in_code, documented,
        "src/validate.rs and docs/validate-rules.md"
    );
    let fixtures = std::fs::read_to_string(repo().join("tests/tamper.rs")).unwrap();
    let without: Vec<&String> = in_code
        .iter()
        .filter(|c| !fixtures.contains(&format!("\"{c}\"")))
        .collect();
    assert!(
        without.is_empty(),
        "rules without a fixture in tests/tamper.rs: {without:?}"
    );
}
