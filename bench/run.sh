#!/usr/bin/env bash
# Compares kiln with Packer 1.6.6 on the same templates, in one run, and prints ratios.
#   bench/run.sh                 # builds kiln in release mode first
#   KILN=path/to/kiln bench/run.sh
# RUNS (default 10) trivial builds each; CHECKSUM_MIB (default 1024) for the checksum file.
# Post-processors on 1 GiB inputs: bench/pp.sh; SSH upload of 1 GiB: bench/upload.sh.
# Targets (from the issue): trivial build >= 5x faster; checksum of all six types >= 2x.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cd "$(dirname "$0")/.."
RUNS="${RUNS:-10}"
MIB="${CHECKSUM_MIB:-1024}"
if [ -z "${KILN:-}" ]; then
  cargo build --release -p kiln >/dev/null
  KILN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/kiln"
fi
KILN="$(realpath "$KILN")"
command -v packer >/dev/null || { echo "packer not found: nothing to compare with" >&2; exit 1; }
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
cd "$W"
export CHECKPOINT_DISABLE=1

cat > trivial.json <<'JSON'
{"builders": [{"type": "null", "communicator": "none"}],
 "provisioners": [{"type": "shell-local", "inline": ["echo hi"]}]}
JSON

# Median wall time in seconds of $RUNS runs of "$@".
time_median() {
  local times=() s
  for _ in $(seq "$RUNS"); do
    s=$(now)
    "$@" >/dev/null 2>&1
    times+=("$(elapsed "$s" "$(now)")")
  done
  median "${times[@]}"
}

p=$(time_median packer build -color=false trivial.json)
k=$(time_median "$KILN" build -color=false trivial.json)
printf 'trivial null + shell-local build: packer %.3f s, kiln %.3f s, kiln is %sx faster (target 5x)\n' "$p" "$k" "$(ratio "$p" "$k")"

head -c "$((MIB * 1024 * 1024))" /dev/urandom > big.img
cat > checksum.json <<'JSON'
{"builders": [{"type": "null", "communicator": "none"}],
 "post-processors": [[
   {"type": "artifice", "files": ["big.img"], "keep_input_artifact": true},
   {"type": "checksum", "keep_input_artifact": true,
    "checksum_types": ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]}]]}
JSON
RUNS=1
p=$(time_median packer build -color=false checksum.json)
rm -f packer_null_null_*.checksum
k=$(time_median "$KILN" build -color=false checksum.json)
printf 'checksum, six types, %s MiB: packer %.2f s, kiln %.2f s, kiln is %sx faster (target 2x)\n' "$MIB" "$p" "$k" "$(ratio "$p" "$k")"

# compress (every format, random and disk-like input): bench/pp.sh. SSH upload: bench/upload.sh.
