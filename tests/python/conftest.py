"""Shared fixtures for the real-client tests of a compiled release.

The release under test is $DEFECTIONS_RELEASE if set, else
<repo>/data/releases/<contents of data/VERSION>. Nothing about the release's
content is hard-coded: row counts come from its manifest.json and column types
from its schema/*.schema.json (JSON Schema 2020-12, the codebook's mapping:
string+format=date -> DATE, integer -> INT64, number -> DOUBLE, array of
strings -> LIST<string>, everything else string; nullable when "null" is one
of the types).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def release_path() -> Path:
    env = os.environ.get("DEFECTIONS_RELEASE")
    if env:
        return Path(env).resolve()
    version = (REPO_ROOT / "data" / "VERSION").read_text(encoding="utf-8").strip()
    return REPO_ROOT / "data" / "releases" / version


def _manifest_tables() -> list[str]:
    try:
        manifest = json.loads((release_path() / "manifest.json").read_text("utf-8"))
        return sorted(manifest["tables"])
    except Exception:  # missing release: the `release` fixture fails the test
        return ["<no release>"]


def pytest_generate_tests(metafunc):
    # One test per table named in the release's manifest.
    if "table" in metafunc.fixturenames:
        metafunc.parametrize("table", _manifest_tables())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def release() -> Path:
    path = release_path()
    if not (path / "manifest.json").is_file():
        pytest.fail(
            f"release not found: {path} has no manifest.json "
            "(build it with `./target/debug/defections compile` or set DEFECTIONS_RELEASE)"
        )
    return path


@pytest.fixture
def manifest(release) -> dict:
    # Read per test: other people may recompile the release while tests run.
    return json.loads((release / "manifest.json").read_text("utf-8"))


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "string" | "date" | "int64" | "double" | "list_string"
    nullable: bool


def columns_from_schema(schema: dict) -> list[Column]:
    """Columns of a table, in order, from its JSON Schema."""
    cols = []
    for name, prop in schema["properties"].items():
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        nullable = "null" in types
        base = [t for t in types if t != "null"]
        assert len(base) == 1, f"{name}: cannot map JSON Schema types {types}"
        base = base[0]
        if base == "string":
            kind = "date" if prop.get("format") == "date" else "string"
        elif base == "integer":
            kind = "int64"
        elif base == "number":
            kind = "double"
        elif base == "array" and prop.get("items", {}).get("type") == "string":
            kind = "list_string"
        else:
            raise AssertionError(f"{name}: no column mapping for JSON Schema {prop}")
        cols.append(Column(name, kind, nullable))
    return cols


@pytest.fixture(scope="session")
def columns(release) -> dict[str, list[Column]]:
    """table -> columns, from the release's own schema/<table>.schema.json."""
    out = {}
    for path in sorted((release / "schema").glob("*.schema.json")):
        schema = json.loads(path.read_text("utf-8"))
        out[path.name.removesuffix(".schema.json")] = columns_from_schema(schema)
    assert out, f"no schema files in {release / 'schema'}"
    return out


@pytest.fixture
def records(release):
    """records(table) -> the rows of records/<table>.jsonl, as parsed JSON."""

    def load(table: str) -> list[dict]:
        text = (release / "records" / f"{table}.jsonl").read_text(encoding="utf-8")
        # split on "\n" only: str.splitlines() would also split inside strings at U+2028 etc.
        return [json.loads(line) for line in text.split("\n") if line.strip()]

    return load
