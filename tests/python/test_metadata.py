"""The ecosystem's own tools on the release's metadata: Frictionless, Croissant (mlcroissant),
the DuckDB CLI with load.sql, and the generated datasheet and citation."""

from __future__ import annotations

import json
import subprocess

import duckdb
import pytest
import yaml


def manifest(release):
    return json.loads((release / "manifest.json").read_text("utf-8"))


def test_frictionless_validates_the_data_package(release):
    from frictionless import validate

    report = validate(str(release / "datapackage.json"))
    errors = [(t.name, e.message) for t in report.tasks for e in t.errors]
    assert report.valid, errors[:10]
    names = {t.name for t in report.tasks}
    assert names == set(manifest(release)["tables"])


def test_data_package_describes_every_table_with_keys_hashes_and_enums(release):
    pkg = json.loads((release / "datapackage.json").read_text("utf-8"))
    files = {f["path"]: f for f in manifest(release)["files"]}
    by_name = {r["name"]: r for r in pkg["resources"]}
    assert set(by_name) == set(manifest(release)["tables"])
    for name, r in by_name.items():
        schema = r["schema"]
        assert schema["primaryKey"] == [schema["fields"][0]["name"]]
        if "path" in r:  # tables with rows point at their JSONL, with its hash and size
            f = files[r["path"]]
            assert r["hash"] == "sha256:" + f["sha256"] and r["bytes"] == f["bytes"]
    stage = next(f for f in by_name["defections"]["schema"]["fields"] if f["name"] == "stage")
    assert stage["constraints"]["enum"] == ["requested", "attempted", "completed", "unknown"]
    fks = {fk["fields"] for fk in by_name["statements"]["schema"]["foreignKeys"]}
    assert {"speaker_person_id", "defection_id", "source_id"} <= fks


def test_mlcroissant_validates_croissant_json(release):
    r = subprocess.run(
        ["mlcroissant", "validate", "--jsonld", str(release / "croissant.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in (r.stdout + r.stderr).lower().replace("errors", "")


@pytest.mark.filterwarnings("ignore")
def test_mlcroissant_loads_record_sets(release):
    import mlcroissant as mlc

    ds = mlc.Dataset(jsonld=str(release / "croissant.json"))
    rows = manifest(release)["tables"]
    defs = list(ds.records(record_set="defections"))
    assert len(defs) == rows["defections"]["rows"]
    first = defs[0]
    assert isinstance(first["defections/person_ids"], list)
    ids = sorted(d["defections/defection_id"].decode() for d in defs)
    assert ids[0].startswith("def-")
    ev = list(ds.records(record_set="evidence"))
    assert len(ev) == rows["evidence"]["rows"]
    doc = json.loads((release / "croissant.json").read_text("utf-8"))
    shas = {d["contentUrl"]: d["sha256"] for d in doc["distribution"]}
    for f in manifest(release)["files"]:
        if f["path"].startswith(("tables/", "records/")):
            assert shas[f["path"]] == f["sha256"]


def test_duckdb_cli_init_load_sql_gives_one_view_per_table(release):
    tables = manifest(release)["tables"]
    query = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in sorted(tables))
    r = subprocess.run(
        ["duckdb", "-init", "load.sql", "-json", "-c", query],
        cwd=release,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    counts = {row["t"]: row["n"] for row in json.loads(r.stdout)}
    assert counts == {t: v["rows"] for t, v in tables.items()}


def test_load_sql_source_texts_reproduce_every_span(release):
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{release}'")
    sql = (release / "load.sql").read_text("utf-8")
    import os

    cwd = os.getcwd()
    os.chdir(release)
    try:
        con.execute(sql)
        bad = con.execute(
            "SELECT count(*) FROM evidence e JOIN source_texts s USING (source_id) "
            "WHERE substring(s.text, e.char_start + 1, e.char_end - e.char_start) <> e.exact"
        ).fetchone()[0]
        joined = con.execute("SELECT count(*) FROM evidence e JOIN source_texts s USING (source_id)").fetchone()[0]
    finally:
        os.chdir(cwd)
    assert bad == 0
    assert joined == manifest(release)["tables"]["evidence"]["rows"]


def test_citation_cff_and_datasheet(release):
    cff = yaml.safe_load((release / "CITATION.cff").read_text("utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "dataset"
    assert cff["version"] == manifest(release)["release_version"]
    assert cff["authors"] and all("name" in a for a in cff["authors"])
    readme = (release / "README.md").read_text("utf-8")
    for section in ["## Motivation", "## Composition", "## Collection process", "## Preprocessing", "## Uses", "## Distribution", "## Maintenance"]:
        assert section in readme
    rows = manifest(release)["tables"]
    assert f"{rows['defections']['rows']} defection cases" in readme
    assert "`defections.stage`" in readme
