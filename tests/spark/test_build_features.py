"""build_features end to end on a tiny lake: DMS-like customers + a logs table -> features/<set>."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
import yaml
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from core.lake import spark_uri
from jobs.build_features import pipeline_uri
from tests.conftest import ROOT
from tests.helpers import run_in_process
from tests.logs_table import LOGS_SCHEMA, log_event

RUN_DATE = "2026-11-20"
T0 = dt.datetime(2026, 11, 20, 9, 0, 0)
CUSTOMERS_SCHEMA = (
    "customer_id int, username string, age int, street_number string, street_dir string, street_name string, "
    "street_type string, unit_type string, unit_number string, city string, state string, zip int, "
    "churned string, _dms_seq decimal(38,0), _dms_ts timestamp"
)
CUSTOMERS = [
    (1, "alice", 34, "123", "North", "Main", "Street", "Apartment", "4", "Cedar Rapids", "ia", 52402, "yes"),
    (2, "bob", 51, "9", None, "Elm", "Ave", None, None, "Boston", "MA", 2134, "no"),
    (3, "carol", 27, " 77 ", "", "Oak  Hill", "Road", "", "", "Marion", "IA", 52302, "N"),
    (4, "dave", 45, "5", "S", "1st", "St", None, None, "Marion", "IA", 52302, "t"),
    (5, "erin", 62, "300", "W", "Park", "Blvd", "Suite", "2", "Hiawatha", "IA", 52233, "0"),
    (6, "frank", 39, "18", None, "Lake", "Dr", None, None, "Ely", "IA", 52227, "1"),
    (7, "gina", 29, "4", "E", "River", "Rd", None, None, "Palo", "IA", 52324, "f"),
    (None, "nokey", 40, "1", None, "Nowhere", "Ln", None, None, "Ely", "IA", 52227, "0"),  # rejected: null key
    (8, "dup1", 30, "2", None, "Dup", "Ln", None, None, "Ely", "IA", 52227, "0"),  # rejected: key 8 twice
    (8, "dup2", 31, "3", None, "Dup", "Ln", None, None, "Ely", "IA", 52227, "1"),
]
SCHEMA = {
    "version": "1.0",
    "rowId": "customer_id",
    "targetAttributeName": "churned",
    "attributes": [
        {"attributeName": "customer_id", "attributeType": "CATEGORICAL"},
        {"attributeName": "churned", "attributeType": "BINARY"},
        {"attributeName": "age", "attributeType": "NUMERIC"},
        {"attributeName": "state", "attributeType": "CATEGORICAL"},
        {"attributeName": "plan", "attributeType": "CATEGORICAL"},
        {"attributeName": "address", "attributeType": "TEXT"},
        {"attributeName": "click_sessions", "attributeType": "NUMERIC"},
        {"attributeName": "click_days_since_last_visit", "attributeType": "NUMERIC"},
        {"attributeName": "click_path_ngrams", "attributeType": "TEXT"},
    ],
}
RECIPE = {
    "groups": {},
    "assignments": {"binned_age": "quantile_bin(age, 5)"},
    "outputs": [
        "binned_age",
        "ALL_CATEGORICAL",
        "ngram(lowercase(address), 2)",
        "click_sessions",
        "click_days_since_last_visit",
        "click_path_ngrams",
    ],
}
NUM_FEATURES = 1024


def make_lake(spark, lake):
    customers = [(*row, None, None) for row in CUSTOMERS]
    spark.createDataFrame(customers, CUSTOMERS_SCHEMA).write.format("delta").save(
        spark_uri(lake.table("crm_customers"))
    )
    accounts = [(1, "gold", 11), (2, "basic", 12), (3, "basic", 13), (6, "gold", 14)]  # 4, 5, 7: no account
    spark.createDataFrame(accounts, "account_customer_id int, plan string, account_id int").write.format("delta").save(
        spark_uri(lake.table("billing_accounts"))
    )
    minute = dt.timedelta(minutes=1)
    events = [
        log_event(T0, "10.0.0.1", "alice", "/home"),
        log_event(T0 + 5 * minute, "10.0.0.1", "alice", "/products/42", 404),
        log_event(T0 + 40 * minute, "10.0.0.1", "alice", "/cart"),  # 35 minutes later: second session
        log_event(T0 - dt.timedelta(days=4), "10.0.0.2", "bob", "/home"),
        log_event(T0, "10.0.0.3", "-", "/home"),
    ]
    spark.createDataFrame(events, LOGS_SCHEMA).write.format("delta").partitionBy("event_date").save(
        spark_uri(lake.table("logs_web"))
    )


@pytest.fixture(scope="module")
def small_lake(spark, tmp_path_factory):
    """One tiny lake for the module: crm_customers (DMS-like) and logs_web."""
    from core.lake import Lake

    lake = Lake.at(str(tmp_path_factory.mktemp("features_lake") / "lake"))
    make_lake(spark, lake)
    return lake


def write_conf(tmp_path, name="conf.yaml", **changes):
    conf = {
        "feature_set": "churn",
        "base": {"table": "crm_customers", "key": "customer_id"},
        "joins": [{"table": "billing_accounts", "on": {"customer_id": "account_customer_id"}, "columns": ["plan"]}],
        "address": {
            "parts": {
                "number": "street_number",
                "pre_direction": "street_dir",
                "street": "street_name",
                "suffix": "street_type",
                "unit_type": "unit_type",
                "unit": "unit_number",
                "city": "city",
                "state": "state",
                "zip": "zip",
            },
            "abbreviate": True,
        },
        "clickstream": {"source": "web", "join_on": "username", "session_gap_minutes": 30},
        "schema_file": "churn.schema",
        "recipe": RECIPE,
        "num_features": NUM_FEATURES,
    }
    conf.update(changes)
    conf = {k: v for k, v in conf.items() if v is not None}
    (tmp_path / "churn.schema").write_text(json.dumps(SCHEMA))
    path = tmp_path / name
    path.write_text(yaml.safe_dump(conf, sort_keys=False))
    return str(path)


def features_rows(spark, lake, run_date=RUN_DATE):
    df = spark.read.format("delta").load(spark_uri(lake.features("churn")))
    return df.where(F.col("run_date") == run_date)


def as_tuples(rows):
    return sorted(tuple(sorted((k, v) for k, v in r.asDict().items() if k != "run_date")) for r in rows)


def test_end_to_end_idempotent_and_pipeline_saved(spark, small_lake, tmp_path):
    lake = small_lake
    conf = write_conf(tmp_path)
    argv = ["--lake", lake.root, "--config", conf, "--run-date", RUN_DATE]
    code, summary = run_in_process(spark, "build_features", [*argv, "--run-id", "r1"])
    assert code == 0, summary["message"]
    assert (summary["rows_in"], summary["rows_out"], summary["rows_rejected"]) == (10, 7, 3)
    assert summary["counts"]["reasons"] == {"duplicate key customer_id": 2, "null key customer_id": 1}
    assert summary["counts"]["features_size"] == NUM_FEATURES + 2  # tokens + the two numeric outputs

    out = features_rows(spark, lake)
    rows = {r["customer_id"]: r for r in out.collect()}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 7]
    assert not any(c.startswith("_dms") for c in out.columns)
    assert "account_id" not in out.columns and "account_customer_id" not in out.columns
    assert [rows[k]["plan"] for k in (1, 2, 4)] == ["gold", "basic", None]  # left join on the mapped key
    alice, bob, carol = rows[1], rows[2], rows[3]
    assert alice["address"] == "123 N Main ST APT 4, Cedar Rapids, IA 52402"
    assert bob["address"] == "9 Elm AVE, Boston, MA 02134"  # the ZIP's leading zero restored
    assert carol["address"] == "77 Oak Hill RD, Marion, IA 52302"
    assert len(alice["address_key"]) == 64
    assert (alice["click_sessions"], alice["click_errors"], alice["click_days_since_last_visit"]) == (2, 1, 0)
    assert (bob["click_sessions"], bob["click_days_since_last_visit"]) == (1, 4)
    assert (carol["click_sessions"], carol["click_events"], carol["click_path_ngrams"]) == (0, 0, "")
    assert carol["click_days_since_last_visit"] is None
    assert "products/<num>" in alice["click_path_ngrams"].split(" ")
    assert (alice["label"], bob["label"], carol["label"]) == (1.0, 0.0, 0.0)
    assert "features" not in out.columns  # Spark ML's vector type: other engines cannot read the table
    assert not [f.name for f in out.schema.fields if f.dataType.typeName() == "udt"]
    quarantine = spark.read.format("delta").load(spark_uri(lake.quarantine("build_features")))
    assert sorted(r["reason"] for r in quarantine.collect()) == [
        "duplicate key customer_id",
        "duplicate key customer_id",
        "null key customer_id",
    ]

    # the fitted pipeline was saved beside the feature set: it gives each stored row its vector and label
    saved = pipeline_uri(lake, "churn", RUN_DATE)
    assert summary["counts"]["pipeline"] == saved
    model = PipelineModel.load(spark_uri(saved))
    again = {r["customer_id"]: r for r in model.transform(out.drop("label")).collect()}
    assert {key: r["label"] for key, r in again.items()} == {key: r["label"] for key, r in rows.items()}
    vector = again[1]["features"]
    assert vector.size == NUM_FEATURES + 2 and vector.numNonzeros() > 5 and vector[NUM_FEATURES + 0] == 2.0

    # another run date's partition (written here directly) must survive the re-run below
    other = out.where("customer_id = 1").withColumn("run_date", F.lit("2026-11-19").cast("date"))
    other.write.format("delta").mode("append").save(spark_uri(lake.features("churn")))

    # a re-run of the same run date replaces its partition: same rows, no duplicates
    code, summary2 = run_in_process(spark, "build_features", [*argv, "--run-id", "r2"])
    assert code == 0 and summary2["rows_out"] == 7
    assert quarantine.count() == 3
    table = spark.read.format("delta").load(spark_uri(lake.features("churn"))).collect()
    by_date = {}
    for r in table:
        by_date.setdefault(str(r["run_date"]), []).append(r)
    assert sorted(by_date) == ["2026-11-19", "2026-11-20"]
    assert as_tuples(by_date["2026-11-20"]) == as_tuples(rows.values())
    assert as_tuples(by_date["2026-11-19"]) == as_tuples([alice])


BAD_CONFS = [
    ({"feature_set": None}, "feature_set"),
    ({"base": {"table": "crm_customers"}}, "base.key"),
    ({"address": {"parts": {"street_name": "street_name"}}}, "address.parts.street_name"),
    ({"clickstream": {"source": "web", "join_on": "username", "session_gap_minutes": -5}}, "session_gap_minutes"),
    ({"recipe": {"outputs": ["ngram(address, 11)"]}}, "recipe"),
    ({"recipe": {"outputs": []}}, "recipe"),
    ({"schema_file": "missing.schema"}, "missing.schema"),
    ({"colour": "blue"}, "colour"),
    ({"joins": [{"table": "billing_accounts"}]}, "joins[0].on"),
]


@pytest.mark.parametrize("changes,named", BAD_CONFS)
def test_bad_conf_exits_2_naming_the_field(tmp_path, capsys, changes, named):
    from core.cli import parse_job_args
    from jobs.main import load_job

    conf = write_conf(tmp_path, **changes)
    with pytest.raises(SystemExit) as exit_info:
        parse_job_args("build_features", load_job("build_features"), ["--lake", str(tmp_path), "--config", conf])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_bad_conf_on_the_command_line_and_at_run_time(spark, small_lake, tmp_path):
    lake = small_lake
    # the real entry point, no JVM: exit 2 and the field in the message
    bad = write_conf(tmp_path, "bad.yaml", num_features=0)
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "--check", "build_features", "--lake", lake.root, "--config", bad],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "num_features" in done.stderr
    # a schema attribute that is not a column is found once the tables are read: still exit 2
    schema = {**SCHEMA, "attributes": [*SCHEMA["attributes"], {"attributeName": "income", "attributeType": "NUMERIC"}]}
    (tmp_path / "wide.schema").write_text(json.dumps(schema))
    wide = write_conf(tmp_path, "wide.yaml", schema_file="wide.schema")
    code, summary = run_in_process(spark, "build_features", ["--lake", lake.root, "--config", wide])
    assert code == 2 and "income" in summary["message"] and "schema" in summary["message"]


def test_runs_against_an_s3_lake(spark, s3_bucket, tmp_path):
    from core.lake import Lake, exists

    lake = Lake.at(s3_bucket + "/lake")
    make_lake(spark, lake)
    argv = ["--lake", lake.root, "--config", write_conf(tmp_path), "--run-date", RUN_DATE]
    code, summary = run_in_process(spark, "build_features", argv)
    assert code == 0, summary["message"]
    assert (summary["rows_in"], summary["rows_out"], summary["rows_rejected"]) == (10, 7, 3)
    assert sorted(r["customer_id"] for r in features_rows(spark, lake).collect()) == [1, 2, 3, 4, 5, 6, 7]
    saved = pipeline_uri(lake, "churn", RUN_DATE)
    assert saved.startswith(s3_bucket + "/lake/") and exists(spark, saved + "/metadata")
    assert spark.read.format("delta").load(spark_uri(lake.quarantine("build_features"))).count() == 3


def test_a_conf_that_adds_columns_extends_the_table(spark, lake, tmp_path):
    make_lake(spark, lake)
    first = ["--lake", lake.root, "--config", write_conf(tmp_path), "--run-date", "2026-11-19"]
    assert run_in_process(spark, "build_features", first)[0] == 0
    joins = [
        {"table": "billing_accounts", "on": {"customer_id": "account_customer_id"}, "columns": ["plan", "account_id"]}
    ]
    wider = write_conf(tmp_path, name="wider.yaml", joins=joins)
    code, summary = run_in_process(
        spark, "build_features", ["--lake", lake.root, "--config", wider, "--run-date", RUN_DATE]
    )
    assert code == 0, summary["message"]
    table = spark.read.format("delta").load(spark_uri(lake.features("churn")))
    accounts = {(str(r["run_date"]), r["customer_id"]): r["account_id"] for r in table.collect()}
    assert len(accounts) == 14
    assert {v for (day, _), v in accounts.items() if day == "2026-11-19"} == {None}
    assert [accounts[(RUN_DATE, k)] for k in (1, 2, 4)] == [11, 12, None]
