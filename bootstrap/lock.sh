#!/usr/bin/env bash
# Compile the EMR nodes' dependency locks: bootstrap/lock/py<3.9|3.11>-<x86_64|aarch64>.txt.
#
#   bootstrap/lock.sh            (needs the lakeml venv's uv and PyPI)
#
# Input: bootstrap/lock/requirements-emr.in (what core/, jobs/, features/ and ml/ import at run time;
# Spark, py4j and Delta come with EMR). Every lock pins the whole tree with the SHA-256 of
# every wheel of each pinned version, wheels only, for manylinux_2_28 (Amazon Linux 2023 has
# glibc 2.34, so it takes them). The Python 3.11 locks are held to the versions of the local
# venv (the versions the suite runs), so what EMR installs is what was tested; Python 3.9 gets
# the newest versions the .in allows that still support it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK_DIR="$ROOT/bootstrap/lock"
VENV="${LAKEML_VENV:-$ROOT/.venv}"
UV="$VENV/bin/uv"
[ -x "$UV" ] || { echo "lock.sh: no uv in $VENV; run ./test.sh or bootstrap/local.sh first" >&2; exit 1; }

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
"$UV" pip freeze --python "$VENV/bin/python" >"$constraints"

for py in 3.9 3.11; do
  for arch in x86_64 aarch64; do
    extra=()
    [ "$py" = "3.11" ] && extra=(--constraint "$constraints")
    "$UV" pip compile "$LOCK_DIR/requirements-emr.in" "${extra[@]}" \
      --python-version "$py" --python-platform "$arch-manylinux_2_28" \
      --generate-hashes --only-binary :all: --no-header --no-annotate --quiet \
      --output-file "$LOCK_DIR/py$py-$arch.txt.tmp"
    {
      echo "# lakeml EMR node dependencies for Python $py on manylinux $arch, compiled by bootstrap/lock.sh"
      echo "# from bootstrap/lock/requirements-emr.in; install: pip install --require-hashes --only-binary=:all: -r THIS"
      cat "$LOCK_DIR/py$py-$arch.txt.tmp"
    } >"$LOCK_DIR/py$py-$arch.txt"
    rm -f "$LOCK_DIR/py$py-$arch.txt.tmp"
    echo "lock.sh: $LOCK_DIR/py$py-$arch.txt ($(grep -c '==' "$LOCK_DIR/py$py-$arch.txt") packages)"
  done
done
