//! Coverage statistics of a release: loaded records in, counts and fill rates out.
//!
//! In: the records of a release (as loaded by [`crate::validate`]). Out: a [`Stats`] value:
//! rows per table, records per source, and for every column the share of rows where it is
//! filled (not null, not an empty list, not `unknown`), so that a reviewer sees gaps at a glance.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::records::Tables;
use crate::tables::Record;

/// Fill rate of one column.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Fill {
    /// Column name.
    pub column: String,
    /// Rows where the column is filled.
    pub filled: u64,
    /// Rows.
    pub rows: u64,
}

/// Coverage of a release.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Stats {
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Per source id: records with evidence from it, per table.
    pub per_source: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per table: fill rate of each column, in column order.
    pub fill: BTreeMap<String, Vec<Fill>>,
}

fn filled(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().any(filled),
        Value::String(s) => !s.is_empty() && s != "unknown" && s != "unstated",
        _ => true,
    }
}

fn fill_of<R: Record>(rows: &[R]) -> Vec<Fill> {
    let cols: Vec<String> = crate::schema::columns(R::TABLE)
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    let mut counts = vec![0u64; cols.len()];
    for r in rows {
        let v = serde_json::to_value(r).unwrap_or(Value::Null);
        for (i, c) in cols.iter().enumerate() {
            if v.get(c).is_some_and(filled) {
                counts[i] += 1;
            }
        }
    }
    cols.into_iter()
        .zip(counts)
        .map(|(column, filled)| Fill {
            column,
            filled,
            rows: rows.len() as u64,
        })
        .collect()
}

/// Computes the coverage of a release.
pub fn stats(t: &Tables) -> Stats {
    let mut s = Stats::default();
    for (name, n) in crate::records::counts(t) {
        s.rows.insert(name.into(), n as u64);
    }
    // Evidence rows are sorted by evidence_id = `<record_id>/<n>`, so the rows of one record
    // are contiguous: distinct (source, record) pairs are counted one record at a time.
    let mut i = 0;
    while i < t.evidence.len() {
        let record = &t.evidence[i].record_id;
        let mut j = i;
        let mut sources = std::collections::BTreeSet::new();
        while j < t.evidence.len() && &t.evidence[j].record_id == record {
            sources.insert(t.evidence[j].source_id.as_str());
            j += 1;
        }
        for src in sources {
            *s.per_source
                .entry(src.to_string())
                .or_default()
                .entry(t.evidence[i].record_table.clone())
                .or_default() += 1;
        }
        i = j;
    }
    for e in &t.evidence {
        *s.per_source
            .entry(e.source_id.clone())
            .or_default()
            .entry("evidence".into())
            .or_default() += 1;
    }
    s.fill.insert("sources".into(), fill_of(&t.sources));
    s.fill.insert("defections".into(), fill_of(&t.defections));
    s.fill.insert("persons".into(), fill_of(&t.persons));
    s.fill.insert("places".into(), fill_of(&t.places));
    s.fill.insert("actors".into(), fill_of(&t.actors));
    s.fill.insert("events".into(), fill_of(&t.events));
    s.fill.insert("statements".into(), fill_of(&t.statements));
    s
}

/// Renders coverage as Markdown tables, listing at most `max_sources` sources by name.
pub fn render_markdown(s: &Stats, max_sources: usize) -> String {
    let mut out = String::from("| table | rows |\n|---|---:|\n");
    for (t, n) in &s.rows {
        out.push_str(&format!("| {t} | {n} |\n"));
    }
    let tables = [
        "defections",
        "events",
        "statements",
        "persons",
        "places",
        "actors",
        "evidence",
    ];
    out.push_str(&format!(
        "\n| source | {} |\n|---|{}\n",
        tables.join(" | "),
        "---:|".repeat(tables.len())
    ));
    for (src, m) in s.per_source.iter().take(max_sources) {
        let cells: Vec<String> = tables
            .iter()
            .map(|t| m.get(*t).copied().unwrap_or(0).to_string())
            .collect();
        out.push_str(&format!("| {src} | {} |\n", cells.join(" | ")));
    }
    if s.per_source.len() > max_sources {
        out.push_str(&format!(
            "| … and {} more sources | |\n",
            s.per_source.len() - max_sources
        ));
    }
    for (t, cols) in &s.fill {
        out.push_str(&format!("\nFilled share of `{t}` (null, empty list, `unknown` and `unstated` count as unfilled):\n\n| column | filled | share |\n|---|---:|---:|\n"));
        for c in cols {
            let pct = if c.rows == 0 {
                0.0
            } else {
                100.0 * c.filled as f64 / c.rows as f64
            };
            out.push_str(&format!(
                "| {} | {}/{} | {:.0}% |\n",
                c.column, c.filled, c.rows, pct
            ));
        }
    }
    out
}
