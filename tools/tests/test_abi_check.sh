#!/bin/sh
# The ABI guard catches what it is meant to: the library's objects are
# relinked in a temporary directory with deliberately bad version scripts
# (a 1.0 function moved to SEQCLS_1.1, a new function in SEQCLS_1.0, a
# wildcard, a leaked non-seqcls_ symbol, no version script, ...) and
# tools/abi-check.sh must fail on each with the expected reason; with the
# real src/libseqcls.map, and with a new function put rightly in
# SEQCLS_1.1, it must pass.  A couple of seconds; run by `make check` and
# `make abi-check` (mk/abi.mk).  Skipped when abidiff is missing.
#
# Usage: CC=gcc LIBS="-lopenblas -lm -lpthread" tools/tests/test_abi_check.sh OBJECT...
set -eu
export LC_ALL=C
root=$(cd "$(dirname "$0")/../.." && pwd)
check=$root/tools/abi-check.sh
map=$root/src/libseqcls.map
CC=${CC:-cc}
LIBS=${LIBS:--lopenblas -lm -lpthread}
if ! command -v abidiff >/dev/null; then
    echo "test_abi_check: skipped, abidiff missing (apt-get install abigail-tools)"
    exit 0
fi
[ $# -gt 0 ] || { echo "usage: CC=... LIBS=... $0 OBJECT..." >&2; exit 2; }
[ -s "$root/abi/symbols-1.0.txt" ] || { echo "test_abi_check: no abi/symbols-1.0.txt" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Two functions a contributor might add: a seqcls_ one and a stray one.
cat > "$tmp/extra.c" <<'EOF'
__attribute__((visibility("default"))) int seqcls_abi_test_added(void) { return 1; }
__attribute__((visibility("default"))) int abi_test_leak(void) { return 2; }
EOF
$CC -fPIC -fvisibility=hidden -c -o "$tmp/extra.o" "$tmp/extra.c"

passed=0
failed=0
n=0
# link NAME MAP|- EXTRA: build $tmp/NAME/libseqcls.so.1 from the objects,
# with the version script MAP (- for none), and with extra.o if EXTRA is
# not empty
link() {
    mkdir -p "$tmp/$1"
    vs=
    [ "$2" = - ] || vs="-Wl,--version-script=$2"
    # shellcheck disable=SC2086
    $CC -shared -Wl,-soname,libseqcls.so.1 $vs -Wl,--no-undefined -o "$tmp/$1/libseqcls.so.1" \
        ${3:+"$tmp/extra.o"} $OBJS_ $LIBS
}
# expect NAME STATUS MAP [TEXT...]: abi-check on $tmp/NAME exits STATUS
# (0 or 1) and says every TEXT on stderr
expect() {
    name=$1 want=$2 m=$3
    shift 3
    n=$((n + 1))
    set +e
    ABI_CHECK_MAP=$m sh "$check" "$tmp/$name/libseqcls.so.1" 1 > "$tmp/$name/out" 2> "$tmp/$name/err"
    rc=$?
    set -e
    ok=1
    [ $rc -eq "$want" ] || { ok=0; echo "not ok $n - $name: abi-check exited $rc, expected $want"; }
    for text in "$@"; do
        grep -Fq -- "$text" "$tmp/$name/err" || { ok=0; echo "not ok $n - $name: no \"$text\" in abi-check's messages"; }
    done
    if [ $ok -eq 1 ]; then
        passed=$((passed + 1))
        echo "ok $n - $name${1:+: $(grep -F -- "$1" "$tmp/$name/err" | head -n 1)}"
    else
        failed=$((failed + 1))
        sed 's/^/    # /' "$tmp/$name/err" | grep -v '^    # *$' | tail -n 20
    fi
}
OBJS_="$*"

# A map made from the real one by a sed script; in1_1 NAME: a sed script
# that lists NAME first in the SEQCLS_1.1 node's global list.
mkmap() { sed "$2" "$map" > "$tmp/$1.map"; }
in1_1() { printf '/^SEQCLS_1\\.1 {$/{n; s/$/\\n    %s;/;}' "$1"; }

# 1. the real map (the library as built by the Makefile)
link real "$map" ""
expect real 0 "$map"

# 2. a new function put rightly into SEQCLS_1.1: accepted
mkmap added_1_1 "$(in1_1 seqcls_abi_test_added)"
link added_1_1 "$tmp/added_1_1.map" x
expect added_1_1 0 "$tmp/added_1_1.map"

# 3. a 1.0 function moved to SEQCLS_1.1
mkmap moved "/^    seqcls_zero_grad;\$/d; $(in1_1 seqcls_zero_grad)"
link moved "$tmp/moved.map" ""
expect moved 1 "$tmp/moved.map" \
    "seqcls_zero_grad is exported as seqcls_zero_grad@@SEQCLS_1.1, not seqcls_zero_grad@@SEQCLS_1.0" \
    "incompatible ABI change within major version 1" \
    "seqcls_zero_grad (in symbols-1.0.txt) is not listed in SEQCLS_1.0"

# 4. a new function put into SEQCLS_1.0
mkmap new_in_1_0 's/^    seqcls_zero_grad;$/&\n    seqcls_abi_test_added;/'
link new_in_1_0 "$tmp/new_in_1_0.map" x
expect new_in_1_0 1 "$tmp/new_in_1_0.map" \
    "seqcls_abi_test_added is exported in SEQCLS_1.0 but is not in symbols-1.0.txt" \
    "seqcls_abi_test_added is listed in SEQCLS_1.0 but is not in symbols-1.0.txt"

# 5. the same before the function exists: only the map shows it
link new_in_1_0_map "$tmp/new_in_1_0.map" ""
expect new_in_1_0_map 1 "$tmp/new_in_1_0.map" \
    "seqcls_abi_test_added is listed in SEQCLS_1.0 but is not in symbols-1.0.txt"

# 6. a wildcard in a global list (as the 1.0 map had)
mkmap wildcard "$(in1_1 'seqcls_abi_*')"
link wildcard "$tmp/wildcard.map" x
expect wildcard 1 "$tmp/wildcard.map" \
    "wildcard seqcls_abi_* in the global list of SEQCLS_1.1"

# 7. a symbol that is not seqcls_ exported
mkmap leak "$(in1_1 abi_test_leak)"
link leak "$tmp/leak.map" x
expect leak 1 "$tmp/leak.map" \
    "abi_test_leak is exported (version SEQCLS_1.1): only seqcls_ functions are"

# 8. no version script at all: unversioned exports
link unversioned - ""
expect unversioned 1 "$map" \
    "seqcls_zero_grad is exported without a version node" \
    "seqcls_zero_grad is exported as seqcls_zero_grad (no version), not seqcls_zero_grad@@SEQCLS_1.0"

# 9. a 1.0 function dropped from the map (no longer exported)
mkmap removed '/^    seqcls_zero_grad;$/d'
link removed "$tmp/removed.map" ""
expect removed 1 "$tmp/removed.map" \
    "seqcls_zero_grad (in symbols-1.0.txt) is not exported" \
    "seqcls_zero_grad is declared SEQCLS_API in include/seqcls.h but not exported" \
    "incompatible ABI change within major version 1"

# 10. a node that is not SEQCLS_1.N
mkmap badnode "$(in1_1 seqcls_abi_test_added)"
sed -i 's/^SEQCLS_1\.1 {$/SEQCLS_2.0 {/' "$tmp/badnode.map"
link badnode "$tmp/badnode.map" x
expect badnode 1 "$tmp/badnode.map" \
    "version node SEQCLS_2.0 is not of the form SEQCLS_1.N" \
    "seqcls_abi_test_added is exported with version SEQCLS_2.0, not SEQCLS_1.N"

# 11. a name in two nodes
mkmap twice "$(in1_1 seqcls_version)"
link twice "$tmp/twice.map" "" 2>/dev/null || true
if [ -f "$tmp/twice/libseqcls.so.1" ]; then
    expect twice 1 "$tmp/twice.map" "seqcls_version is listed in more than one node"
fi

echo "test_abi_check: $passed passed, $failed failed"
[ $failed -eq 0 ]
