"""Fails when a package in Cargo.lock declares a rust-version above the crate's own.

Reads `cargo metadata --format-version 1` on stdin.
"""
import json
import sys


def version(text):
    parts = [int(x) for x in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.load(sys.stdin)
root = next(p for p in meta["packages"] if p["id"] == meta["resolve"]["root"])
ours = root["rust_version"]
used = {node["id"] for node in meta["resolve"]["nodes"]}
newer = [
    "%s %s needs Rust %s" % (p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p["id"] in used and p.get("rust_version") and version(p["rust_version"]) > version(ours)
]
if newer:
    sys.exit("error: dependencies newer than rust-version %s:\n  %s" % (ours, "\n  ".join(newer)))
print("ok: %d packages, none needs more than Rust %s" % (len(used), ours))
