# Helpers shared by kiln's benchmarks. Sourced, not run: . "$(dirname "$0")/lib.sh"

# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# Seconds from $1 to $2 (two `now`s), three decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The median of the arguments (the mean of the two middle ones for an even count); NA for none.
median() {
  [ $# -gt 0 ] || { echo NA; return; }
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The median of standard input's lines.
median_of_lines() {
  local values=()
  mapfile -t values
  median "${values[@]}"
}

# "$1 / $2" with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# One line: kiln's median $1 over Packer's $2, and whether it meets the target ratio $3 (at most).
ratio_line() {
  awk -v k="$1" -v p="$2" -v t="$3" 'BEGIN { r = k / p; printf "ratio kiln/packer %.2f (target <= %.2f): %s\n", r, t, (r <= t ? "met" : "NOT met") }'
}

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The anchors' folder (from KILN_SHARED, default ../shared), or exit saying how to set it.
anchors_dir() {
  local a="${KILN_SHARED:-$(cd .. && pwd)/shared}/anchors"
  [ -f "$a/templates/qemu-debian.json" ] || { echo "no anchors in $a (set KILN_SHARED)" >&2; exit 1; }
  echo "$a"
}

# The release build of this checkout's kiln (or $KILN when set).
kiln_release() {
  if [ -n "${KILN:-}" ]; then
    echo "$KILN"
    return
  fi
  cargo build --release -q -p kiln >&2
  echo "$(pwd)/${CARGO_TARGET_DIR:-target}/release/kiln"
}

# Writes the anchors' qemu template ($1: anchors folder) to $2 with the login of kiln's base
# image (the anchors' logs in as packer/packer; scripts/base-image makes kiln/kiln-base).
anchors_qemu_template() {
  sed -e 's/"ssh_username": "packer"/"ssh_username": "kiln"/' -e 's/"ssh_password": "packer"/"ssh_password": "kiln-base"/' \
    "$1/templates/qemu-debian.json" >"$2"
}

# qemu_bench_setup NAME TEMPLATE: what the qemu benches share. Sets anchors, PACKER, KILN, base
# (scripts/base-image's image) and work (a new folder, removed at exit unless KEEP=1), and writes
# the anchors' template, as the base image logs in, to $work/TEMPLATE.
qemu_bench_setup() {
  anchors=$(anchors_dir)
  PACKER=${PACKER:-packer}
  KILN=$(kiln_release)
  base=$(scripts/base-image | tail -n 1)
  work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-$1-XXXXXX")
  [ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
  anchors_qemu_template "$anchors" "$work/$2"
}
