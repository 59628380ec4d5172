"""ml.datasource reads a prefix of many small files in few tasks, without one Spark task per file."""

from __future__ import annotations

import pytest

from ml.datasource import data_files, read_datasource, text_frame

FILES = 40  # past Spark's 32-path threshold, where it lists given paths with a job of one task per path
SCHEMA = {
    "version": "1.0",
    "targetAttributeName": "y",
    "dataFileContainsHeader": True,
    "attributes": [
        {"attributeName": "x", "attributeType": "NUMERIC"},
        {"attributeName": "y", "attributeType": "BINARY"},
    ],
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """`plain`: 40 files, a hidden one and the prefix's .schema; `odd`: the same plus `x.csv.schema`."""
    out = {}
    for name in ("plain", "odd"):
        folder = tmp_path_factory.mktemp(name)
        for i in range(FILES):
            (folder / f"part-{i:02d}.csv").write_text(f"x,y\n{i},1\n{i}.5,0\n")
        (folder / ".schema").write_text("{}")
        (folder / "_hidden.csv").write_text("junk\n")
        out[name] = folder
    (out["odd"] / "part-00.csv.schema").write_text("{}")  # Spark reads it, the datasource does not
    return out


def jobs_started(spark, group, action):
    """The Spark jobs the action started (listing jobs run in the caller's job group)."""
    spark.sparkContext.setJobGroup(group, group)
    try:
        action()
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return list(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


@pytest.mark.parametrize("name", ["plain", "odd"])
def test_a_prefix_of_many_files_is_read_without_a_listing_job(spark, folders, name):
    root = folders[name].as_uri() + "/"
    files = data_files(spark, root)
    assert len(files) == FILES
    frames = []
    assert jobs_started(spark, f"listing-{name}", lambda: frames.append(text_frame(spark, files, root))) == []
    read = sorted(frames[0].inputFiles())
    assert len(read) == FILES and not any(p.endswith((".schema", "_hidden.csv")) for p in read)


def test_rows_keep_their_file_and_order(spark, folders):
    ds = read_datasource(spark, folders["odd"].as_uri() + "/", SCHEMA, require_target=True)
    assert (ds.rows_in, ds.rows_rejected, len(ds.files)) == (2 * FILES, 0, FILES)
    rows = ds.rows.orderBy("_row").collect()
    assert [r["x"] for r in rows] == [v for i in range(FILES) for v in (float(i), i + 0.5)]
    assert [r["_source_file"].rsplit("/", 1)[1] for r in rows[:3]] == ["part-00.csv", "part-00.csv", "part-01.csv"]
