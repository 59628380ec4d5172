"""Saving and loading lakeml's own pipeline stages without a Spark job per stage.

pyspark's DefaultParamsWriter writes a stage's one JSON line of metadata with `saveAsTextFile`, and its
reader reads the line back with `textFile(...).first()`: a Spark job each way for one line, paid by every
lakeml stage on every PipelineModel save and load. lakeml's stages write and read the same file
(`<stage>/metadata/part-00000`, then `_SUCCESS`) from the driver (core.lake's small-file I/O), so the
saved layout is the one Spark's readers expect (plain `PipelineModel.load` reads it, and lakeml reads
models that Spark's writer saved) and the save or load of a stage starts no Spark job. (pyspark's
PipelineModel reader still reads each stage's metadata once with a job of its own, to find its class.)
"""

from __future__ import annotations

from pyspark.ml.util import DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable, DefaultParamsWriter

from core.lake import join, read_text, write_text

METADATA = "metadata"
PART_FILE = "part-00000"  # where saveAsTextFile puts a one-partition RDD's line: Spark's writers use one partition
SUCCESS = "_SUCCESS"


def write_metadata(spark, path: str, line: str) -> None:
    """The stage's metadata folder as saveAsTextFile leaves it: the line in PART_FILE, then a `_SUCCESS` marker."""
    folder = join(path, METADATA)
    write_text(spark, join(folder, PART_FILE), line + "\n")
    write_text(spark, join(folder, SUCCESS), "")


def read_metadata(spark, path: str) -> str:
    """The metadata line a stage was saved with (by lakeml's writer or Spark's)."""
    text = read_text(spark, join(path, METADATA, PART_FILE))
    if text is None:
        raise FileNotFoundError(f"no stage metadata at {join(path, METADATA, PART_FILE)}")
    return text.split("\n", 1)[0]


class StageWriter(DefaultParamsWriter):
    """DefaultParamsWriter's metadata, written from the driver."""

    def saveImpl(self, path: str) -> None:
        write_metadata(self.sparkSession, path, DefaultParamsWriter._get_metadata_to_save(self.instance, self.sc))


class StageReader(DefaultParamsReader):
    """DefaultParamsReader's load, reading the metadata from the driver."""

    def load(self, path: str):
        metadata = DefaultParamsReader._parseMetaData(read_metadata(self.sparkSession, path))
        instance = self.cls()
        instance._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(instance, metadata)
        return instance


class StageWritable(DefaultParamsWritable):
    """Mixin: the stage saves its JSON Params as DefaultParamsWritable does, without a Spark job."""

    def write(self) -> StageWriter:
        return StageWriter(self)


class StageReadable(DefaultParamsReadable):
    """Mixin: the stage loads as DefaultParamsReadable does, without a Spark job."""

    @classmethod
    def read(cls) -> StageReader:
        return StageReader(cls)
