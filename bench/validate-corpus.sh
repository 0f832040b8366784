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

# Timing in one Python process (perf_counter around each child) keeps the shell's own fork/exec
# overhead out of both tools' figures.
python3 - "$corpus" "$rounds" "$KILN" "$packer" "${targets[@]}" <<'PY'
import os, statistics, subprocess, sys, time
corpus, rounds, kiln, packer, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
def run(tool):
    times = []
    for _ in range(rounds):
        for t in targets:
            full = os.path.join(corpus, t)
            cwd, name = (full, ".") if os.path.isdir(full) else (os.path.dirname(full), os.path.basename(full))
            s = time.perf_counter()
            subprocess.run([tool, "validate", "-syntax-only", name], cwd=cwd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - s)
    return times
k, p = run(kiln), run(packer)
km, pm = statistics.median(k) * 1000, statistics.median(p) * 1000
print(f"kiln   validate: median {km:8.2f} ms/template, total {sum(k):7.2f} s")
print(f"packer validate: median {pm:8.2f} ms/template, total {sum(p):7.2f} s")
print(f"ratio (packer/kiln, per-template median): {pm/km:.1f}x   (target >= 20x)")
PY
