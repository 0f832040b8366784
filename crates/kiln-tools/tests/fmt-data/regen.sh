#!/bin/sh
# Regenerates the golden outputs from the installed `packer` (1.6.6): NAME.out.hcl is what
# `packer fmt` makes of NAME.in.hcl; NAME.err marks an input that `packer fmt` refuses.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in *.in.hcl; do
  name=${f%.in.hcl}
  rm -f "$name.out.hcl" "$name.err"
  cp "$f" "$tmp/$name.pkr.hcl"
  if packer fmt "$tmp/$name.pkr.hcl" >"$tmp/log" 2>&1; then
    cp "$tmp/$name.pkr.hcl" "$name.out.hcl"
  else
    sed "s#$tmp/##g" "$tmp/log" >"$name.err"
  fi
done
