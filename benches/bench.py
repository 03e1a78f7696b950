#!/usr/bin/env python3
"""Benchmark of `defections compile` and `defections validate` against what a user would
use instead, on synthetic corpora of N sources (one run, this machine).

    cargo build --release --locked
    python3 benches/bench.py [--sizes 1000,10000,100000] [--repeat 3] [--timeout 1800] [--work /tmp/defections-bench]

For each N it generates a corpus (`defections synth`), then measures wall time and peak RSS of:
  compile (clean, no cache), compile (cold cache fill), recompile after one coding file
  changed (warm cache), with nothing changed and with 1 % of the coding files changed (each
  writing the release anew, and again with the release in place, found up to date by the stamp
  of the last compile), validate, the Python reference validator (jsonschema + pyarrow +
  hashlib, benches/reference_validate.py), `frictionless validate` on datapackage.json, and
  `sha256sum` over the same release bytes (the hardware floor: every byte is hashed once),
  and `cp -r` of the release (the floor of writing: every byte written once).
The clean compile, validate and sha256sum run --repeat times (3 by default; the median is
reported, every run listed), since a single run on a shared VM moves by ±10 %.
It prints ratios (ours / theirs) and writes benches/RESULTS.md with the machine it ran on.
Nothing here asserts a time: the numbers are reported, not tested.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "defections"


def measure(cmd, cwd=None, timeout=None):
    """Runs cmd; returns (seconds, peak RSS in MiB, exit code). Timeout → (None, None, None)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = None if timeout is None else start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            wall = time.monotonic() - start
            code = os.waitstatus_to_exitcode(status)
            if code not in (0,):
                err = proc.stderr.read().decode(errors="replace")[-2000:]
                print(f"  ! {' '.join(map(str, cmd))} exited {code}: {err}", file=sys.stderr)
            return wall, usage.ru_maxrss / 1024, code
        if deadline and time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return None, None, None
        time.sleep(0.02)


def tree_bytes(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def fmt(x, unit=""):
    return "timeout" if x is None else f"{x:,.2f}{unit}"


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def by_change(r, nothing, one_pct):
    """The times with nothing and 1 % changed, the files changed, and the cost per changed file (ms)."""
    t0, t1, k = r.get(nothing), r.get(one_pct), r.get("recompile1pct_files")
    per = None if t0 is None or t1 is None or not k else 1000 * (t1 - t0) / k
    return t0, t1, k, per


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]
        mem = f"{int(mem) / 1024 / 1024:.0f} GiB"
    except Exception:
        mem = "unknown"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem} RAM, Python {platform.python_version()}"


def set_aside(path, trash):
    """Moves path into trash (deleted only after the last measure): nothing is deleted while
    anything is measured. On ext4 without a journal (as here), creating files within seconds
    (up to minutes) of a mass deletion is slow: the inode allocator skips recently deleted
    inodes. A benchmark that deletes a release and then times a compile would time that."""
    if path.exists():
        trash.mkdir(parents=True, exist_ok=True)
        shutil.move(path, trash / f"{len(list(trash.iterdir()))}-{path.name}")


def measure_repeated(r, key, cmd, repeat, cwd=None, timeout=None, failed=None, before_again=None):
    """Runs cmd `repeat` times (calling before_again() before each run after the first) and
    keeps in r the times of every run (`<key>_runs`), their median (`<key>_s`, None when a run
    timed out) and the largest peak RSS (`<key>_rss`). With `failed`, a run that does not exit
    0 stops the benchmark with that message."""
    runs = []
    for k in range(repeat):
        if k and before_again:
            before_again()
        runs.append(measure(cmd, cwd=cwd, timeout=timeout))
        assert failed is None or runs[-1][2] == 0, failed
    times = [t for t, _, _ in runs]
    r[f"{key}_runs"] = times
    r[f"{key}_s"] = None if None in times else statistics.median(times)
    r[f"{key}_rss"] = max((m for _, m, _ in runs if m is not None), default=None)


def run_size(n, work, timeout, alt_timeout, trash, repeat):
    root = work / f"n{n}"
    set_aside(root, trash)
    t_synth, _, code = measure([BIN, "synth", "--sources", str(n), "--out", root, "--from", REPO / "seeds"])
    assert code == 0, "synth failed"
    os.sync()  # the corpus on disk before anything is measured
    seeds_mb = tree_bytes(root / "seeds") / 1e6
    r = {"n": n, "synth_s": t_synth, "seeds_mb": seeds_mb}

    # A clean compile (empty cache: it also fills the cache), then one coding file changed
    # and a recompile with the warm cache.
    assert not (root / "data" / ".cache").exists(), "synth wrote a cache"
    release = root / "data" / "releases" / "1.0.0"
    # The clean compile `repeat` times (release and cache set aside between runs; the last
    # run's release and cache are the ones used below).
    def clean_again():
        set_aside(release, trash)
        set_aside(root / "data" / ".cache", trash)
        os.sync()

    measure_repeated(
        r, "compile", [BIN, "compile", "--root", root], repeat,
        timeout=timeout, failed="compile failed", before_again=clean_again,
    )
    manifest = json.loads((release / "manifest.json").read_text())
    r["records"] = sum(t["rows"] for t in manifest["tables"].values())
    r["release_mb"] = tree_bytes(release) / 1e6
    kept = root / "release-clean"
    shutil.move(release, kept)
    codings = sorted((root / "data" / "codings" / "sources").glob("*.yaml"))
    target = codings[len(codings) // 2]
    target.write_text(target.read_text() + "\n# edited for the incremental benchmark\n")
    r["recompile_s"], r["recompile_rss"], _ = measure([BIN, "compile", "--root", root], timeout=timeout)
    # How the recompile grows with the change: nothing changed (the fixed part: every input read
    # and hashed for its key, every cached result read, the whole release merged and written),
    # then 1 % of the coding files changed (each recoded).
    set_aside(release, trash)
    r["recompile0_s"], _, _ = measure([BIN, "compile", "--root", root], timeout=timeout)
    set_aside(release, trash)
    changed = codings[::100]
    for f in changed:
        f.write_text(f.read_text() + "\n# edited for the incremental benchmark (1 %)\n")
    r["recompile1pct_files"] = len(changed)
    r["recompile1pct_s"], _, _ = measure([BIN, "compile", "--root", root], timeout=timeout)
    set_aside(release, trash)
    shutil.move(kept, release)
    os.sync()
    # The recompile with the release published in place, as a coder runs it after an edit: the
    # stamp of the last compile (src/stamp.rs) finds the release up to date by looking again only
    # at what changed. A first compile after the release was moved back hashes its files again
    # (the stamp knew other files) and stamps them; then nothing changed, one coding file
    # changed, 1 % of them changed (comments appended: each is recoded, the release is the same).
    r["stamp_rehash_s"], _, _ = measure([BIN, "compile", "--root", root], timeout=timeout)
    r["stamp0_s"], r["stamp0_rss"], _ = measure([BIN, "compile", "--root", root], timeout=timeout)
    target.write_text(target.read_text() + "\n# edited again, release in place\n")
    r["stamp1_s"], r["stamp1_rss"], _ = measure([BIN, "compile", "--root", root], timeout=timeout)
    for f in changed:
        f.write_text(f.read_text() + "\n# edited again, release in place (1 %)\n")
    r["stamp1pct_s"], r["stamp1pct_rss"], _ = measure([BIN, "compile", "--root", root], timeout=timeout)
    out = subprocess.run([BIN, "compile", "--root", root, "--format", "json"], capture_output=True, check=True)
    assert json.loads(out.stdout)["stamped"], "the stamp did not find the release up to date"

    measure_repeated(r, "validate", [BIN, "validate", release], repeat, timeout=timeout, failed="validate failed")
    # Every file of the release through sha256sum (xargs: 100,000 names do not fit one command
    # line), as many times as validate.
    measure_repeated(
        r, "sha256", ["bash", "-c", "find . -type f -print0 | xargs -0 sha256sum > /dev/null"], repeat,
        cwd=release, timeout=timeout,
    )
    # The floor of writing: the release copied once (cp -r), every byte of it written to new
    # files, as compile must at least do. On a VM that hands fresh pages to the page cache
    # slowly this is far from free (see RESULTS.md).
    copy = work / f"copy-{n}"
    set_aside(copy, trash)  # a copy left by an interrupted run would be copied into
    r["copy_s"], r["copy_rss"], _ = measure(["cp", "-r", release, copy], timeout=timeout)
    set_aside(copy, trash)
    r["python_s"], r["python_rss"], _ = measure([sys.executable, REPO / "benches" / "reference_validate.py", release], timeout=alt_timeout)
    r["frictionless_s"], r["frictionless_rss"], _ = measure(["frictionless", "validate", "datapackage.json"], cwd=release, timeout=alt_timeout)
    r["alt_timeout"] = alt_timeout
    r["repeat"] = repeat

    # Last (so that writing a second release does not disturb the measures above), the next version on top of this one: data/VERSION bumped and compiled with 1.0.0 present
    # (compile compares the two releases for the CHANGELOG), then validated against 1.0.0.
    version = root / "data" / "VERSION"
    old_version = version.read_text()
    version.write_text("1.1.0\n")
    following = root / "data" / "releases" / "1.1.0"
    r["next_s"], r["next_rss"], code = measure([BIN, "compile", "--root", root], timeout=timeout)
    assert code == 0, "compile of the next version failed"
    r["vprev_s"], r["vprev_rss"], code = measure([BIN, "validate", following, "--previous", release], timeout=timeout)
    assert code == 0, "validate --previous failed"
    set_aside(following, trash)
    version.write_text(old_version)
    return r


def report(results):
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}.",
        "",
        "One run of `python3 benches/bench.py` (release build). Times are wall-clock seconds, RSS is peak resident memory of the process.",
        f"The clean compile, validate and sha256sum ran {results[-1].get('repeat', 1)} times at each N: their time is the median, their RSS the largest (every run is listed below the first table); everything else ran once.",
        "`compile` is a clean compile (empty cache; it fills the cache as it goes); `recompile` changes one coding file and recompiles with that warm cache.",
        "`timeout` means the alternative did not finish within the limit given in the note below the table; its ratio is then at least the limit divided by ours.",
        "Throughput: MB of source text (seeds) per second, records (all tables) per second.",
        "",
        "| N sources | text MB | records | release MB | compile s | compile MB/s | compile rec/s | compile RSS MiB | recompile s (1 file changed) | validate s | validate MB/s | validate rec/s | validate RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c, v = r["compile_s"], r["validate_s"]
        lines.append(
            f"| {r['n']:,} | {r['seeds_mb']:.1f} | {r['records']:,} | {r['release_mb']:.1f} | {fmt(c)} | "
            f"{fmt(None if c is None else r['seeds_mb'] / c)} | {fmt(None if c is None else r['records'] / c)} | {fmt(r['compile_rss'])} | "
            f"{fmt(r['recompile_s'])} | {fmt(v)} | {fmt(None if v is None else r['release_mb'] / v)} | "
            f"{fmt(None if v is None else r['records'] / v)} | {fmt(r['validate_rss'])} |"
        )
    lines.append("")
    for r in results:
        runs = {k: r.get(f"{k}_runs", []) for k in ("compile", "validate", "sha256")}
        if any(len(v) > 1 for v in runs.values()):
            listed = "; ".join(f"{k} {', '.join(fmt(t) for t in v)} s" for k, v in runs.items() if v)
            lines.append(f"Runs at {r['n']:,} (the median is reported): {listed}.  ")
    lines += [
        "",
        "Alternatives on the same release (validate = ours):",
        "",
        "| N sources | sha256sum s (floor) | validate ÷ sha256sum | Python reference s | Python RSS MiB | Python ÷ validate | frictionless s | frictionless RSS MiB | frictionless ÷ validate |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {fmt(r['sha256_s'])} | {ratio(r['validate_s'], r['sha256_s'])} | {fmt(r['python_s'])} | {fmt(r['python_rss'])} | "
            f"{ratio(r['python_s'], r['validate_s'])} | {fmt(r['frictionless_s'])} | {fmt(r['frictionless_rss'])} | {ratio(r['frictionless_s'], r['validate_s'])} |"
        )
    lines.append("")
    lines.append(f"Limit for the alternatives: {results[-1].get('alt_timeout')} s per run.")
    lines += [
        "",
        "The floor of writing, on the same release: `cp -r` of the release to a new folder (every byte written once, as a compile must at least do).",
        "",
        "| N sources | cp -r s (write floor) | compile ÷ cp -r | recompile ÷ cp -r |",
        "|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {fmt(r.get('copy_s'))} | {ratio(r['compile_s'], r.get('copy_s'))} | {ratio(r['recompile_s'], r.get('copy_s'))} |"
        )
    def by_change_table(caption, header, nothing, one_pct, cells):
        """A table of recompile times by the size of the change; `cells(r, t0, t1, k, per)` gives a row's cells."""
        lines.extend(["", caption, "", "| " + " | ".join(header) + " |", "|" + "---:|" * len(header)])
        for r in results:
            t0, t1, k, per = by_change(r, nothing, one_pct)
            lines.append("| " + " | ".join([f"{r['n']:,}"] + cells(r, t0, t1, k, per)) + " |")

    by_change_table(
        "Recompile by the size of the change (warm cache; the changed coding files get a comment appended, so each is recoded and the release is the same): the per-file cost is (1 % − nothing) ÷ files changed.",
        ["N sources", "nothing changed s", "1 file s", "1 % of files s (files)", "per changed file ms", "nothing changed ÷ cp -r"],
        "recompile0_s", "recompile1pct_s",
        lambda r, t0, t1, k, per: [fmt(t0), fmt(r["recompile_s"]), f"{fmt(t1)} ({k})", fmt(per), ratio(t0, r.get("copy_s"))],
    )
    by_change_table(
        "Recompile with the release published in place (warm cache and stamp, src/stamp.rs): the stamp of the last compile finds the release up to date by looking again only at the files whose metadata changed (hashed; a changed source recoded or found in the cache, and its result compared). \"Rehash\" is the first compile after the release folder was moved back (every release file hashed again, then stamped); the changed files get a comment appended.",
        ["N sources", "rehash s", "nothing changed s", "1 file s", "1 % of files s (files)", "per changed file ms", "nothing changed RSS MiB", "1 % RSS MiB"],
        "stamp0_s", "stamp1pct_s",
        lambda r, t0, t1, k, per: [fmt(r.get("stamp_rehash_s")), fmt(t0), fmt(r.get("stamp1_s")), f"{fmt(t1)} ({k})", fmt(per), fmt(r.get("stamp0_rss")), fmt(r.get("stamp1pct_rss"))],
    )
    lines += [
        "",
        "The next version on top of the release (data/VERSION bumped to 1.1.0 with 1.0.0 present, warm cache): `compile` also compares the two releases for the CHANGELOG; `validate 1.1.0 --previous 1.0.0` checks the compatibility rules.",
        "",
        "| N sources | compile next version s | compile next version RSS MiB | validate --previous s | validate --previous RSS MiB |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['n']:,} | {fmt(r.get('next_s'))} | {fmt(r.get('next_rss'))} | {fmt(r.get('vprev_s'))} | {fmt(r.get('vprev_rss'))} |")
    if len(results) >= 2 and results[0]["compile_s"] and results[-1]["compile_s"]:
        a, b = results[0], results[-1]
        lines += [
            "",
            f"Linearity: per-source compile time at N={b['n']:,} ÷ at N={a['n']:,} = "
            f"{(b['compile_s'] / b['n']) / (a['compile_s'] / a['n']):.2f}; validate: "
            f"{(b['validate_s'] / b['n']) / (a['validate_s'] / a['n']):.2f} (1.00 = linear).",
        ]
    return "\n".join(lines) + "\n"


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--alt-timeout", type=float, default=900, help="limit for the Python reference and frictionless")
    ap.add_argument("--work", default="/tmp/defections-bench")
    ap.add_argument(
        "--repeat", type=int, default=3,
        help="runs of the clean compile, validate and sha256sum at each N (the median is reported; the Python reference and frictionless run once)",
    )
    ap.add_argument("--out", default=str(REPO / "benches" / "RESULTS.md"))
    ap.add_argument("--bin", default=str(BIN), help="the defections binary to measure (default: the release build)")
    a = ap.parse_args()
    BIN = Path(a.bin)
    if not BIN.exists():
        sys.exit("build first: cargo build --release --locked")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    trash = work / "trash"
    set_aside(trash, work / "trash-old")  # a previous run's leftovers, deleted at the end too
    results = []
    for n in [int(x) for x in a.sizes.split(",")]:
        print(f"N = {n:,} ...", flush=True)
        results.append(run_size(n, work, a.timeout, a.alt_timeout, trash, a.repeat))
        print(json.dumps(results[-1]), flush=True)
        text = report(results)
        Path(a.out).write_text(text)
    print(text)
    for leftovers in (trash, work / "trash-old"):
        if leftovers.exists():
            shutil.rmtree(leftovers)


if __name__ == "__main__":
    main()
