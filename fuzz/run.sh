#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600) with seeds from the corpus and the
# seed templates when KILN_SHARED points at shared/. Needs the nightly toolchain and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
mkdir -p corpus/json_load corpus/hcl_load corpus/hcl_fmt corpus/vars corpus/hcl_eval
if [ -n "${KILN_SHARED:-}" ]; then
  find "$KILN_SHARED/corpus" "$KILN_SHARED/seed-templates" -name '*.json' -size -64k -exec cp -n {} corpus/json_load/ \; 2>/dev/null || true
  find "$KILN_SHARED/corpus" "$KILN_SHARED/seed-templates" -name '*.hcl' -size -64k -exec cp -n {} corpus/hcl_load/ \; 2>/dev/null || true
  cp -n corpus/hcl_load/* corpus/hcl_fmt/ 2>/dev/null || true
fi
for t in json_load hcl_load hcl_fmt vars hcl_eval; do
  echo "== fuzzing $t for ${secs}s"
  cargo +nightly fuzz run "$t" "$PWD/corpus/$t" -- -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=4096
done
