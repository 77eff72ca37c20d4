"""Reads what benches/builds.sh left of a build (cargo's JSON messages, its wall time, the
`--timings` report) and prints table rows.

  row NAME WHAT                      a row of the feature-set table
  against BASE NAME:LABEL...         rows against the build BASE
  slowest NAME N                     the N slowest units of build NAME
  extra NAME BASE                    what NAME compiles that BASE does not, with its time

A build made in several rounds (NAME.1.json, NAME.2.json, ...) is given by its median wall
time and median CPU time; the per-unit tables average each unit over the rounds.

The timings report is cargo's HTML page; its units are the `UNIT_DATA` array in it (cargo
1.95). If a later cargo writes it otherwise, the CPU column says so instead of guessing.
"""

import json
import re
import statistics
import sys
from pathlib import Path

scratch = Path(sys.argv[1])
mode, args = sys.argv[2], sys.argv[3:]


def rounds(name, ext):
    found = sorted(scratch.glob(f"{name}.*.{ext}"))
    if not found:
        sys.exit(f"no {ext} for build {name}")
    return found


def crates(name):
    """The packages compiled (name and version), build scripts left out."""
    found = set()
    for line in rounds(name, "json")[0].read_text().splitlines():
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact":
            continue
        if msg["target"]["kind"] == ["custom-build"]:
            continue
        found.add(msg["package_id"])
    return found


def label(package_id):
    """`name version` from a package id (`path+file://...#name@1.2.3` or `registry+...`)."""
    tail = package_id.rsplit("#", 1)[-1]
    if "@" in tail:
        name, version = tail.rsplit("@", 1)
    else:
        # A path package's id ends in its version alone; its name is the directory's.
        name, version = package_id.split("#")[0].rstrip("/").rsplit("/", 1)[-1], tail
    return f"{name} {version}"


def units_of(page):
    found = re.search(r"const UNIT_DATA = (\[.*?\]);\n", page.read_text(), re.S)
    return json.loads(found.group(1)) if found else None


def units(name):
    """Every unit of the build, its duration the mean over the rounds."""
    each = [units_of(page) for page in rounds(name, "html")]
    if any(data is None for data in each):
        return None
    merged = {}
    for data in each:
        for u in data:
            key = (u["name"], u["version"], u.get("target", ""), u.get("mode", ""))
            merged.setdefault(key, dict(u, duration=0.0))["duration"] += u["duration"] / len(each)
    return list(merged.values())


def cpu(name):
    each = [units_of(page) for page in rounds(name, "html")]
    if any(data is None for data in each):
        return None
    return statistics.median(sum(u["duration"] for u in data) for data in each)


def wall(name):
    return statistics.median(float(f.read_text()) for f in rounds(name, "wall"))


def seconds(x):
    return "timings not readable" if x is None else f"{x:.0f} s"


if mode == "row":
    name, what = args
    print(f"| {name} | {what} | {len(crates(name))} | {wall(name):.0f} s | {seconds(cpu(name))} |")
elif mode == "against":
    base = args[0]
    for pair in args[1:]:
        name, text = pair.split(":", 1)
        c, w, t = len(crates(name)), wall(name), cpu(name)
        bc, bw, bt = len(crates(base)), wall(base), cpu(base)
        ratio_cpu = "-" if t is None or bt is None else f"{t / bt:.2f}x"
        print(
            f"| {text} | {c} | {w:.1f} s | {seconds(t)} | "
            f"{c / bc:.2f}x, {w / bw:.2f}x, {ratio_cpu} |"
        )
elif mode == "slowest":
    name, n = args[0], int(args[1])
    data = units(name)
    if data is None:
        print("(the timings report could not be read)")
        sys.exit(0)
    total = sum(u["duration"] for u in data)
    print(f"Slowest units of the {name} build ({total:.1f} s of compiling in all):\n")
    print("| unit | what | compile time | share |")
    print("|---|---|---:|---:|")
    for u in sorted(data, key=lambda u: -u["duration"])[:n]:
        what = u.get("target", "").strip() or "library"
        print(f"| {u['name']} {u['version']} | {what} | {u['duration']:.2f} s | {u['duration'] / total:.0%} |")
elif mode == "extra":
    name, base = args
    mine = {label(p) for p in crates(name)}
    theirs = {label(p) for p in crates(base)}
    data = units(name) or []
    time = {}
    for u in data:
        key = f"{u['name']} {u['version']}"
        time[key] = time.get(key, 0.0) + u["duration"]
    extra = sorted(mine - theirs, key=lambda k: -time.get(k, 0.0))
    total = sum(time.get(k, 0.0) for k in extra)
    print(f"What {name} compiles beyond {base}: {len(extra)} crates, {total:.1f} s of compiling "
          "(build scripts included):\n")
    print("| crate | compile time |")
    print("|---|---:|")
    for k in extra:
        print(f"| {k} | {time.get(k, 0.0):.2f} s |")
else:
    sys.exit(f"unknown mode {mode}")
