"""lakeml's compiled access-line parser (jvm/lakeml/AccessLineParser.java), a thin class over the JVM object.

The parser is a static call in Spark's generated code on the line's UTF-8 bytes. It types only the
lines it can fully validate (printable ASCII, no vhost prefix, ...) and returns null for every other
line, which the regex path (access_regex.py) then decides. Each method below is one JVM call.
"""

from __future__ import annotations

from py4j.java_gateway import JavaClass
from pyspark.sql import Column

from core.errors import LakemlError

# lakeml's compiled access-line parser (jvm/lakeml/AccessLineParser.java) returns these columns
ACCESS_PARSER_CLASS = "lakeml.AccessLineParser"
ACCESS_PARSER_FIELDS = (
    ("client", "string"),
    ("user", "string"),
    ("method", "string"),
    ("url", "string"),
    ("path", "string"),
    ("query", "map<string,string>"),
    ("protocol", "string"),
    ("status", "int"),
    ("bytes", "bigint"),
    ("referrer", "string"),
    ("user_agent", "string"),
    ("is_bot", "boolean"),
    ("extra", "array<string>"),
    ("event_micros", "bigint"),
)
ACCESS_PARSER_SCHEMA = "struct<" + ",".join(f"{name}:{kind}" for name, kind in ACCESS_PARSER_FIELDS) + ">"

NOT_COMPILED_ERROR = (
    "ingest_logs: an access line the compiled parser does not take turned up after the counting pass "
    "(did an input file change during the run?); nothing was published, run the job again"
)


class AccessLineParser:
    """The compiled parser of one Spark session.

    >>> parser = AccessLineParser.of(spark)
    >>> lines.select(parser.columns(F.col("line")).alias("c"))   # struct of ACCESS_PARSER_FIELDS or null
    >>> lines.select(parser.event_time(F.col("line")))           # event time in microseconds or null
    """

    def __init__(self, jparser: JavaClass):
        self._jparser = jparser

    @classmethod
    def of(cls, spark, class_name: str = ACCESS_PARSER_CLASS) -> AccessLineParser:
        """The parser class on the session's classpath; a clear error when lakeml's JVM jar is missing."""
        return cls(access_parser(spark, class_name))

    def columns(self, line: Column) -> Column:
        """The parser's columns of a string column (a struct of ACCESS_PARSER_FIELDS), null for a declined line."""
        return Column(self._jparser.columns(line._jc))

    def event_time(self, line: Column) -> Column:
        """The parser's decision on a string column, returning only the event time (microseconds)."""
        return Column(self._jparser.eventTime(line._jc))


def access_parser(spark, class_name: str = ACCESS_PARSER_CLASS) -> JavaClass:
    """The JVM class of lakeml's compiled access-line parser."""
    parser = spark.sparkContext._jvm
    for part in class_name.split("."):
        parser = getattr(parser, part)
    if not isinstance(parser, JavaClass):
        raise LakemlError(
            f"class {class_name} is not on the session's classpath: lakeml's JVM jar is missing. "
            "Locally run through ./spark-submit.sh (it compiles jvm/); on EMR the step passes the artifact's "
            "lakeml-jvm.jar with --jars."
        )
    return parser


def compiled_parse(spark, line: Column) -> Column:
    """AccessLineParser.columns of the session's parser."""
    return AccessLineParser.of(spark).columns(line)


def compiled_time(spark, line: Column) -> Column:
    """AccessLineParser.event_time of the session's parser."""
    return AccessLineParser.of(spark).event_time(line)
