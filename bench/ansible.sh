#!/usr/bin/env bash
# kiln's `ansible` provisioner vs `ansible-playbook` run by hand, against the same private sshd
# on 127.0.0.1 (own host key, own client key, a free port). The playbook (written by this
# script) gathers facts and runs ten tasks: copies, templates, lineinfile, a command, a stat,
# into a scratch folder. kiln = wall time of `kiln build` of a null-builder template with one
# `ansible` provisioner (start, SSH connect, the playbook, the end); by hand = wall time of
# `ansible-playbook` with an inventory naming the same host, port, user and key; "proxy" = kiln
# with `use_proxy: true` (Ansible talks to kiln's SSH endpoint, which relays to the sshd). The
# order of the three rotates from run to run. Prints each run, the medians and each kiln
# variant's overhead over the run by hand (target <= +10%).
#
# kiln is the release build of this checkout (cargo build --release -p kiln).
#
# Usage: bench/ansible.sh     Env: RUNS (5), KILN (binary taking `build` arguments),
#   BENCH_TMP (${TMPDIR:-/tmp}/kiln-bench-ansible, removed at the end).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}/kiln-bench-ansible}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

for t in ansible-playbook ssh-keygen python3; do
  command -v "$t" >/dev/null || { echo "bench/ansible.sh: $t is not installed" >&2; exit 1; }
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || { echo "bench/ansible.sh: sshd is not installed" >&2; exit 1; }
if [ -z "${KILN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p kiln)
  KILN="$TARGET/release/kiln"
fi

rm -rf "$BENCH_TMP"
mkdir -p "$BENCH_TMP/out"
D="$BENCH_TMP"
SSHD_PID=
cleanup() {
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
  rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

# A private sshd, like the tests' (crates/kiln-testing/src/sshd.rs).
ssh-keygen -q -t ed25519 -N '' -f "$D/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$D/client_key"
cp "$D/client_key.pub" "$D/authorized_keys"
PORT=$(free_port)
USER_NAME=$(id -un)
cat > "$D/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $D/host_key
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
MaxSessions 100
MaxStartups 100
LogLevel ERROR
CONF
mkdir -p /run/sshd 2>/dev/null || true
"$SSHD" -D -e -f "$D/sshd_config" 2>"$D/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
  sleep 0.1
done

OUT="$D/out"
cat > "$D/motd.j2" <<'J2'
Welcome to {{ inventory_hostname }} ({{ ansible_facts['hostname'] }}), run {{ run }}
J2
cat > "$D/playbook.yml" <<YML
- hosts: all
  vars:
    out: $OUT
  tasks:
    - copy: { dest: "{{ out }}/a-{{ run }}.txt", content: "a\n" }
    - copy: { dest: "{{ out }}/b-{{ run }}.txt", content: "b\n" }
    - template: { src: $D/motd.j2, dest: "{{ out }}/motd-{{ run }}" }
    - file: { path: "{{ out }}/dir-{{ run }}", state: directory }
    - copy: { dest: "{{ out }}/dir-{{ run }}/c.txt", content: "c\n" }
    - lineinfile: { path: "{{ out }}/a-{{ run }}.txt", line: "more" }
    - command: uname -a
    - stat: { path: "{{ out }}/motd-{{ run }}" }
    - file: { path: "{{ out }}/b-{{ run }}.txt", mode: "0600" }
    - template: { src: $D/motd.j2, dest: "{{ out }}/dir-{{ run }}/motd" }
YML
printf 'default ansible_host=127.0.0.1 ansible_user=%s ansible_port=%s\n' "$USER_NAME" "$PORT" > "$D/inventory"

template() { # $1: run id, $2: use_proxy
  cat <<JSON
{"builders": [{"type": "null", "ssh_host": "127.0.0.1", "ssh_port": $PORT, "ssh_username": "$USER_NAME",
  "ssh_private_key_file": "$D/client_key"}],
 "provisioners": [{"type": "ansible", "playbook_file": "$D/playbook.yml",
  "use_proxy": $2, "extra_arguments": ["-e", "run=$1"]}]}
JSON
}

run_hand() { # $1: run id
  ANSIBLE_HOST_KEY_CHECKING=False ansible-playbook -i "$D/inventory" --private-key "$D/client_key" \
    --ssh-extra-args "-o IdentitiesOnly=yes" -e "run=$1" "$D/playbook.yml" >"$D/hand-$1.log" 2>&1
}

run_kiln() { # $1: run id
  template "$1" false > "$D/t-$1.json"
  "$KILN" build "$D/t-$1.json" >"$D/kiln-$1.log" 2>&1
}

run_proxy() { # $1: run id
  template "$1" true > "$D/t-$1.json"
  "$KILN" build "$D/t-$1.json" >"$D/proxy-$1.log" 2>&1
}

echo "# $(ansible-playbook --version 2>/dev/null | sed -n 1p); $(ssh -V 2>&1); kiln: $KILN"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
K=() H=() P=()
for i in $(seq "$RUNS"); do
  case $((i % 3)) in
    1) order=(hand kiln proxy) ;;
    2) order=(kiln proxy hand) ;;
    0) order=(proxy hand kiln) ;;
  esac
  for tool in "${order[@]}"; do
    id="$tool$i"
    t0=$(now)
    if ! "run_$tool" "$id"; then
      echo "run $i $tool failed:" >&2
      cat "$D/$tool-$id.log" >&2
      exit 1
    fi
    t1=$(now)
    s=$(elapsed "$t0" "$t1")
    # Each must have done the work.
    [ -f "$OUT/dir-$id/motd" ] || { echo "run $i $tool: the playbook's files are missing" >&2; exit 1; }
    printf 'run %d %-5s %s s\n' "$i" "$tool" "$s"
    case $tool in kiln) K+=("$s") ;; hand) H+=("$s") ;; proxy) P+=("$s") ;; esac
  done
done

mk=$(median "${K[@]}") mh=$(median "${H[@]}") mp=$(median "${P[@]}")
echo "median hand  $mh s (${#H[@]} runs)"
echo "median kiln  $mk s (${#K[@]} runs, direct SSH)"
echo "median proxy $mp s (${#P[@]} runs, use_proxy)"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for v in "kiln $mk" "proxy $mp"; do
  set -- $v
  awk -v n="$1" -v k="$2" -v h="$mh" 'BEGIN { r = (k / h - 1) * 100; printf "%s overhead %+.1f%% (target <= +10%%): %s\n", n, r, (r <= 10 ? "met" : "NOT met") }'
done
