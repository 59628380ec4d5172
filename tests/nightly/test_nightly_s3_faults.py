"""The nightly on an S3 lake (the local S3 server) through a proxy that answers some requests with
500/503 or slowly: s3a's retries carry the night through, and its tables hold every row.

s3a is pointed at the proxy for this test's bucket only (`fs.s3a.bucket.<name>.endpoint`), so the
shared session's other buckets are untouched. Ingest stages, tiny scale.
"""

from __future__ import annotations

import csv
import gzip
import io

from jobs.nightly.demo import DemoSpec, day_files
from tests.helpers import run_in_process
from tests.nightly.faulty_s3 import FaultyProxy
from tests.nightly.test_nightly_days import ingest_conf

SCALE = 0.05


def test_night_succeeds_through_s3_faults(spark, s3_endpoint, s3_bucket, tmp_path):
    bucket = s3_bucket[len("s3://") :]
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    key = f"fs.s3a.bucket.{bucket}.endpoint"
    with FaultyProxy(s3_endpoint, every=7, budget=12, slow_every=97, delay=0.2) as proxy:
        conf.set(key, proxy.endpoint)  # s3a caches a file system per bucket: it keeps the proxy for this bucket
        try:
            argv = ["--demo", "--scale", str(SCALE), "--config", ingest_conf(tmp_path)]
            code, summary = run_in_process(
                spark, "nightly", [*argv, "--lake", f"{s3_bucket}/lake", "--run-date", "2026-11-20"]
            )
            logs = spark.read.format("delta").load(f"s3a://{bucket}/lake/tables/logs_web").count()
        finally:
            conf.unset(key)
    assert proxy.faults > 0 and proxy.delays > 0
    assert code == 0, summary["message"]
    files = dict(day_files(DemoSpec(scale=SCALE), 1))
    lines = sum(len(gzip.decompress(d).decode().splitlines()) for p, d in files.items() if p.endswith(".gz"))
    dms = sum(len(list(csv.reader(io.StringIO(d.decode())))) for p, d in files.items() if p.endswith(".csv"))
    assert summary["rows_in"] == lines + dms == summary["rows_out"] + summary["rows_rejected"]
    assert logs == next(s for s in summary["counts"]["steps"] if s["name"] == "ingest_logs.web")["rows_out"]
