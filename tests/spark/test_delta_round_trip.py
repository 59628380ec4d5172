"""The doctor's Delta write/MERGE/read/time-travel round trip, on file:// and on s3:// via s3a."""

from core.files import list_files
from core.lake import Lake, spark_uri
from jobs.doctor import AFTER, BEFORE, delta_round_trip, sorted_rows


def test_round_trip_on_local_disk(spark, tmp_path):
    table = Lake.at(str(tmp_path)).table("roundtrip")
    assert delta_round_trip(spark, table) == {"write": True, "merge": True, "read": True, "time_travel": True}
    assert sorted_rows(spark.read.format("delta").load(spark_uri(table))) == sorted(AFTER)


def test_round_trip_on_s3_through_s3a(spark, s3_bucket, s3_client):
    table = Lake.at(s3_bucket + "/lake").table("roundtrip")
    assert delta_round_trip(spark, table) == {"write": True, "merge": True, "read": True, "time_travel": True}
    # The bytes really are in the S3 server: the Delta log and data files, seen through boto3.
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket[5:])["Contents"]]
    assert "lake/tables/roundtrip/_delta_log/00000000000000000001.json" in keys
    assert any(k.endswith(".parquet") for k in keys)
    assert sorted_rows(spark.read.format("delta").option("versionAsOf", 0).load(spark_uri(table))) == sorted(BEFORE)
    assert list_files(spark, table)  # data files are listed through the same connector
