#!/usr/bin/env bash
# A build through external plugins: kiln driving Packer 1.6.6's own components as plugins
# (wrappers `packer-builder-null` … in a PACKER_PLUGIN_PATH folder, KILN_USE_PLUGINS=all) against
# Packer 1.6.6 running the same template (it, too, runs each component as a plugin process), in
# one run, alternating which goes first. Also kiln with its built-in components, for scale.
# Template: null builder (no communicator), three shell-local provisioners, then artifice ->
# checksum (sha256) -> compress (.tar.gz) on a PP_MIB file. Time = wall time of `build`.
# Prints each run, the medians and the ratios.
#
# Usage: bench/plugin.sh     Env: RUNS (5), KILN (binary; default: release build of this
#   checkout), PACKER (packer), PP_MIB (16).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
PACKER=${PACKER:-packer}
MIB=${PP_MIB:-16}
if [ -z "${KILN:-}" ]; then
  (cd "$ROOT" && cargo build --release -p kiln >/dev/null)
  KILN="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/kiln"
fi
KILN=$(realpath "$KILN")
command -v "$PACKER" >/dev/null || { echo "bench/plugin.sh: $PACKER is not installed" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
export CHECKPOINT_DISABLE=1

mkdir plugins
for c in builder-null provisioner-shell-local post-processor-artifice post-processor-checksum post-processor-compress; do
  printf '#!/bin/sh\nexec %s plugin packer-%s "$@"\n' "$(command -v "$PACKER")" "$c" > "plugins/packer-$c"
  chmod +x "plugins/packer-$c"
done
head -c "$((MIB * 1024 * 1024))" /dev/urandom > input.bin
cat > t.json <<'JSON'
{"builders": [{"type": "null", "communicator": "none"}],
 "provisioners": [
   {"type": "shell-local", "inline": ["echo one"]},
   {"type": "shell-local", "inline": ["echo two"]},
   {"type": "shell-local", "inline": ["echo three"]}],
 "post-processors": [[
   {"type": "artifice", "files": ["input.bin"], "keep_input_artifact": true},
   {"type": "checksum", "checksum_types": ["sha256"], "output": "out/input.{{.ChecksumType}}", "keep_input_artifact": true},
   {"type": "compress", "output": "out/input.tar.gz", "keep_input_artifact": true}]]}
JSON

# Seconds of one run of "$@", output to run.log (kept for a failure).
one() {
  rm -rf out
  local s e
  s=$(now)
  if ! "$@" > run.log 2>&1; then
    echo "bench/plugin.sh: $* failed:" >&2
    cat run.log >&2
    exit 1
  fi
  elapsed "$s" "$(now)"; echo
}

: > packer.t; : > plugins.t; : > builtin.t
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    p=$(one "$PACKER" build -color=false t.json)
    k=$(one env PACKER_PLUGIN_PATH="$W/plugins" KILN_USE_PLUGINS=all "$KILN" build -color=false t.json)
  else
    k=$(one env PACKER_PLUGIN_PATH="$W/plugins" KILN_USE_PLUGINS=all "$KILN" build -color=false t.json)
    p=$(one "$PACKER" build -color=false t.json)
  fi
  b=$(one env PACKER_PLUGIN_PATH="$W/plugins" "$KILN" build -color=false t.json)
  printf 'run %d: packer %.3f s, kiln through plugins %.3f s, kiln built-in %.3f s\n' "$i" "$p" "$k" "$b"
  echo "$p" >> packer.t; echo "$k" >> plugins.t; echo "$b" >> builtin.t
done
P=$(median_of_lines < packer.t); K=$(median_of_lines < plugins.t); B=$(median_of_lines < builtin.t)
printf 'median of %d: packer 1.6.6 %.3f s; kiln through the same plugins %.3f s (%.2fx packer); kiln built-in %.3f s (%.2fx packer)\n' \
  "$RUNS" "$P" "$K" "$(echo "$K / $P" | bc -l)" "$B" "$(echo "$B / $P" | bc -l)"
