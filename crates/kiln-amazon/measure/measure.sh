#!/bin/sh
# Clean builds of kiln-amazon and of the tiny programs, one at a time, in a fresh target
# directory; prints CPU time, max RSS and binary sizes. Takes 10-20 minutes on 2 cores.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(mktemp -d)}
export CARGO_TARGET_DIR="$out/target"
cp "$here/../../../Cargo.lock" "$here/Cargo.lock"
cd "$here/../../.."
for step in "build -p kiln-amazon" "build --release -p kiln-amazon"; do
    /usr/bin/time -f "$step: %e s wall, %U s user, %S s sys, %M KB max RSS" cargo $step -q
done
cd "$here"
for profile in dev release plain; do
    /usr/bin/time -f "tiny ($profile): %e s wall, %U s user, %M KB max RSS" cargo build -q --profile "$profile" --bins
done
rm -f "$here/Cargo.lock"
for dir in debug release plain; do
    ls -l "$CARGO_TARGET_DIR/$dir/base" "$CARGO_TARGET_DIR/$dir/aws" | awk '{print $5, $9}'
done
for b in base aws; do
    strip -o "$out/$b.stripped" "$CARGO_TARGET_DIR/plain/$b"
    ls -l "$out/$b.stripped" | awk '{print $5, $9}'
done
echo "uptime: $(uptime)"
