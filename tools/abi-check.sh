#!/bin/sh
# Compare the built library's ABI with the committed baseline of its major
# version (abi/libseqcls.so.MAJOR.abi).  Added functions are fine; a removed
# or changed function or variable fails.  With --update, rewrite the
# baseline instead (do that only when adding to the ABI, or for a new major).
# Usage: tools/abi-check.sh LIBRARY MAJOR [--update]
set -eu
lib=$1
major=$2
baseline=abi/libseqcls.so.$major.abi
command -v abidiff >/dev/null || { echo "abi-check: abidiff missing (apt-get install abigail-tools)" >&2; exit 2; }
if [ "${3:-}" = --update ]; then
    mkdir -p abi
    abidw --headers-dir include --no-corpus-path --out-file "$baseline" "$lib"
    echo "abi-check: wrote $baseline"
    exit 0
fi
if [ ! -f "$baseline" ]; then
    echo "abi-check: no baseline $baseline for major version $major: a new major version starts one with --update" >&2
    exit 1
fi
set +e
report=$(abidiff --headers-dir2 include --no-added-syms "$baseline" "$lib" 2>&1)
rc=$?
set -e
summary=$(printf '%s\n' "$report" | grep -E "changes summary" || true)
printf '%s\n' "$summary"
# abidiff's status: bit 1 error, bit 2 usage, bit 4 ABI change, bit 8 incompatible change
if [ $((rc & 3)) -ne 0 ]; then
    printf '%s\n' "$report" >&2
    echo "abi-check: abidiff failed (status $rc)" >&2
    exit 1
fi
if [ $((rc & 12)) -ne 0 ] && printf '%s\n' "$summary" | grep -Eq "[1-9][0-9]* (Removed|Changed)"; then
    printf '%s\n' "$report" >&2
    echo "abi-check: incompatible ABI change within major version $major" >&2
    exit 1
fi
echo "abi-check: compatible with $baseline"
