"""Reading the taken files: each file's format sniffed from its first lines, then all lines in one read."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from pyspark.sql import functions as F

from core.errors import LakemlError
from core.files import read_paths, source_file_col
from core.lake import FileInfo, hadoop_path

SNIFF_LINES = 5
COMPRESSED = (".gz", ".bz2", ".deflate", ".zst", ".lz4", ".snappy")


def sniff_format(first_lines: Sequence[str]) -> str:
    """`json` when the first non-empty line is a JSON object, else `access`."""
    for text in first_lines:
        stripped = text.strip().lstrip("\ufeff")
        if stripped:
            return "json" if stripped.startswith("{") else "access"
    return "access"


def first_lines(spark, uri: str, count: int = SNIFF_LINES) -> List[str]:
    """Up to `count` non-empty first lines of a file (gzip decoded by Hadoop's codecs)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    fs, path = hadoop_path(spark, uri)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf).getCodec(path)
    stream = fs.open(path)
    try:
        source = codec.createInputStream(stream) if codec is not None else stream
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(source, "UTF-8"))
        found: List[str] = []
        for _ in range(200):
            text = reader.readLine()
            if text is None:
                break
            if text.strip():
                found.append(text[:4096])
                if len(found) >= count:
                    break
        return found
    except Exception as error:
        raise LakemlError(f"cannot read {uri}: {_cause(error)}; fix or remove the file and run again") from None
    finally:
        stream.close()


def _cause(error: Exception) -> str:
    text = str(error)
    for line in text.splitlines():
        if "Exception:" in line and ("java.io" in line or "java.util" in line):
            return line.split(":", 1)[-1].strip() or line.strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def read_lines(spark, files: Sequence[FileInfo], formats: Dict[str, str]):
    """Lines of the files with `source_file` (the file's listed URI) and `is_json`; each file read once."""
    json_uris = [f.uri for f in files if formats[f.uri] == "json"]
    # input_file_name() in its own projection: non-deterministic, it is evaluated once per line there
    # instead of once per reference in the expression below
    lines = (
        spark.read.text(read_paths([f.uri for f in files]))
        .select(F.col("value").alias("line"), F.input_file_name().alias("_file"))
        .select("line", source_file_col(F.col("_file")).alias("source_file"))
    )
    is_json = F.col("source_file").isin(json_uris) if json_uris else F.lit(False)
    return lines.select("line", "source_file", is_json.alias("is_json"))


def find_unreadable(spark, files: Sequence[FileInfo]) -> Optional[Tuple[str, str]]:
    """The first compressed file Spark cannot read to the end, with the cause; None if all read."""
    for info in files:
        if not info.uri.endswith(COMPRESSED):
            continue
        try:
            spark.read.text(read_paths([info.uri])).count()
        except Exception as error:
            return info.uri, _cause(error)
    return None


def file_format(fmt: str) -> str:
    """The parse's kind of a --format value: `json` or `access`."""
    return "json" if fmt == "json" else "access"
