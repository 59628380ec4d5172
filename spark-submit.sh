#!/usr/bin/env bash
# The one entry users type:  ./spark-submit.sh local|emr JOB [flags]
#
#   local  sets up the pinned venv and jars if needed (bootstrap/local.sh), then runs the job
#          through the pinned pyspark's spark-submit on local Spark.
#   emr    builds the versioned artifact, uploads it to S3 and runs the job as an EMR step
#          (deploy/launcher.py; `./spark-submit.sh emr --help` for its flags).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  cat <<USAGE
usage: ./spark-submit.sh local JOB [flags]    run JOB on local Spark (sets itself up)
       ./spark-submit.sh emr JOB [flags] (--cluster-id ID | --create) [--wait] [--dry-run]
                                              run JOB as an EMR step (--bucket NAME; see emr --help)
       ./spark-submit.sh emr JOB [flags] --target serverless --application-id ID [--wait]
       ./spark-submit.sh local JOB --help     the flags of JOB

environment: LAKEML_LAKE (default lake), LAKEML_S3_ENDPOINT (S3 API endpoint for s3:// paths),
             LAKEML_DRIVER_MEMORY (default 4g), LAKEML_CACHE (venv and jar cache, default ~/.cache/lakeml)
USAGE
  if command -v python3 >/dev/null 2>&1; then
    echo
    echo "jobs:"
    (cd "$ROOT" && python3 -c 'from jobs.main import JOBS
for name, (_, text) in JOBS.items(): print(f"  {name:<16} {text}")')
  fi
}

target="${1:-}"
case "$target" in
  local) shift ;;
  emr)
    shift
    # The launcher needs the venv (boto3, botocore's service models) and lakeml's JVM jar (it ships
    # in the artifact), not Spark's other jars.
    # shellcheck source=bootstrap/local.sh
    source "$ROOT/bootstrap/local.sh"
    LAKEML_CACHE="${LAKEML_CACHE:-$HOME/.cache/lakeml}"
    mkdir -p "$LAKEML_CACHE" || exit 1
    lakeml_check_prereqs || exit 1
    lakeml_setup_venv || exit 1
    lakeml_setup_jvm || exit 1
    export LAKEML_JVM_JAR
    cd "$ROOT" || exit 1
    PYTHONPATH="$ROOT" exec "$LAKEML_VENV/bin/python" -m deploy.launcher "$@" ;;
  -h|--help|"") usage; exit 2 ;;
  *) echo "spark-submit.sh: unknown target '$target'" >&2; usage >&2; exit 2 ;;
esac

job="${1:-}"
if [ -z "$job" ] || [ "$job" = "-h" ] || [ "$job" = "--help" ]; then usage; exit 2; fi
if ! (cd "$ROOT" && python3 -c 'import sys; from jobs.main import JOBS; sys.exit(0 if sys.argv[1] in JOBS else 1)' "$job") 2>/dev/null; then
  echo "spark-submit.sh: unknown job '$job'" >&2
  usage >&2
  exit 2
fi

# shellcheck source=bootstrap/local.sh
source "$ROOT/bootstrap/local.sh"
lakeml_setup || exit 1
export LAKEML_TARGET=local

PY="$LAKEML_VENV/bin/python"
# --help and argument errors are answered without starting a JVM.
for arg in "$@"; do
  if [ "$arg" = "-h" ] || [ "$arg" = "--help" ]; then exec "$PY" -m jobs "$@"; fi
done
"$PY" -m jobs --check "$@" || exit $?

jars="$(ls "$LAKEML_JARS_DIR"/*.jar | paste -sd, -),$LAKEML_JVM_JAR"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
exec "$SPARK_HOME/bin/spark-submit" \
  --master "local[*]" \
  --driver-memory "${LAKEML_DRIVER_MEMORY:-4g}" \
  --jars "$jars" \
  --conf spark.ui.showConsoleProgress=false \
  --conf "spark.driver.extraJavaOptions=-Dlog4j2.level=warn ${LAKEML_DRIVER_JAVA_OPTIONS:-}" \
  "$ROOT/lakeml_main.py" "$@"
