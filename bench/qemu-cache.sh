#!/usr/bin/env bash
# The step cache on the anchors' qemu template with the nginx install
# (../shared/anchors/templates/qemu-debian.json: shell with apt-get install nginx, a 100 MiB file
# upload, a verify shell), on the base image of scripts/base-image, under TCG:
#   1. Packer 1.6.6 builds it (a re-build costs Packer the same: it has no cache);
#   2. kiln builds it with -cache and an empty cache (the full build, snapshots included);
#   3. the last provisioner changes (one more command), kiln builds it again with -cache.
# Prints the three wall times and the re-build's ratio to kiln's full build (target <= 0.2).
#
# Usage: bench/qemu-cache.sh
# Env:   KILN_SHARED   the shared folder with anchors/ (default ../shared)
#        KILN          the kiln binary (default: built with cargo build --release)
#        PACKER        the Packer binary (default packer); SKIP_PACKER=1 leaves it out
#        KEEP=1        keep the logs and the cache (the folder is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
qemu_bench_setup qemu-cache full.json
# The same template with one more command in the last provisioner.
python3 - "$work/full.json" "$work/changed.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["provisioners"][-1]["inline"].append("echo MARK changed-last-provisioner")
json.dump(t, open(sys.argv[2], "w"), indent=2)
PY
head -c $((100 * 1024 * 1024)) /dev/urandom >"$work/rand100m.bin"

# build NAME TOOL TEMPLATE [ARGS...]: one build in $work, its wall time in $work/NAME.time.
build() {
  local name=$1 bin=$2 template=$3
  shift 3
  local t0 t1 rc
  t0=$(now)
  set +e
  (cd "$work" && CHECKPOINT_DISABLE=1 PACKER_CACHE_DIR="$work/cache" "$bin" build -color=false "$@" \
    -var "base_image=$base" -var "upload_file=$work/rand100m.bin" -var "output_dir=$work/out-$name" \
    -var "accelerator=tcg" -var "install_nginx=yes" "$template") >"$work/$name.log" 2>&1
  rc=$?
  set -e
  t1=$(now)
  rm -rf "$work/out-$name"
  if [ "$rc" != 0 ]; then
    echo "$name failed (exit $rc); last lines of $work/$name.log:" >&2
    tail -15 "$work/$name.log" >&2
    exit 1
  fi
  elapsed "$t0" "$t1" >"$work/$name.time"
  printf '%-34s %8.1f s  (load %s)\n' "$name" "$(cat "$work/$name.time")" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "# kiln $("$KILN" version | head -1 | sed 's/^kiln //'), base image: $base, logs: $work"
if [ "${SKIP_PACKER:-0}" != 1 ]; then
  build packer-full "$PACKER" full.json
fi
build kiln-full-with-cache "$KILN" full.json -cache
build kiln-rebuild-last-changed "$KILN" changed.json -cache
grep -E "Step cache: [0-9]+ of" "$work/kiln-rebuild-last-changed.log" || true
grep -q "MARK changed-last-provisioner" "$work/kiln-rebuild-last-changed.log" ||
  { echo "the re-build did not run the changed provisioner" >&2; exit 1; }
full=$(cat "$work/kiln-full-with-cache.time")
re=$(cat "$work/kiln-rebuild-last-changed.time")
echo "re-build / full build (kiln): $(ratio "$re" "$full")   (target <= 0.20; Packer re-builds in full: 1.00)"
if [ -f "$work/packer-full.time" ]; then
  echo "kiln re-build / Packer build: $(ratio "$re" "$(cat "$work/packer-full.time")")"
  echo "kiln full build (with snapshots) / Packer build: $(ratio "$full" "$(cat "$work/packer-full.time")")"
fi
