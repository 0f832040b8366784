#!/usr/bin/env bash
# kiln against Packer 1.6.6 on the anchors' qemu template (../shared/anchors/templates/
# qemu-debian.json: a disk-image build, a shell provisioner, a 100 MiB file upload, a second
# shell provisioner), in one run, on the same base image (scripts/base-image) and the same
# machine: each tool builds RUNS times, alternating, and the medians of every phase are printed
# side by side with the ratio kiln/Packer (below 1: kiln is faster; for the upload rate above 1).
#
# Usage: bench/qemu.sh [RUNS=1]
# Env:   KILN_SHARED    the shared folder with anchors/ (default ../shared)
#        KILN           the kiln binary (default: built with cargo build --release)
#        PACKER         the Packer binary (default packer)
#        INSTALL_NGINX  yes|no, the template's apt step (default no: it measures the mirror)
#        ACCEL          QEMU accelerator (default tcg)
# Phases (from the UI lines, time-stamped as they arrive by the anchors' lib/tstamp.py):
# until_ssh (start -> "Connected to SSH!"), boot_to_ssh ("Starting VM" -> connected),
# provisioning, upload (100 MiB file provisioner) and its rate, shutdown_finish ("Gracefully
# halting" -> end), total. Logs stay in $WORK (printed) when KEEP=1.
# The guest's sha256 of the upload (printed by the template) is compared with the file's: a
# run whose copy differs counts as failed (upload_sha256=MISMATCH).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${1:-1}
ACCEL=${ACCEL:-tcg}
INSTALL_NGINX=${INSTALL_NGINX:-no}
qemu_bench_setup qemu qemu-debian.json
upload="$work/rand100m.bin"
upload_bytes=$((100 * 1024 * 1024))
head -c "$upload_bytes" /dev/urandom >"$upload"
upload_sum=$(sha256sum "$upload" | cut -d' ' -f1)

echo "# $("$PACKER" version | head -1) vs kiln $("$KILN" version | head -1 | sed 's/^kiln //')"
echo "# base image: $base"
echo "# accel=$ACCEL install_nginx=$INSTALL_NGINX runs=$RUNS, logs: $work"
for i in $(seq "$RUNS"); do
  for tool in packer kiln; do
    bin=$PACKER
    [ "$tool" = kiln ] && bin=$KILN
    out="$work/out-$tool-$i"
    log="$work/$tool-$i.log"
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    set +e
    (cd "$work" && CHECKPOINT_DISABLE=1 PACKER_LOG=1 PACKER_LOG_PATH="$work/$tool-$i.debug.log" \
      "$bin" build -color=false -var "base_image=$base" -var "upload_file=$upload" -var "output_dir=$out" \
      -var "accelerator=$ACCEL" -var "install_nginx=$INSTALL_NGINX" qemu-debian.json) 2>&1 \
      | "$anchors/lib/tstamp.py" "$t0" >"$log"
    rc=${PIPESTATUS[0]}
    set -e
    # kiln's shutdown step says "the machine" (it serves every builder); the parser keys on
    # Packer's wording.
    sed -i 's/Gracefully halting the machine/Gracefully halting virtual machine/' "$log"
    # A run whose guest did not get the upload's bytes does not count.
    sha=ok
    grep -q "$upload_sum  /tmp/upload.bin" "$log" || { sha=MISMATCH; [ "$rc" != 0 ] || rc=1; }
    line="tool=$tool run=$i rc=$rc upload_sha256=$sha load=$load $("$anchors/lib/parse_qemu_log.py" "$log" "$upload_bytes")"
    [ -d "$out" ] && line="$line artifact_bytes=$(du -cb "$out" | tail -1 | cut -f1)"
    echo "$line" | tee -a "$work/summary.txt"
    [ "$rc" = 0 ] || { echo "$tool failed, last lines of $log:" >&2; tail -15 "$log" >&2; }
    rm -rf "$out"
  done
done

python3 - "$work/summary.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if kv.get("rc") != "0":
        continue
    runs.setdefault(kv["tool"], []).append(kv)
if set(runs) != {"packer", "kiln"}:
    sys.exit("no successful run of both tools to compare")
keys = ["total_s", "until_ssh_s", "boot_to_ssh_s", "provisioning_s", "upload_s", "upload_MBps", "shutdown_finish_s"]
def median(tool, k):
    v = [float(r[k]) for r in runs[tool] if r.get(k, "NA") != "NA"]
    return statistics.median(v) if v else None
print("%-18s %10s %10s %8s" % ("median", "packer", "kiln", "kiln/packer"))
for k in keys:
    p, q = median("packer", k), median("kiln", k)
    ratio = "%.2f" % (q / p) if p and q is not None else "NA"
    fmt = lambda x: "NA" if x is None else "%.2f" % x
    print("%-18s %10s %10s %8s" % (k, fmt(p), fmt(q), ratio))
PY
