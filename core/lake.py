"""The lake URI layer: every path flag goes through here.

A path flag may be a plain local path, a `file://` URI, or `s3://bucket/prefix`
(`s3a://` and `s3n://` are accepted as spellings of the same place). `normalize_uri`
gives the one canonical form that lakeml stores and prints; `spark_uri` gives the
form Spark and Hadoop open, which for S3 on local Spark is `s3a://` (the hadoop-aws
connector) and on EMR stays `s3://` (EMR's own S3 connector).

Small files (run summaries, ledgers, pointers) are read and written through Hadoop's
FileSystem API of the running session, so local paths and S3 behave the same and use
the same credentials as Spark.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import uuid
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Type, TypeVar, Union
from urllib.parse import urlparse

from core.errors import UsageError

S3_SCHEMES = ("s3", "s3a", "s3n")
KNOWN_SCHEMES = ("file", "hdfs", *S3_SCHEMES)
# the spellings that canonical_uri turns into lakeml's one form (Java regex syntax too: canonical_uri_col)
S3_SPELLING = r"(?i)^s3[an]?://"
FILE_SPELLING = r"(?i)^file:/+"


def canonical_uri(name: str) -> str:
    """lakeml's one spelling of a place: `s3a://`/`s3n://` become `s3://`, Hadoop's `file:/x` becomes `file:///x`."""
    return re.sub(FILE_SPELLING, "file:///", re.sub(S3_SPELLING, "s3://", name))


def canonical_uri_col(col):
    """canonical_uri on a string column (e.g. input_file_name())."""
    from pyspark.sql import functions as F

    return F.regexp_replace(F.regexp_replace(col, S3_SPELLING, "s3://"), FILE_SPELLING, "file:///")


def normalize_uri(value: str, flag: str = "--lake") -> str:
    """Canonical URI for a path flag: `file:///abs/path` or `s3://bucket/prefix`, no trailing slash."""
    if not value or not value.strip():
        raise UsageError(f"{flag} is empty; give a local path, file:///path or s3://bucket/prefix")
    value = value.strip()
    parsed = urlparse(value)
    if not parsed.scheme or len(parsed.scheme) == 1:  # a plain path (a drive letter counts as one)
        return "file://" + os.path.abspath(os.path.expanduser(value))
    scheme = parsed.scheme.lower()
    if scheme not in KNOWN_SCHEMES:
        raise UsageError(f"{flag} {value!r}: scheme {scheme}:// is not supported; use a local path, file:// or s3://")
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise UsageError(f"{flag} {value!r}: a file:// URI needs three slashes (file:///abs/path)")
        return "file://" + os.path.abspath(parsed.path or "/")
    if not parsed.netloc:
        raise UsageError(f"{flag} {value!r}: no bucket; use {scheme}://bucket/prefix")
    path = posixpath.normpath(parsed.path) if parsed.path not in ("", "/") else ""
    path = "" if path in (".", "/") else path
    return canonical_uri(f"{scheme}://{parsed.netloc}{path}")


def is_s3(uri: str) -> bool:
    """True for any S3 spelling."""
    return urlparse(uri).scheme.lower() in S3_SCHEMES


def is_local(uri: str) -> bool:
    """True for a canonical local `file://` URI."""
    return urlparse(uri).scheme == "file"


def local_path(uri: str) -> str:
    """The filesystem path of a `file://` URI."""
    if not is_local(uri):
        raise ValueError(f"not a local URI: {uri}")
    return urlparse(uri).path


def spark_uri(uri: str, s3_scheme: Optional[str] = None) -> str:
    """The URI Spark opens: S3 gets the session's connector scheme (s3a locally, s3 on EMR)."""
    scheme = s3_scheme or current_s3_scheme()
    if is_s3(uri):
        return scheme + "://" + uri.split("://", 1)[1]
    return uri


def target() -> str:
    """`emr` when running on a cluster (LAKEML_TARGET=emr), else `local`: the one reader of LAKEML_TARGET."""
    return "emr" if os.environ.get("LAKEML_TARGET") == "emr" else "local"


def current_s3_scheme() -> str:
    """`s3a` on local Spark (hadoop-aws), `s3` on EMR."""
    return "s3" if target() == "emr" else "s3a"


def join(uri: str, *parts: str) -> str:
    """Join path parts onto a URI with single slashes."""
    out = uri.rstrip("/")
    for part in parts:
        out = out + "/" + str(part).strip("/")
    return out


@dataclass(frozen=True)
class Lake:
    """Named places under one `--lake` root (see the lake layout in DESIGN.md)."""

    root: str

    @classmethod
    def at(cls, value: str) -> Lake:
        return cls(normalize_uri(value, "--lake"))

    def raw(self, *parts: str) -> str:
        return join(self.root, "raw", *parts)

    def table(self, name: str) -> str:
        return join(self.root, "tables", name)

    def quarantine(self, job: str) -> str:
        return join(self.root, "quarantine", job)

    def features(self, feature_set: str) -> str:
        return join(self.root, "features", feature_set)

    def models(self, name: str) -> str:
        return join(self.root, "models", name)

    def scores(self, name: str) -> str:
        return join(self.root, "scores", name)

    def reports(self, job: str, run_date: str) -> str:
        return join(self.root, "reports", job, run_date)

    def run_summary(self, job: str, run_date: str, run_id: str) -> str:
        return join(self.root, "_runs", job, run_date, f"{run_id}.json")

    def state(self, *parts: str) -> str:
        return join(self.root, "_state", *parts)


# --- small-file I/O through the session's Hadoop FileSystem ----------------------------


@dataclass(frozen=True)
class FileInfo:
    """One input file as listed: canonical URI, size in bytes, modification time in ms."""

    uri: str
    size: int
    mtime_ms: int


def hadoop_path(spark, uri: str):
    """Hadoop's (FileSystem, Path) for a URI, through the session's configuration."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(spark_uri(uri))
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs, path


def exists(spark, uri: str) -> bool:
    """True when a file or folder exists at the URI."""
    if is_local(uri):
        return os.path.exists(local_path(uri))
    fs, path = hadoop_path(spark, uri)
    return bool(fs.exists(path))


def read_local_file(uri: str, flag: str) -> str:
    """The text of a local file named by a flag, read without Spark; a UsageError naming the flag if it is missing."""
    if not os.path.isfile(local_path(uri)):
        raise UsageError(f"{flag} {uri}: no such file")
    with open(local_path(uri), encoding="utf-8") as handle:
        return handle.read()


def read_bytes(spark, uri: str) -> Optional[bytes]:
    """The bytes of a small file, or None when it does not exist."""
    if is_local(uri):
        try:
            with open(local_path(uri), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None
    fs, path = hadoop_path(spark, uri)
    if not fs.exists(path):
        return None
    stream = fs.open(path)
    try:
        data = spark.sparkContext._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
    finally:
        stream.close()
    return bytes(data)


def read_text(spark, uri: str) -> Optional[str]:
    """The UTF-8 text of a small file, or None when it does not exist."""
    data = read_bytes(spark, uri)
    return None if data is None else data.decode("utf-8")


Parsed = TypeVar("Parsed")


def read_parsed(
    spark,
    uri: Optional[str],
    flag: str,
    parse: Callable[[str], Parsed],
    errors: Union[Type[Exception], Tuple[Type[Exception], ...]],
    hint: str = "",
) -> Parsed:
    """A small file named by a flag, parsed; exit 2 naming flag and URI when it is absent or `parse` raises `errors`."""
    text = read_text(spark, uri) if uri else None
    if text is None:
        raise UsageError(f"{flag} {uri}: no such file{hint}")
    try:
        return parse(text)
    except errors as error:
        raise UsageError(f"{flag} {uri}: {error}") from None


def write_bytes(spark, uri: str, data: bytes) -> None:
    """Write a small file so readers see the old or the new content, never half of it.

    Local: a temporary file beside it, renamed over (atomic on POSIX). S3: one PUT on
    close, which S3 makes visible atomically.
    """
    if is_local(uri):
        target = local_path(uri)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        return
    fs, path = hadoop_path(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()


def write_text(spark, uri: str, text: str) -> None:
    """Write a small UTF-8 text file atomically (see write_bytes)."""
    write_bytes(spark, uri, text.encode("utf-8"))


def delete(spark, uri: str) -> None:
    """Delete a file or folder tree; a missing path is fine."""
    if is_local(uri):
        target = local_path(uri)
        if os.path.isdir(target):
            shutil.rmtree(target)
        elif os.path.exists(target):
            os.remove(target)
        return
    fs, path = hadoop_path(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)
