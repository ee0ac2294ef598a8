#!/bin/sh
# Install the Debian packages seqcls needs to build and test, when they
# are missing.  As root it runs apt-get; otherwise it prints the command.
# Usage: tools/ensure-deps.sh [extra-package ...]
set -e
pkgs="make gcc libc6-dev pkg-config libopenblas-dev libblis-dev check valgrind python3 python3-numpy python3-torch python3-pytest $*"
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# commands that may come from elsewhere (rustup's cargo): the Debian
# package only when the command is nowhere to be found
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || missing="$missing cargo"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "seqcls: installing missing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "seqcls: missing Debian packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
