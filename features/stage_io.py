"""Saving and loading lakeml's own pipeline stages without a Spark job per stage.

pyspark's DefaultParamsWriter writes a stage's one JSON line of metadata with `saveAsTextFile`, and its
reader reads the line back with `textFile(...).first()`: a Spark job each way for one line, paid by every
lakeml stage on every PipelineModel save and load. lakeml's stages write and read the same file
(`<stage>/metadata/part-00000`, then `_SUCCESS`) through Hadoop's FileSystem API from the driver, so the
saved layout is the one Spark's readers expect (plain `PipelineModel.load` reads it, and lakeml reads
models that Spark's writer saved) and the save or load of a stage starts no Spark job. (pyspark's
PipelineModel reader still reads each stage's metadata once with a job of its own, to find its class.)
"""

from __future__ import annotations

import os

from pyspark.ml.util import DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable, DefaultParamsWriter

METADATA = "metadata"
PART_FILE = "part-00000"  # the file name saveAsTextFile gives a one-partition RDD's output
SUCCESS = "_SUCCESS"


def _hadoop_path(sc, uri: str):
    """(FileSystem, Path) of a URI, with the session's Hadoop settings (s3a endpoints, credentials)."""
    path = sc._jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(sc._jsc.hadoopConfiguration()), path


def write_line(sc, folder: str, line: str) -> None:
    """A folder holding one text file of one line and a `_SUCCESS` marker, as saveAsTextFile leaves it."""
    fs, path = _hadoop_path(sc, folder)
    Path = sc._jvm.org.apache.hadoop.fs.Path
    out = fs.create(Path(path, PART_FILE), False)
    try:
        out.write(bytearray((line + "\n").encode("utf-8")))
    finally:
        out.close()
    fs.create(Path(path, SUCCESS), False).close()


def read_first_line(sc, folder: str) -> str:
    """The first line of a text folder's data files (those not starting with `_` or `.`), as textFile reads it."""
    fs, path = _hadoop_path(sc, folder)
    names = sorted(
        status.getPath().getName()
        for status in fs.listStatus(path)
        if status.isFile() and not status.getPath().getName().startswith(("_", "."))
    )
    jvm = sc._jvm
    for name in names:
        stream = fs.open(jvm.org.apache.hadoop.fs.Path(path, name))
        try:
            line = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8")).readLine()
        finally:
            stream.close()
        if line is not None:
            return line
    raise FileNotFoundError(f"no metadata line under {folder}")


class StageWriter(DefaultParamsWriter):
    """DefaultParamsWriter's metadata, written from the driver."""

    def saveImpl(self, path: str) -> None:
        line = DefaultParamsWriter._get_metadata_to_save(self.instance, self.sc)
        write_line(self.sc, os.path.join(path, METADATA), line)


class StageReader(DefaultParamsReader):
    """DefaultParamsReader's load, reading the metadata from the driver."""

    def load(self, path: str):
        metadata = DefaultParamsReader._parseMetaData(read_first_line(self.sc, os.path.join(path, METADATA)))
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
