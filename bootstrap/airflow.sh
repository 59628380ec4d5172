#!/usr/bin/env bash
# The Airflow venv for dags/ and tests/airflow/: Airflow 3 and the Amazon provider, apart from lakeml's
# runtime venv so neither moves the other's pins.
#
# Source it and call `lakeml_setup_airflow`; afterwards LAKEML_AIRFLOW_VENV names a ready venv. It lives in
# the same cache as the main venv (LAKEML_CACHE, default ~/.cache/lakeml), keyed by the hash of
# bootstrap/airflow/{requirements,constraints}.txt and the Python version, and counts as ready only once
# its `.ready` stamp exists.

LAKEML_ROOT="${LAKEML_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

lakeml_setup_airflow() {
  local reqs="$LAKEML_ROOT/bootstrap/airflow/requirements.txt"
  local constraints="$LAKEML_ROOT/bootstrap/airflow/constraints.txt"
  local python="${LAKEML_PYTHON:-python3.11}"
  local cache="${LAKEML_CACHE:-$HOME/.cache/lakeml}"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "lakeml setup: ERROR: no '$python' on PATH; the Airflow venv needs Python 3.11. Install it or set LAKEML_PYTHON." >&2
    return 1
  fi
  local key dir
  key="$( (cat "$reqs" "$constraints"; "$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') | sha256sum | cut -c1-12)"
  dir="$cache/airflow-$key"
  if [ -f "$dir/.ready" ] && "$dir/bin/python" -c 'import airflow.providers.amazon' >/dev/null 2>&1; then
    LAKEML_AIRFLOW_VENV="$dir"
    return 0
  fi
  echo "lakeml setup: building the Airflow venv $dir (first time: a few minutes)" >&2
  mkdir -p "$cache" && rm -rf "$dir"
  "$python" -m venv "$dir" || { echo "lakeml setup: ERROR: could not create a venv with $python" >&2; return 1; }
  if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs" -c "$constraints" >"$dir/pip.log" 2>&1; then
    tail -5 "$dir/pip.log" >&2
    echo "lakeml setup: ERROR: pip could not install bootstrap/airflow/requirements.txt; check the network or your pip index, then run again." >&2
    return 1
  fi
  touch "$dir/.ready"
  LAKEML_AIRFLOW_VENV="$dir"
}
