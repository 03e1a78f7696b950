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

/// Fill counts of one table's columns, in column order (filled as [`crate::scan`] says).
fn fill_counts<R: Record>(rows: &[R]) -> Vec<u64> {
    /// Counts each filled field under its column; fields come in column order, so the next
    /// column is tried first.
    struct Fills<'c> {
        cols: &'c [(String, Value)],
        counts: Vec<u64>,
        next: usize,
    }
    impl crate::scan::Visit for Fills<'_> {
        fn string(&mut self, _: &'static str, _: &str) {}
        fn field(&mut self, field: &'static str, filled: bool) {
            let at = match self.cols.get(self.next) {
                Some((c, _)) if c == field => Some(self.next),
                _ => self.cols.iter().position(|(c, _)| c == field),
            };
            if let Some(i) = at {
                self.next = i + 1;
                if filled {
                    self.counts[i] += 1;
                }
            }
        }
    }
    let cols = crate::schema::columns(R::TABLE);
    let mut fills = Fills {
        cols,
        counts: vec![0u64; cols.len()],
        next: 0,
    };
    for r in rows {
        fills.next = 0;
        crate::scan::scan(r, &mut fills);
    }
    fills.counts
}

/// Adds `n` to the count of `table` for source `src`, allocating only for a new source or
/// table.
fn bump(per_source: &mut BTreeMap<String, BTreeMap<String, u64>>, src: &str, table: &str, n: u64) {
    let tables = match per_source.get_mut(src) {
        Some(t) => t,
        None => per_source.entry(src.to_string()).or_default(),
    };
    match tables.get_mut(table) {
        Some(c) => *c += n,
        None => {
            tables.insert(table.to_string(), n);
        }
    }
}

/// Whether coverage lists the fill rates of `t`'s columns (not for evidence spans and
/// retractions).
fn has_fill(t: crate::tables::Table) -> bool {
    !matches!(
        t,
        crate::tables::Table::Evidence | crate::tables::Table::Retractions
    )
}

/// Every column of `t`, none filled yet.
fn no_fill(t: crate::tables::Table) -> Vec<Fill> {
    crate::schema::columns(t)
        .iter()
        .map(|(c, _)| Fill {
            column: c.clone(),
            filled: 0,
            rows: 0,
        })
        .collect()
}

/// Coverage computed as rows go by, a batch at a time: nothing but the counts is kept.
/// Evidence must arrive sorted by `evidence_id` (as in a release), so that the rows of one
/// record are contiguous, also across batches.
#[derive(Debug, Default)]
pub struct Builder {
    stats: Stats,
    /// Evidence of the record whose rows are being read: its id, table and sources.
    group: Option<(String, String, std::collections::BTreeSet<String>)>,
}

impl Builder {
    /// Rows per table so far.
    pub fn rows(&self) -> &BTreeMap<String, u64> {
        &self.stats.rows
    }

    /// Counts a batch of rows of `R`'s table (fill rates in parallel).
    pub fn add<R: Record>(&mut self, rows: &[R]) {
        use rayon::prelude::*;
        let name = R::TABLE.name();
        *self.stats.rows.entry(name.into()).or_default() += rows.len() as u64;
        if !has_fill(R::TABLE) {
            return;
        }
        let n = crate::schema::columns(R::TABLE).len();
        let counts = rows.par_chunks(1024).map(fill_counts).reduce(
            || vec![0; n],
            |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
        );
        let fill = self
            .stats
            .fill
            .entry(name.into())
            .or_insert_with(|| no_fill(R::TABLE));
        for (i, f) in fill.iter_mut().enumerate() {
            f.filled += counts.get(i).copied().unwrap_or(0);
            f.rows += rows.len() as u64;
        }
    }

    /// Counts a batch of evidence rows (sorted by `evidence_id`).
    pub fn add_evidence(&mut self, rows: &[crate::model::EvidenceRecord]) {
        self.add(rows);
        let mut per: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
        for e in rows {
            *per.entry(e.source_id.as_str()).or_default() += 1;
            // Distinct (source, record) pairs, one record at a time.
            if self
                .group
                .as_ref()
                .is_none_or(|(id, _, _)| *id != e.record_id)
            {
                self.close_group();
                self.group = Some((
                    e.record_id.clone(),
                    e.record_table.clone(),
                    Default::default(),
                ));
            }
            if let Some((_, _, sources)) = &mut self.group {
                if !sources.contains(&e.source_id) {
                    sources.insert(e.source_id.clone());
                }
            }
        }
        for (src, n) in per {
            bump(&mut self.stats.per_source, src, "evidence", n);
        }
    }

    fn close_group(&mut self) {
        if let Some((_, table, sources)) = self.group.take() {
            for src in sources {
                bump(&mut self.stats.per_source, &src, &table, 1);
            }
        }
    }

    /// Adds what `other` counted (of other tables, or of later rows).
    pub fn merge(&mut self, mut other: Builder) {
        other.close_group();
        for (t, n) in other.stats.rows {
            *self.stats.rows.entry(t).or_default() += n;
        }
        for (src, m) in other.stats.per_source {
            let mine = self.stats.per_source.entry(src).or_default();
            for (t, n) in m {
                *mine.entry(t).or_default() += n;
            }
        }
        for (t, fills) in other.stats.fill {
            match self.stats.fill.get_mut(&t) {
                Some(mine) => {
                    for (a, b) in mine.iter_mut().zip(fills) {
                        a.filled += b.filled;
                        a.rows += b.rows;
                    }
                }
                None => {
                    self.stats.fill.insert(t, fills);
                }
            }
        }
    }

    /// The coverage of everything added.
    pub fn finish(mut self) -> Stats {
        self.close_group();
        for t in crate::tables::Table::ALL {
            self.stats.rows.entry(t.name().into()).or_default();
            if has_fill(t) {
                self.stats
                    .fill
                    .entry(t.name().into())
                    .or_insert_with(|| no_fill(t));
            }
        }
        self.stats
    }
}

/// Computes the coverage of a release.
pub fn stats(t: &Tables) -> Stats {
    let mut b = Builder::default();
    b.add(&t.sources);
    b.add(&t.defections);
    b.add(&t.persons);
    b.add(&t.places);
    b.add(&t.actors);
    b.add(&t.events);
    b.add(&t.statements);
    b.add_evidence(&t.evidence);
    b.add(&t.retractions);
    b.finish()
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
