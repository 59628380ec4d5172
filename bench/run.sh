#!/usr/bin/env bash
# Run one benchmark with the pinned venv and jars:  bench/run.sh delta_write [args]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bootstrap/local.sh"
lakeml_setup || exit 1
export LAKEML_TARGET=local SPARK_LOCAL_IP=127.0.0.1
name="$1"; shift
# as a module from the root: run as a script, bench/ would come first on sys.path and bench/profile.py
# would shadow the standard library's profile module (pyspark imports cProfile, which imports it)
cd "$ROOT" || exit 1
exec "$LAKEML_VENV/bin/python" -m "bench.$name" "$@"
