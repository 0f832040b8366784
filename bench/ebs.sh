#!/usr/bin/env bash
# kiln vs Packer 1.6.6 on the amazon-ebs builder, in one run, against the same moto server:
# the template of DEPENDENCIES.md §5 (source_ami_filter with most_recent, a copy to us-west-2,
# ami_users, a tag rendered with the build data, communicator none). Both tools reach EC2
# through one logging proxy in front of moto, which counts each tool's EC2 calls by Action.
# Time = wall time of the whole `build` command. Runs alternate which tool goes first.
# Prints each run with its call count, the medians, the ratio kiln/Packer (target <= 0.5)
# and each tool's call sequence from its last run.
#
# kiln is the release build of this checkout (cargo build --release -p kiln).
#
# Usage: bench/ebs.sh     Env: RUNS (3), KILN (binary taking `build` arguments), PACKER
#   (packer), MOTO_SERVER (moto_server; default: $KILN_MOTO_SERVER, then the venv scripts/test
#   installs in $HOME/.cache/kiln/moto-venv), BENCH_TMP (${TMPDIR:-/tmp}/kiln-bench-ebs).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}/kiln-bench-ebs}
RUNS=${RUNS:-3}
PACKER=${PACKER:-packer}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
MOTO_SERVER=${MOTO_SERVER:-${KILN_MOTO_SERVER:-$HOME/.cache/kiln/moto-venv/bin/moto_server}}
export CHECKPOINT_DISABLE=1

for t in python3 "$PACKER" "$MOTO_SERVER"; do
  command -v "$t" >/dev/null || { echo "bench/ebs.sh: $t is not installed (moto: scripts/test installs it)" >&2; exit 1; }
done
if [ -z "${KILN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p kiln)
  KILN="$TARGET/release/kiln"
fi
rm -rf "$BENCH_TMP"
mkdir -p "$BENCH_TMP"


# moto with two dated focal images by Canonical (most_recent picks the newer) and an impostor.
cat > "$BENCH_TMP/amis.json" <<'JSON'
[
 {"ami_id":"ami-0focal000000000a1","owner_id":"099720109477","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20221101","creation_date":"2022-11-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"older","image_location":"amazon/a1","sriov":"simple"},
 {"ami_id":"ami-0focal000000000b2","owner_id":"099720109477","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209","creation_date":"2023-02-09T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"newer","image_location":"amazon/b2","sriov":"simple"},
 {"ami_id":"ami-0focal00000000bad","owner_id":"666666666666","name":"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20240101","creation_date":"2024-01-01T10:00:00.000Z","state":"available","public":true,"root_device_type":"ebs","root_device_name":"/dev/sda1","architecture":"x86_64","virtualization_type":"hvm","hypervisor":"xen","image_type":"machine","platform":null,"description":"impostor","image_location":"x/bad","sriov":"simple"}
]
JSON
MOTO_PORT=$(free_port)
MOTO_AMIS_PATH="$BENCH_TMP/amis.json" "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" > "$BENCH_TMP/moto.log" 2>&1 &
MOTO_PID=$!

# The logging proxy: forwards each request to moto unchanged and appends its Action and region
# (from the signature's scope) to the file named in $BENCH_TMP/current.
PROXY_PORT=$(free_port)
cat > "$BENCH_TMP/proxy.py" <<'PY'
import http.client, http.server, re, sys, urllib.parse
upstream, port, current = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per answer and no Nagle: otherwise the headers and the body go in two small
    # segments and the client's delayed ACK adds about 40 ms to some calls.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        m = re.search(r"Credential=[^/]+/\d+/([^/]+)/", self.headers.get("Authorization", ""))
        with open(open(current).read().strip(), "a") as f:
            f.write(f"{action} {m.group(1) if m else '?'}\n")
        c = http.client.HTTPConnection("127.0.0.1", int(upstream))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")}
        headers["Host"] = f"127.0.0.1:{upstream}"
        c.request("POST", self.path, body, headers)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "content-length", "transfer-encoding", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
PY
echo "$BENCH_TMP/none.calls" > "$BENCH_TMP/current"
python3 "$BENCH_TMP/proxy.py" "$MOTO_PORT" "$PROXY_PORT" "$BENCH_TMP/current" > "$BENCH_TMP/proxy.log" 2>&1 &
PROXY_PID=$!
trap 'kill "$PROXY_PID" "$MOTO_PID" 2>/dev/null || true; wait "$PROXY_PID" "$MOTO_PID" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null || { echo "moto did not start:" >&2; tail "$BENCH_TMP/moto.log" >&2; exit 1; }
# moto loads its images on the first EC2 call (about 3 s): make it before the timed runs.
curl -sf -o /dev/null "http://127.0.0.1:$MOTO_PORT/?Action=DescribeRegions&Version=2016-11-15" \
  -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20200101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x' || true

cat > "$BENCH_TMP/ebs.json" <<JSON
{
  "variables": {"run": ""},
  "builders": [{
    "type": "amazon-ebs",
    "region": "us-east-1", "custom_endpoint_ec2": "http://127.0.0.1:$PROXY_PORT",
    "skip_credential_validation": true, "skip_metadata_api_check": true, "skip_region_validation": true,
    "source_ami_filter": {"filters": {"name": "ubuntu/images/*ubuntu-focal-20.04-amd64-server-*",
       "root-device-type": "ebs", "virtualization-type": "hvm"}, "owners": ["099720109477"], "most_recent": true},
    "instance_type": "t2.micro", "ami_name": "bench-{{user \`run\`}}",
    "ami_regions": ["us-west-2"], "ami_users": ["111122223333"], "tags": {"Base_AMI_Name": "{{ .SourceAMIName }}"},
    "communicator": "none"
  }]
}
JSON
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION

echo "# $("$PACKER" version | head -1); kiln: $KILN; moto $("$(dirname "$MOTO_SERVER")/python" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')"
echo "# load1/5/15 at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# Runs one build: TOOL RUN; prints "SECONDS CALLS", or FAIL.
run() {
  local tool=$1 i=$2 log="$BENCH_TMP/$1-$2.log" calls="$BENCH_TMP/$1-$2.calls" t0 t1 rc bin
  : > "$calls"
  echo "$calls" > "$BENCH_TMP/current"
  t0=$(date +%s.%N)
  set +e
  if [ "$tool" = packer ]; then
    (cd "$BENCH_TMP" && "$PACKER" build -color=false -var "run=$tool-$i" ebs.json) > "$log" 2>&1
  else
    # kiln's debug log has each AWS call with its duration (the time spent waiting for moto).
    (cd "$BENCH_TMP" && PACKER_LOG=1 PACKER_LOG_PATH="$BENCH_TMP/kiln-$i.debug" \
      "$KILN" build -color=false -var "run=$tool-$i" ebs.json) > "$log" 2>&1
  fi
  rc=$?
  set -e
  t1=$(date +%s.%N)
  echo "$BENCH_TMP/none.calls" > "$BENCH_TMP/current"
  if [ "$rc" != 0 ]; then
    echo "FAIL"
    echo "$tool run $i failed (exit $rc); tail of $log:" >&2
    tail -5 "$log" >&2
    return
  fi
  awk -v a="$t0" -v b="$t1" -v n="$(wc -l < "$calls")" 'BEGIN { printf "%.2f %d", b - a, n }'
}

K=() PK=() KC=0 PC=0
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then order="kiln packer"; else order="packer kiln"; fi
  for tool in $order; do
    r=$(run "$tool" "$i")
    if [ "$r" = FAIL ]; then printf 'run %d %-6s FAIL\n' "$i" "$tool"; continue; fi
    set -- $r
    printf 'run %d %-6s %s s, %d EC2 calls\n' "$i" "$tool" "$1" "$2"
    if [ "$tool" = kiln ]; then K+=("$1"); KC=$2; else PK+=("$1"); PC=$2; fi
  done
done

mk=$(median "${K[@]}") mp=$(median "${PK[@]}")
echo "median kiln   $mk s (${#K[@]} runs), $KC EC2 calls"
echo "median packer $mp s (${#PK[@]} runs), $PC EC2 calls"
if [ "$mk" != NA ] && [ "$mp" != NA ]; then
  ratio_line "$mk" "$mp" 0.50
  echo "EC2 calls kiln/packer: $KC/$PC ($([ "$KC" -le "$PC" ] && echo "no more than Packer" || echo "MORE than Packer"))"
fi
echo "# kiln's last run waited $(sed -n 's/.*aws: .* took \([0-9]*\) ms.*/\1/p' "$BENCH_TMP/kiln-$RUNS.debug" 2>/dev/null \
  | awk '{ s += $1 } END { print s + 0 }') ms in total for moto's answers (from its debug log)"
echo "# call sequences of the last runs (kiln | packer):"
paste -d'|' <(nl -w2 -s' ' "$BENCH_TMP/kiln-$RUNS.calls" 2>/dev/null | awk '{ printf "%-40s\n", $0 }') \
  <(nl -w2 -s' ' "$BENCH_TMP/packer-$RUNS.calls" 2>/dev/null) | sed 's/^/#   /'
echo "# logs: $BENCH_TMP/{kiln,packer}-N.{log,calls}"
