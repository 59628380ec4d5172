#!/usr/bin/env bash
# The test command: sets up the pinned venvs and jars if needed, then runs the whole suite.
#   ./test.sh                 everything: lakeml's suite on LAKEML_TEST_WORKERS (default 2) pytest-xdist
#                             workers, one test file per worker at a time, then the Airflow suite in its own venv
#   ./test.sh tests/unit -x   any pytest arguments (tests/airflow/... paths run in the Airflow venv)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/local.sh
source "$ROOT/bootstrap/local.sh"
# shellcheck source=bootstrap/airflow.sh
source "$ROOT/bootstrap/airflow.sh"
lakeml_setup || exit 1
cd "$ROOT" || exit 1
export SPARK_LOCAL_IP=127.0.0.1

airflow_suite() {
  lakeml_setup_airflow || return 1
  "$LAKEML_AIRFLOW_VENV/bin/python" -m pytest "$@"
}

case "${1:-}" in
  tests/airflow*) airflow_suite "$@"; exit $? ;;
esac
if [ $# -eq 0 ]; then
  # files in collection order (integration/ and nightly/, the heaviest, first): xdist's default reorder
  # would start the files with the most tests first and leave the few-test, minutes-long ones to the end
  "$LAKEML_VENV/bin/python" -m pytest -n "${LAKEML_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder
else
  "$LAKEML_VENV/bin/python" -m pytest "$@"
fi
status=$?
if [ $# -eq 0 ]; then
  airflow_suite tests/airflow
  airflow_status=$?
  [ "$status" -eq 0 ] && status=$airflow_status
fi
exit "$status"
