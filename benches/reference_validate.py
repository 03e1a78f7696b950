#!/usr/bin/env python3
"""The Python reference pipeline a competent analyst would write to check a release:
the validator's checks with jsonschema (Draft 2020-12), pyarrow and hashlib.

Usage: reference_validate.py RELEASE_DIR   (exit 0 valid, 1 invalid)
"""
import hashlib
import json
import math
import sys
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def jcs(value):
    """RFC 8785 canonical JSON for the values a release holds (strings, ints, floats, lists, objects)."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(value[k]) for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def main(release):
    release = Path(release)
    problems = []
    manifest = json.loads((release / "manifest.json").read_text("utf-8"))
    for f in manifest["files"]:
        p = release / f["path"]
        if not p.is_file() or p.stat().st_size != f["bytes"] or sha256_file(p) != f["sha256"]:
            problems.append(f"file {f['path']}")
    listed = {f["path"] for f in manifest["files"]} | {"manifest.json", "SHA256SUMS"}
    for p in release.rglob("*"):
        if p.is_file() and str(p.relative_to(release)) not in listed:
            problems.append(f"unlisted {p}")
    texts = {}
    with open(release / "records" / "sources.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            texts[r["source_id"]] = (release / r["text_path"]).read_text("utf-8")
    for table in manifest["tables"]:
        schema = json.loads((release / "schema" / f"{table}.schema.json").read_text("utf-8"))
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        key = next(iter(schema["properties"]))
        rows = []
        with open(release / "records" / f"{table}.jsonl", encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                for err in validator.iter_errors(rec):
                    problems.append(f"{table} {rec.get(key)}: {err.message}")
                body = {k: v for k, v in rec.items() if k != "record_sha256"}
                if hashlib.sha256(jcs(body).encode()).hexdigest() != rec["record_sha256"]:
                    problems.append(f"{table} {rec.get(key)}: record_sha256")
                rows.append(rec)
        keys = [r[key] for r in rows]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            problems.append(f"{table}: keys not sorted and unique")
        pt = pq.read_table(release / "tables" / f"{table}.parquet").to_pylist()
        if len(pt) != len(rows):
            problems.append(f"{table}: parquet rows")
        for a, b in zip(pt, rows):
            a = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in a.items()}
            if a != b:
                problems.append(f"{table} {b.get(key)}: parquet differs")
        if table == "evidence":
            for r in rows:
                t = texts.get(r["source_id"])
                if t is None or t[r["char_start"]:r["char_end"]] != r["exact"]:
                    problems.append(f"evidence {r['evidence_id']}: span")
                elif hashlib.sha256(r["exact"].encode()).hexdigest() != r["quote_sha256"]:
                    problems.append(f"evidence {r['evidence_id']}: quote hash")
    for p in problems[:20]:
        print(p)
    print(f"{'valid' if not problems else 'INVALID'}: {len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
