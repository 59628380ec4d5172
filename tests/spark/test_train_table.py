"""train --table NAME --schema URI with no --recipe, end to end: a lake table trains through the suggested recipe.

One training run for the module (400 rows): the table form's counts, rejects and invalid values, the
suggested recipe (bins from the data) recorded in the version and printed in the report, quality
beside scikit-learn's LogisticRegression on the same rows and a comparable representation, and the
registered model scoring the table's raw rows. The --table bad inputs exit 2 without training.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

from core.lake import Lake, local_path, spark_uri
from features.recipe import format_recipe
from tests.helpers import run_in_process
from tests.spark.test_train_job import ATTRS, rows, schema

N = 400
TABLE_DDL = (
    "id string, age string, workclass string, education string, `hours-per-week` double, noise string, "
    "children int, income string, loaded_at string"
)
# the adult-like attributes of test_train_job plus `children`, a number with 4 distinct values
TABLE_SCHEMA = schema(
    dataFileContainsHeader=False,
    attributes=[{"attributeName": a, "attributeType": t} for a, t in [*ATTRS[:-1], ("children", "NUMERIC"), ATTRS[-1]]],
)


def table_rows():
    """N rows in table order; row 7's age is not a number (an invalid NUMERIC) and row 11 has no target."""
    out = []
    for i, r in enumerate(rows(N, 11)):
        age = "unknown" if i == 7 else str(r[1])
        target = None if i == 11 else r[6]
        out.append((str(r[0]), age, r[2], r[3], float(r[4]), r[5], i % 4, target, "2026-11-20"))
    return out


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    """The table written as one file (so `_row` follows table order), the schema, and one training run."""
    folder = tmp_path_factory.mktemp("table_form")
    lake = Lake.at(str(folder / "lake"))
    table = spark.createDataFrame(table_rows(), TABLE_DDL).coalesce(1)
    table.write.format("delta").save(spark_uri(lake.table("people")))
    (folder / "people.schema").write_text(json.dumps(TABLE_SCHEMA))
    argv = ["--table", "people", "--schema", str(folder / "people.schema"), "--model-type", "BINARY"]
    argv += ["--params", '{"maxIter": 30}']
    code, summary = run_in_process(
        spark, "train", [*argv, "--name", "people", "--lake", lake.root, "--run-date", "2026-11-20"]
    )
    assert code == 0, summary["message"]
    meta = json.load(open(local_path(lake.models("people") + "/v1/metadata.json")))
    return {"lake": lake, "folder": folder, "summary": summary, "meta": meta}


def test_table_rows_are_counted_rejected_and_checked(trained):
    summary = trained["summary"]
    assert (summary["rows_in"], summary["rows_out"], summary["rows_rejected"]) == (N, N - 1, 1)
    assert {k: v for k, v in summary["counts"]["invalid_values"].items() if v} == {"age": 1}
    assert summary["counts"]["version"] == "v1" and summary["counts"]["promoted"] is True
    form = trained["meta"]["input"]
    assert form["form"] == "table" and form["table"] == "people" and form["uri"] == trained["lake"].table("people")


def test_suggested_recipe_is_recorded_and_printed_in_the_report(trained):
    """Bins from the training rows (~279): 10 for age and hours (>= 20 rows a bin), 5 for children (4 values)."""
    meta, lake = trained["meta"], trained["lake"]
    assert meta["recipe_suggested"] is True
    suggested = {
        "groups": {"NUMERIC_VARS_QB_5": "group(children)", "NUMERIC_VARS_QB_10": "group(age, hours-per-week)"},
        "assignments": {},
        "outputs": ["quantile_bin(NUMERIC_VARS_QB_5, 5)", "quantile_bin(NUMERIC_VARS_QB_10, 10)", "ALL_CATEGORICAL"],
    }
    assert meta["recipe"] == suggested
    printed = format_recipe(suggested).replace('"', "&quot;")
    for folder in (lake.models("people") + "/v1/report", lake.reports("train", "2026-11-20") + "/people"):
        page = open(os.path.join(local_path(folder), "index.html"), encoding="utf-8").read()
        assert "Recipe (suggested: no --recipe was given)" in page and printed in page


def test_quality_beside_scikit_learn_on_the_same_rows(trained):
    """scikit-learn: the same training/evaluation rows, age and hours in 10 quantile bins, the rest one-hot."""
    valid = [r for r in table_rows() if r[7] is not None]
    cut = trained["summary"]["counts"]["train_rows"]
    ages = np.array([[float(r[1]) if r[1] != "unknown" else np.nan] for r in valid])
    ages[np.isnan(ages)] = np.nanmedian(ages)
    numeric = np.hstack([ages, np.array([[r[4]] for r in valid])])
    cats = np.array([[r[2], r[3], r[5], str(r[6])] for r in valid])
    y = np.array([1 if r[7] == "yes" else 0 for r in valid])
    bins = KBinsDiscretizer(n_bins=10, encode="onehot-dense", strategy="quantile", quantile_method="linear").fit(
        numeric[:cut]
    )
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(cats[:cut])
    x = np.hstack([bins.transform(numeric), onehot.transform(cats)])
    sk = LogisticRegression(max_iter=2000).fit(x[:cut], y[:cut])
    sk_auc = roc_auc_score(y[cut:], sk.predict_proba(x[cut:])[:, 1])
    auc = trained["summary"]["counts"]["metrics"]["auc"]
    print("AUCS", auc, sk_auc)
    assert auc > 0.8 and abs(auc - sk_auc) <= 0.02, (auc, sk_auc)


def test_the_registered_model_scores_the_tables_raw_rows(spark, trained):
    table = spark.read.format("delta").load(spark_uri(trained["lake"].table("people"))).drop("income")
    model = PipelineModel.load(spark_uri(trained["lake"].models("people") + "/v1/model"))
    scored = model.transform(table).select("id", "probability").collect()
    assert len(scored) == N and all(0.0 <= r["probability"][1] <= 1.0 for r in scored)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--table", "nosuch"], ["--table", "no Delta table", "tables/nosuch"]),
        (["--table", "people"], ["--table needs --schema"]),
    ],
)
def test_table_bad_inputs_exit_2(spark, trained, argv, words):
    with_schema = ["--schema", str(trained["folder"] / "people.schema")] if argv[1] == "nosuch" else []
    code, summary = run_in_process(
        spark,
        "train",
        [*argv, *with_schema, "--model-type", "BINARY", "--name", "bad", "--lake", trained["lake"].root],
    )
    assert code == 2 and all(w in summary["message"] for w in words), summary["message"]
