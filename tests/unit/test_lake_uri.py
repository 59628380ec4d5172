import os

import pytest

from core.errors import UsageError
from core.lake import Lake, is_s3, join, normalize_uri, spark_uri


@pytest.mark.parametrize(
    "value, expected",
    [
        ("s3://bucket/prefix/", "s3://bucket/prefix"),
        ("s3a://bucket/prefix", "s3://bucket/prefix"),
        ("s3n://bucket/a//b/", "s3://bucket/a/b"),
        ("s3://bucket", "s3://bucket"),
        ("s3://bucket/", "s3://bucket"),
        ("file:///tmp/lake/", "file:///tmp/lake"),
        ("/tmp/lake", "file:///tmp/lake"),
        ("hdfs://nn:8020/lake", "hdfs://nn:8020/lake"),
    ],
)
def test_normalize_uri_gives_one_canonical_form(value, expected):
    assert normalize_uri(value) == expected


def test_relative_local_path_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalize_uri("lake") == "file://" + os.path.join(str(tmp_path), "lake")


@pytest.mark.parametrize(
    "value, words",
    [
        ("", "empty"),
        ("gs://bucket/x", "gs://"),
        ("s3:///prefix", "bucket"),
        ("file://host/x", "three slashes"),
    ],
)
def test_bad_uris_name_the_flag_and_the_problem(value, words):
    with pytest.raises(UsageError) as error:
        normalize_uri(value, "--input")
    assert "--input" in str(error.value) and words in str(error.value)


def test_spark_uri_uses_the_connector_scheme_for_s3_only():
    assert spark_uri("s3://b/p", "s3a") == "s3a://b/p"
    assert spark_uri("s3://b/p", "s3") == "s3://b/p"
    assert spark_uri("file:///x", "s3a") == "file:///x"


def test_spark_uri_follows_the_target(monkeypatch):
    monkeypatch.setenv("LAKEML_TARGET", "emr")
    assert spark_uri("s3://b/p") == "s3://b/p"
    monkeypatch.setenv("LAKEML_TARGET", "local")
    assert spark_uri("s3://b/p") == "s3a://b/p"


def test_lake_layout_places():
    lake = Lake.at("s3://b/root/")
    assert lake.table("logs_web") == "s3://b/root/tables/logs_web"
    assert lake.quarantine("ingest_logs") == "s3://b/root/quarantine/ingest_logs"
    assert lake.run_summary("doctor", "2026-11-20", "r1") == "s3://b/root/_runs/doctor/2026-11-20/r1.json"
    assert lake.state("ingest_logs", "web") == "s3://b/root/_state/ingest_logs/web"
    assert lake.reports("train", "2026-11-20") == "s3://b/root/reports/train/2026-11-20"
    assert lake.models("m") == "s3://b/root/models/m"
    assert is_s3(lake.root)
    assert join("file:///a/", "/b/", "c") == "file:///a/b/c"


def test_read_local_file_reads_or_names_the_flag(tmp_path):
    from core.lake import read_local_file

    conf = tmp_path / "conf.yaml"
    conf.write_text("tables: []\n")
    assert read_local_file("file://" + str(conf), "--tables") == "tables: []\n"
    with pytest.raises(UsageError, match=r"--config .*missing\.yaml: no such file"):
        read_local_file("file://" + str(tmp_path / "missing.yaml"), "--config")
    with pytest.raises(UsageError, match="no such file"):
        read_local_file("file://" + str(tmp_path), "--config")  # a folder is not a config file
