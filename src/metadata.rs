//! Release metadata for the ecosystem: records and file list in, documents out.
//!
//! In: the dataset description (`data/dataset.yaml`), a [`Summary`] of the records of a release
//! (accumulated a batch at a time while they are written) and the files written so far (with sha256 and size). Out: `datapackage.json` (Frictionless Data Package,
//! pointing at the JSONL records), `croissant.json` (Croissant 1.1, pointing at the Parquet
//! tables), `load.sql` (DuckDB views), `CITATION.cff` and `README.md` (a datasheet after Gebru
//! et al., generated from the data). Everything is derived from the inputs: no clock.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::{DefectionRecord, EventRecord, SourceRecord, StatementRecord};
use crate::schema;
use crate::tables::Record;
use crate::tables::Table;
use crate::write::FileEntry;

/// `data/dataset.yaml`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetMeta {
    /// Title.
    pub name: String,
    /// Short identifier (Croissant/Frictionless `name`).
    pub short_name: String,
    /// A paragraph.
    pub description: String,
    /// Keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Authors.
    pub authors: Vec<Author>,
    /// Licence of the codings.
    pub license: License,
    /// Status of the archived source texts.
    pub source_texts: String,
    /// Home page, if any.
    #[serde(default)]
    pub url: Option<String>,
}

/// An author.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Author {
    /// Name (a person or a group).
    pub name: String,
}

/// A licence.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// SPDX id.
    pub id: String,
    /// Licence text.
    pub url: String,
    /// What it covers.
    pub applies_to: String,
}

impl Default for DatasetMeta {
    fn default() -> Self {
        DatasetMeta {
            name: crate::write::DATASET.into(),
            short_name: "isdd".into(),
            description: "Defections from the Islamic State coded from Arabic sources.".into(),
            keywords: Vec::new(),
            authors: vec![Author {
                name: "The defections project contributors".into(),
            }],
            license: License {
                id: "CC-BY-4.0".into(),
                url: "https://creativecommons.org/licenses/by/4.0/".into(),
                applies_to: "the codings".into(),
            },
            source_texts: "The archived source texts keep their publishers' copyright.".into(),
            url: None,
        }
    }
}

/// Tables that have a coder-assigned primary key (the others are derived or withdrawn records).
const DATA_TABLES: [Table; 9] = Table::ALL;

/// `(column, target table, target column)` foreign keys with a single value.
fn foreign_keys(t: Table) -> &'static [(&'static str, &'static str, &'static str)] {
    match t {
        Table::Defections => &[
            ("place_id", "places", "place_id"),
            ("outcome_actor_id", "actors", "actor_id"),
        ],
        Table::Persons => &[("affiliation_actor_id", "actors", "actor_id")],
        Table::Places => &[("parent_place_id", "places", "place_id")],
        Table::Events => &[
            ("place_id", "places", "place_id"),
            ("perpetrator_actor_id", "actors", "actor_id"),
        ],
        Table::Statements => &[
            ("speaker_person_id", "persons", "person_id"),
            ("defection_id", "defections", "defection_id"),
            ("source_id", "sources", "source_id"),
        ],
        Table::Evidence => &[("source_id", "sources", "source_id")],
        _ => &[],
    }
}

/// What a JSON Schema property says: base type, date?, list?, nullable, enum values.
struct Col {
    name: String,
    base: &'static str,
    list: bool,
    nullable: bool,
    enumeration: Option<Vec<String>>,
    description: String,
}

fn col(name: &str, p: &Value) -> Col {
    let (types, nullable) = schema::json_types(p);
    let main = types.first().map_or("string", String::as_str);
    let (list, inner) = if main == "array" {
        (true, &p["items"])
    } else {
        (false, p)
    };
    let inner_type = if list {
        inner
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string")
    } else {
        main
    };
    let base = match inner_type {
        "integer" => "integer",
        "number" => "number",
        "boolean" => "boolean",
        _ if inner.get("format") == Some(&json!("date")) => "date",
        _ => "string",
    };
    let enumeration = inner.get("enum").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    });
    Col {
        name: name.to_string(),
        base,
        list,
        nullable,
        enumeration,
        description: p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    }
}

fn cols(t: Table) -> Vec<Col> {
    schema::columns(t).iter().map(|(n, p)| col(n, p)).collect()
}

fn file<'a>(files: &'a [FileEntry], path: &str) -> Option<&'a FileEntry> {
    files.iter().find(|f| f.path == path)
}

/// `datapackage.json`: a Frictionless Data Package over the JSONL records.
pub fn datapackage(
    meta: &DatasetMeta,
    version: &str,
    counts: &BTreeMap<String, u64>,
    files: &[FileEntry],
) -> Value {
    let mut resources = Vec::new();
    for t in DATA_TABLES {
        let path = format!("records/{}.jsonl", t.name());
        let Some(f) = file(files, &path) else {
            continue;
        };
        let names: Vec<String> = cols(t).into_iter().map(|c| c.name).collect();
        let fields: Vec<Value> = cols(t)
            .iter()
            .map(|c| {
                let mut field = json!({
                    "name": c.name,
                    "type": if c.list { "array" } else { c.base },
                    "description": c.description,
                });
                let mut constraints = serde_json::Map::new();
                if !c.nullable {
                    constraints.insert("required".into(), json!(true));
                }
                if let (Some(e), false) = (&c.enumeration, c.list) {
                    constraints.insert("enum".into(), json!(e));
                }
                if c.name == t.key() {
                    constraints.insert("unique".into(), json!(true));
                }
                if !constraints.is_empty() {
                    field["constraints"] = Value::Object(constraints);
                }
                field
            })
            .collect();
        let fks: Vec<Value> = foreign_keys(t)
            .iter()
            .map(|(c, rt, rc)| {
                let resource = if *rt == t.name() {
                    String::new()
                } else {
                    rt.to_string()
                };
                json!({"fields": c, "reference": {"resource": resource, "fields": rc}})
            })
            .collect();
        // Empty strings are values here (a span at the start of a text has an empty prefix);
        // JSON null is the only missing value.
        let mut schema = json!({"fields": fields, "primaryKey": [t.key()], "missingValues": []});
        if !fks.is_empty() {
            schema["foreignKeys"] = json!(fks);
        }
        if counts.get(t.name()).copied().unwrap_or(0) == 0 {
            // An empty JSONL file has no first object to read a header from: describe the
            // empty table inline (header row only).
            resources.push(json!({
                "name": t.name(),
                "description": format!("Empty in this release ({path} has no lines)."),
                "data": [names],
                "schema": schema,
            }));
            continue;
        }
        resources.push(json!({
            "name": t.name(),
            "path": path,
            "format": "jsonl",
            "mediatype": "application/jsonl",
            "encoding": "utf-8",
            "bytes": f.bytes,
            "hash": format!("sha256:{}", f.sha256),
            "schema": schema,
        }));
    }
    json!({
        "name": meta.short_name,
        "title": meta.name,
        "description": meta.description,
        "version": version,
        "keywords": meta.keywords,
        "licenses": [{"name": meta.license.id, "path": meta.license.url, "title": format!("{} ({})", meta.license.id, meta.license.applies_to)}],
        "contributors": meta.authors.iter().map(|a| json!({"title": a.name, "role": "author"})).collect::<Vec<_>>(),
        "resources": resources,
    })
}

fn croissant_type(c: &Col) -> &'static str {
    match c.base {
        "integer" => "sc:Integer",
        "number" => "sc:Float",
        "boolean" => "sc:Boolean",
        "date" => "sc:Date",
        _ => "sc:Text",
    }
}

/// `croissant.json`: Croissant 1.1 metadata over the Parquet tables.
pub fn croissant(meta: &DatasetMeta, version: &str, files: &[FileEntry]) -> Value {
    let distribution: Vec<Value> = files.iter().map(file_object).collect();
    croissant_with(meta, version, files, json!(distribution))
}

/// One file of the release as a Croissant `FileObject`.
fn file_object(f: &FileEntry) -> Value {
    let format = match f.path.rsplit('.').next() {
        Some("parquet") => "application/x-parquet",
        Some("jsonl") => "application/jsonlines",
        Some("json") => "application/json",
        Some("md") => "text/markdown",
        _ => "text/plain",
    };
    json!({
        "@type": "cr:FileObject",
        "@id": f.path,
        "name": f.path,
        "contentUrl": f.path,
        "contentSize": format!("{} B", f.bytes),
        "encodingFormat": format,
        "sha256": f.sha256,
    })
}

/// `croissant.json` as written: the bytes of pretty-printed [`croissant`], with the file list
/// (one `FileObject` per archived text, so 100,000 of them in a large release) printed one
/// object at a time instead of built as one JSON value.
pub fn croissant_text(meta: &DatasetMeta, version: &str, files: &[FileEntry]) -> String {
    const MARK: &str = "\\u0000distribution";
    let doc = croissant_with(meta, version, files, json!("\u{0}distribution"));
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    let mut list = String::from("[");
    for (i, f) in files.iter().enumerate() {
        list.push_str(if i == 0 { "\n    " } else { ",\n    " });
        let item = serde_json::to_string_pretty(&file_object(f)).unwrap_or_default();
        list.push_str(&item.replace('\n', "\n    "));
    }
    list.push_str(if files.is_empty() { "]" } else { "\n  ]" });
    text.replacen(&format!("\"{MARK}\""), &list, 1)
}

fn croissant_with(
    meta: &DatasetMeta,
    version: &str,
    files: &[FileEntry],
    distribution: Value,
) -> Value {
    let mut record_sets = Vec::new();
    for t in DATA_TABLES {
        let path = format!("tables/{}.parquet", t.name());
        if file(files, &path).is_none() {
            continue;
        }
        // References on list columns (person_ids, source_ids) are not joinable by mlcroissant,
        // which joins record sets along references; only single-valued keys are declared.
        let refs: BTreeMap<&str, (&str, &str)> = foreign_keys(t)
            .iter()
            // mlcroissant orders record sets by their references: a table referencing itself
            // (places.parent_place_id) would be a cycle, so self-references are left out here.
            .filter(|(_, rt, _)| *rt != t.name())
            .map(|(c, rt, rc)| (*c, (*rt, *rc)))
            .collect();
        let fields: Vec<Value> = cols(t)
            .iter()
            .map(|c| {
                let mut field = json!({
                    "@type": "cr:Field",
                    "@id": format!("{}/{}", t.name(), c.name),
                    "name": c.name,
                    "description": c.description,
                    "dataType": croissant_type(c),
                    "source": {"fileObject": {"@id": path}, "extract": {"column": c.name}},
                });
                if c.list {
                    field["isArray"] = json!(true);
                    field["arrayShape"] = json!("-1");
                }
                if let Some((rt, rc)) = refs.get(c.name.as_str()) {
                    field["references"] = json!({"field": {"@id": format!("{rt}/{rc}")}});
                }
                field
            })
            .collect();
        record_sets.push(json!({
            "@type": "cr:RecordSet",
            "@id": t.name(),
            "name": t.name(),
            "description": format!("The {} table of schema v{}.", t.name(), schema::SCHEMA_VERSION),
            "key": {"@id": format!("{}/{}", t.name(), t.key())},
            "field": fields,
        }));
    }
    let mut doc = json!({
        "@context": croissant_context(),
        "@type": "sc:Dataset",
        "name": meta.short_name,
        "alternateName": meta.name,
        "description": meta.description,
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "version": version,
        "license": meta.license.url,
        "keywords": meta.keywords,
        "inLanguage": ["ar", "en"],
        "creator": meta.authors.iter().map(|a| json!({"@type": "sc:Organization", "name": a.name})).collect::<Vec<_>>(),
        "citeAs": citation_text(meta, version),
        "distribution": distribution,
        "recordSet": record_sets,
    });
    if let Some(u) = &meta.url {
        doc["url"] = json!(u);
    }
    doc
}

fn croissant_context() -> Value {
    json!({
        "@language": "en",
        "@vocab": "https://schema.org/",
        "arrayShape": "cr:arrayShape",
        "citeAs": "cr:citeAs",
        "column": "cr:column",
        "conformsTo": "dct:conformsTo",
        "cr": "http://mlcommons.org/croissant/",
        "data": {"@id": "cr:data", "@type": "@json"},
        "dataBiases": "cr:dataBiases",
        "dataCollection": "cr:dataCollection",
        "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
        "dct": "http://purl.org/dc/terms/",
        "equivalentProperty": "cr:equivalentProperty",
        "examples": {"@id": "cr:examples", "@type": "@json"},
        "extract": "cr:extract",
        "field": "cr:field",
        "fileObject": "cr:fileObject",
        "fileProperty": "cr:fileProperty",
        "fileSet": "cr:fileSet",
        "format": "cr:format",
        "includes": "cr:includes",
        "isArray": "cr:isArray",
        "isLiveDataset": "cr:isLiveDataset",
        "jsonPath": "cr:jsonPath",
        "key": "cr:key",
        "md5": "cr:md5",
        "parentField": "cr:parentField",
        "path": "cr:path",
        "personalSensitiveInformation": "cr:personalSensitiveInformation",
        "rai": "http://mlcommons.org/croissant/RAI/",
        "recordSet": "cr:recordSet",
        "references": "cr:references",
        "regex": "cr:regex",
        "repeated": "cr:repeated",
        "replace": "cr:replace",
        "samplingRate": "cr:samplingRate",
        "sc": "https://schema.org/",
        "separator": "cr:separator",
        "source": "cr:source",
        "subField": "cr:subField",
        "transform": "cr:transform"
    })
}

fn citation_text(meta: &DatasetMeta, version: &str) -> String {
    let authors: Vec<&str> = meta.authors.iter().map(|a| a.name.as_str()).collect();
    format!(
        "{}. {} (version {version}). Schema v{}.",
        authors.join("; "),
        meta.name,
        schema::SCHEMA_VERSION
    )
}

/// `CITATION.cff`.
pub fn citation_cff(meta: &DatasetMeta, version: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = String::from("cff-version: 1.2.0\nmessage: If you use this dataset, please cite it as below.\ntype: dataset\n");
    out.push_str(&format!(
        "title: {}\nversion: {}\n",
        q(&meta.name),
        q(version)
    ));
    out.push_str(&format!("abstract: {}\n", q(&meta.description)));
    out.push_str(&format!("license: {}\n", q(&meta.license.id)));
    out.push_str("authors:\n");
    for a in &meta.authors {
        out.push_str(&format!("  - name: {}\n", q(&a.name)));
    }
    if !meta.keywords.is_empty() {
        out.push_str("keywords:\n");
        for k in &meta.keywords {
            out.push_str(&format!("  - {}\n", q(k)));
        }
    }
    if let Some(u) = &meta.url {
        out.push_str(&format!("url: {}\n", q(u)));
    }
    out
}

/// `load.sql`: one DuckDB view per table; run `duckdb -init load.sql` inside the release.
pub fn load_sql(version: &str) -> String {
    let mut out = format!(
        "-- Islamic State Defections Dataset, release {version}: one view per table.\n\
         -- Run inside the release folder:  duckdb -init load.sql\n"
    );
    for t in Table::ALL {
        out.push_str(&format!(
            "CREATE OR REPLACE VIEW {0} AS SELECT * FROM read_parquet('tables/{0}.parquet');\n",
            t.name()
        ));
    }
    out.push_str(
        "-- The archived canonical texts, for checking evidence spans:\n\
         --   SELECT e.evidence_id, substring(s.text, e.char_start + 1, e.char_end - e.char_start) = e.exact\n\
         --   FROM evidence e JOIN source_texts s USING (source_id);\n\
         CREATE OR REPLACE VIEW source_texts AS\n  SELECT regexp_extract(filename, '([^/]+)\\.txt$', 1) AS source_id, content AS text\n  FROM read_text('sources/*.txt');\n",
    );
    out
}

/// The vocabulary columns the datasheet counts, per table.
const COUNTED: [(Table, &[&str]); 3] = [
    (
        Table::Defections,
        &[
            "subject",
            "stage",
            "outcome",
            "authenticity",
            "claim_status",
            "origin",
            "motive_basis",
            "place_precision",
            "date_precision",
            "roles",
            "motives",
        ],
    ),
    (Table::Events, &["event_type"]),
    (Table::Statements, &["topic"]),
];

/// The counted columns of `table` that have a vocabulary, with its values.
fn vocab_columns(table: Table) -> Vec<(&'static str, Vec<String>)> {
    let Some((_, columns)) = COUNTED.iter().find(|(t, _)| *t == table) else {
        return Vec::new();
    };
    let cs = cols(table);
    columns
        .iter()
        .filter_map(|c| {
            cs.iter()
                .find(|x| x.name == *c)
                .and_then(|col| col.enumeration.clone())
                .map(|values| (*c, values))
        })
        .collect()
}

/// What the datasheet says about the records, accumulated a batch of rows at a time while a
/// release is written (nothing but counts, the date range and the first sources is kept).
#[derive(Debug, Default)]
pub struct Summary {
    stats: crate::stats::Builder,
    date_min: Option<String>,
    date_max: Option<String>,
    undated: u64,
    persons_total: i64,
    /// Per counted `(table, column)`: the count of each vocabulary value, in vocabulary order
    /// (the values are those of [`vocab_columns`]).
    vocab: BTreeMap<(String, String), Vec<u64>>,
    sources: Vec<SourceRecord>,
}

impl Summary {
    /// Counts vocabulary values of the columns of `R`'s table that the datasheet lists.
    fn count_vocab<R: Record>(&mut self, rows: &[R]) {
        use rayon::prelude::*;
        let wanted = vocab_columns(R::TABLE);
        let index: Vec<BTreeMap<&str, usize>> = wanted
            .iter()
            .map(|(_, values)| {
                values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.as_str(), i))
                    .collect()
            })
            .collect();
        let zeros = || -> Vec<Vec<u64>> { wanted.iter().map(|(_, v)| vec![0; v.len()]).collect() };
        /// Counts the vocabulary values of the wanted columns (read by [`crate::scan`]).
        struct Vocab<'w> {
            wanted: &'w [(&'static str, Vec<String>)],
            index: &'w [BTreeMap<&'w str, usize>],
            counts: Vec<Vec<u64>>,
        }
        impl crate::scan::Visit for Vocab<'_> {
            fn string(&mut self, field: &'static str, s: &str) {
                if let Some(k) = self.wanted.iter().position(|(c, _)| *c == field) {
                    if let Some(&i) = self.index[k].get(s) {
                        self.counts[k][i] += 1;
                    }
                }
            }
            fn field(&mut self, _: &'static str, _: bool) {}
        }
        let counted = rows
            .par_chunks(1024)
            .map(|chunk| {
                let mut v = Vocab {
                    wanted: &wanted,
                    index: &index,
                    counts: zeros(),
                };
                for r in chunk {
                    crate::scan::scan(r, &mut v);
                }
                v.counts
            })
            .reduce(zeros, |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    for (p, q) in x.iter_mut().zip(y) {
                        *p += q;
                    }
                }
                a
            });
        for ((column, _), counts) in wanted.iter().zip(counted) {
            self.add_vocab((R::TABLE.name().to_string(), column.to_string()), counts);
        }
    }

    fn add_vocab(&mut self, column: (String, String), counts: Vec<u64>) {
        let mine = self
            .vocab
            .entry(column)
            .or_insert_with(|| vec![0; counts.len()]);
        for (a, b) in mine.iter_mut().zip(counts) {
            *a += b;
        }
    }

    /// Adds what `other` summarised (of other tables).
    pub fn merge(&mut self, other: Summary) {
        self.stats.merge(other.stats);
        if let Some(m) = &other.date_min {
            keep(&mut self.date_min, m, std::cmp::Ordering::Less);
        }
        if let Some(m) = &other.date_max {
            keep(&mut self.date_max, m, std::cmp::Ordering::Greater);
        }
        self.undated += other.undated;
        self.persons_total += other.persons_total;
        for (column, counts) in other.vocab {
            self.add_vocab(column, counts);
        }
        let room = DATASHEET_SOURCES.saturating_sub(self.sources.len());
        self.sources.extend(other.sources.into_iter().take(room));
    }

    /// Counts of rows per table so far.
    pub fn rows(&self) -> &BTreeMap<String, u64> {
        self.stats.rows()
    }
}

/// Keeps in `slot` whichever of it and `value` comes first in `order` (`Less`: the smaller).
fn keep(slot: &mut Option<String>, value: &str, order: std::cmp::Ordering) {
    if slot.as_deref().is_none_or(|m| value.cmp(m) == order) {
        *slot = Some(value.to_string());
    }
}

/// Rows that a [`Summary`] takes in, a batch at a time, in key order.
pub trait Summarised: Record {
    /// Adds a batch of rows to `s`.
    fn summarise(rows: &[Self], s: &mut Summary) {
        s.stats.add(rows);
    }
}

impl Summarised for crate::model::PersonRecord {}
impl Summarised for crate::model::PlaceRecord {}
impl Summarised for crate::model::ActorRecord {}
impl Summarised for crate::model::RetractionRecord {}

impl Summarised for crate::model::EvidenceRecord {
    fn summarise(rows: &[Self], s: &mut Summary) {
        s.stats.add_evidence(rows);
    }
}

impl Summarised for SourceRecord {
    fn summarise(rows: &[Self], s: &mut Summary) {
        s.stats.add(rows);
        let room = DATASHEET_SOURCES.saturating_sub(s.sources.len());
        s.sources.extend(rows.iter().take(room).cloned());
    }
}

impl Summarised for EventRecord {
    fn summarise(rows: &[Self], s: &mut Summary) {
        s.stats.add(rows);
        s.count_vocab(rows);
    }
}

impl Summarised for StatementRecord {
    fn summarise(rows: &[Self], s: &mut Summary) {
        s.stats.add(rows);
        s.count_vocab(rows);
    }
}

impl Summarised for DefectionRecord {
    fn summarise(rows: &[Self], s: &mut Summary) {
        s.stats.add(rows);
        s.count_vocab(rows);
        for d in rows {
            match &d.date_start {
                Some(start) => keep(&mut s.date_min, &start.0, std::cmp::Ordering::Less),
                None => s.undated += 1,
            }
            if let Some(end) = &d.date_end {
                keep(&mut s.date_max, &end.0, std::cmp::Ordering::Greater);
            }
            s.persons_total += d.size_low.unwrap_or(0);
        }
    }
}

/// Sources listed by name in the datasheet; the rest are counted (all are in `sources`).
const DATASHEET_SOURCES: usize = 50;

/// `README.md`: the release's datasheet.
pub fn datasheet(
    meta: &DatasetMeta,
    version: &str,
    summary: Summary,
    changelog: Option<&str>,
) -> String {
    let min = summary.date_min.as_deref().unwrap_or("n/a");
    let max = summary.date_max.as_deref().unwrap_or("n/a");
    let (undated, persons_total) = (summary.undated, summary.persons_total);
    let sources = &summary.sources;
    let vocab = &summary.vocab;
    let st = summary.stats.finish();
    let n = |t: Table| st.rows.get(t.name()).copied().unwrap_or(0);

    let mut o = format!("# {} — release {version}\n\n", meta.name);
    o.push_str("A datasheet after Gebru et al., *Datasheets for Datasets* (2021), generated from the release's own data.\n\n");
    o.push_str("## Motivation\n\n");
    o.push_str(&format!("{}\n\nThe dataset exists so that research on defection from jihadist groups can rest on cases whose every claim can be traced to the words of a source: each record carries evidence spans (character offsets into archived texts) that anyone can re-check.\n\n", meta.description));
    o.push_str("## Composition\n\n");
    o.push_str(&format!(
        "- {} defection cases (at least {} people by the lower bounds), {} context events, {} quoted statements, {} persons, {} places, {} actors, from {} sources, backed by {} evidence spans; {} retracted records.\n",
        n(Table::Defections), persons_total, n(Table::Events), n(Table::Statements), n(Table::Persons), n(Table::Places), n(Table::Actors), n(Table::Sources), n(Table::Evidence), n(Table::Retractions)
    ));
    o.push_str(&format!("- Case dates span {min} to {max}; {undated} case(s) have no date the sources support (precision `unknown`).\n"));
    o.push_str("- Unit of analysis: a defection case — one person, or one group reported together, that left, tried to leave, asked to leave, or claimed to have left ISIS. Counts are UCDP-style low/best/high.\n\n");
    o.push_str("### Vocabularies and their counts\n\n");
    for (table, _) in COUNTED {
        for (c, values) in vocab_columns(table) {
            let counts = vocab.get(&(table.name().to_string(), c.to_string()));
            let cells: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let n = counts.and_then(|c| c.get(i)).copied().unwrap_or(0);
                    format!("`{v}` {n}")
                })
                .collect();
            o.push_str(&format!("- `{}.{c}`: {}\n", table.name(), cells.join(", ")));
        }
    }
    o.push_str("\n### Coverage\n\n");
    o.push_str(&crate::stats::render_markdown(&st, DATASHEET_SOURCES));
    o.push_str("\n## Collection process\n\n");
    o.push_str("Sources are Arabic news and monitoring reports, archived byte for byte (`seeds/` of the project). Human coders read each source and write a coding file: the cases, people, places, actors, events and statements it reports, each claim with the verbatim quote that supports it. A second coder reviewed every source. Relative dates are resolved against the publication date; uncertainty is stated (date precision, count bounds, place precision) rather than guessed. The project's CODEBOOK.md lists every coding decision beyond the schema, with examples.\n\n### Sources\n\n| source | publisher | published | kind |\n|---|---|---|---|\n");
    for s in sources.iter().take(DATASHEET_SOURCES) {
        let published = match (&s.published_start, &s.published_end) {
            (Some(a), Some(b)) if a == b => a.0.clone(),
            (Some(a), Some(b)) => format!("{} – {}", a.0, b.0),
            _ => "unknown".into(),
        };
        o.push_str(&format!(
            "| `{}` | {} ({}) | {published} | {} |\n",
            s.source_id,
            s.publisher,
            s.publisher_en,
            s.source_kind.as_ref_str()
        ));
    }
    if n(Table::Sources) > DATASHEET_SOURCES as u64 {
        o.push_str(&format!(
            "\n… and {} more sources (all of them in the `sources` table).\n",
            n(Table::Sources) - DATASHEET_SOURCES as u64
        ));
    }
    o.push_str("\n## Preprocessing\n\n");
    o.push_str("The compiler turns each source into its canonical text (UTF-8, BOM dropped, CRLF/CR to LF, Unicode NFC; nothing else changes: NBSP, diacritics and tatweel stay) and finds every quote in it, tolerating only white-space differences. Offsets are Unicode code points (`char_start`, `char_end`, half-open) and UTF-8 bytes. Every record carries `record_sha256`, the sha256 of its RFC 8785 canonical JSON without that field; every span carries `quote_sha256` and `source_text_sha256`.\n\n");
    o.push_str("## Uses\n\n");
    o.push_str("Intended: research on defection, desertion and infiltration in jihadist groups; checking claims against sources; teaching source criticism. Not suitable: identifying or locating individuals, operational or security decisions about persons, or estimates of total defection numbers (the cases are those the sources report, not a sample). Names are as printed in public reports; many cases are pseudonymous (initials) or unnamed groups.\n\n");
    o.push_str("## Distribution\n\n");
    o.push_str(&format!(
        "- Licence of the codings: {} ({}), covering {}.\n- Source texts: {}\n",
        meta.license.id, meta.license.url, meta.license.applies_to, meta.source_texts
    ));
    o.push_str("- Files: `tables/*.parquet` (zstd, sorted by primary key), `records/*.jsonl`, `schema/*.schema.json` (JSON Schema 2020-12), `sources/*.txt`, `datapackage.json` (Frictionless, over the JSONL), `croissant.json` (Croissant 1.1, over the Parquet), `load.sql` (DuckDB views), `CITATION.cff`, `manifest.json` and `SHA256SUMS` (`sha256sum -c SHA256SUMS`).\n");
    o.push_str(&format!("- Cite as: {}\n\n", citation_text(meta, version)));
    o.push_str("## Maintenance\n\n");
    o.push_str("Releases are immutable and semantically versioned: patch for corrections, minor for new records or optional columns, major for breaking schema changes. A record is never silently removed: withdrawn ids are listed in the `retractions` table with a reason. Every release is validated against the schema and against its predecessor (`defections validate NEW --previous OLD`).\n");
    if let Some(c) = changelog {
        o.push_str("\n### Changes in this release\n\nSee `CHANGELOG.md`: ");
        let first = c
            .lines()
            .find(|l| l.starts_with("Largest change"))
            .unwrap_or("");
        o.push_str(first);
        o.push('\n');
    } else {
        o.push_str("\nThis is the first release.\n");
    }
    o
}

/// Small helper so vocabulary values print as their data strings.
trait AsRefStr {
    fn as_ref_str(&self) -> &'static str;
}

impl<V: crate::model::Vocabulary> AsRefStr for V {
    fn as_ref_str(&self) -> &'static str {
        self.as_str()
    }
}

/// Every metadata document of a release: `(path, contents)`.
pub fn documents(
    meta: &DatasetMeta,
    version: &str,
    summary: Summary,
    files: &[FileEntry],
    changelog: Option<&str>,
) -> Vec<(String, String)> {
    let counts = summary.rows().clone();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    vec![
        (
            "datapackage.json".into(),
            pretty(&datapackage(meta, version, &counts, files)),
        ),
        (
            "croissant.json".into(),
            croissant_text(meta, version, files),
        ),
        ("load.sql".into(), load_sql(version)),
        ("CITATION.cff".into(), citation_cff(meta, version)),
        (
            "README.md".into(),
            datasheet(meta, version, summary, changelog),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `croissant.json` printed a file at a time is the pretty print of the whole document.
    #[test]
    fn croissant_text_is_the_pretty_document() {
        let meta = DatasetMeta::default();
        for n in [0usize, 1, 3] {
            let files: Vec<FileEntry> = (0..n)
                .map(|i| FileEntry {
                    path: format!("sources/src-{i}.txt"),
                    bytes: i as u64 * 7,
                    sha256: format!("{i:064}"),
                })
                .collect();
            let whole =
                serde_json::to_string_pretty(&croissant(&meta, "1.2.3", &files)).unwrap() + "\n";
            assert_eq!(croissant_text(&meta, "1.2.3", &files), whole, "{n} files");
        }
    }
}
