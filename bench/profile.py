"""The profile job (issue 30 item 1) at several sizes beside its engine floor and pandas, in one warm process.

    bench/run.sh profile [--sizes 100000,300000,1000000] [--runs 3]
    bench/run.sh profile --rows 1000000                # one size (the same as --sizes 1000000)
    bench/run.sh profile --wide [--rows 2000]          # 500 attributes + the target (issue 30 item 5)

Input per size (seeded, written once under bench/.data/: Parquet for pandas and the Delta table
`tables/bench_profile_<n>` of the lake bench/.data/profile_lake): 9 NUMERIC (normal, skewed,
integer; 2% missing and 0.5% unparseable in three of them, stored as strings), 5 CATEGORICAL (5 to
100,000 values), 2 BINARY (spelled yes/no), 2 TEXT (4-16 words from a 5,000-word vocabulary, Zipf),
1 id-like NUMERIC, the BINARY target: 20 columns. Contenders, in one process and one JVM, warmed
first by a profile and a floor of a 10,000-row slice:
- lakeml: the profile job in process (schema types, two passes, the HTML report and JSON written);
  its spark_jobs and the seconds of its `stage` log lines (read, passes, publish, and the rest);
- floor: the shortest PySpark doing the profile's arithmetic on the same Delta table, results
  collected, no report (floor_profile): one aggregation (count, nulls after try_cast, min, max,
  mean, stddev, percentile_approx quartiles, Pearson corr with the target), a groupBy count per
  CATEGORICAL / BINARY column (top values) and per TEXT column (distinct words of a row, top words);
- pandas: to_numeric + describe() of the numbers, value_counts() of every column and the word
  counts of the TEXT columns (split, explode, value_counts) on the DataFrame already in memory
  (read_parquet timed apart, once per size).
Each run alternates the contenders (the order rotating by run), each after `wait_quiet` (the load
before it printed). Outputs are compared, not only timed: rows, per NUMERIC attribute the nulls
(lakeml's missing + invalid) and min / max must agree across the three (else it raises); lakeml's
and the floor's medians, top values and top words are compared and differences printed. Printed:
a table per size (median seconds and each run, rows/s, ratio to pandas' rows/s, loads), lakeml's
median stage split, and each contender's growth exponent between the smallest and largest size
(log(t2 / t1) / log(n2 / n1): 1 is linear).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import re
import shutil
import statistics
import sys
import time
from collections import defaultdict
from typing import Callable, Dict, List, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named like the standard library's `profile` (which pyspark imports): take bench/ off the path
sys.path[:] = [os.path.dirname(HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, wait_quiet  # noqa: E402

NUMERIC = [f"num_{k}" for k in range(9)] + ["id_like"]
CATEGORICAL = ["cat_5", "cat_50", "cat_1k", "cat_10k", "cat_100k"]
BINARY = ["flag_a", "flag_b"]
TEXT = ["text_a", "text_b"]
STRINGY = ["num_0", "num_1", "num_2"]  # numbers stored as text with missing and invalid values
WIDE_COPIES = 26  # x 19 attributes + the target: 495 attributes, 1 target
TARGET = "target"
CONTENDERS = ("lakeml", "floor", "pandas")
TOP = 20  # values kept per CATEGORICAL / BINARY column (the profile's TOP)
TOP_WORDS = 500  # words kept per TEXT column (the profile's TOP_WORDS)
ACCURACY = 10_000  # percentile_approx accuracy (the profile's)
WARMUP_ROWS = 10_000
LAKE = os.path.join(DATA_DIR, "profile_lake")
STAGE = re.compile(r"stage (\w+): .*seconds=([0-9.]+)$")


def make_frame(rows: int, seed: int = 18):
    """The bench input as a pandas DataFrame."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    data = {}
    for k in range(9):
        base = (
            rng.normal(0, 1, rows) if k % 3 == 0 else rng.lognormal(0, 1, rows) if k % 3 == 1 else rng.poisson(5, rows)
        )
        data[f"num_{k}"] = base + (0.5 * y if k < 3 else 0)
    data["id_like"] = np.arange(rows, dtype=float)
    for name in STRINGY:
        values = np.char.mod("%.4f", data[name]).astype(object)
        values[rng.random(rows) < 0.02] = ""
        values[rng.random(rows) < 0.005] = "n/a"
        data[name] = values
    for name, card in zip(CATEGORICAL, (5, 50, 1000, 10_000, 100_000)):
        data[name] = np.char.add("c", rng.zipf(1.3, rows).clip(1, card).astype(str))
    for name in BINARY:
        data[name] = np.where(rng.random(rows) < 0.3, "yes", "no")
    vocab = np.array([f"w{k}" for k in range(5000)])
    for name in TEXT:
        lengths = rng.integers(4, 17, rows)
        words = vocab[(rng.zipf(1.2, lengths.sum()) - 1).clip(0, 4999)]
        data[name] = [" ".join(part) for part in np.split(words, np.cumsum(lengths)[:-1])]
    data["target"] = y
    return pd.DataFrame(data)


def column_types() -> dict:
    """Each bench column's Amazon ML type."""
    types = {**{c: "NUMERIC" for c in NUMERIC}, **{c: "CATEGORICAL" for c in CATEGORICAL}}
    types.update({c: "BINARY" for c in [*BINARY, "target"]}, **{c: "TEXT" for c in TEXT})
    return types


def schema(types: dict) -> dict:
    """The Amazon ML schema of columns of these types, `target` the target."""
    attrs = [{"attributeName": n, "attributeType": t} for n, t in types.items()]
    return {"version": "1.0", "targetAttributeName": "target", "attributes": attrs}


def wide_frame(rows: int, copies: int = WIDE_COPIES):
    """`copies` seeded copies of the bench's 19 attributes side by side (`<name>_<k>`), and one target."""
    import pandas as pd

    parts = [make_frame(rows, seed=18 + k).drop(columns="target").add_suffix(f"_{k}") for k in range(copies)]
    return pd.concat([*parts, make_frame(rows)[["target"]]], axis=1)


def wide_types(copies: int = WIDE_COPIES) -> dict:
    """The types of wide_frame's columns."""
    base = {n: t for n, t in column_types().items() if n != "target"}
    return {**{f"{n}_{k}": t for k in range(copies) for n, t in base.items()}, "target": "BINARY"}


def pandas_profile(frame):
    """describe() of the numbers, value_counts() of every column and the words of the TEXT columns; the describe()."""
    import pandas as pd

    described = frame[NUMERIC].apply(pd.to_numeric, errors="coerce").describe()
    for column in frame.columns:
        frame[column].value_counts()
    for column in TEXT:
        frame[column].str.split().explode().value_counts()
    return described


def as_double(name: str):
    """A column as a double, null when it does not parse ('' and 'n/a' become null, no error)."""
    from pyspark.sql import functions as F

    return F.expr(f"try_cast(`{name}` as double)")


def floor_aggregates(numeric: List[str], target: str) -> list:
    """The floor's one aggregation: rows; per number count, min, max, mean, stddev, quartiles, corr with the target."""
    from pyspark.sql import functions as F

    quartiles = F.array(*[F.lit(q) for q in (0.25, 0.5, 0.75)])
    y = F.col(target).cast("double")
    cols = [F.count(F.lit(1)).alias("rows")]
    for name in numeric:
        value = as_double(name)
        cols += [
            F.count(value).alias(f"count_{name}"),
            F.min(value).alias(f"min_{name}"),
            F.max(value).alias(f"max_{name}"),
            F.avg(value).alias(f"mean_{name}"),
            F.stddev_samp(value).alias(f"std_{name}"),
            F.percentile_approx(value, quartiles, ACCURACY).alias(f"quartiles_{name}"),
            F.corr(value, y).alias(f"corr_{name}"),
        ]
    return cols


def top_counts(values, limit: int) -> List[Tuple[object, int]]:
    """The most frequent values of a one-column frame `value` (ties by value), collected."""
    from pyspark.sql import functions as F

    grouped = values.groupBy("value").count().orderBy(F.desc("count"), F.asc("value"))
    return [(row["value"], row["count"]) for row in grouped.limit(limit).collect()]


def row_words(name: str):
    """The distinct lowercased whitespace words of each row, exploded (the profile counts rows per word)."""
    from pyspark.sql import functions as F

    return F.explode(F.array_distinct(F.split(F.lower(F.col(name)), r"\s+"))).alias("value")


def floor_profile(spark, path: str) -> dict:
    """The engine floor: the profile's figures of the bench columns from the Delta table at path, collected."""
    from pyspark.sql import functions as F

    frame = spark.read.format("delta").load(path)
    first = frame.agg(*floor_aggregates(NUMERIC, TARGET)).collect()[0].asDict()
    values = {c: top_counts(frame.select(F.col(c).alias("value")), TOP) for c in [*CATEGORICAL, *BINARY, TARGET]}
    words = {c: top_counts(frame.select(row_words(c)).where("value != ''"), TOP_WORDS) for c in TEXT}
    return {"first": first, "values": values, "words": words}


def run_in_process(spark, job: str, argv):
    """Run a job on this session as `python -m jobs` would; (exit code, summary dict)."""
    import contextlib
    import io

    from core.cli import execute, parse_job_args
    from jobs.main import load_job

    module = load_job(job)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = execute(module, parse_job_args(job, module, list(argv)), spark)
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


class StageSeconds(logging.Handler):
    """Keeps the seconds of the `lakeml` logger's `stage <name>: ... seconds=<s>` lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: Dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = STAGE.search(record.getMessage())
        if match:
            self.seconds[match.group(1)] = float(match.group(2))


def run_lakeml(spark, common: List[str], table: str, run_date: str) -> Tuple[dict, Dict[str, float]]:
    """The profile job in process on a lake table: (its summary, its stage seconds)."""
    from core.log import logger

    handler, level, propagate = StageSeconds(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        code, summary = run_in_process(spark, "profile", [*common, "--table", table, "--run-date", run_date])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    if code != 0:
        raise SystemExit(f"profile of {table} failed ({code}): {summary.get('message')}")
    return summary, handler.seconds


def run_floor(spark, path: str) -> dict:
    """floor_profile under a job group, with the number of Spark jobs it ran."""
    from jobs.profile import count_jobs

    group = f"bench-profile-floor-{time.monotonic_ns()}"
    spark.sparkContext.setJobGroup(group, "profile floor")
    try:
        out = floor_profile(spark, path)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return {**out, "spark_jobs": count_jobs(spark, group)}


def prepare_input(spark, rows: int) -> str:
    """The Parquet file and the Delta table `bench_profile_<rows>` of LAKE, written once; the table's name."""
    parquet = os.path.join(DATA_DIR, f"profile_{rows}.parquet")
    if not os.path.exists(parquet):
        make_frame(rows).to_parquet(parquet, index=False)
    table = f"bench_profile_{rows}"
    path = os.path.join(LAKE, "tables", table)
    if not os.path.exists(os.path.join(path, "_delta_log", f"{0:020d}.json")):
        shutil.rmtree(path, ignore_errors=True)
        spark.read.parquet(parquet).write.format("delta").save(path)
    return table


def warm_up(spark, common: List[str], table: str) -> float:
    """A profile and a floor of the first WARMUP_ROWS rows of a table, in this JVM; their seconds."""
    warm = os.path.join(LAKE, "tables", "warmup")
    source = spark.read.format("delta").load(os.path.join(LAKE, "tables", table)).limit(WARMUP_ROWS)
    source.write.format("delta").mode("overwrite").save(warm)
    started = time.perf_counter()
    run_lakeml(spark, common, "warmup", "2026-12-01")
    floor_profile(spark, warm)
    return time.perf_counter() - started


def agree(a, b, rel: float = 1e-9) -> bool:
    """Two figures equal (floats within rel), None only with None."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def numeric_figures(doc: dict, floor: dict, described, rows: int) -> Dict[str, Dict[str, tuple]]:
    """Per NUMERIC attribute and contender (lakeml, floor, pandas): (rows, nulls, min, max)."""
    attrs = {a["name"]: a for a in doc["attributes"]}
    first = floor["first"]
    out = {}
    for name in NUMERIC:
        a, d = attrs[name], described[name]
        out[name] = {
            "lakeml": (doc["rows"]["valid"], a["missing"] + a["invalid"], a["min"], a["max"]),
            "floor": (
                first["rows"],
                first["rows"] - first[f"count_{name}"],
                first[f"min_{name}"],
                first[f"max_{name}"],
            ),
            "pandas": (rows, rows - int(d["count"]), d["min"], d["max"]),
        }
    return out


def check_outputs(doc: dict, floor: dict, described, rows: int) -> None:
    """Raise unless rows, nulls, min and max of every NUMERIC attribute agree across the three contenders."""
    wrong = []
    for name, seen in numeric_figures(doc, floor, described, rows).items():
        for label, k in (("rows", 0), ("nulls", 1), ("min", 2), ("max", 3)):
            if not (agree(seen["lakeml"][k], seen["floor"][k]) and agree(seen["lakeml"][k], seen["pandas"][k])):
                wrong.append(f"{name} {label}: " + ", ".join(f"{c} {v[k]}" for c, v in seen.items()))
    if wrong:
        raise SystemExit(f"profile outputs disagree at {rows:,} rows:\n" + "\n".join(wrong))


def differences(doc: dict, floor: dict) -> List[str]:
    """Where lakeml's and the floor's other figures differ: median, mean, std, top values, top words."""
    attrs, first, notes = {a["name"]: a for a in doc["attributes"]}, floor["first"], []
    for name in NUMERIC:
        a = attrs[name]
        pairs = {"median": (a["median"], first[f"quartiles_{name}"][1]), "mean": (a["mean"], first[f"mean_{name}"])}
        pairs["std"] = (a["std"], first[f"std_{name}"])
        notes += [f"{name} {k}: lakeml {x} floor {y}" for k, (x, y) in pairs.items() if not agree(x, y, 1e-6)]
    for name in [*CATEGORICAL, *BINARY, TARGET]:
        lake = [(v["value"], v["count"]) for v in attrs[name]["top_values"]][:TOP]
        low = floor["values"][name]
        # BINARY values are 1/0 in the profile and as spelled in the table: compare their counts only
        if name not in CATEGORICAL:
            lake, low = sorted(c for _, c in lake), sorted(c for _, c in low)
        if lake != low:
            notes.append(f"{name} top values: lakeml {lake[:5]} floor {low[:5]}")
    for name in TEXT:
        lake = [(w["word"], w["count"]) for w in attrs[name]["top_words"]]
        low = floor["words"][name][: len(lake)]
        if lake != low:
            notes.append(f"{name} top words: lakeml {lake[:5]} floor {low[:5]}")
    return notes


def measure(spark, rows: int, runs: int, common: List[str], table: str) -> dict:
    """`runs` alternating runs of the three contenders on one size, each after wait_quiet; outputs checked."""
    import pandas as pd

    from core.lake import read_text

    parquet = os.path.join(DATA_DIR, f"profile_{rows}.parquet")
    started = time.perf_counter()
    frame = pd.read_parquet(parquet)
    read = time.perf_counter() - started
    path = os.path.join(LAKE, "tables", table)
    runners: Dict[str, Callable[[str], object]] = {
        "lakeml": lambda day: run_lakeml(spark, common, table, day),
        "floor": lambda day: run_floor(spark, path),
        "pandas": lambda day: pandas_profile(frame),
    }
    seconds: Dict[str, List[float]] = defaultdict(list)
    loads: Dict[str, List[str]] = defaultdict(list)
    stages: Dict[str, List[float]] = defaultdict(list)
    out: Dict[str, object] = {}
    for run in range(runs):
        day = (dt.date(2026, 12, 2) + dt.timedelta(days=run)).isoformat()
        shift = run % len(CONTENDERS)  # rotate the order: no contender always runs first after the wait
        for name in CONTENDERS[shift:] + CONTENDERS[:shift]:
            loads[name].append(wait_quiet().split(",")[0])
            started = time.perf_counter()
            out[name] = runners[name](day)
            seconds[name].append(time.perf_counter() - started)
        split = out["lakeml"][1]
        for stage, value in {**split, "rest": seconds["lakeml"][-1] - sum(split.values())}.items():
            stages[stage].append(value)
        print(
            f"{rows:,} rows, run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items()), flush=True
        )
    summary = out["lakeml"][0]
    doc = json.loads(read_text(spark, summary["counts"]["json"]))
    check_outputs(doc, out["floor"], out["pandas"], len(frame))
    jobs = {"lakeml": summary["counts"]["spark_jobs"], "floor": out["floor"]["spark_jobs"]}
    return {
        "seconds": seconds,
        "loads": loads,
        "stages": stages,
        "read": read,
        "jobs": jobs,
        "notes": differences(doc, out["floor"]),
    }


LABELS = {
    "lakeml": "lakeml profile (2 passes, report)",
    "floor": "floor (PySpark: 1 aggregation + groupBys)",
    "pandas": "pandas describe + value_counts + words",
}


def size_table(rows: int, seen: dict) -> str:
    """The markdown table of one size, lakeml's stage split and the floor's differences."""
    medians = {k: statistics.median(v) for k, v in seen["seconds"].items()}
    base = rows / medians["pandas"]
    lines = [
        f"### profile: {rows:,} rows x 20 columns",
        f"{dt.date.today().isoformat()}, {os.cpu_count()} cores, medians of {len(seen['seconds']['pandas'])} runs",
        "",
        "| contender | rows | median s (runs) | rows/s | ratio to pandas | 1-min load before each run |",
        "|---|---|---|---|---|---|",
    ]
    for name in CONTENDERS:
        runs = " / ".join(f"{s:.2f}" for s in seen["seconds"][name])
        rate = rows / medians[name]
        loads = " / ".join(seen["loads"][name])
        lines.append(
            f"| {LABELS[name]} | {rows:,} | {medians[name]:.2f} ({runs}) | {rate:,.0f} | {rate / base:.3g}x | {loads} |"
        )
    lines.append(
        f"| pandas read_parquet (apart, once) | {rows:,} | {seen['read']:.2f} | {rows / seen['read']:,.0f} | | |"
    )
    split = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in seen["stages"].items())
    lines += [
        "",
        f"lakeml stages (median s): {split}; spark_jobs lakeml {seen['jobs']['lakeml']}, floor {seen['jobs']['floor']}",
    ]
    notes = [f"differs from the floor: {note}" for note in seen["notes"]]
    lines += notes or ["lakeml and the floor agree on every figure compared"]
    return "\n".join(lines)


def growth(medians: Dict[int, Dict[str, float]]) -> str:
    """Each contender's growth exponent of median seconds between the smallest and largest size."""
    lo, hi = min(medians), max(medians)
    parts = [f"{name} {math.log(medians[hi][name] / medians[lo][name]) / math.log(hi / lo):.2f}" for name in CONTENDERS]
    return f"growth exponent of the median seconds, {lo:,} -> {hi:,} rows (1 = linear): " + ", ".join(parts)


def bench(sizes: List[int], runs: int) -> None:
    """Every size's table, then the growth exponents."""
    from core.session import build_session

    spark = build_session("bench-profile", extra={"spark.driver.memory": "2g", "spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    for folder in ("reports", "_runs", "quarantine"):  # the job's outputs of earlier benches; tables are kept
        shutil.rmtree(os.path.join(LAKE, folder), ignore_errors=True)
    schema_path = os.path.join(OUT_DIR, "profile.schema")
    with open(schema_path, "w") as handle:
        json.dump(schema(column_types()), handle)
    common = ["--lake", LAKE, "--schema", schema_path]
    tables = {n: prepare_input(spark, n) for n in sizes}
    warm = warm_up(spark, common, tables[sizes[0]])
    print(f"warm-up profile + floor of {WARMUP_ROWS:,} rows: {warm:.1f} s", flush=True)
    medians: Dict[int, Dict[str, float]] = {}
    texts = []
    for n in sizes:
        seen = measure(spark, n, runs, common, tables[n])
        medians[n] = {k: statistics.median(v) for k, v in seen["seconds"].items()}
        texts.append(size_table(n, seen))
        print(texts[-1] + "\n", flush=True)
    if len(sizes) > 1:
        texts.append(growth(medians))
    print("\n" + "\n\n".join(texts), flush=True)
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="comma-separated row counts")
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender per size (medians reported)")
    parser.add_argument("--rows", type=int, default=None, help="one size (with --wide: its rows, default 2000)")
    parser.add_argument("--wide", action="store_true", help="2,000 rows x ~500 attributes: the job alone, warm")
    args = parser.parse_args()
    ensure_dirs()
    if args.wide:
        wide(args.rows or 2000)
        return
    sizes = [args.rows] if args.rows else [int(s) for s in args.sizes.split(",")]
    bench(sorted(sizes), args.runs)


def wide(rows: int) -> None:
    """The profile job on rows x ~500 attributes (a Delta table), in a session warmed by a first run on 200 rows;
    three timed runs, the median with the load before each, and the page's size."""
    import statistics

    from bench._harness import wait_quiet
    from core.session import build_session

    spark = build_session("bench-profile-wide", extra={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    lake = os.path.join(OUT_DIR, "profile_wide_lake")
    shutil.rmtree(lake, ignore_errors=True)
    frame = wide_frame(rows)
    source = spark.createDataFrame(frame)
    source.write.format("delta").save(os.path.join(lake, "tables", "wide"))
    source.limit(200).write.format("delta").save(os.path.join(lake, "tables", "wide_warmup"))
    schema_path = os.path.join(OUT_DIR, "profile_wide.schema")
    with open(schema_path, "w") as handle:
        json.dump(schema(wide_types()), handle)
    common = ["--lake", lake, "--schema", schema_path]
    run_in_process(spark, "profile", [*common, "--table", "wide_warmup", "--run-date", "2026-12-01"])
    seconds, loads = [], []
    for day in ("2026-12-02", "2026-12-03", "2026-12-04"):
        loads.append(wait_quiet())
        started = time.perf_counter()
        code, out = run_in_process(spark, "profile", [*common, "--table", "wide", "--run-date", day])
        seconds.append(time.perf_counter() - started)
        assert code == 0, out["message"]
    page = out["counts"]["report"][len("file://") :]
    print(
        f"profile {rows:,} rows x {len(frame.columns) - 1} attributes + target: runs {seconds}, median "
        f"{statistics.median(seconds):.2f} s; loads before {loads}; page {os.path.getsize(page) / 1e6:.1f} MB, "
        f"spark_jobs {out['counts']['spark_jobs']}"
    )
    spark.stop()


if __name__ == "__main__":
    main()
