#!/usr/bin/env bash
# kiln vs Packer 1.6.6 on the post-processors, in one run, on the same 1 GiB inputs and the same
# templates (null builder -> artifice -> compress | checksum, keep_input_artifact true):
#   compress .tar.gz .zip .bgzf .lz4 .xz, checksum sha256 and all six types in one post-processor.
# xz runs on an XZ_MIB sample (default 64; from 64 MiB into the input, where the disk image has
# data): Packer's single-core xz takes minutes per GiB (the anchors measured it on 16 MiB).
# Time = from the "Running post-processor: <type>" line to the end of the build (as the Packer
# anchors measure it); MB/s = input bytes / time (MB = 10^6). Inputs are read from page cache.
# Inputs: "random" = 1 GiB of /dev/urandom; "disk" = 1 GiB ext4 image of $DISK_SRC (default
# /usr/bin, ~350 MB of files) padded with zeros, written densely (like a raw VM disk).
# Usage: bench/pp.sh      Env: KILN (binary; default: target/release/kiln, else a dev build
#   with the hot crates at opt-level 3), PACKER (packer), RUNS (1), FORMATS, ARTIFACTS, CHECKSUMS,
#   BENCH_TMP (${TMPDIR:-/tmp}/kiln-bench-pp; the 1 GiB files live there and are removed at
#   the end unless KEEP_INPUTS=1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}/kiln-bench-pp}
PACKER=${PACKER:-packer}
RUNS=${RUNS:-1}
FORMATS=${FORMATS:-"tar.gz zip bgzf lz4 xz"}
XZ_MIB=${XZ_MIB:-64}
CHECKSUMS=${CHECKSUMS-"sha256 all6"}
ARTIFACTS=${ARTIFACTS:-"random disk"}
DISK_SRC=${DISK_SRC:-/usr/bin}
BYTES=$((1024 * 1024 * 1024))
export CHECKPOINT_DISABLE=1
mkdir -p "$BENCH_TMP"

if [ -z "${KILN:-}" ]; then
  if [ -x "${CARGO_TARGET_DIR:-$ROOT/target}/release/kiln" ]; then
    KILN="${CARGO_TARGET_DIR:-$ROOT/target}/release/kiln"
  else
    # Not --release (the whole workspace): only the crates doing the work are optimised.
    opts=()
    for c in crc32fast lz4_flex sha2 sha1 md-5 kiln-post; do
      opts+=(--config "profile.dev.package.$c.opt-level=3")
    done
    (cd "$ROOT" && cargo build -q -p kiln "${opts[@]}")
    KILN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/kiln"
  fi
fi
command -v "$PACKER" >/dev/null || { echo "packer not found (set PACKER)" >&2; exit 1; }

# Inputs.
if [ "$(stat -c %s "$BENCH_TMP/random.bin" 2>/dev/null)" != "$BYTES" ]; then
  head -c "$BYTES" /dev/urandom > "$BENCH_TMP/random.bin"
fi
if [[ " $ARTIFACTS " == *" disk "* ]] && [ "$(stat -c %s "$BENCH_TMP/disk.bin" 2>/dev/null)" != "$BYTES" ]; then
  rm -f "$BENCH_TMP/disk.img"
  mkfs.ext4 -q -F -d "$DISK_SRC" "$BENCH_TMP/disk.img" 1G
  cp --sparse=never "$BENCH_TMP/disk.img" "$BENCH_TMP/disk.bin"
  rm -f "$BENCH_TMP/disk.img"
fi

# Templates: the shape of the Packer anchors' (format set explicitly, see the anchors' notes).
cat > "$BENCH_TMP/pp-compress.json" <<'EOF'
{"variables": {"artifact": "", "out": "", "format": ""},
 "builders": [{"type": "null", "communicator": "none"}],
 "post-processors": [[
   {"type": "artifice", "files": ["{{user `artifact`}}"]},
   {"type": "compress", "output": "{{user `out`}}", "format": "{{user `format`}}", "keep_input_artifact": true}]]}
EOF
cat > "$BENCH_TMP/pp-checksum.json" <<'EOF'
{"variables": {"artifact": "", "out": "", "types": "sha256"},
 "builders": [{"type": "null", "communicator": "none"}],
 "post-processors": [[
   {"type": "artifice", "files": ["{{user `artifact`}}"]},
   {"type": "checksum", "checksum_types": ["sha256"], "output": "{{user `out`}}/{{.ChecksumType}}.checksum", "keep_input_artifact": true}]]}
EOF
sed 's/\["sha256"\]/["md5","sha1","sha224","sha256","sha384","sha512"]/' "$BENCH_TMP/pp-checksum.json" > "$BENCH_TMP/pp-checksum-all.json"

# Runs TOOL TEMPLATE PPTYPE -var...; prints the post-processor's seconds.
run() {
  local tool=$1 tpl=$2 pptype=$3; shift 3
  rm -rf "$BENCH_TMP/out"; mkdir -p "$BENCH_TMP/out"
  sync  # the previous run's dirty pages must not slow this one down
  local log="$BENCH_TMP/last-$(basename "$tool").log"
  (cd "$BENCH_TMP" && "$tool" build -color=false "$@" "$BENCH_TMP/$tpl") 2>&1 | python3 -c '
import sys, time
for line in sys.stdin:
    print("%.3f %s" % (time.time(), line.rstrip("\n")), flush=True)' > "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || { echo "$tool failed (rc $rc):" >&2; tail -5 "$log" >&2; return 1; }
  python3 - "$log" "$pptype" <<'EOF'
import sys
lines = [l.split(" ", 1) for l in open(sys.argv[1]) if l.strip()]
start = next(float(t) for t, s in lines if "Running post-processor: " + sys.argv[2] in s)
print("%.3f" % (float(lines[-1][0]) - start))
EOF
}

# Median of the runs of TOOL on $IN_BYTES of input; prints "seconds MB/s".
measure() {
  local tool=$1; shift
  local times=()
  for _ in $(seq "$RUNS"); do times+=("$(run "$tool" "$@")"); done
  printf '%s\n' "${times[@]}" | sort -n | awk -v b="$IN_BYTES" '{a[NR]=$1} END{m=a[int((NR+1)/2)]; printf "%.2f %.0f", m, b/1e6/m}'
}

echo "# kiln: $KILN; packer: $($PACKER version | head -1); runs: $RUNS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %-14s %9s %9s %9s %9s %8s %11s %11s %7s\n' input post-processor packer_s kiln_s packer_MBs kiln_MBs speedup packer_ratio kiln_ratio smaller
for art in $ARTIFACTS; do
  src="$BENCH_TMP/$art.bin"
  cat "$src" > /dev/null
  for fmt in $FORMATS; do
    in=$src label="compress .$fmt"
    IN_BYTES=$BYTES
    if [ "$fmt" = xz ]; then
      in="$BENCH_TMP/$art-xz-sample.bin" label="compress .xz*"
      dd if="$src" of="$in" bs=1M skip=64 count="$XZ_MIB" status=none
      IN_BYTES=$(stat -c %s "$in")
    fi
    vars=(-var "artifact=$in" -var "out=out/artifact.$fmt" -var "format=$fmt")
    p=$(measure "$PACKER" pp-compress.json compress "${vars[@]}")
    psize=$(stat -c %s "$BENCH_TMP/out/artifact.$fmt")
    pr=$(awk -v s="$psize" -v b="$IN_BYTES" 'BEGIN{printf "%.3f", s/b}')
    k=$(measure "$KILN" pp-compress.json compress "${vars[@]}")
    ksize=$(stat -c %s "$BENCH_TMP/out/artifact.$fmt")
    kr=$(awk -v s="$ksize" -v b="$IN_BYTES" 'BEGIN{printf "%.3f", s/b}')
    # The archive must read back to the input.
    out="$BENCH_TMP/out/artifact.$fmt"
    case $fmt in
      tar.gz) ok=$(tar -xzOf "$out" | cmp -s - "$in" && echo ok || echo BAD) ;;
      zip) ok=$(unzip -p "$out" | cmp -s - "$in" && echo ok || echo BAD) ;;
      bgzf) ok=$(gzip -dc < "$out" | cmp -s - "$in" && echo ok || echo BAD) ;;
      lz4) ok=$(lz4 -dc < "$out" | cmp -s - "$in" && echo ok || echo BAD) ;;
      xz) ok=$(xz -dc < "$out" | cmp -s - "$in" && echo ok || echo BAD) ;;
      *) ok=- ;;
    esac
    [ "$ksize" -le "$psize" ] && smaller=yes || smaller=no
    read -r ps pm <<< "$p"; read -r ks km <<< "$k"
    printf '%-7s %-14s %9s %9s %9s %9s %7.1fx %11s %11s %7s %s\n' "$art" "$label" "$ps" "$ks" "$pm" "$km" \
      "$(awk -v a="$ps" -v b="$ks" 'BEGIN{print a/b}')" "$pr" "$kr" "$smaller" "$ok"
    [ "$fmt" = xz ] && rm -f "$in"
  done
  IN_BYTES=$BYTES
  for c in $CHECKSUMS; do
    tpl=pp-checksum.json; [ "$c" = all6 ] && tpl=pp-checksum-all.json
    p=$(measure "$PACKER" "$tpl" checksum -var "artifact=$src" -var "out=out")
    k=$(measure "$KILN" "$tpl" checksum -var "artifact=$src" -var "out=out")
    want=$(sha256sum "$src" | cut -d' ' -f1)
    ok=$(grep -q "$want" "$BENCH_TMP/out/sha256.checksum" && echo ok || echo BAD)
    read -r ps pm <<< "$p"; read -r ks km <<< "$k"
    printf '%-7s %-14s %9s %9s %9s %9s %7.1fx %11s %11s %7s %s\n' "$art" "checksum $c" "$ps" "$ks" "$pm" "$km" \
      "$(awk -v a="$ps" -v b="$ks" 'BEGIN{print a/b}')" - - - "$ok"
  done
done
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$BENCH_TMP/out" "$BENCH_TMP"/pp-*.json "$BENCH_TMP"/last-*.log
[ "${KEEP_INPUTS:-0}" = 1 ] || rm -f "$BENCH_TMP/random.bin" "$BENCH_TMP/disk.bin"
