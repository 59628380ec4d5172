"""doctor, ingest_logs, ingest_dms and build_features on the test fixtures, once per Spark master.

    python tests/cluster_jobs.py OUT_DIR MASTER [MASTER ...]

For each master (e.g. `local-cluster[2,1,1024]`, then `local[2]`) it builds lakeml's session,
runs the four jobs (doctor only on the first master) as `python -m jobs` would (cli.execute) into
OUT_DIR/lake-<n>, and prints one JSON line: every job's exit code and summary per master, and
every table's rows per master (sorted, run-specific columns left out) so the caller compares
them. `local-cluster` starts separate executor JVMs, as a cluster does: a driver-local file,
static state or a jar missing from the executors' classpath fails here, not only on EMR.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

RUN_DATE = "2026-11-21"
DMS_COLUMNS = [
    ("customer_id", "int"),
    ("username", "string"),
    ("age", "int"),
    ("street_number", "string"),
    ("street_name", "string"),
    ("street_type", "string"),
    ("city", "string"),
    ("state", "string"),
    ("zip", "int"),
    ("churned", "string"),
    ("dms_ts", "string"),
]
T0 = "2026-11-21 08:00:00.000000"
T1 = "2026-11-21 09:00:00.000000"
FULL_LOAD = f"""1,frank,34,123,Main,Street,Cedar Rapids,ia,52402,yes,{T0}
2,bob,51,9,Elm,Ave,Boston,MA,2134,no,{T0}
3,carol,27,77,Oak Hill,Road,Marion,IA,52302,N,{T0}
4,dave,45,5,1st,St,Marion,IA,52302,t,{T0}
"""
CDC = f"""U,2,bob,52,9,Elm,Ave,Boston,MA,2134,no,{T1}
D,3,carol,27,77,Oak Hill,Road,Marion,IA,52302,N,{T1}
I,5,erin,62,300,Park,Blvd,Hiawatha,IA,52233,0,{T1}
"""
SCHEMA = {
    "version": "1.0",
    "rowId": "customer_id",
    "targetAttributeName": "churned",
    "attributes": [
        {"attributeName": "customer_id", "attributeType": "CATEGORICAL"},
        {"attributeName": "churned", "attributeType": "BINARY"},
        {"attributeName": "age", "attributeType": "NUMERIC"},
        {"attributeName": "state", "attributeType": "CATEGORICAL"},
        {"attributeName": "address", "attributeType": "TEXT"},
        {"attributeName": "click_sessions", "attributeType": "NUMERIC"},
    ],
}
RECIPE = {
    "groups": {},
    "assignments": {"binned_age": "quantile_bin(age, 5)"},
    "outputs": ["binned_age", "ALL_CATEGORICAL", "ngram(lowercase(address), 2)", "click_sessions"],
}
# Columns that differ between two correct runs.
RUN_SPECIFIC = ("run_id", "_ingested_at", "ingested_at", "_run_id", "_dms_run_id", "loaded_at", "_loaded_at")


def write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def fixtures(out: str) -> dict:
    """The inputs: the bundled log files, a DMS full load + CDC (one malformed row), the CONFs."""
    dms = os.path.join(out, "raw", "dms")
    write(os.path.join(dms, "crm", "customers", "LOAD00000001.csv"), FULL_LOAD)
    write(os.path.join(dms, "crm", "customers", "20261121-0900000000.csv"), CDC)
    columns = [{"name": n, "type": t} for n, t in DMS_COLUMNS]
    table = {"schema": "crm", "table": "customers", "key": ["customer_id"], "columns": columns, "history": True}
    table["timestamp_column"] = "dms_ts"
    tables = write(os.path.join(out, "dms.json"), json.dumps({"tables": [table]}))
    parts = {"number": "street_number", "street": "street_name", "suffix": "street_type"}
    parts.update(city="city", state="state", zip="zip")
    conf = {
        "feature_set": "churn",
        "base": {"table": "crm_customers", "key": "customer_id"},
        "address": {"parts": parts, "abbreviate": True},
        "clickstream": {"source": "web", "join_on": "username", "session_gap_minutes": 30},
        "schema": SCHEMA,
        "recipe": RECIPE,
        "num_features": 64,
    }
    features = write(os.path.join(out, "features.json"), json.dumps(conf))
    return {"logs": os.path.join(ROOT, "tests", "data", "logs"), "dms": dms, "tables": tables, "features": features}


def runs(inputs: dict, lake: str):
    """(job, argv) of the four runs, in order."""
    common = ["--lake", lake, "--run-date", RUN_DATE]
    lenient = ["--max-reject-fraction", "0.9"]  # half the log fixture's lines are bad on purpose: quarantined
    return [
        ("doctor", [*common, "--run-id", "doctor-1"]),
        ("ingest_logs", [*common, "--run-id", "logs-1", "--source", "web", "--input", inputs["logs"], *lenient]),
        ("ingest_dms", [*common, "--run-id", "dms-1", "--input", inputs["dms"], "--tables", inputs["tables"]]),
        ("build_features", [*common, "--run-id", "features-1", "--config", inputs["features"]]),
    ]


def run_job(spark, job: str, argv) -> dict:
    """One job as `python -m jobs` runs it, on this session: exit code and summary."""
    from core.cli import execute, parse_job_args
    from jobs.main import load_job

    module = load_job(job)
    try:
        args = parse_job_args(job, module, list(argv))
    except SystemExit as stop:  # a flag or CONF the job refuses
        return {"code": int(stop.code or 0), "summary": {"message": "refused its arguments (see stderr)"}}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(module, args, spark)
    return {"code": code, "summary": json.loads(out.getvalue().strip().splitlines()[-1])}


def table_folders(lake_dir: str):
    """(name, path) of every Delta table under the lake (any depth), sorted."""
    found = []
    for folder, dirs, _ in os.walk(lake_dir):
        if "_delta_log" in dirs:
            found.append((os.path.relpath(folder, lake_dir), folder))
            dirs[:] = []
        dirs[:] = [d for d in dirs if d != "_delta_log"]
    return sorted(found)


def normal(value):
    """A JSON-able form of a collected value (vectors as dicts)."""
    if hasattr(value, "toArray"):
        return [float(x) for x in value.toArray()]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "asDict"):
        return {k: normal(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {str(k): normal(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def table_rows(spark, path: str) -> list:
    """The table's rows as sorted JSON objects (column: value), run-specific columns left out."""
    df = spark.read.format("delta").load(path)
    cols = [c for c in df.columns if c not in RUN_SPECIFIC]
    return sorted(json.dumps(dict(zip(cols, map(normal, row))), sort_keys=True) for row in df.select(*cols).collect())


def session(master: str):
    from core.session import TEST_CONF, TEST_JAVA_OPTIONS, build_session

    extra = {**TEST_CONF, "spark.driver.memory": "1g", "spark.executor.memory": "640m"}
    extra["spark.executor.extraJavaOptions"] = f"{TEST_JAVA_OPTIONS} -XX:+UseSerialGC"
    return build_session("lakeml-cluster-jobs", master=master, extra=extra)


def main(out: str, masters) -> int:
    inputs = fixtures(out)
    report = {"jobs": {}, "tables": {}, "lakes": {}}
    for n, master in enumerate(masters):
        lake = os.path.join(out, f"lake-{n}")
        shutil.rmtree(lake, ignore_errors=True)
        spark = session(master)
        spark.sparkContext.setLogLevel("ERROR")
        # doctor leaves no table to compare: it runs on the cluster-shaped master only
        chosen = [(job, argv) for job, argv in runs(inputs, lake) if n == 0 or job != "doctor"]
        report["jobs"][master] = {job: run_job(spark, job, argv) for job, argv in chosen}
        # block managers: the driver's plus one per executor JVM (local[*] runs its tasks in the driver's)
        report.setdefault("jvms", {})[master] = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
        report["lakes"][master] = lake
        report["tables"][master] = {name: table_rows(spark, path) for name, path in table_folders(lake)}
        spark.stop()
    print(json.dumps(report, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
