#!/usr/bin/env bash
# The test command: sets up the pinned venvs and jars if needed, then runs the whole suite.
#   ./test.sh                 everything: lakeml's suite on LAKEML_TEST_WORKERS (default 2) pytest-xdist
#                             workers, one test file per worker at a time, and beside it the Airflow suite in
#                             its own venv
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
if [ $# -ne 0 ]; then
  "$LAKEML_VENV/bin/python" -m pytest "$@"
  exit $?
fi
# the Airflow suite runs beside lakeml's (its nights are one spark-submit at a time, so it leaves CPU over);
# its output is shown once lakeml's suite has ended
airflow_log="$(mktemp "${TMPDIR:-/tmp}/lakeml-airflow-suite.XXXXXX")"
airflow_suite tests/airflow >"$airflow_log" 2>&1 &
airflow_pid=$!
# files in collection order (integration/ and nightly/, the heaviest, first): xdist's default reorder
# would start the files with the most tests first and leave the few-test, minutes-long ones to the end
"$LAKEML_VENV/bin/python" -m pytest -n "${LAKEML_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder
status=$?
wait "$airflow_pid"
airflow_status=$?
echo "==== the Airflow suite (tests/airflow, in its own venv, run beside the suite above) ===="
cat "$airflow_log"
rm -f "$airflow_log"
[ "$status" -eq 0 ] && status=$airflow_status
exit "$status"
