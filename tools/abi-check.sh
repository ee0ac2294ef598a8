#!/bin/sh
# The ABI guard of a major version (docs/abi.md), run by `make abi-check`.
#
# 1. abidiff against the committed baseline abi/libseqcls.so.MAJOR.abi:
#    added functions are fine; a removed or changed function or variable
#    fails (so does a function that moved to another version node: abidiff
#    sees seqcls_x@@SEQCLS_1.0 removed).
# 2. The version nodes, read from the built library (readelf --dyn-syms):
#    a. every name of abi/symbols-MAJOR.0.txt is exported as
#       name@@SEQCLS_MAJOR.0, exactly;
#    b. no other exported symbol carries SEQCLS_MAJOR.0;
#    c. every exported symbol is a seqcls_ name with a version of the form
#       SEQCLS_MAJOR.N (no unversioned export, nothing leaked by a
#       wildcard), and every version the library defines has that form;
#    f. every function include/seqcls.h declares with SEQCLS_API is
#       exported (a name forgotten in the map would be hidden).
# 3. The version script (src/libseqcls.map, or $ABI_CHECK_MAP):
#    d. no wildcard (* ? [) in a global list;
#    e. its SEQCLS_MAJOR.0 node lists exactly abi/symbols-MAJOR.0.txt, and
#       no name is in two nodes (a name listed before it is implemented is
#       caught here, not only once it is built).
# Every failure prints one line "abi-check: ..." on stderr; the status is 1
# if any failed.
#
# With --update, rewrite the abidiff baseline instead (do that only when
# adding to the ABI, or for a new major).  abi/symbols-MAJOR.0.txt is never
# regenerated: it is the frozen list of the first release of the major.
#
# Usage: tools/abi-check.sh LIBRARY MAJOR [--update]
set -eu
export LC_ALL=C
lib=$1
major=$2
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=$root/abi/libseqcls.so.$major.abi
symbols=$root/abi/symbols-$major.0.txt
map=${ABI_CHECK_MAP:-$root/src/libseqcls.map}
node0=SEQCLS_$major.0
command -v abidiff >/dev/null || { echo "abi-check: abidiff missing (apt-get install abigail-tools)" >&2; exit 2; }
command -v readelf >/dev/null || { echo "abi-check: readelf missing (apt-get install binutils)" >&2; exit 2; }
[ -f "$lib" ] || { echo "abi-check: no library $lib" >&2; exit 2; }
if [ "${3:-}" = --update ]; then
    mkdir -p "$root/abi"
    abidw --headers-dir "$root/include" --no-corpus-path --out-file "$baseline" "$lib"
    echo "abi-check: wrote $baseline"
    exit 0
fi
for f in "$baseline" "$symbols"; do
    if [ ! -f "$f" ]; then
        echo "abi-check: no $f for major version $major (a new major version starts both)" >&2
        exit 1
    fi
done
[ -f "$map" ] || { echo "abi-check: no version script $map" >&2; exit 1; }

failed=0
fail() {
    echo "abi-check: $*" >&2
    failed=1
}

# ---- 1. abidiff against the baseline ----
set +e
report=$(abidiff --headers-dir2 "$root/include" --no-added-syms "$baseline" "$lib" 2>&1)
rc=$?
set -e
summary=$(printf '%s\n' "$report" | grep -E "changes summary" || true)
printf '%s\n' "$summary"
# abidiff's status: bit 1 error, bit 2 usage, bit 4 ABI change, bit 8 incompatible change
if [ $((rc & 3)) -ne 0 ]; then
    printf '%s\n' "$report" >&2
    fail "abidiff failed (status $rc)"
elif [ $((rc & 12)) -ne 0 ] && printf '%s\n' "$summary" | grep -Eq "[1-9][0-9]* (Removed|Changed)"; then
    printf '%s\n' "$report" >&2
    fail "incompatible ABI change within major version $major: a function or variable of $(basename "$baseline") was removed, changed or moved to another version node"
fi

# ---- 2. the version nodes of the built library ----
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^[[:space:]]*$' "$symbols" | sort -u > "$tmp/want0"

# The versions the library defines (.gnu.version_d), less the BASE entry
# (the SONAME).
readelf -V -W "$lib" | awk '
    /^Version definition section/ { d = 1; next }
    /^Version (needs|symbols) section/ { d = 0 }
    d && / Name: / && !/Flags: BASE/ { for (i = 1; i < NF; i++) if ($i == "Name:") print $(i + 1) }
' | sort -u > "$tmp/verdefs"
while read -r v; do
    expr "$v" : "SEQCLS_$major\.[0-9][0-9]*\$" >/dev/null \
        || fail "version node $v is not of the form SEQCLS_$major.N"
done < "$tmp/verdefs"

# Defined global symbols: "name version" ("name -" when unversioned).
# readelf prints name@@VER for a default version, name@VER for a hidden one.
# The version definitions themselves appear as ABS symbols named after
# the node; they are left out.
readelf --dyn-syms -W "$lib" | awk -v defs="$tmp/verdefs" '
    BEGIN { while ((getline v < defs) > 0) isdef[v] = 1 }
    $1 ~ /^[0-9]+:$/ && $7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK" || $5 == "UNIQUE") {
        name = $8; ver = "-"
        if ((i = index(name, "@")) > 0) {
            ver = substr(name, i); name = substr(name, 1, i - 1)
        }
        if ($7 == "ABS" && name in isdef) next
        print name, ver
    }
' | sort -u > "$tmp/exports"

# a. every 1.0 name, with SEQCLS_MAJOR.0 as its default version
while read -r s; do
    got=$(awk -v s="$s" '$1 == s { printf "%s%s", sep, ($2 == "-" ? " (no version)" : $2); sep = " " }' "$tmp/exports")
    if [ -z "$got" ]; then
        fail "$s (in $(basename "$symbols")) is not exported"
    elif ! printf '%s\n' $got | grep -Fqx "@@$node0"; then
        fail "$s is exported as $s$got, not $s@@$node0: a $node0 name never moves to another node"
    fi
done < "$tmp/want0"
# b. nothing else in SEQCLS_MAJOR.0
awk -v v0="$node0" '$2 == "@@" v0 || $2 == "@" v0 { print $1 }' "$tmp/exports" \
    | sort -u | comm -23 - "$tmp/want0" | while read -r s; do
        echo "abi-check: $s is exported in $node0 but is not in $(basename "$symbols"): a new function goes into the node of the release that adds it" >&2
        echo x
    done > "$tmp/extra0"
[ -s "$tmp/extra0" ] && failed=1
# c. only seqcls_ names, each with a SEQCLS_MAJOR.N version
while read -r s v; do
    v=${v#@}; v=${v#@}
    case $s in
        seqcls_*) ;;
        *) fail "$s is exported (version $v): only seqcls_ functions are, each listed by name in the version script"; continue ;;
    esac
    if [ "$v" = - ]; then
        fail "$s is exported without a version node (is the library linked with --version-script=src/libseqcls.map?)"
    elif ! expr "$v" : "SEQCLS_$major\.[0-9][0-9]*\$" >/dev/null; then
        fail "$s is exported with version $v, not SEQCLS_$major.N"
    fi
done < "$tmp/exports"

# ---- 3. the version script ----
# Tokens without the comments; then, node by node, the names of the global
# lists (a list is global until "local:", as in GNU ld) as "node name".
awk '
    { text = text $0 "\n" }
    END {
        while ((i = index(text, "/*")) > 0) {
            rest = substr(text, i + 2); j = index(rest, "*/")
            text = substr(text, 1, i - 1) " " (j ? substr(rest, j + 2) : "")
        }
        gsub(/[{};]/, " & ", text); gsub(/[ \t\n]*:/, ": ", text)
        n = split(text, t, /[ \t\n]+/)
        depth = 0; node = ""; scope = ""
        for (k = 1; k <= n; k++) {
            w = t[k]
            if (w == "") continue
            if (w == "{") { if (depth++ == 0) scope = "global"; continue }
            if (w == "}") { if (--depth == 0) node = ""; continue }
            if (w == ";") continue
            if (depth == 0) { if (node == "" && t[k + 1] == "{") node = w; continue }
            if (w == "global:" || w == "local:") { scope = substr(w, 1, length(w) - 1); continue }
            if (scope == "global") print node, w
        }
    }
' "$map" > "$tmp/mapnames"
# d. no wildcard in a global list
awk '$2 ~ /[*?[]/ { print $1, $2 }' "$tmp/mapnames" | while read -r n w; do
    echo "abi-check: $(basename "$map"): wildcard $w in the global list of $n: every function is listed by name" >&2
    echo x
done > "$tmp/wild"
[ -s "$tmp/wild" ] && failed=1
# e. the SEQCLS_MAJOR.0 node is the frozen list; a name is in one node
awk -v v0="$node0" '$1 == v0 { print $2 }' "$tmp/mapnames" | sort -u > "$tmp/map0"
grep -q "^$node0 " "$tmp/mapnames" || fail "$(basename "$map") has no $node0 node with a global list"
comm -13 "$tmp/want0" "$tmp/map0" | while read -r s; do
    echo "abi-check: $(basename "$map"): $s is listed in $node0 but is not in $(basename "$symbols")" >&2
    echo x
done > "$tmp/map_extra"
comm -23 "$tmp/want0" "$tmp/map0" | while read -r s; do
    echo "abi-check: $(basename "$map"): $s (in $(basename "$symbols")) is not listed in $node0" >&2
    echo x
done > "$tmp/map_missing"
awk '{ print $2 }' "$tmp/mapnames" | sort | uniq -d | while read -r s; do
    echo "abi-check: $(basename "$map"): $s is listed in more than one node" >&2
    echo x
done > "$tmp/map_dup"
[ -s "$tmp/map_extra" ] || [ -s "$tmp/map_missing" ] || [ -s "$tmp/map_dup" ] && failed=1

# ---- 2f. back to the library, now that the map is read ----
# Every function the header declares with SEQCLS_API is exported (one left
# out of the map is hidden by "local: *;").
header=$root/include/seqcls.h
sed -n 's/^.*SEQCLS_API[^;(]*[^a-z_0-9]\(seqcls_[a-z_0-9]*\)[[:space:]]*(.*$/\1/p' "$header" | sort -u > "$tmp/declared"
awk '{ print $1 }' "$tmp/exports" | sort -u | comm -23 "$tmp/declared" - | while read -r s; do
    n=$(awk -v s="$s" '$2 == s { print $1; exit }' "$tmp/mapnames")
    if [ -n "$n" ]; then
        echo "abi-check: $s is declared SEQCLS_API in include/seqcls.h and listed in $n, but not exported: is it defined (not static) in src/?" >&2
    else
        echo "abi-check: $s is declared SEQCLS_API in include/seqcls.h but not exported: list it in the node of its release in $(basename "$map")" >&2
    fi
    echo x
done > "$tmp/unexported"
[ -s "$tmp/unexported" ] && failed=1

if [ $failed -ne 0 ]; then
    exit 1
fi
echo "abi-check: compatible with $(basename "$baseline"); $(wc -l < "$tmp/want0") functions in $node0, $(wc -l < "$tmp/exports") exported, every one in a SEQCLS_$major.N node"
