//! Release-to-release compatibility: two releases in, a list of changes with the version bump
//! each requires out (`validate --previous`, `diff`, and the `CHANGELOG.md` of a new release).
//!
//! In: an OLD and a NEW [`Snapshot`] (schemas and records of a release folder, or of a release
//! being built). Out: [`Change`]s, each naming a rule of `rules/compatibility.yaml` (the one
//! place that lists them, with their bump), the table, the record id or column, and for
//! changed records the fields with old and new values. The records of the two releases are
//! read side by side in primary-key order, one line of each at a time ([`join`]), so memory
//! grows with the number of changes, not with the size of the releases.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tables::Table;
use crate::version::Version;

/// The version bump a change requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// A correction.
    Patch,
    /// An addition.
    Minor,
    /// A breaking change.
    Major,
    /// Not acceptable at any bump.
    Error,
}

/// A compatibility rule.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable code.
    pub code: String,
    /// The bump it requires.
    pub bump: Bump,
    /// What it detects.
    pub what: String,
}

#[derive(Deserialize)]
struct RuleFile {
    rules: Vec<Rule>,
}

/// The rules, from `rules/compatibility.yaml` (compiled in).
pub fn rules() -> &'static [Rule] {
    static RULES: std::sync::OnceLock<Vec<Rule>> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        let f: RuleFile = serde_saphyr::from_str(include_str!("../rules/compatibility.yaml"))
            .expect("rules/compatibility.yaml parses");
        f.rules
    })
}

/// The bump of a rule code.
pub fn bump_of(code: &str) -> Bump {
    rules()
        .iter()
        .find(|r| r.code == code)
        .map_or(Bump::Error, |r| r.bump)
}

/// One field of a changed record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// Column.
    pub field: String,
    /// Value in OLD.
    pub old: Value,
    /// Value in NEW.
    pub new: Value,
}

/// One difference between two releases.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Rule code (see `rules/compatibility.yaml`).
    pub rule: String,
    /// The bump the rule requires.
    pub bump: Bump,
    /// Table.
    pub table: Option<String>,
    /// Record id.
    pub record_id: Option<String>,
    /// Column.
    pub column: Option<String>,
    /// What changed.
    pub message: String,
    /// For `record-changed`: the fields, old and new.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

impl Change {
    fn new(rule: &str, message: String) -> Change {
        Change {
            rule: rule.to_string(),
            bump: bump_of(rule),
            table: None,
            record_id: None,
            column: None,
            message,
            fields: Vec::new(),
        }
    }
    fn table(mut self, t: &str) -> Self {
        self.table = Some(t.to_string());
        self
    }
    fn record(mut self, id: &str) -> Self {
        self.record_id = Some(id.to_string());
        self
    }
    fn column(mut self, c: &str) -> Self {
        self.column = Some(c.to_string());
        self
    }

    /// One-line rendering.
    pub fn render(&self) -> String {
        let mut at = Vec::new();
        if let Some(t) = &self.table {
            at.push(format!("table {t}"));
        }
        if let Some(r) = &self.record_id {
            at.push(format!("record {r}"));
        }
        if let Some(c) = &self.column {
            at.push(format!("column {c}"));
        }
        let bump = match self.bump {
            Bump::Error => "error".to_string(),
            b => format!(
                "needs {} bump",
                serde_json::to_value(b)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            ),
        };
        format!(
            "[{}] {} ({bump}): {}",
            self.rule,
            at.join(", "),
            self.message
        )
    }
}

/// What of a release the comparison needs: its version and schemas in memory, its records
/// read one line at a time when compared (see [`Snapshot::records`]), so that comparing two
/// releases of any size holds two records at a time, not two releases.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The release version.
    pub version: Option<Version>,
    /// JSON Schema per table name.
    pub schemas: BTreeMap<String, Value>,
    /// The release folder (its records are in `records/<table>.jsonl`).
    dir: PathBuf,
    /// The tables with records, by name.
    tables: BTreeSet<String>,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl Snapshot {
    /// The snapshot of a release being written into `dir` (its schemas are the built-in ones;
    /// its records are read from `dir/records/`, complete before the metadata is written).
    pub fn from_written(dir: &Path, version: &str) -> Result<Snapshot, SnapshotError> {
        let mut s = Snapshot {
            version: Version::parse(version),
            dir: dir.to_path_buf(),
            ..Snapshot::default()
        };
        for t in Table::ALL {
            s.schemas.insert(
                t.name().into(),
                serde_json::from_str(crate::schema::embedded(t)).unwrap_or(Value::Null),
            );
            s.tables.insert(t.name().into());
        }
        Ok(s)
    }

    /// Reads the snapshot of a release folder (its manifest and schema copies; its records
    /// are read when compared).
    pub fn from_release(dir: &Path) -> Result<Snapshot, SnapshotError> {
        let read = |rel: &str| -> Result<String, SnapshotError> {
            std::fs::read_to_string(dir.join(rel)).map_err(|e| SnapshotError::Read {
                path: dir.join(rel).display().to_string(),
                message: e.to_string(),
            })
        };
        let manifest: crate::write::Manifest = serde_json::from_str(&read("manifest.json")?)
            .map_err(|e| SnapshotError::Read {
                path: dir.join("manifest.json").display().to_string(),
                message: e.to_string(),
            })?;
        let mut s = Snapshot {
            version: Version::parse(&manifest.release_version),
            dir: dir.to_path_buf(),
            ..Snapshot::default()
        };
        for name in manifest.tables.keys() {
            let schema_rel = format!("schema/{name}.schema.json");
            if let Ok(text) = read(&schema_rel) {
                let v: Value = serde_json::from_str(&text).map_err(|e| SnapshotError::Read {
                    path: schema_rel.clone(),
                    message: e.to_string(),
                })?;
                s.schemas.insert(name.clone(), v);
            }
            let jsonl = dir.join(format!("records/{name}.jsonl"));
            if !jsonl.is_file() {
                return Err(SnapshotError::Read {
                    path: jsonl.display().to_string(),
                    message: "the manifest lists this table, but its records are missing".into(),
                });
            }
            s.tables.insert(name.clone());
        }
        Ok(s)
    }

    /// The tables with records, by name.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(String::as_str)
    }

    /// The records of table `name` in primary-key order, one line at a time (none when the
    /// snapshot has no such table).
    pub fn records(&self, name: &str) -> Result<Records, SnapshotError> {
        let key = Table::from_name(name).map(|t| t.key()).unwrap_or("id");
        let path = self.dir.join(format!("records/{name}.jsonl"));
        let reader = if self.tables.contains(name) {
            let file = std::fs::File::open(&path).map_err(|e| SnapshotError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            Some(BufReader::with_capacity(1 << 16, file))
        } else {
            None
        };
        Ok(Records {
            reader,
            key,
            path: path.display().to_string().into(),
            line: 0,
            last: None,
        })
    }

    /// All records of table `name`, by primary key (for small tables, such as retractions).
    fn load(&self, name: &str) -> Result<BTreeMap<String, Value>, SnapshotError> {
        self.records(name)?
            .map(|row| {
                let row = row?;
                let value = row.value()?;
                Ok((row.id, value))
            })
            .collect()
    }
}

/// The records of one table of a [`Snapshot`], in primary-key order, with their ids. A line
/// that is not JSON, or an id not greater than the one before it (a release's rows are sorted
/// by primary key), is an error.
pub struct Records {
    reader: Option<BufReader<std::fs::File>>,
    key: &'static str,
    path: std::sync::Arc<str>,
    line: usize,
    last: Option<String>,
}

/// One record as read: its id and its line (parsed into a value only when it is compared).
pub struct Row {
    pub id: String,
    /// Where it was read, for errors.
    path: std::sync::Arc<str>,
    line_no: usize,
    line: String,
}

impl Row {
    /// The record.
    pub fn value(&self) -> Result<Value, SnapshotError> {
        serde_json::from_str(&self.line).map_err(|e| SnapshotError::Read {
            path: format!("{} line {}", self.path, self.line_no),
            message: e.to_string(),
        })
    }
}

impl Records {
    fn fail(&mut self, message: String) -> Option<Result<Row, SnapshotError>> {
        self.reader = None;
        Some(Err(SnapshotError::Read {
            path: format!("{} line {}", self.path, self.line),
            message,
        }))
    }
}

impl Iterator for Records {
    type Item = Result<Row, SnapshotError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        let mut line = String::new();
        self.line += 1;
        // Bounded like the validator's reads: a release is not trusted to have short lines.
        let limit = crate::validate::MAX_LINE_BYTES as u64 + 1;
        match reader.by_ref().take(limit).read_line(&mut line) {
            Ok(0) => {
                self.reader = None;
                return None;
            }
            Ok(n) if n as u64 == limit => {
                return self.fail(format!(
                    "a line longer than {} bytes: run `defections validate` on this release",
                    crate::validate::MAX_LINE_BYTES
                ))
            }
            Ok(_) => {}
            Err(e) => return self.fail(e.to_string()),
        }
        // Only the id is read here (the line is checked to be JSON); the record itself is
        // parsed only if it has to be compared.
        let id = match crate::jsonline::member_str(&line, self.key) {
            Ok(id) => id.unwrap_or_default().into_owned(),
            Err(e) => return self.fail(e.to_string()),
        };
        if self.last.as_ref().is_some_and(|last| *last >= id) {
            return self.fail(format!(
                "`{id}` does not come after the {} before it, but a release's rows are sorted \
                 by it: run `defections validate` on this release",
                self.key
            ));
        }
        self.last = Some(id.clone());
        Some(Ok(Row {
            id,
            path: self.path.clone(),
            line_no: self.line,
            line,
        }))
    }
}

/// Walks two tables' records side by side in primary-key order (a merge join), calling `f`
/// with each id and its record in OLD and in NEW (one of them absent when the id is in one
/// release only). A record whose line is the same in both is skipped without being parsed: it
/// has not changed (releases write records in one canonical form, so this is nearly every
/// unchanged record; one written differently is parsed and compared).
pub fn join(
    mut old: Records,
    mut new: Records,
    mut f: impl FnMut(&str, Option<&Value>, Option<&Value>),
) -> Result<(), SnapshotError> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let mut o = old.next().transpose()?;
    let mut n = new.next().transpose()?;
    loop {
        // Which side(s) the smaller id came from, after calling `f` with it.
        let order = match (&o, &n) {
            (None, None) => return Ok(()),
            (Some(ov), None) => {
                f(&ov.id, Some(&ov.value()?), None);
                Less
            }
            (None, Some(nv)) => {
                f(&nv.id, None, Some(&nv.value()?));
                Greater
            }
            (Some(ov), Some(nv)) => {
                let order = ov.id.cmp(&nv.id);
                match order {
                    Less => f(&ov.id, Some(&ov.value()?), None),
                    Equal if ov.line == nv.line => {}
                    Equal => f(&ov.id, Some(&ov.value()?), Some(&nv.value()?)),
                    Greater => f(&nv.id, None, Some(&nv.value()?)),
                }
                order
            }
        };
        if order != Greater {
            o = old.next().transpose()?;
        }
        if order != Less {
            n = new.next().transpose()?;
        }
    }
}

fn prop_shape(p: &Value) -> (Vec<String>, bool, Option<String>, Option<BTreeSet<String>>) {
    let (mut types, nullable) = crate::schema::json_types(p);
    let items = p.get("items");
    if let Some(items) = items {
        let (inner, _, _, _) = prop_shape(items);
        types = types
            .into_iter()
            .map(|t| {
                if t == "array" {
                    format!("array<{}>", inner.join("|"))
                } else {
                    t
                }
            })
            .collect();
    }
    let enum_of = |v: &Value| -> Option<BTreeSet<String>> {
        v.get("enum").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
    };
    let en = enum_of(p).or_else(|| items.and_then(enum_of));
    let format = p.get("format").and_then(Value::as_str).map(String::from);
    (types, nullable, format, en)
}

fn compare_schemas(old: &Snapshot, new: &Snapshot, out: &mut Vec<Change>) {
    for (t, os) in &old.schemas {
        let Some(ns) = new.schemas.get(t) else {
            out.push(Change::new("table-removed", format!("table {t} is gone")).table(t));
            continue;
        };
        let props = |s: &Value| -> Vec<(String, Value)> {
            s.get("properties")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        };
        let (op, np) = (props(os), props(ns));
        let np_map: BTreeMap<_, _> = np.iter().cloned().collect();
        let op_map: BTreeMap<_, _> = op.iter().cloned().collect();
        for (c, ov) in &op {
            let Some(nv) = np_map.get(c) else {
                out.push(
                    Change::new("column-removed", format!("column {c} is gone"))
                        .table(t)
                        .column(c),
                );
                continue;
            };
            let (ot, onull, ofmt, oenum) = prop_shape(ov);
            let (nt, nnull, nfmt, nenum) = prop_shape(nv);
            if ot != nt || ofmt != nfmt {
                out.push(
                    Change::new(
                        "column-retyped",
                        format!("{} → {}", shape_name(&ot, &ofmt), shape_name(&nt, &nfmt)),
                    )
                    .table(t)
                    .column(c),
                );
            }
            if onull && !nnull {
                out.push(
                    Change::new("column-now-required", "no longer allows null".into())
                        .table(t)
                        .column(c),
                );
            }
            if let (Some(oe), Some(ne)) = (&oenum, &nenum) {
                for v in oe.difference(ne) {
                    out.push(
                        Change::new("vocabulary-value-removed", format!("value `{v}` removed"))
                            .table(t)
                            .column(c),
                    );
                }
                for v in ne.difference(oe) {
                    out.push(
                        Change::new("vocabulary-value-added", format!("value `{v}` added"))
                            .table(t)
                            .column(c),
                    );
                }
            }
        }
        for (c, nv) in &np {
            if !op_map.contains_key(c) {
                let (_, nullable, _, _) = prop_shape(nv);
                let rule = if nullable {
                    "column-added"
                } else {
                    "column-added-required"
                };
                out.push(
                    Change::new(rule, format!("new column {c}"))
                        .table(t)
                        .column(c),
                );
            }
        }
    }
    for t in new.schemas.keys() {
        if !old.schemas.contains_key(t) {
            out.push(Change::new("table-added", format!("new table {t}")).table(t));
        }
    }
}

fn shape_name(types: &[String], format: &Option<String>) -> String {
    match format {
        Some(f) => format!("{} ({f})", types.join("|")),
        None => types.join("|"),
    }
}

/// The fields that say what a record *is*: changing them makes the id name a different thing.
fn identity_fields(table: &str) -> &'static [&'static str] {
    match table {
        "defections" => &["subject"],
        "events" => &["event_type"],
        "places" => &["feature"],
        "actors" => &["kind"],
        "statements" => &["source_id"],
        "sources" => &["file_name"],
        _ => &[],
    }
}

fn compare_records(
    old: &Snapshot,
    new: &Snapshot,
    out: &mut Vec<Change>,
) -> Result<(), SnapshotError> {
    let new_retractions = new.load("retractions")?;
    let old_retractions = old.load("retractions")?;
    for (id, r) in &new_retractions {
        if r.get("reason")
            .and_then(Value::as_str)
            .is_none_or(|s| s.trim().is_empty())
        {
            out.push(
                Change::new(
                    "retraction-without-reason",
                    format!("the retraction of {id} gives no reason"),
                )
                .table("retractions")
                .record(id),
            );
        }
    }
    for t in old.tables().filter(|t| *t != "retractions") {
        let derived = t == "evidence";
        join(old.records(t)?, new.records(t)?, |id, ov, nv| {
            match (ov, nv) {
                (Some(_), None) => out.push(gone(t, id, derived, &new_retractions)),
                (Some(ov), Some(nv)) => kept(t, id, ov, nv, out),
                (None, Some(_)) => out.push(arrived(t, id, derived, &old_retractions)),
                (None, None) => {}
            }
        })?;
    }
    Ok(())
}

/// A record of OLD that NEW does not have.
fn gone(t: &str, id: &str, derived: bool, retractions: &BTreeMap<String, Value>) -> Change {
    if derived {
        let mut c = Change::new("record-changed", "evidence span removed".into())
            .table(t)
            .record(id);
        c.bump = Bump::Patch;
        return c;
    }
    match retractions.get(id) {
        Some(r) => {
            let reason = r.get("reason").and_then(Value::as_str).unwrap_or("");
            Change::new("record-retracted", format!("retracted: {reason}"))
                .table(t)
                .record(id)
        }
        None => Change::new(
            "record-removed",
            format!("{id} is gone without a retraction entry"),
        )
        .table(t)
        .record(id),
    }
}

/// A record of NEW that OLD does not have.
fn arrived(t: &str, id: &str, derived: bool, old_retractions: &BTreeMap<String, Value>) -> Change {
    if old_retractions.contains_key(id) {
        Change::new(
            "id-reused",
            format!("{id} was retracted in the previous release and is back in use"),
        )
        .table(t)
        .record(id)
    } else if derived {
        let mut c = Change::new("record-changed", "evidence span added".into())
            .table(t)
            .record(id);
        c.bump = Bump::Patch;
        c
    } else {
        Change::new("record-added", format!("new record {id}"))
            .table(t)
            .record(id)
    }
}

/// A record in both releases: what changed about it.
fn kept(t: &str, id: &str, ov: &Value, nv: &Value, out: &mut Vec<Change>) {
    for f in identity_fields(t) {
        if ov.get(*f) != nv.get(*f) {
            out.push(
                Change::new(
                    "id-reused",
                    format!(
                        "{f} changed from {} to {}: a new thing needs a new id",
                        ov.get(*f).unwrap_or(&Value::Null),
                        nv.get(*f).unwrap_or(&Value::Null)
                    ),
                )
                .table(t)
                .record(id)
                .column(f),
            );
        }
    }
    if matches!(t, "defections" | "events") {
        let set = |v: &Value| -> BTreeSet<String> {
            v.get("source_ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (os, ns) = (set(ov), set(nv));
        if !os.is_empty() && os.is_disjoint(&ns) {
            out.push(
                Change::new(
                    "id-reused",
                    "no source in common with the previous release: a new case needs a new id"
                        .into(),
                )
                .table(t)
                .record(id)
                .column("source_ids"),
            );
        }
    }
    if t == "evidence" {
        if let Some(why) = evidence_moved(ov, nv) {
            out.push(
                Change::new(
                    "evidence-moved",
                    format!("{why}: a published evidence id must keep naming its span (a new span takes the next number)"),
                )
                .table(t)
                .record(id),
            );
        }
    }
    if t == "sources" {
        for f in ["sha256", "text_sha256", "bytes", "chars"] {
            if ov.get(f) != nv.get(f) {
                out.push(
                    Change::new(
                        "source-changed",
                        format!("{f} changed: corrections come as new sources"),
                    )
                    .table(t)
                    .record(id)
                    .column(f),
                );
            }
        }
    }
    let fields = changed_fields(ov, nv);
    if !fields.is_empty() {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let mut c = Change::new("record-changed", format!("changed: {}", names.join(", ")))
            .table(t)
            .record(id);
        c.fields = fields;
        out.push(c);
    }
}

/// Why an evidence row of NEW no longer names the span its id named in OLD: another source,
/// or a span of the same source that does not overlap the old one (a span may be trimmed or
/// widened as a correction, which keeps an overlap). `None` when it still names it.
fn evidence_moved(old: &Value, new: &Value) -> Option<String> {
    fn source(v: &Value) -> Option<&str> {
        v.get("source_id").and_then(Value::as_str)
    }
    let span = |v: &Value| {
        let at = |k: &str| v.get(k).and_then(Value::as_i64);
        Some((at("char_start")?, at("char_end")?))
    };
    let (os, ns) = (source(old), source(new));
    if os != ns {
        return Some(format!(
            "the span moved from source {} to {}",
            os.unwrap_or("?"),
            ns.unwrap_or("?")
        ));
    }
    match (span(old), span(new)) {
        // Overlap of [a, b) and [c, d); an empty span overlaps a span that contains its point.
        (Some((a, b)), Some((c, d)))
            if a.max(c) < b.min(d) || (a.max(c) == b.min(d) && (a == b || c == d)) =>
        {
            None
        }
        (Some((a, b)), Some((c, d))) => Some(format!(
            "the span moved from characters {a}..{b} to {c}..{d} of the source, with no overlap"
        )),
        _ => None,
    }
}

fn changed_fields(old: &Value, new: &Value) -> Vec<FieldChange> {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return Vec::new();
    };
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter()
        .filter(|k| *k != "record_sha256")
        .filter(|k| o.get(*k) != n.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            old: o.get(k).cloned().unwrap_or(Value::Null),
            new: n.get(k).cloned().unwrap_or(Value::Null),
        })
        .collect()
}

/// Every change from `old` to `new`, including the version rules. The records are read one
/// line at a time from both releases; what is held is the list of changes.
pub fn compare(old: &Snapshot, new: &Snapshot) -> Result<Vec<Change>, SnapshotError> {
    let mut out = Vec::new();
    compare_schemas(old, new, &mut out);
    compare_records(old, new, &mut out)?;
    if let (Some(ov), Some(nv)) = (old.version, new.version) {
        if nv <= ov {
            out.push(Change::new(
                "version-not-newer",
                format!("{nv} is not newer than {ov}"),
            ));
        } else {
            let required = out
                .iter()
                .map(|c| c.bump)
                .filter(|b| *b != Bump::Error)
                .max();
            let actual = if nv.major > ov.major {
                Bump::Major
            } else if nv.minor > ov.minor {
                Bump::Minor
            } else {
                Bump::Patch
            };
            if let Some(req) = required {
                if actual < req {
                    let name = |b: Bump| {
                        serde_json::to_value(b)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    };
                    out.push(Change::new(
                        "bump-too-small",
                        format!(
                            "{ov} → {nv} is a {} bump, but the changes need a {} bump",
                            name(actual),
                            name(req)
                        ),
                    ));
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.table, &a.record_id, &a.rule, &a.column).cmp(&(
            &b.table,
            &b.record_id,
            &b.rule,
            &b.column,
        ))
    });
    Ok(out)
}

/// Whether any change is unacceptable.
pub fn has_errors(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.bump == Bump::Error)
}

/// The newest release in `releases/` older than `version`, if any.
pub fn previous_release(releases: &Path, version: &str) -> Option<std::path::PathBuf> {
    let current = Version::parse(version)?;
    let mut best: Option<(Version, std::path::PathBuf)> = None;
    for e in std::fs::read_dir(releases).ok()? {
        let e = e.ok()?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(v) = Version::parse(&name) {
            if v < current && best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, e.path()));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// The record-level changelog as Markdown.
pub fn changelog(old: &Snapshot, new: &Snapshot, changes: &[Change]) -> String {
    let v = |s: &Snapshot| {
        s.version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into())
    };
    let mut out = format!("# Changes from {} to {}\n", v(old), v(new));
    let required = changes.iter().map(|c| c.bump).max();
    if let Some(b) = required {
        out.push_str(&format!(
            "\nLargest change requires: **{}**\n",
            serde_json::to_value(b)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        ));
    } else {
        out.push_str("\nNo changes.\n");
    }
    let sections: [(&str, &[&str]); 5] = [
        (
            "Schema",
            &[
                "table-removed",
                "column-removed",
                "column-retyped",
                "column-now-required",
                "vocabulary-value-removed",
                "table-added",
                "column-added",
                "column-added-required",
                "vocabulary-value-added",
            ],
        ),
        ("Added", &["record-added"]),
        ("Retracted", &["record-retracted"]),
        ("Changed", &["record-changed"]),
        (
            "Problems",
            &[
                "record-removed",
                "retraction-without-reason",
                "id-reused",
                "evidence-moved",
                "source-changed",
                "version-not-newer",
                "bump-too-small",
            ],
        ),
    ];
    for (title, codes) in sections {
        let items: Vec<&Change> = changes
            .iter()
            .filter(|c| codes.contains(&c.rule.as_str()))
            .collect();
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!("\n## {title}\n\n"));
        for c in items {
            let who = match (&c.table, &c.record_id, &c.column) {
                (Some(t), Some(r), _) => format!("`{t}` `{r}`"),
                (Some(t), None, Some(col)) => format!("`{t}.{col}`"),
                (Some(t), None, None) => format!("`{t}`"),
                _ => String::new(),
            };
            if c.fields.is_empty() {
                out.push_str(&format!("- {who}: {}\n", c.message));
            } else {
                out.push_str(&format!("- {who}:\n"));
                for f in &c.fields {
                    out.push_str(&format!("  - `{}`: {} → {}\n", f.field, f.old, f.new));
                }
            }
        }
    }
    out
}
