#!/usr/bin/env bash
# The test command: sets up the pinned venv and jars if needed, then runs the whole suite.
#   ./test.sh                 everything
#   ./test.sh tests/unit -x   any pytest arguments
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/local.sh
source "$ROOT/bootstrap/local.sh"
lakeml_setup || exit 1
cd "$ROOT" || exit 1
export SPARK_LOCAL_IP=127.0.0.1
exec "$LAKEML_VENV/bin/python" -m pytest "$@"
