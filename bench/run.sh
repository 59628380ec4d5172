#!/usr/bin/env bash
# Run one benchmark with the pinned venv and jars:  bench/run.sh delta_write [args]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bootstrap/local.sh"
lakeml_setup || exit 1
export LAKEML_TARGET=local SPARK_LOCAL_IP=127.0.0.1
name="$1"; shift
exec "$LAKEML_VENV/bin/python" "$ROOT/bench/$name.py" "$@"
