#!/usr/bin/env bash
# What a build costs: clean builds, each in a target directory of its own (nothing shared,
# nothing cached but the downloaded sources), on an otherwise idle machine (it measures
# wall time).
#
#   bash benches/builds.sh            # both tables, dev profile (about 8 minutes on 2 cores)
#   bash benches/builds.sh baseline   # only the baseline table and the timings summary
#   PROFILE=release bash benches/builds.sh
#
# 1. This crate's feature sets.
# 2. A program that depends on flowscale (default features) against the same program
#    depending on ureq and serde_json alone: ureq as this crate uses it (rustls, no gzip)
#    and ureq with its default features (rustls and gzip). Every program resolves against
#    this repository's Cargo.lock, so each side builds the same versions.
# 3. Where the flowscale program's build time goes (`cargo build --timings`): the slowest
#    units, and what it compiles that the baseline does not.
#
# "crates" counts the packages compiled (name and version; build scripts not counted, the
# program itself counted). "CPU" is the sum of every unit's compile time as cargo's
# --timings report gives it: on 2 cores, wall time is about half of it once it is the bound.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
profile=${PROFILE:-dev}
only=${1:-all}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo fetch --quiet

# build NAME DIR ARGS...: a clean build of the package in DIR; leaves NAME.json (cargo's
# messages), NAME.wall and the timings report in $scratch.
build() {
  local name=$1 dir=$2; shift 2
  local target="$scratch/target-$name" start end
  start=$(date +%s.%N)
  (cd "$dir" && cargo build --profile "$profile" --target-dir "$target" --timings \
    --message-format=json "$@") > "$scratch/$name.json" 2> "$scratch/$name.log" ||
    { echo "build failed: $name $*" >&2; cat "$scratch/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc > "$scratch/$name.wall"
  cp "$target"/cargo-timings/cargo-timing.html "$scratch/$name.html"
}

# The numbers of one build: crates, wall seconds, CPU seconds; and the crates' names.
summary() {
  python3 "$repo/benches/builds_summary.py" "$scratch" "$@"
}

if [ "$only" = all ]; then
  echo "| features | what is built | crates compiled | clean build, $profile | CPU |"
  echo "|---|---|---|---|---|"
  row() {
    local name=$1 what=$2; shift 2
    build "$name" "$repo" "$@"
    summary row "$name" "$what"
  }
  row "default (blocking)" "library" --lib
  row "async" "library" --lib --no-default-features --features async
  row "cli" "\`flowscale\` binary" --bin flowscale --features cli
  row "all" "library" --lib --all-features
  echo
fi

# A program of each kind, beside this repository's lock file.
program() {
  local name=$1 deps=$2 body=$3
  mkdir -p "$scratch/$name/src"
  printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n%s\n' \
    "$name" "$deps" > "$scratch/$name/Cargo.toml"
  printf '%s\n' "$body" > "$scratch/$name/src/main.rs"
  cp "$repo/Cargo.lock" "$scratch/$name/"
}
program baseline-rustls \
  'ureq = { version = "3", default-features = false, features = ["rustls"] }
serde_json = "1"' \
  'fn main() { let v: serde_json::Value = ureq::get("http://127.0.0.1:1/").call().map(|_| 1.into()).unwrap_or_default(); println!("{v}"); }'
program baseline-default \
  'ureq = "3"
serde_json = "1"' \
  'fn main() { let v: serde_json::Value = ureq::get("http://127.0.0.1:1/").call().map(|_| 1.into()).unwrap_or_default(); println!("{v}"); }'
program with-flowscale \
  "flowscale = { path = \"$repo\" }" \
  'fn main() { println!("{}", flowscale::Client::new("key", "http://127.0.0.1:1").is_ok()); }'

for name in baseline-rustls baseline-default with-flowscale; do
  build "$name" "$scratch/$name"
done
echo "| program | crates compiled | clean build, $profile | CPU | vs ureq (rustls) + serde_json: crates, wall, CPU |"
echo "|---|---|---|---|---|"
summary against baseline-rustls \
  "baseline-rustls:ureq (rustls, as flowscale uses it) + serde_json" \
  "baseline-default:ureq (default features: rustls, gzip) + serde_json" \
  "with-flowscale:flowscale (default features)"
echo
summary slowest with-flowscale 12
echo
summary extra with-flowscale baseline-rustls
