#!/bin/sh
# Install the Debian packages a make target needs, when they are missing.
# As root it runs apt-get; otherwise it prints the command to run.
#
# Usage: tools/ensure-deps.sh [--for build|check|demo] [extra-package ...]
#   build   what `make` needs: make, gcc, pkg-config, OpenBLAS
#   check   (the default) build, and what `make check` runs: BLIS, Check,
#           valgrind, g++, cargo, Python 3 with numpy, PyTorch (the parity
#           tests), pytest, venv, setuptools and wheel (the pip install test),
#           Open MPI and procps (make check-mpi: mpirun, pgrep)
#   demo    build, and what `make demo` runs: Python 3 (the data preparation
#           uses its standard library only), npm (fetches the corpus) and
#           fastText (the peer in the demo's table)
set -e
profile=check
if [ "$1" = "--for" ]; then
    profile=$2
    shift 2
fi
build="make gcc libc6-dev pkg-config libopenblas-dev"
case $profile in
build) pkgs="$build" ;;
check) pkgs="$build libblis-dev check valgrind python3 python3-numpy python3-torch python3-pytest
             python3-venv python3-setuptools python3-wheel libopenmpi-dev openmpi-bin procps" ;;
demo)  pkgs="$build python3 fasttext" ;;
*)     echo "ensure-deps.sh: --for build, check or demo, not '$profile'" >&2; exit 2 ;;
esac
pkgs="$pkgs $*"
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# commands that may come from elsewhere (rustup's cargo, NodeSource's npm):
# the Debian package only when the command is nowhere to be found
case $profile in
check)
    command -v g++ >/dev/null 2>&1 || missing="$missing g++"
    command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || missing="$missing cargo" ;;
demo)
    command -v npm >/dev/null 2>&1 || missing="$missing npm" ;;
esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "seqcls: installing missing Debian packages for make $profile:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "seqcls: missing Debian packages for make $profile; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
