#!/usr/bin/env bash
# What a build costs: clean builds, each in a target directory of its own (nothing shared,
# nothing cached but the downloaded sources), on an otherwise idle machine (it measures
# wall time).
#
#   bash benches/builds.sh            # every table, dev profile (about 30 minutes on 2 cores)
#   bash benches/builds.sh baseline   # the program tables and the timings summary (12 minutes)
#   PROFILE=release bash benches/builds.sh
#   ROUNDS=5 bash benches/builds.sh baseline
#
# 1. This crate's feature sets.
# 2. A program that depends on flowscale (default features) against the same program
#    depending on ureq and serde_json alone: ureq as this crate uses it (rustls, no gzip)
#    and ureq with its default features (rustls and gzip). Every program resolves against
#    this repository's Cargo.lock, so each side builds the same versions. Between them, two
#    floors: the design card's packages alone, and every dependency of the default build
#    without flowscale (what is left is this crate's own code). Then a program that already
#    derives serde, before and after it adds flowscale.
# 3. Where the flowscale program's build time goes (`cargo build --timings`): the slowest
#    units, and what it compiles that the baseline does not.
#
# Each build is made ROUNDS times (3 unless told), the programs taking turns, and the tables
# give the median: one clean build on this machine can take half as long again as the next.
#
# "crates" counts the packages compiled (name and version; build scripts not counted, the
# program itself counted). "CPU" is the sum of every unit's compile time as cargo's
# --timings report gives it: on 2 cores, wall time is about half of it once it is the bound.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
profile=${PROFILE:-dev}
only=${1:-all}
rounds=${ROUNDS:-3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo fetch --quiet

# build NAME ROUND DIR ARGS...: a clean build of the package in DIR; leaves NAME.ROUND.json
# (cargo's messages), NAME.ROUND.wall and NAME.ROUND.html (the timings report) in $scratch.
build() {
  local name=$1 round=$2 dir=$3; shift 3
  local target="$scratch/target-$name" start end
  rm -rf "$target"
  start=$(date +%s.%N)
  (cd "$dir" && cargo build --profile "$profile" --target-dir "$target" --timings \
    --message-format=json "$@") > "$scratch/$name.$round.json" 2> "$scratch/$name.log" ||
    { echo "build failed: $name $*" >&2; cat "$scratch/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc > "$scratch/$name.$round.wall"
  cp "$target"/cargo-timings/cargo-timing.html "$scratch/$name.$round.html"
  rm -rf "$target"
}

# The numbers of one build: crates, wall seconds, CPU seconds; and the crates' names.
summary() {
  python3 "$repo/benches/builds_summary.py" "$scratch" "$@"
}

if [ "$only" = all ]; then
  echo "| features | what is built | crates compiled | clean build, $profile | CPU |"
  echo "|---|---|---|---|---|"
  sets=("default (blocking)|library|--lib"
    "async|library|--lib --no-default-features --features async"
    "cli|\`flowscale\` binary|--bin flowscale --features cli"
    "all|library|--lib --all-features")
  for round in $(seq "$rounds"); do
    for set in "${sets[@]}"; do
      IFS='|' read -r name _ args <<< "$set"
      # shellcheck disable=SC2086 # the arguments are words
      build "$name" "$round" "$repo" $args
    done
  done
  for set in "${sets[@]}"; do
    IFS='|' read -r name what _ <<< "$set"
    summary row "$name" "$what"
  done
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

# The floor: what any SDK of this design compiles before a line of its own. The owner's
# design card names its packages (ureq, serde with its derive, serde_json, maybe-async,
# mime_guess); the second program adds what flowscale's other default features need
# (the platform verifier, dates and durations, percent-encoding, http), so the gap
# between it and with-flowscale is this crate's own code.
ureq_rustls='ureq = { version = "3", default-features = false, features = ["rustls"] }'
card_deps="$ureq_rustls
serde = { version = \"1\", features = [\"derive\"] }
serde_json = \"1\"
maybe-async = \"0.2.11\"
mime_guess = { version = \"2\", default-features = false }"
card_body='#[derive(serde::Deserialize, Debug, Default)] struct Run { id: String }
#[maybe_async::must_be_sync] async fn fetch() -> Run { serde_json::from_str(r#"{"id":"x"}"#).unwrap_or_default() }
fn main() { let _ = ureq::get("http://127.0.0.1:1/").call(); println!("{:?} {}", fetch(), mime_guess::from_path("a.png").first_or_octet_stream()); }'
program design-card "$card_deps" "$card_body"
program all-dependencies \
  "$(printf '%s\n' "$card_deps" | sed 's/features = \["rustls"\]/features = ["rustls", "platform-verifier"]/')
rustls = { version = \"0.23\", default-features = false, features = [\"ring\", \"std\"] }
ring = \"0.17\"
http = \"1\"
percent-encoding = \"2\"
humantime = \"2\"
httpdate = \"1\"
libc = \"0.2\"
openssl-probe = \"0.2\"" \
  "$card_body"
# A program that already decodes JSON into its own types, before and after it adds flowscale:
# what flowscale costs a typical project rather than the bare minimum.
program baseline-derive \
  "$ureq_rustls
serde = { version = \"1\", features = [\"derive\"] }
serde_json = \"1\"" \
  '#[derive(serde::Deserialize, Debug, Default)] struct Run { id: String }
fn main() { let _ = ureq::get("http://127.0.0.1:1/").call(); let r: Run = serde_json::from_str(r#"{"id":"x"}"#).unwrap_or_default(); println!("{r:?}"); }'
program derive-with-flowscale \
  "$ureq_rustls
serde = { version = \"1\", features = [\"derive\"] }
serde_json = \"1\"
flowscale = { path = \"$repo\" }" \
  '#[derive(serde::Deserialize, Debug, Default)] struct Run { id: String }
fn main() { let _ = ureq::get("http://127.0.0.1:1/").call(); let r: Run = serde_json::from_str(r#"{"id":"x"}"#).unwrap_or_default(); println!("{r:?} {}", flowscale::Client::new("key", "http://127.0.0.1:1").is_ok()); }'

for round in $(seq "$rounds"); do
  for name in baseline-rustls baseline-default design-card all-dependencies with-flowscale \
    baseline-derive derive-with-flowscale; do
    build "$name" "$round" "$scratch/$name"
  done
done
echo "| program | crates compiled | clean build, $profile | CPU | vs ureq (rustls) + serde_json: crates, wall, CPU |"
echo "|---|---|---|---|---|"
summary against baseline-rustls \
  "baseline-rustls:ureq (rustls, as flowscale uses it) + serde_json" \
  "baseline-default:ureq (default features: rustls, gzip) + serde_json" \
  "design-card:the design card's packages alone (ureq rustls, serde derive, serde_json, maybe-async, mime_guess)" \
  "all-dependencies:every dependency of flowscale's default build, without flowscale" \
  "with-flowscale:flowscale (default features)"
echo
echo "| program | crates compiled | clean build, $profile | CPU | vs ureq (rustls) + serde derive + serde_json: crates, wall, CPU |"
echo "|---|---|---|---|---|"
summary against baseline-derive \
  "baseline-derive:ureq (rustls) + serde with derive + serde_json" \
  "derive-with-flowscale:the same program with flowscale (default features) added"
echo
summary slowest with-flowscale 12
echo
summary extra with-flowscale baseline-rustls
