"""The session factory's settings, and lake small-file I/O on local disk and on S3 (s3a)."""

import pytest

from core.files import list_files
from core.lake import delete, exists, read_text, write_text


def test_session_has_delta_utc_and_the_local_s3_endpoint(spark, s3_endpoint):
    conf = spark.sparkContext.getConf()
    assert spark.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.hadoop.fs.s3a.endpoint") == s3_endpoint
    assert conf.get("spark.hadoop.fs.s3a.path.style.access") == "true"
    assert spark.sql("SELECT 1 AS x").collect()[0].x == 1


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path, s3_bucket):
    return "file://" + str(tmp_path) if request.param == "local" else s3_bucket + "/lake"


def test_small_files_round_trip(spark, root):
    uri = root + "/_state/ledger.json"
    assert read_text(spark, uri) is None and not exists(spark, uri)
    write_text(spark, uri, '{"a": 1}')
    write_text(spark, uri, '{"a": 2}')
    assert read_text(spark, uri) == '{"a": 2}'
    assert exists(spark, uri)
    delete(spark, root + "/_state")
    assert not exists(spark, uri)


def test_list_files_is_recursive_sorted_and_skips_hidden(spark, root):
    for name in ["raw/dt=2026-11-20/b.log", "raw/dt=2026-11-20/a.log", "raw/c.log", "raw/_tmp/x", "raw/.hidden"]:
        write_text(spark, f"{root}/{name}", "line\n")
    files = list_files(spark, root + "/raw")
    assert [f.uri[len(root) :] for f in files] == [
        "/raw/c.log",
        "/raw/dt=2026-11-20/a.log",
        "/raw/dt=2026-11-20/b.log",
    ]
    assert all(f.size == 5 and f.mtime_ms > 0 for f in files)
    assert list_files(spark, root + "/missing") == []


def test_session_confs_restores_or_unsets_after_the_block(spark):
    from core.session import session_confs

    set_before, unset_before = "spark.sql.shuffle.partitions", "spark.lakeml.test.only"
    old = spark.conf.get(set_before)
    with pytest.raises(RuntimeError), session_confs(spark, {set_before: "7", unset_before: "x"}):
        assert (spark.conf.get(set_before), spark.conf.get(unset_before)) == ("7", "x")
        raise RuntimeError("the block failed")
    assert spark.conf.get(set_before) == old
    assert spark.conf.get(unset_before, None) is None
