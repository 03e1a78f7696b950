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

/// A synthetic project of `sources` sources (`defections synth`, seed `seed`).
fn synthetic(sources: usize, seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    defections::synth::synth(
        &common::repo().join("seeds"),
        dir.path(),
        &defections::synth::SynthOptions { sources, seed },
    )
    .unwrap();
    dir
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
    let dir = synthetic(300, 7);
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

/// The lexer of the fast path (`src/yaml/lex.rs`) against saphyr-parser on `text`: the same
/// events (kind, value, style) with scalars and collections starting at the same line and
/// column, or declined. Panics if the lexer reads a file saphyr-parser rejects. Gives whether
/// the lexer read it.
fn same_events(name: &str, text: &str) -> bool {
    use saphyr_parser::Event;
    let Some(fast) = defections::yaml::lexed(text) else {
        return false;
    };
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut slow = Vec::new();
    while let Some(next) = parser.next_event() {
        match next {
            Ok(e) => {
                let end = matches!(e.0, Event::StreamEnd);
                slow.push(e);
                if end {
                    break;
                }
            }
            Err(err) => {
                panic!("{name}: the lexer read what saphyr-parser rejects ({err}):\n{text}")
            }
        }
    }
    let kinds = |v: &[(Event, saphyr_parser::Span)]| -> Vec<String> {
        v.iter()
            .map(|(e, s)| match e {
                Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => {
                    format!("{e:?} at {}:{}", s.start.line(), s.start.col())
                }
                _ => format!("{e:?}"),
            })
            .collect()
    };
    let (fast, slow) = (kinds(&fast), kinds(&slow));
    if let Some(i) = (0..fast.len().max(slow.len())).find(|i| fast.get(*i) != slow.get(*i)) {
        panic!(
            "{name}: event {i} differs: the lexer gives {:?}, saphyr-parser {:?}, in\n{text}",
            fast.get(i),
            slow.get(i)
        );
    }
    true
}

/// Every coding file of a project: the lexer's events are saphyr-parser's. Gives how many it
/// read (rather than declined).
fn lexed_project(root: &Path) -> (usize, usize) {
    let codings = root.join("data/codings");
    let mut files = defections::records::list(&codings.join("sources"), "yaml").unwrap();
    files.extend(defections::records::list(&codings.join("gazetteer"), "yaml").unwrap());
    files.push(codings.join("retractions.yaml"));
    files.retain(|p| p.exists());
    let mut read = 0;
    for p in &files {
        let text = std::fs::read_to_string(p).unwrap();
        read += usize::from(same_events(&p.display().to_string(), &text));
    }
    (read, files.len())
}

#[test]
fn the_lexer_gives_saphyr_parsers_events() {
    let repo = common::repo();
    let (read, all) = lexed_project(&repo);
    // The committed files use `>-` blocks, quoted and flow scalars: all in the lexer's subset.
    assert_eq!(
        read, all,
        "a committed coding file was declined by the lexer"
    );
    let dir = synthetic(300, 11);
    let (read, all) = lexed_project(dir.path());
    assert_eq!(
        read, all,
        "a synthetic coding file was declined by the lexer"
    );
}

#[test]
fn the_lexer_folds_escapes_and_places_as_saphyr_parser_does() {
    // (text, whether the lexer must read it rather than decline)
    let cases: &[(&str, bool)] = &[
        ("a: b\n", true),
        ("a: b", true),
        ("a: 'x'\n", true),
        ("a: 'it''s'\n", true),
        ("a: ''\n", true),
        ("a: \"\"\n", true),
        ("a: 'x  \n   y'\n", true),
        ("a: 'x\n\n   y'\n", true),
        ("a: 'x\n   \n     \n   y  z'\n", true),
        ("a: '\n   y'\n", true),
        ("a: '   \n   y'\n", true),
        ("a: 'x\n   '\n", true),
        (
            "a: \"x\\ty\\u00e9\\x41\\U0001F600\\\\\\\"\\/\\N\\_\\L\\P\\0\\a\\b\\v\\f\\r\\e\"\n",
            true,
        ),
        ("a: \"x\\ \n   y\"\n", true),
        ("a: \"x \\\n   y\"\n", false),
        ("a: \"\\q\"\n", false),
        ("a: \"\\uD800\"\n", false),
        ("a: 'x' # c\n", true),
        ("a: 'x'# c\n", false),
        ("a: 'x' y\n", false),
        ("'a': x\n", false),
        ("a: x # c\nb: y#z\n", true),
        ("a: x:y\nb: http://e.org/a?b=c#d\n", true),
        ("a: x: y\n", false),
        ("a: x:\n", false),
        ("a: -3\nb: -x\n", true),
        ("a: - x\n", false),
        ("a: [x, 'y', \"z\", -1, a b]\n", true),
        ("a: []\nb: [ ]\nc: [x]  # c\n", true),
        ("a: [x,]\n", false),
        ("a: [x, [y]]\n", false),
        ("a: [x, {y: z}]\n", false),
        ("a: [x\n  , y]\n", false),
        ("a: [x:y]\n", false),
        ("a: [x#y]\n", false),
        ("a: {x: y}\n", false),
        ("a:\n  - x\n  - 'y'\n  -   z\n", true),
        ("a:\n  - b: 1\n    c: 2\n  - b: 3\n", true),
        ("a:\n  -\n    b: 1\n", true),
        ("a:\n  - - x\n", false),
        ("a:\n- x\n", false),
        ("a:\n  b:\n    c: x\n  d: y\ne: z\n", true),
        ("a:\nb: x\n", false),
        ("a:\n  x\n", false),
        ("a: x\n  y\n", false),
        ("a: x\n # comment\nb: y\n", true),
        ("# top\n\na: x\n\n# end\n", true),
        ("a: >-\n  one\n  two\n\n  three\n\n\nb: x\n", true),
        ("a: >\n  one\n  two\nb: x\n", true),
        ("a: |\n  one\n    two\n\n  three\nb: x\n", true),
        ("a: |-\n  one\n  # not a comment\nb: x\n", true),
        ("a: >-\n  one\n    two\n", false),
        ("a: |+\n  one\n", false),
        ("a: |2\n   one\n", false),
        ("a: >-\n\n  one\n", false),
        ("a: >-\n  one", true),
        ("a: >\n  one", true),
        ("a: |\n  one\n  two", true),
        ("a:\n  - >-\n    one\n    two\n  - x\n", true),
        ("a: x\n---\nb: y\n", false),
        ("---\na: x\n", false),
        ("a: &x y\n", false),
        ("a: *x\n", false),
        ("a: !t y\n", false),
        ("a: x\tb\n", false),
        ("a: x\r\n", false),
        ("\u{feff}a: x\n", false),
        ("a: x\u{85}y\n", false),
        ("a: 'x\u{2028}y'\n", false),
        ("a: null\nb: ~\nc: true\nd: 1.5\n", true),
        ("a: ملف عربي\nb: 'نص\n   عربي'\n", true),
        ("a:\n  b: 'x\n  y'\n", false),
        ("a:\n  b: 'x\n   y'\n", true),
        ("", false),
        ("# only a comment\n", false),
        ("x\n", false),
        ("a: x\n  b: y\n", false),
        ("a:\n    b: x\n  c: y\n", false),
    ];
    for (i, (text, read)) in cases.iter().enumerate() {
        let name = format!("case {i} {text:?}");
        assert_eq!(same_events(&name, text), *read, "{name}");
    }
}

/// A small deterministic generator (xorshift) for the edits below.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn after_random_edits_the_lexer_agrees_with_saphyr_parser_or_declines() {
    let repo = common::repo();
    let dir = synthetic(12, 5);
    let mut bases: Vec<String> = Vec::new();
    for root in [repo.as_path(), dir.path()] {
        for sub in ["sources", "gazetteer"] {
            for p in
                defections::records::list(&root.join("data/codings").join(sub), "yaml").unwrap()
            {
                bases.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    let bits = [
        " ", "  ", "\n", "\n\n", "-", "- ", ":", ": ", "#", " #", "'", "''", "\"", "\\", "[", "]",
        ",", "{", "&a ", "*a", "!t ", "|", ">-", "---", "...", "?", "%", "@", "x", "null", "~",
        "\t", "\u{85}", "\u{a0}", "ع",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut read, mut tried) = (0usize, 0usize);
    for base in &bases {
        let lines: Vec<&str> = base.split_inclusive('\n').collect();
        for _ in 0..120 {
            // Edit a window of a few lines (so that each case is small to read when it fails).
            let from = rng.below(lines.len());
            let to = (from + 1 + rng.below(6)).min(lines.len());
            let mut text: String = lines[..to].concat();
            let start = lines[..from].concat().len();
            let boundaries: Vec<usize> = (start..=text.len())
                .filter(|i| text.is_char_boundary(*i))
                .collect();
            for _ in 0..1 + rng.below(3) {
                let at = boundaries[rng.below(boundaries.len())].min(text.len());
                let at = (at..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap();
                match rng.below(4) {
                    0 | 1 => text.insert_str(at, bits[rng.below(bits.len())]),
                    2 => {
                        let end = (at + 1 + rng.below(8)).min(text.len());
                        let end = (end..=text.len())
                            .find(|i| text.is_char_boundary(*i))
                            .unwrap();
                        text.replace_range(at..end, "");
                    }
                    _ => {
                        // Indent or dedent the line the position is on.
                        let ls = text[..at].rfind('\n').map_or(0, |i| i + 1);
                        if rng.below(2) == 0 {
                            text.insert(ls, ' ');
                        } else if text[ls..].starts_with(' ') {
                            text.remove(ls);
                        }
                    }
                }
            }
            tried += 1;
            read += usize::from(same_events("an edited file", &text));
        }
    }
    // Many edits keep a file the lexer reads: the check is not vacuous.
    assert!(tried > 2_000 && read * 8 > tried, "read {read} of {tried}");
}
