"""The rows to score: read from a CSV datasource, a lake table or a feature set, checked against the model's schema.

Per case (docs in jobs/score/__init__.py):
- a feature attribute of the model missing from the input (schema or table): exit 2 before any scoring;
- an input attribute declared with another type than the model's: exit 2 (lakeml does not coerce);
- a table column of a type no attribute value can come from (array, map, struct, binary): exit 2;
- a value that does not parse as its attribute's type (NUMERIC, BINARY): the row is quarantined
  with the reason `invalid <TYPE> value in <attribute>`, never scored as missing;
- an empty value: missing, scored as the model was trained (the recipe's missing-value rule);
- a line that breaks the CSV rules: quarantined by ml.datasource with its reason;
- an extra column: ignored, named in the summary (`extra_columns`); the target, when present, too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from core.errors import UsageError
from core.feature_sets import set_key
from core.lake import exists, join, normalize_uri, read_parsed
from core.tables import read_table
from ml.model_inputs import check_columns, model_attributes
from ml.version_record import VersionRecord

COMPLEX_TYPES = ("array", "map", "struct", "binary")
ROW_COLUMNS = ("_tag", "_source_file", "_row")


@dataclass
class ScoreInput:
    """Typed rows to score (model attributes + _tag, _source_file, _row), rejects, and what was ignored."""

    rows: Any
    rejects: Any  # raw, source_file, reason
    rows_in: int
    files: List[str]
    extra_columns: List[str] = field(default_factory=list)
    ignored_columns: List[str] = field(default_factory=list)
    tag_column: Optional[str] = None
    source: str = ""
    rows_rejected: Optional[int] = None  # counted with rows_in when the read could; else the gate counts


def raw_strings_schema(schema: Dict[str, Any]) -> Dict[str, Any]:
    """The input schema with every attribute read as a raw string (typing is checked after, per model type)."""
    attributes = [{"attributeName": a["attributeName"], "attributeType": "CATEGORICAL"} for a in schema["attributes"]]
    return {**schema, "attributes": attributes, "targetAttributeName": None, "excludedAttributeNames": []}


def read_schema(spark, uri: str) -> Dict[str, Any]:
    """The --schema file (local or s3), normalized; exit 2 when missing or invalid."""
    from features.schema import SchemaError, load_schema

    return read_parsed(spark, normalize_uri(uri, "--schema"), "--schema", load_schema, SchemaError)


def tag_column(input_schema_row_id: Optional[str], model_schema: Dict[str, Any], columns: List[str]) -> Optional[str]:
    """The column whose value becomes `tag`: the input's rowId, else the model's rowId when present."""
    if input_schema_row_id:
        return input_schema_row_id
    row_id = model_schema.get("rowId")
    return row_id if row_id and row_id in columns else None


def typed_rows(strings, needed: Dict[str, str], tag_col: Optional[str]):
    """Model attributes typed as for training, `_tag`, and `_reason` for a value of the wrong type."""
    from pyspark.sql import functions as F

    from ml.datasource import typed_value

    columns, reason = [], F.lit(None).cast("string")
    for name, kind in reversed(list(needed.items())):  # the first bad attribute names the reason
        value, invalid = typed_value(name, kind)
        columns.insert(0, value.alias(name))
        reason = F.when(invalid, F.lit(f"invalid {kind} value in {name}")).otherwise(reason)
    tag = F.col(tag_col).cast("string") if tag_col else (F.col("_row") + 1).cast("string")
    shown = [*([tag_col] if tag_col and tag_col not in needed else []), *needed]
    raw = F.to_json(F.struct(*[F.col(n) for n in shown]))  # the row as read (a table row has no line)
    return strings.select(
        *columns, tag.alias("_tag"), "_source_file", "_row", raw.alias("_raw"), reason.alias("_reason")
    )


def split_typed(typed, csv_rejects=None):
    """(rows to score, all rejects as raw/source_file/reason)."""
    from pyspark.sql import functions as F

    good = typed.where(F.col("_reason").isNull()).drop("_raw", "_reason")
    bad = typed.where(F.col("_reason").isNotNull()).select(
        F.col("_raw").alias("raw"), F.col("_source_file").alias("source_file"), F.col("_reason").alias("reason")
    )
    if csv_rejects is not None:
        bad = csv_rejects.select("raw", "source_file", "reason").unionByName(bad)
    return good, bad


def read_csv_input(spark, data_uri: str, schema_uri: Optional[str], meta: VersionRecord) -> ScoreInput:
    """A CSV datasource checked against the model: its schema's attributes, then every value's type."""
    from features.schema import attribute_types, load_schema
    from ml.datasource import default_schema_uri, read_datasource

    schema = read_schema(spark, schema_uri or default_schema_uri(spark, data_uri))
    needed = model_attributes(meta)
    declared = attribute_types(schema)
    check_columns(declared, needed, "--schema", meta.version)
    target = schema.get("targetAttributeName") or load_schema(meta.schema).get("targetAttributeName")
    tag_col = tag_column(schema.get("rowId"), load_schema(meta.schema), list(declared))
    ignored = [n for n in declared if n not in needed and n != tag_col]
    ds = read_datasource(spark, data_uri, raw_strings_schema(schema), require_target=False, gate=False)
    if ds.rows_in == 0:
        raise UsageError(f"--data {data_uri}: no observations in {', '.join(ds.files)}; nothing to score")
    good, bad = split_typed(typed_rows(ds.rows, needed, tag_col), ds.rejects)
    return ScoreInput(
        rows=good,
        rejects=bad,
        rows_in=ds.rows_in,
        files=list(ds.files),
        extra_columns=[n for n in ignored if n != target],
        ignored_columns=ignored,
        tag_column=tag_col,
        source=ds.source,
    )


def spark_kinds(df) -> Dict[str, str]:
    """Each column's Spark type name (`double`, `array`, ...)."""
    return {f.name: f.dataType.typeName() for f in df.schema.fields}


def read_table_input(spark, table_uri: str, meta: VersionRecord, run_date: Optional[str], flag: str) -> ScoreInput:
    """A Delta table (a lake table, or a feature set's run-date partition) checked against the model."""
    from pyspark.sql import functions as F

    from features.schema import load_schema

    if not exists(spark, join(table_uri, "_delta_log")):
        raise UsageError(f"{flag}: no Delta table at {table_uri}; check the name and --lake")
    table = read_table(spark, table_uri)
    if run_date is not None and "run_date" in table.columns:
        table = table.where(F.col("run_date") == F.to_date(F.lit(run_date)))
    if not (meta.schema or {}).get("attributes"):
        return feature_set_rows(table, table_uri, flag, set_key(spark, table_uri, table.columns))
    kinds = spark_kinds(table)
    needed = model_attributes(meta)
    check_columns({n: None for n in kinds}, needed, flag, meta.version)
    bad_kinds = [f"{n} is {kinds[n]}" for n in needed if kinds[n] in COMPLEX_TYPES]
    if bad_kinds:
        raise UsageError(f"{flag}: column(s) of a type no attribute value comes from: {', '.join(bad_kinds)}")
    tag_col = tag_column(None, load_schema(meta.schema), list(kinds))
    keep = [*needed, *([tag_col] if tag_col and tag_col not in needed else [])]
    strings = table.select(
        *[F.col(n).cast("string").alias(n) for n in keep],
        F.lit(table_uri).alias("_source_file"),
        F.monotonically_increasing_id().alias("_row"),
    )
    typed = typed_rows(strings, needed, tag_col)
    counted = typed.agg(F.count(F.lit(1)).alias("rows"), F.count("_reason").alias("rejected")).first()
    if counted["rows"] == 0:
        where = f" for run date {run_date}" if run_date and "run_date" in kinds else ""
        raise UsageError(f"{flag}: the table {table_uri} has no rows{where}; nothing to score")
    good, bad = split_typed(typed)
    ignored = [n for n in kinds if n not in keep]
    return ScoreInput(
        good, bad, int(counted["rows"]), [table_uri], ignored, ignored, tag_col, table_uri, int(counted["rejected"])
    )


def feature_set_rows(table, table_uri: str, flag: str, key: Optional[str]) -> ScoreInput:
    """A model trained on a feature set names no attributes: the set's rows as written, its vectors recomputed;
    `tag` is the set's row key (a set without a recorded key: the row's position, from 1)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    if flag != "--features":
        raise UsageError(
            f"{flag}: the model was trained on a feature set and records no attributes; score it with --features"
        )
    dropped = [c for c in ("features", "label") if c in table.columns]
    row = F.monotonically_increasing_id()
    tag = F.col(key).cast("string") if key else (row + 1).cast("string")
    rows = table.drop(*dropped).select(
        "*", tag.alias("_tag"), F.lit(table_uri).alias("_source_file"), row.alias("_row")
    )
    rows_in = rows.count()
    if rows_in == 0:
        raise UsageError(f"{flag}: the feature set {table_uri} has no rows for the run date; nothing to score")
    empty = StructType([StructField(c, StringType()) for c in ("raw", "source_file", "reason")])
    rejects = table.sparkSession.createDataFrame([], empty)
    return ScoreInput(rows, rejects, rows_in, [table_uri], [], dropped, key, table_uri, rows_rejected=0)
