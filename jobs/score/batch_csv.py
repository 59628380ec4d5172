"""Amazon ML's batch prediction layout (docs/scoring.md, "Batch prediction CSV"), written beside the Delta table.

    <csv>/batch-prediction/<run_id>.manifest                     JSON: input file URI -> its result file URI
    <csv>/batch-prediction/result/<run_id>-<input file>.gz       gzip CSV with a header, rows in input order

Headers: BINARY `tag,bestAnswer,score`; MULTICLASS `tag,<one column per class>`; REGRESSION `tag,score`
(`tag` only when the input has a rowId, as in Amazon ML); RECOMMEND `user,item,rank,score` in one result
file that every input file maps to. Numbers are written as Java writes doubles (`7.899012E-4`).
"""

from __future__ import annotations

import json
import posixpath
from typing import List

from core.lake import delete, hadoop_path, join, spark_uri, write_bytes, write_text
from jobs.score.predict import probability_columns
from ml.version_record import VersionRecord


def csv_columns(meta: VersionRecord, has_tag: bool) -> List[str]:
    """The result file's columns for a model type."""
    kind = meta.model_type
    if kind == "RECOMMEND":
        return ["user", "item", "rank", "score"]
    tag = ["tag"] if has_tag else []
    if kind == "BINARY":
        return [*tag, "bestAnswer", "score"]
    if kind == "MULTICLASS":
        return [*tag, *probability_columns(meta)]
    return [*tag, "score"]


def result_names(files: List[str], run_id: str) -> List[str]:
    """One result file name per input file: `<run_id>-<file name>.gz`, made unique by position when names repeat."""
    names = []
    for i, uri in enumerate(files):
        base = posixpath.basename(uri.rstrip("/")) or f"input{i}"
        name = f"{run_id}-{base}.gz"
        names.append(name if name not in names else f"{run_id}-{i}-{base}.gz")
    return names


def header_only(columns: List[str]) -> bytes:
    """A gzip CSV with only the header (an input file whose rows were all rejected)."""
    import gzip

    return gzip.compress((",".join(columns) + "\n").encode("utf-8"), mtime=0)


def _rename(spark, src: str, dst: str) -> None:
    fs, source = hadoop_path(spark, src)
    _, target = hadoop_path(spark, dst)
    if fs.exists(target):
        fs.delete(target, False)
    if not fs.rename(source, target):
        raise OSError(f"could not move {src} to {dst}")


def _part_file(spark, folder: str):
    """The one CSV part file Spark wrote in a folder, or None."""
    fs, path = hadoop_path(spark, folder)
    if not fs.exists(path):
        return None
    parts = [s.getPath().getName() for s in fs.listStatus(path) if s.getPath().getName().startswith("part-")]
    return join(folder, sorted(parts)[0]) if parts else None


def write_batch_csv(spark, scored, meta: VersionRecord, files: List[str], csv_uri: str, run_id: str, has_tag: bool):
    """Write the result files and the manifest; returns the manifest's URI and content."""
    from pyspark.sql import functions as F

    columns = csv_columns(meta, has_tag)
    names = result_names(files, run_id)
    base = join(csv_uri, "batch-prediction")
    tmp = join(base, f"_tmp-{run_id}")
    index = F.create_map(*[x for i, uri in enumerate(files) for x in (F.lit(uri), F.lit(i))])
    key = F.lit(0) if meta.model_type == "RECOMMEND" else index[F.col("_source_file")]
    order = ["_f", "user", "rank"] if meta.model_type == "RECOMMEND" else ["_f", "_row"]
    keyed = scored.withColumn("_f", key)
    (
        keyed.repartition("_f")
        .sortWithinPartitions(*order)
        .select("_f", *columns)
        .write.mode("overwrite")
        .option("header", "true")
        .option("compression", "gzip")
        .partitionBy("_f")
        .csv(spark_uri(tmp))
    )
    single = meta.model_type == "RECOMMEND"
    results = {}
    for i in [0] if single else range(len(files)):
        results[i] = join(base, "result", names[i])
        part = _part_file(spark, join(tmp, f"_f={i}"))
        if part is None:  # every row of that input file was rejected
            write_bytes(spark, results[i], header_only(columns))
        else:
            _rename(spark, part, results[i])
    manifest = {uri: results[0 if single else i] for i, uri in enumerate(files)}
    delete(spark, tmp)
    manifest_uri = join(base, f"{run_id}.manifest")
    write_text(spark, manifest_uri, json.dumps(manifest, indent=2) + "\n")
    return manifest_uri, manifest
