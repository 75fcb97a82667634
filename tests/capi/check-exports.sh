#!/usr/bin/env bash
# Checks that a shared library exports only cff_* symbols (defined, dynamic) and that it exports
# every function declared in cff.h.  Usage: check-exports.sh LIBRARY HEADER
set -euo pipefail
lib=$1 header=$2
defined=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
bad=$(grep -v '^cff_' <<<"$defined" || true)
if [ -n "$bad" ]; then
  echo "symbols outside cff_* exported by $lib:"; echo "$bad"; exit 1
fi
declared=$(grep -oE 'CFF_API [^(]*\b(cff_[a-z0-9_]+)\(' "$header" | grep -oE 'cff_[a-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$defined"))
if [ -n "$missing" ]; then
  echo "declared in cff.h but not exported:"; echo "$missing"; exit 1
fi
extra=$(comm -13 <(echo "$declared") <(echo "$defined"))
if [ -n "$extra" ]; then
  echo "exported but not declared in cff.h:"; echo "$extra"; exit 1
fi
echo "$(wc -l <<<"$defined") symbols, all cff_*, all declared in cff.h"
