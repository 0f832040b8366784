#!/usr/bin/env bash
# Clean and incremental debug build times of the workspace at one or more commits, one after the
# other in the same run (docs/architecture.md, "What the layout costs and saves"). For each commit:
# a clean `cargo build --workspace --timings` into an empty target dir, when kiln-core started,
# then the rebuild after appending a private function to the HCL2 function library, and which of
# kiln's crates that rebuild recompiled. Each commit is checked out in a temporary worktree.
#
# Usage: bench/layout-times.sh COMMIT...        (e.g. 2199f0a 77fe647 HEAD)
# Needs a quiet machine to mean anything; takes about 3-4 minutes per commit on 2 cores.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 2; }
probe=crates/kiln-template/src/functions/string.rs
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-layout-times.XXXXXX")
trap 'for w in "$work"/wt-*; do [ -d "$w" ] && git worktree remove --force "$w"; done; rm -rf "$work"' EXIT
for commit in "$@"; do
  short=$(git rev-parse --short "$commit")
  wt="$work/wt-$short" target="$work/target-$short"
  git worktree add -q --detach "$wt" "$commit"
  start=$(now)
  (cd "$wt" && CARGO_TARGET_DIR=$target cargo build -q --workspace --timings >/dev/null 2>&1)
  clean=$(echo "$(now) - $start" | bc)
  core_start=$(python3 - "$target/cargo-timings/cargo-timing.html" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", text, re.S).group(1))
print(next((f"{u['start']:.1f}" for u in units if u["name"] == "kiln-core"), "?"))
PY
)
  [ -f "$wt/$probe" ] && printf '\n#[allow(dead_code)]\nfn kiln_layout_probe() {}\n' >>"$wt/$probe"
  start=$(now)
  recompiled=$(cd "$wt" && CARGO_TARGET_DIR=$target cargo build --workspace 2>&1 | awk '/Compiling kiln/ {print $2}' | tr '\n' ' ')
  inc=$(echo "$(now) - $start" | bc)
  printf '%s: clean %.1f s, kiln-core starts at %s s; after an edit in the function library %.1f s, recompiled: %s\n' \
    "$short" "$clean" "$core_start" "$inc" "$recompiled"
  rm -rf "$target"
done
