"""Small files on the lake for a process without a Spark session (the aml API server and its workers).

The same places and rules as core.lake: a local path or `file://` URI is read and written with the
OS (a write goes to a temporary file renamed over the target, so readers see old or new, never half),
`s3://` through boto3 (one PUT, atomic on S3), with `LAKEML_S3_ENDPOINT` as for Spark's s3a and the
standard AWS credential chain.
"""

from __future__ import annotations

import functools
import os
from typing import List, Optional, Tuple
from urllib.parse import urlparse

from core import lake


@functools.lru_cache(maxsize=1)
def s3_client():
    """One boto3 S3 client for the process (LAKEML_S3_ENDPOINT when set)."""
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("LAKEML_S3_ENDPOINT") or None)


def _bucket_key(uri: str) -> Tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def read_bytes(uri: str) -> Optional[bytes]:
    """The bytes of a small file, or None when it does not exist."""
    if lake.is_local(uri):
        return lake.read_bytes(None, uri)
    bucket, key = _bucket_key(uri)
    try:
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3_client().exceptions.NoSuchKey:
        return None


def write_bytes(uri: str, data: bytes) -> None:
    """Write a small file atomically."""
    if lake.is_local(uri):
        lake.write_bytes(None, uri, data)
        return
    bucket, key = _bucket_key(uri)
    s3_client().put_object(Bucket=bucket, Key=key, Body=data)


def delete(uri: str) -> None:
    """Delete one file; a missing file is fine."""
    if lake.is_local(uri):
        lake.delete(None, uri)
        return
    bucket, key = _bucket_key(uri)
    s3_client().delete_object(Bucket=bucket, Key=key)


def list_files(uri: str) -> List[Tuple[str, int]]:
    """(URI, size) of every file under a folder URI, recursively, sorted by URI; a file URI lists itself."""
    if lake.is_local(uri):
        path = lake.local_path(uri)
        if os.path.isfile(path):
            return [(uri, os.path.getsize(path))]
        found = []
        for folder, _, names in os.walk(path):
            for name in names:
                full = os.path.join(folder, name)
                found.append(("file://" + full, os.path.getsize(full)))
        return sorted(found)
    bucket, key = _bucket_key(uri)
    pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    found = [(f"s3://{bucket}/{o['Key']}", int(o["Size"])) for page in pages for o in page.get("Contents", [])]
    exact = [f for f in found if f[0] == lake.join(uri)]
    return exact or sorted(f for f in found if f[0].startswith(lake.join(uri) + "/"))
