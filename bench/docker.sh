#!/usr/bin/env bash
# kiln vs Packer 1.6.6 on the docker builder, in one run, against the same podman service:
# the anchors' template (templates/docker-podman.json: shell, a 100 MiB file upload, shell,
# commit with a LABEL change). Packer runs with the anchors' commit shim first on PATH
# (lib/docker-shim/docker: Docker CLI 23+ sends `docker commit` with an empty body, which
# podman 4.3 refuses); kiln runs with no shim. Time = wall time of the whole `build`
# command. Runs alternate which tool goes first; the committed images are removed after
# each run. Prints each run, the medians and the ratio kiln/Packer (target <= 0.5).
#
# kiln is the release build of this checkout (cargo build --release -p kiln).
#
# Usage: bench/docker.sh     Env: RUNS (3), KILN (binary taking `build` arguments),
#   PACKER (packer), IMAGE (localhost/debian:bookworm), BASE_TARBALL (rootfs tarball to
#   import as IMAGE when the bench storage lacks it; default: the one kiln-docker's tests
#   debootstrap, $KILN_CACHE_DIR or ~/.cache/kiln, images/debian-bookworm-minbase.tar),
#   KILN_SHARED (../shared), BENCH_TMP (${TMPDIR:-/tmp}/kiln-bench-docker; podman's
#   storage for the bench lives there and is kept between runs).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${KILN_SHARED:-$ROOT/../shared}
ANCHORS="$SHARED/anchors"
TEMPLATE="$ANCHORS/templates/docker-podman.json"
SHIM="$ANCHORS/lib/docker-shim"
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}/kiln-bench-docker}
RUNS=${RUNS:-3}
PACKER=${PACKER:-packer}
IMAGE=${IMAGE:-localhost/debian:bookworm}
CACHE=${KILN_CACHE_DIR:-$HOME/.cache/kiln}
BASE_TARBALL=${BASE_TARBALL:-$CACHE/images/debian-bookworm-minbase.tar}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
export CHECKPOINT_DISABLE=1

for t in podman runc docker curl python3 "$PACKER"; do
  command -v "$t" >/dev/null || { echo "bench/docker.sh: $t is not installed" >&2; exit 1; }
done
# The real docker CLI, for the shim to pass everything but `commit` to.
REAL_DOCKER=$(command -v docker)
export REAL_DOCKER
[ -f "$TEMPLATE" ] && [ -x "$SHIM/docker" ] || { echo "bench/docker.sh: no anchors at $ANCHORS (set KILN_SHARED)" >&2; exit 1; }

if [ -z "${KILN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p kiln)
  KILN="$TARGET/release/kiln"
fi

# podman's Docker-compatible service on a socket and storage of the bench's own.
PD="$BENCH_TMP/podman"
mkdir -p "$PD"
cat > "$PD/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
CONF
printf 'unqualified-search-registries = []\n' > "$PD/registries.conf"
export CONTAINERS_CONF="$PD/containers.conf" CONTAINERS_REGISTRIES_CONF="$PD/registries.conf"
P=(podman --root "$PD/root" --runroot "$PD/runroot")
SOCK="$PD/podman.sock"
rm -f "$SOCK"
"${P[@]}" system service --time=0 "unix://$SOCK" > "$PD/service.log" 2>&1 &
SVC_PID=$!
trap 'kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null || { echo "podman's service did not start:" >&2; tail "$PD/service.log" >&2; exit 1; }
export DOCKER_HOST="unix://$SOCK"

if ! "${P[@]}" image exists "$IMAGE"; then
  [ -f "$BASE_TARBALL" ] || { echo "bench/docker.sh: no $IMAGE and no rootfs tarball $BASE_TARBALL (run kiln-docker's tests once as root, or set BASE_TARBALL or IMAGE)" >&2; exit 1; }
  "${P[@]}" import --change 'CMD ["/bin/bash"]' "$BASE_TARBALL" "$IMAGE" >/dev/null
fi

UPLOAD="$BENCH_TMP/rand100m.bin"
if [ "$(stat -c %s "$UPLOAD" 2>/dev/null)" != $((100 * 1024 * 1024)) ]; then
  head -c $((100 * 1024 * 1024)) /dev/urandom > "$UPLOAD"
fi

echo "# $("$PACKER" version | head -1) (with the commit shim); kiln: $KILN; podman $("${P[@]}" --version | awk '{print $3}'); docker CLI $(docker --version | awk '{print $3}' | tr -d ,)"
echo "# load1/5/15 at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# Runs one build: TOOL RUN; prints its seconds, or FAIL.
run() {
  local tool=$1 i=$2 log="$BENCH_TMP/$1-$2.log" t0 t1 rc
  t0=$(date +%s.%N)
  set +e
  if [ "$tool" = packer ]; then
    (cd "$BENCH_TMP" && PATH="$SHIM:$PATH" \
      "$PACKER" build -color=false -var "image=$IMAGE" -var "upload_file=$UPLOAD" "$TEMPLATE") > "$log" 2>&1
  else
    (cd "$BENCH_TMP" && "$KILN" build -color=false -var "image=$IMAGE" -var "upload_file=$UPLOAD" "$TEMPLATE") > "$log" 2>&1
  fi
  rc=$?
  set -e
  t1=$(date +%s.%N)
  local img
  img=$(sed -n 's/.*Image ID: *//p' "$log" | tail -1)
  [ -n "$img" ] && "${P[@]}" rmi -f "$img" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    echo "FAIL"
    echo "$tool run $i failed (exit $rc); tail of $log:" >&2
    tail -5 "$log" >&2
    return
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

K=() PK=()
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then order="kiln packer"; else order="packer kiln"; fi
  for tool in $order; do
    s=$(run "$tool" "$i")
    printf 'run %d %-6s %s s\n' "$i" "$tool" "$s"
    [ "$s" = FAIL ] && continue
    if [ "$tool" = kiln ]; then K+=("$s"); else PK+=("$s"); fi
  done
done

mk=$(median "${K[@]}") mp=$(median "${PK[@]}")
echo "median kiln   $mk s (${#K[@]} runs)"
echo "median packer $mp s (${#PK[@]} runs)"
if [ "$mk" != NA ] && [ "$mp" != NA ]; then
  ratio_line "$mk" "$mp" 0.50
fi
echo "# leftover containers: $("${P[@]}" ps -aq | wc -l); logs: $BENCH_TMP/{kiln,packer}-N.log"
