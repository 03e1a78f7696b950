"""A compiled release, read by the clients people will use: sha256sum, DuckDB,
pandas (pyarrow engine) and Polars. Spark is in test_spark.py.

Expected row counts come from the release's manifest.json and expected column
types from its schema/*.schema.json (see conftest.py); nothing is hard-coded.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import subprocess

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def sql_str(value) -> str:
    """A SQL string literal (for file paths inside DuckDB table functions)."""
    return "'" + str(value).replace("'", "''") + "'"


def parquet(release, table):
    return release / "tables" / f"{table}.parquet"


def is_plain_date(value) -> bool:
    # datetime.datetime is a subclass of datetime.date: a DATE must not come back as one.
    return type(value) is datetime.date


# --------------------------------------------------------------------------- files


def test_sha256sum_check_passes(release):
    proc = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=release, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(line.endswith(": OK") for line in lines), proc.stdout

    # ... and it covers every file of the release but itself.
    listed = {
        line.split("  ", 1)[1]
        for line in (release / "SHA256SUMS").read_text("utf-8").splitlines()
        if line
    }
    on_disk = {
        p.relative_to(release).as_posix()
        for p in release.rglob("*")
        if p.is_file() and p.name != "SHA256SUMS"
    }
    assert listed == on_disk


def test_release_layout_matches_manifest(release, manifest, columns, repo_root):
    tables = set(manifest["tables"])
    assert tables == set(columns), "schema/*.schema.json vs manifest tables"
    assert tables == {p.stem for p in (release / "tables").glob("*.parquet")}
    assert tables == {p.stem for p in (release / "records").glob("*.jsonl")}
    for entry in manifest["files"]:
        data = (release / entry["path"]).read_bytes()
        assert len(data) == entry["bytes"], entry["path"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    # The release carries the schema it was checked against: the repo's own.
    repo_schema = repo_root / "schema" / f"v{manifest['schema_version']}"
    for table in tables:
        ours = json.loads((release / "schema" / f"{table}.schema.json").read_text("utf-8"))
        theirs = json.loads((repo_schema / f"{table}.schema.json").read_text("utf-8"))
        assert ours == theirs, table


def test_pyarrow_schema_and_nullability(release, manifest, columns, table):
    """The Parquet files' own schema: the baseline every client below reads."""
    schema = pq.read_schema(parquet(release, table))
    expected = {
        "string": pa.string(),
        "date": pa.date32(),
        "int64": pa.int64(),
        "double": pa.float64(),
    }
    assert schema.names == [c.name for c in columns[table]]
    for col in columns[table]:
        field = schema.field(col.name)
        if col.kind == "list_string":
            assert pa.types.is_list(field.type), (col.name, field.type)
            assert field.type.value_type == pa.string(), (col.name, field.type)
        else:
            assert field.type == expected[col.kind], (col.name, field.type)
        assert field.nullable == col.nullable, (col.name, field)
    assert pq.ParquetFile(parquet(release, table)).metadata.num_rows == (
        manifest["tables"][table]["rows"]
    )


# -------------------------------------------------------------------------- DuckDB

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "list_string": "VARCHAR[]",
}


@pytest.fixture
def con(release):
    """An in-memory DuckDB with one view per table of the release."""
    con = duckdb.connect()
    for path in sorted((release / "tables").glob("*.parquet")):
        con.execute(f"CREATE VIEW {path.stem} AS SELECT * FROM read_parquet({sql_str(path)})")
    yield con
    con.close()


def test_duckdb_row_count(release, manifest, table):
    con = duckdb.connect()
    (n,) = con.execute(f"SELECT count(*) FROM read_parquet({sql_str(parquet(release, table))})").fetchone()
    assert n == manifest["tables"][table]["rows"]


def test_duckdb_describe_types(release, columns, table):
    con = duckdb.connect()
    described = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet({sql_str(parquet(release, table))})"
    ).fetchall()
    got = [(name, typ) for name, typ, *_ in described]
    assert got == [(c.name, DUCKDB_TYPES[c.kind]) for c in columns[table]]


def test_duckdb_join_defections_evidence_sources(con, manifest):
    rows = con.execute(
        """
        SELECT d.defection_id, e.evidence_id, s.source_id, s.publisher_en
        FROM defections d
        JOIN evidence e ON e.record_table = 'defections' AND e.record_id = d.defection_id
        JOIN sources s ON s.source_id = e.source_id
        """
    ).fetchall()
    assert rows, "defections -> evidence -> sources returned nothing"
    joined = {r[0] for r in rows}
    (n_def,) = con.execute("SELECT count(*) FROM defections").fetchone()
    assert n_def == manifest["tables"]["defections"]["rows"]
    # Every defection has evidence, and every such evidence row reaches its source.
    assert len(joined) == n_def
    (n_ev,) = con.execute(
        "SELECT count(*) FROM evidence WHERE record_table = 'defections'"
    ).fetchone()
    assert len(rows) == n_ev
    missing = con.execute(
        """
        SELECT defection_id FROM defections d
        WHERE NOT EXISTS (SELECT 1 FROM evidence e JOIN sources s USING (source_id)
                          WHERE e.record_id = d.defection_id)
        """
    ).fetchall()
    assert missing == []


def test_duckdb_source_ids_are_the_evidence_sources(con):
    """defections.source_ids is derived from the evidence (codebook), and
    unnest() over it resolves in sources."""
    mismatched = con.execute(
        """
        WITH ev AS (
            SELECT record_id, list_sort(list(DISTINCT source_id)) AS ids
            FROM evidence WHERE record_table = 'defections' GROUP BY record_id)
        SELECT d.defection_id, d.source_ids, ev.ids
        FROM defections d LEFT JOIN ev ON ev.record_id = d.defection_id
        WHERE ev.ids IS NULL OR list_sort(d.source_ids) <> ev.ids
        """
    ).fetchall()
    assert mismatched == []
    dangling = con.execute(
        """
        SELECT d.defection_id, u.source_id
        FROM defections d, unnest(d.source_ids) AS u(source_id)
        WHERE u.source_id NOT IN (SELECT source_id FROM sources)
        """
    ).fetchall()
    assert dangling == []


def test_duckdb_evidence_spans_reproduce(con, release, manifest):
    """substring(text, char_start + 1, char_end - char_start) over the archived
    canonical text is `exact`, for every evidence row; byte offsets, prefix,
    suffix and the hashes agree too."""
    con.execute(
        f"CREATE TABLE texts AS SELECT filename, content AS text "
        f"FROM read_text({sql_str(release / 'sources' / '*.txt')})"
    )
    root = release.as_posix() + "/"
    (n_ev,) = con.execute("SELECT count(*) FROM evidence").fetchone()
    assert n_ev == manifest["tables"]["evidence"]["rows"]
    checked = con.execute(
        """
        SELECT e.evidence_id,
               substring(t.text, e.char_start + 1, e.char_end - e.char_start) = e.exact AS exact_ok,
               strlen(substring(t.text, 1, e.char_start)) = e.byte_start
                 AND strlen(substring(t.text, 1, e.char_end)) = e.byte_end AS bytes_ok,
               e.prefix = substring(t.text, greatest(e.char_start - 32, 0) + 1,
                                    e.char_start - greatest(e.char_start - 32, 0)) AS prefix_ok,
               e.suffix = substring(t.text, e.char_end + 1, 32) AS suffix_ok,
               sha256(e.exact) = e.quote_sha256 AS quote_hash_ok,
               sha256(t.text) = s.text_sha256 AND e.source_text_sha256 = s.text_sha256 AS text_hash_ok,
               length(t.text) = s.chars AND strlen(t.text) = s.bytes AS length_ok
        FROM evidence e
        JOIN sources s USING (source_id)
        JOIN texts t ON t.filename = ? || s.text_path
        """,
        [root],
    ).fetchall()
    assert len(checked) == n_ev, "some evidence rows have no archived source text"
    bad = [row for row in checked if not all(row[1:])]
    assert bad == [], bad[:5]


def test_duckdb_list_columns_unnest(con, columns, records):
    list_cols = [(t, c.name) for t, cols in columns.items() for c in cols if c.kind == "list_string"]
    assert list_cols, "the schema has no list columns"
    for table, col in list_cols:
        (typ,) = con.execute(f"SELECT DISTINCT typeof({col}) FROM {table}").fetchone() or ("VARCHAR[]",)
        assert typ == "VARCHAR[]", (table, col, typ)
        (n_items,) = con.execute(f"SELECT count(*) FROM (SELECT unnest({col}) FROM {table})").fetchone()
        (n_null,) = con.execute(
            f"SELECT count(*) FROM (SELECT unnest({col}) AS x FROM {table}) WHERE x IS NULL"
        ).fetchone()
        expected = sum(len(r[col]) for r in records(table))
        assert (n_items, n_null) == (expected, 0), (table, col)


# -------------------------------------------------------------------------- pandas

ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "int64": pa.int64(),
    "double": pa.float64(),
}


def test_pandas_arrow_dtypes(release, manifest, columns, table):
    df = pd.read_parquet(parquet(release, table), engine="pyarrow", dtype_backend="pyarrow")
    assert len(df) == manifest["tables"][table]["rows"]
    assert list(df.columns) == [c.name for c in columns[table]]
    for col in columns[table]:
        dtype = df[col.name].dtype
        assert isinstance(dtype, pd.ArrowDtype), (col.name, dtype)
        values = df[col.name].tolist()
        if col.kind == "list_string":
            assert pa.types.is_list(dtype.pyarrow_dtype), (col.name, dtype)
            assert dtype.pyarrow_dtype.value_type == pa.string(), (col.name, dtype)
            for v in values:
                assert isinstance(v, list) and all(isinstance(x, str) for x in v), (col.name, v)
        else:
            assert dtype.pyarrow_dtype == ARROW_TYPES[col.kind], (col.name, dtype)
        if col.kind == "date":
            for v in values:
                assert v is pd.NA or is_plain_date(v), (col.name, v)


def test_pandas_default_backend_lists_and_dates(release, manifest, columns, table):
    """What a plain pd.read_parquet() user gets: lists are list-like (numpy
    arrays of str), dates are datetime.date, not strings."""
    df = pd.read_parquet(parquet(release, table), engine="pyarrow")
    assert len(df) == manifest["tables"][table]["rows"]
    for col in columns[table]:
        if col.kind == "list_string":
            for v in df[col.name]:
                assert isinstance(v, (list, np.ndarray)), (col.name, type(v))
                assert all(isinstance(x, str) for x in list(v)), (col.name, v)
        elif col.kind == "date":
            for v in df[col.name]:
                assert (v is None or (isinstance(v, float) and math.isnan(v))
                        or is_plain_date(v)), (col.name, v)
                assert not isinstance(v, str)


def plain(value):
    """A pandas cell as the JSON value it should have been written as."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def test_pandas_jsonl_matches_parquet(release, manifest, columns, records, table):
    names = [c.name for c in columns[table]]
    jsonl = records(table)
    df = pd.read_parquet(parquet(release, table), engine="pyarrow", dtype_backend="pyarrow")
    from_parquet = [{k: plain(v) for k, v in row.items()} for row in df.to_dict("records")]
    assert len(jsonl) == len(from_parquet) == manifest["tables"][table]["rows"]
    for line in jsonl:
        assert list(line) == names, "JSONL keys not in schema order"
    # Same rows, in the same order: sorted by primary key (the first column).
    pk = names[0]
    assert [r[pk] for r in jsonl] == sorted(r[pk] for r in jsonl)
    for want, got in zip(jsonl, from_parquet):
        assert got == want, want[pk]


# -------------------------------------------------------------------------- Polars

POLARS_TYPES = {
    "string": pl.String,
    "date": pl.Date,
    "int64": pl.Int64,
    "double": pl.Float64,
    "list_string": pl.List(pl.String),
}


def test_polars_read_parquet(release, manifest, columns, table):
    df = pl.read_parquet(parquet(release, table))
    assert df.height == manifest["tables"][table]["rows"]
    assert df.columns == [c.name for c in columns[table]]
    for col in columns[table]:
        assert df.schema[col.name] == POLARS_TYPES[col.kind], (col.name, df.schema[col.name])
        if not col.nullable:
            assert df[col.name].null_count() == 0, col.name
    for col in columns[table]:
        if col.kind == "date":
            assert all(v is None or is_plain_date(v) for v in df[col.name].to_list())
