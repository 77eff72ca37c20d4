#!/usr/bin/env bash
# Clean build time and crate count for each feature set, each in a target directory of its
# own (nothing shared, nothing cached but the downloaded sources).
#
#   bash benches/builds.sh            # dev profile
#   PROFILE=release bash benches/builds.sh
#
# Prints a Markdown table. Run it on an otherwise idle machine: it measures wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-dev}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo fetch --quiet

echo "| features | what is built | crates compiled | clean build, $profile |"
echo "|---|---|---|---|"
row() {
  local name=$1 what=$2; shift 2
  local dir="$scratch/$name" start end units
  start=$(date +%s.%N)
  cargo build --profile "$profile" --target-dir "$dir" --message-format=json "$@" \
    > "$dir.json" 2> "$dir.log" || { echo "build failed: $*" >&2; cat "$dir.log" >&2; exit 1; }
  end=$(date +%s.%N)
  # One compiler-artifact line per unit compiled; build scripts and their runs excluded.
  units=$(grep '"reason":"compiler-artifact"' "$dir.json" \
    | grep -v '"kind":\["custom-build"\]' | grep -o '"name":"[^"]*"' | sort -u | wc -l)
  printf '| %s | %s | %s | %.0f s |\n' "$name" "$what" "$units" "$(echo "$end - $start" | bc)"
}
row "default (blocking)" "library" --lib
row "async" "library" --lib --no-default-features --features async
row "cli" "\`flowscale\` binary" --bin flowscale --features cli
row "all" "library" --lib --all-features
