#!/usr/bin/env bash
# Re-records crates/kiln-template/tests/data/numbers_packer_1_6_6.txt: the expected value of
# every `>>> expr` line is what Packer 1.6.6's `packer console` prints for it (errors as
# `!error summary | detail`). Needs `packer` 1.6.6 on PATH. To add a case, add a `>>> expr`
# line to the file and run this script.
set -euo pipefail
file="$(dirname "$0")/../crates/kiln-template/tests/data/numbers_packer_1_6_6.txt"
packer version | grep -q 'v1\.6\.6' || { echo "needs Packer 1.6.6 on PATH" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
    sed -n '/^>>> /!p;/^>>> /q' "$file" # the header comment before the first case
    grep '^>>> ' "$file" | while IFS= read -r line; do
        expr=${line#>>> }
        printf '%s\n' "$line"
        out=$(cd "$dir" && printf '%s\n' "$expr" | packer console -config-type=hcl2 2>&1 || true)
        if grep -q '^Error: ' <<<"$out"; then
            summary=$(sed -n 's/^Error: //p' <<<"$out" | head -n1)
            detail=$(sed -n '/source code not available/,$p' <<<"$out" | tail -n +2 | sed 's/^ *//;s/ *$//' | grep -v '^$' | paste -sd' ')
            printf '!error %s | %s\n' "$summary" "$detail"
        else
            sed '/^$/d' <<<"$out"
        fi
    done
} >"$dir/out"
mv "$dir/out" "$file"
