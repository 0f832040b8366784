#!/usr/bin/env bash
# kiln vs Packer 1.6.6: the file provisioner uploading one big file to the same private sshd on
# 127.0.0.1 (own config, host key and port; started here and stopped by its PID), scp and sftp,
# in one run. Time = the whole `build` (process start-up included, ~0.1 s of ~10-40 s).
# MB = 10^6 bytes. Target (issue 3): kiln >= 2x Packer's sftp figure.
# Usage: bench/upload.sh     Env: KILN (default target/release/kiln, built if missing), PACKER,
#   MIB (1024), BENCH_TMP (${TMPDIR:-/tmp}/kiln-bench-upload, removed at the end).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKER=${PACKER:-packer}
MIB=${MIB:-1024}
W=${BENCH_TMP:-${TMPDIR:-/tmp}/kiln-bench-upload}
export CHECKPOINT_DISABLE=1
if [ -z "${KILN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p kiln)
  KILN="${CARGO_TARGET_DIR:-$ROOT/target}/release/kiln"
fi
command -v "$PACKER" >/dev/null || { echo "packer not found (set PACKER)" >&2; exit 1; }
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || { echo "OpenSSH's sshd not found (apt-get install openssh-server)" >&2; exit 1; }

rm -rf "$W"; mkdir -p "$W"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N "" -f "$W/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$W/client_key"
cp "$W/client_key.pub" "$W/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $W/host_key
PidFile $W/sshd.pid
AuthorizedKeysFile $W/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
mkdir -p /run/sshd 2>/dev/null || true
"$SSHD" -D -e -f "$W/sshd_config" 2>"$W/sshd.log" &
pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$W/src.bin"
bytes=$(stat -c %s "$W/src.bin")
user=$(id -un)

# Prints the seconds one upload took with TOOL and METHOD; checks the copy.
upload() {
  local tool=$1 method=$2 dst="$W/dst-$(basename "$1")-$2.bin"
  cat > "$W/t.json" <<EOF
{"builders": [{"type": "null", "ssh_host": "127.0.0.1", "ssh_port": $port, "ssh_username": "$user",
  "ssh_private_key_file": "$W/client_key", "ssh_file_transfer_method": "$method"}],
 "provisioners": [{"type": "file", "source": "$W/src.bin", "destination": "$dst"}]}
EOF
  sync
  local s e
  s=$(date +%s.%N)
  "$tool" build -color=false "$W/t.json" > "$W/last.log" 2>&1 || { echo "$tool $method failed:" >&2; tail -5 "$W/last.log" >&2; return 1; }
  e=$(date +%s.%N)
  cmp -s "$W/src.bin" "$dst" || { echo "$tool $method: the uploaded file differs" >&2; return 1; }
  rm -f "$dst"
  echo "$e - $s" | bc -l
}

echo "# $MIB MiB to sshd on 127.0.0.1:$port; kiln: $KILN; packer: $($PACKER version | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %9s %9s %10s %10s %8s\n' method packer_s kiln_s packer_MBs kiln_MBs speedup
declare -A K P
cat "$W/src.bin" > /dev/null
for m in sftp scp; do
  P[$m]=$(upload "$PACKER" "$m")
  K[$m]=$(upload "$KILN" "$m")
  printf '%-6s %9.2f %9.2f %10.0f %10.0f %7.1fx\n' "$m" "${P[$m]}" "${K[$m]}" \
    "$(echo "$bytes / 1000000 / ${P[$m]}" | bc -l)" "$(echo "$bytes / 1000000 / ${K[$m]}" | bc -l)" \
    "$(echo "${P[$m]} / ${K[$m]}" | bc -l)"
done
printf 'kiln (sftp) vs Packer sftp: %.1fx (target 2x)\n' "$(echo "${P[sftp]} / ${K[sftp]}" | bc -l)"
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
