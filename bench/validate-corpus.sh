#!/usr/bin/env bash
# Benchmark: `kiln validate -syntax-only` against `packer validate -syntax-only` on the corpus
# templates Packer 1.6.6 accepts, in one run, same files, same way (in the file's folder).
# Prints per-tool totals, per-template medians and the ratio.
#
# Usage: bench/validate-corpus.sh [ROUNDS]
# Env:   KILN_CORPUS (default ../shared/corpus), KILN (default: release build), PACKER (default packer)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rounds=${1:-3}
corpus=${KILN_CORPUS:-$root/../shared/corpus}
[ -f "$corpus/packer-1.6.6-verdicts.tsv" ] || { echo "no corpus at $corpus: set KILN_CORPUS" >&2; exit 2; }
packer=${PACKER:-packer}
command -v "$packer" >/dev/null || { echo "packer not found (apt-get install packer)" >&2; exit 2; }
if [ -z "${KILN:-}" ]; then
  (cd "$root" && cargo build --release -q -p kiln)
  KILN="${CARGO_TARGET_DIR:-$root/target}/release/kiln"
fi
export CHECKPOINT_DISABLE=1

# Templates (not var files) that Packer 1.6.6 accepts with -syntax-only.
mapfile -t targets < <(awk -F'\t' 'NR>1 && ($2=="json"||$2=="hcl2"||$2=="hcl2-dir") && $3=="0" {print $1}' \
  "$corpus/packer-1.6.6-verdicts.tsv")
echo "# ${#targets[@]} templates x $rounds rounds; kiln: $KILN; $("$packer" version | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"

time_tool() { # tool -> prints total seconds; per-run times appended to $2
  local tool=$1 out=$2 t dir name s e
  : > "$out"
  for ((r = 0; r < rounds; r++)); do
    for t in "${targets[@]}"; do
      if [ -d "$corpus/$t" ]; then dir="$corpus/$t"; name=.; else dir=$(dirname "$corpus/$t"); name=$(basename "$t"); fi
      s=$(date +%s%N)
      (cd "$dir" && "$tool" validate -syntax-only "$name" >/dev/null 2>&1) || true
      e=$(date +%s%N)
      echo $(( (e - s) / 1000 )) >> "$out"
    done
  done
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
time_tool "$KILN" "$tmp/kiln.us"
time_tool "$packer" "$tmp/packer.us"
python3 - "$tmp/kiln.us" "$tmp/packer.us" <<'PY'
import statistics, sys
k = [int(x) for x in open(sys.argv[1])]
p = [int(x) for x in open(sys.argv[2])]
km, pm = statistics.median(k) / 1000, statistics.median(p) / 1000
print(f"kiln   validate: median {km:8.2f} ms/template, total {sum(k)/1e6:7.2f} s")
print(f"packer validate: median {pm:8.2f} ms/template, total {sum(p)/1e6:7.2f} s")
print(f"ratio (packer/kiln, per-template median): {pm/km:.1f}x   (target >= 20x)")
PY
