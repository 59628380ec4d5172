"""The build_features job (issue 30 item 1) beside its engine floor and pandas, each a fresh process.

    bench/run.sh build_features [--scales 1,4,16] [--runs 3]

Input per demo scale: a lake under bench/.data/build_features/<scale>/lake holding the demo shop's
ingested tables, made once by the nightly with only its ingest steps (`ingest.json`: the demo,
ingest_logs and ingest_dms sections of conf/nightly_demo.yaml, run as `nightly --demo --config
ingest.json --scale S` at the demo's last day), and `build_features.json`, the CONF the night gives
build_features (purchase_propensity: shop_customers, the address, web clickstream, a 4-output recipe).
Each contender reads those Delta tables in its own process and writes one row per customer:
- lakeml: `./spark-submit.sh local build_features --lake L --config C --run-date D` (its output table
  removed before each run, so every run is a first write); its stage split from the `stage` log lines;
- floor: the shortest PySpark program doing the same work in a fresh `python` (core.session's
  settings, the driver memory spark-submit.sh gives): the two Delta reads, the address, the
  sessionization (lag over a per-client window, a running sum of session starts), the per-user
  counts, the left join, the recipe's plain pyspark.ml stages (QuantileDiscretizer, StringIndexer,
  OneHotEncoder, VectorAssembler, the label cast) fitted and saved, one Delta write;
- pandas: deltalake (delta-rs) reads, the same address, sessionization, counts and join, the
  recipe's quantile edges and categories fitted and pickled, one Parquet write.
The floor and pandas simplify: the address is the parts joined by spaces and commas (no USPS
abbreviations, no whitespace or ZIP normalization) and its key a SHA-256 of the street line and ZIP;
only the click columns the demo's schema uses are computed (events, pages, errors, sessions,
days_since_last_visit; not bytes, active_days, first_seen or the path n-grams lakeml adds); base
rows with a null or duplicated key are not quarantined (the demo has none: the row counts would
differ otherwise); the vectors are OneHotEncoder's, not lakeml's token vocabulary.
Outputs are compared after every run: rows out, and the sums of the click counts, must be equal
(lakeml's output read with delta-rs). Each contender runs `--runs` times per scale, alternating, each
once the 1-minute load is under 1.5; the tables give medians, loads, lakeml's stage split, and at
the end each contender's growth exponent between the smallest and largest scale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, List, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [ROOT, *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

from bench._harness import DATA_DIR, OUT_DIR, ensure_dirs, wait_quiet  # noqa: E402
from bench.train_job import DRIVER_MEMORY, STAGE  # noqa: E402

DEMO_CONF = os.path.join(ROOT, "conf", "nightly_demo.yaml")
FEATURE_SET = "purchase_propensity"
CONTENDERS = ("lakeml", "floor", "pandas")
COMPARED = ("click_events", "click_pages", "click_errors", "click_sessions", "click_days_since_last_visit")
QUANTILE_BIN = re.compile(r"quantile_bin\((\w+),\s*(\d+)\)$")


# --- input ---------------------------------------------------------------------------------


def demo_run_date() -> str:
    """The demo's last day (nightly's default run date with --demo)."""
    from jobs.nightly.demo import DemoSpec

    spec = DemoSpec()
    return spec.day_date(spec.days).isoformat()


def write_input(scale: float, run_date: str) -> Tuple[str, str]:
    """(lake, build_features CONF) of a demo scale: the ingest-only nightly run once, its lake reused."""
    folder = os.path.join(DATA_DIR, "build_features", f"{scale:g}")
    lake, conf_path = os.path.join(folder, "lake"), os.path.join(folder, "build_features.json")
    ready = os.path.join(folder, "ready.json")
    if os.path.exists(ready):
        return lake, conf_path
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    night = demo_night()
    entry = next(e for e in night["build_features"] if e["config"]["feature_set"] == FEATURE_SET)
    with open(conf_path, "w") as handle:
        json.dump(entry["config"], handle, indent=1)
    ingest_path = os.path.join(folder, "ingest.json")
    with open(ingest_path, "w") as handle:
        json.dump({k: night[k] for k in ("demo", "ingest_logs", "ingest_dms")}, handle, indent=1)
    argv = [os.path.join(ROOT, "spark-submit.sh"), "local", "nightly", "--demo", "--config", ingest_path]
    argv += ["--scale", str(scale), "--lake", lake, "--run-date", run_date]
    print(f"scale {scale:g}: ingesting the demo lake (once) into {lake}", flush=True)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"the ingest-only nightly failed ({done.returncode}):\n{done.stderr[-3000:]}")
    with open(ready, "w") as handle:
        handle.write(done.stdout.strip().splitlines()[-1] + "\n")
    return lake, conf_path


def demo_night() -> dict:
    """conf/nightly_demo.yaml as a dict."""
    from core.conf import load_document

    with open(DEMO_CONF) as handle:
        return load_document(handle.read(), DEMO_CONF)


def read_conf(conf_path: str) -> dict:
    with open(conf_path) as handle:
        return json.load(handle)


def table_rows(uri: str) -> int:
    """Rows of a Delta table's current version (delta-rs)."""
    from deltalake import DeltaTable

    return DeltaTable(uri).to_pyarrow_dataset().count_rows()


def rows_in(lake: str, conf: dict) -> Tuple[int, int]:
    """(base rows, log lines) the job reads."""
    tables = os.path.join(lake, "tables")
    base = table_rows(os.path.join(tables, conf["base"]["table"]))
    return base, table_rows(os.path.join(tables, "logs_" + conf["clickstream"]["source"]))


def lookback(conf: dict, run_date: str) -> Tuple[dt.datetime, dt.datetime]:
    """[start, end) of the events the clickstream takes (UTC): up to the run date's end, lookback_days back."""
    end = dt.datetime.fromisoformat(run_date).replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    days = conf["clickstream"].get("lookback_days")
    # the demo's CONF sets lookback_days; without it every event before the end counts
    return (end - dt.timedelta(days=days) if days else dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)), end


def recipe_outputs(conf: dict) -> Tuple[Dict[str, int], List[str]]:
    """The recipe's quantile bins (column -> bins) and its plain categorical outputs; nothing else is handled."""
    bins, categorical = {}, []
    for output in conf["recipe"]["outputs"]:
        found = QUANTILE_BIN.match(output.replace(" ", ""))
        if found:
            bins[found.group(1)] = int(found.group(2))
        elif re.fullmatch(r"\w+", output):
            categorical.append(output)
        else:
            raise SystemExit(f"recipe output {output!r}: the floor handles quantile_bin(col, n) and plain columns only")
    return bins, categorical


# --- contenders ----------------------------------------------------------------------------


def run_lakeml(lake: str, conf_path: str, run_date: str) -> Tuple[float, Dict[str, float]]:
    """(seconds, stage seconds) of the job as a spark-submit; its earlier output removed first."""
    shutil.rmtree(os.path.join(lake, "features", FEATURE_SET), ignore_errors=True)
    shutil.rmtree(os.path.join(lake, "quarantine", "build_features"), ignore_errors=True)
    argv = [os.path.join(ROOT, "spark-submit.sh"), "local", "build_features", "--lake", lake]
    argv += ["--config", conf_path, "--run-date", run_date]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"build_features failed ({done.returncode}):\n{done.stderr[-3000:]}")
    stages = {m.group(1): float(m.group(2)) for m in STAGE.finditer(done.stdout + done.stderr)}
    stages["rest (JVM start, session, summary)"] = seconds - sum(stages.values())
    return seconds, stages


def run_process(kind: str, lake: str, conf_path: str, run_date: str, out: str) -> float:
    """Seconds of the floor or pandas as a fresh Python process."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": ROOT}
    argv = [sys.executable, "-m", "bench.build_features", f"--{kind}", lake, "--conf", conf_path]
    argv += ["--run-date", run_date, "--out", out]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def floor(lake: str, conf_path: str, run_date: str, out: str) -> None:
    """The engine floor: plain PySpark and pyspark.ml doing build_features' work on the demo's tables."""
    from core.session import build_session

    spark = build_session("build_features floor", extra={"spark.driver.memory": DRIVER_MEMORY})
    floor_features(spark, lake, read_conf(conf_path), run_date, out)
    spark.stop()


def floor_features(spark, lake: str, conf: dict, run_date: str, out: str):
    """The floor's work on a session: the feature rows written to `out` (a Delta table), the recipe's fitted
    stages saved under `out/_pipeline`; returns the fitted PipelineModel (it adds `features` and `label`)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, QuantileDiscretizer, SQLTransformer, StringIndexer, VectorAssembler
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from features.clickstream import STATIC_ASSET

    click, parts = conf["clickstream"], dict(conf["address"]["parts"])
    tables = os.path.join(lake, "tables")
    base = spark.read.format("delta").load(os.path.join(tables, conf["base"]["table"]))
    base = base.drop(*[c for c in base.columns if c.startswith("_dms")])
    city, state, zip_ = (F.col(parts.pop(p)) for p in ("city", "state", "zip"))
    street = F.concat_ws(" ", *[F.col(c) for c in parts.values()])
    base = base.withColumn(conf["address"]["output"], F.concat_ws(", ", street, city, F.concat_ws(" ", state, zip_)))
    base = base.withColumn(conf["address"]["key"], F.sha2(F.upper(F.concat_ws("|", street, zip_)), 256))

    start, end = lookback(conf, run_date)
    logs = spark.read.format("delta").load(os.path.join(tables, "logs_" + click["source"]))
    ts = F.col("event_ts")
    logs = logs.where((ts >= F.lit(start)) & (ts < F.lit(end)) & ~F.coalesce(F.col("is_bot"), F.lit(False)))
    by_client = Window.partitionBy(click["client_column"]).orderBy("event_ts")
    micros = F.expr("unix_micros(event_ts)")
    gap_us = round(float(click["session_gap_minutes"]) * 60e6)
    starts = F.coalesce((micros - F.lag(micros).over(by_client) >= gap_us).cast("int"), F.lit(1))
    running = by_client.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    sessions = logs.withColumn("_session", F.sum(starts).over(running))
    user = F.trim(click["user_column"])
    activity = (
        sessions.withColumn("_user", user)
        .where(F.col("_user").isNotNull() & ~F.col("_user").isin("", "-"))
        .groupBy("_user")
        .agg(
            F.count(F.lit(1)).alias("click_events"),
            F.sum((~F.coalesce(F.col("path"), F.lit("")).rlike(STATIC_ASSET)).cast("long")).alias("click_pages"),
            F.sum((F.col("status") >= 400).cast("long")).alias("click_errors"),
            F.countDistinct(click["client_column"], "_session").alias("click_sessions"),
            F.max("event_ts").alias("click_last_seen"),
        )
        .withColumn("click_days_since_last_visit", F.datediff(F.to_date(F.lit(run_date)), F.to_date("click_last_seen")))
    )
    joined = (
        base.join(activity, base[click["join_on"]].cast("string") == activity["_user"], "left")
        .drop("_user")
        .fillna(0, subset=["click_events", "click_pages", "click_errors", "click_sessions"])
        .cache()
    )

    bins, categorical = recipe_outputs(conf)
    binned = [c + "_q" for c in bins]
    indexed = [c + "_i" for c in categorical]
    encoded = [c + "_v" for c in binned + indexed]
    target = conf["schema"]["targetAttributeName"]
    stages = [
        QuantileDiscretizer(
            inputCols=list(bins), outputCols=binned, numBucketsArray=list(bins.values()), handleInvalid="keep"
        ),
        StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep"),
        OneHotEncoder(inputCols=binned + indexed, outputCols=encoded, handleInvalid="keep"),
        VectorAssembler(inputCols=encoded, outputCol="features"),
        SQLTransformer(statement=f"SELECT *, CAST({target} AS DOUBLE) AS label FROM __THIS__"),
    ]
    model = Pipeline(stages=stages).fit(joined)
    model.write().overwrite().save(os.path.join(out, "_pipeline"))
    rows = model.transform(joined).drop(*binned, *indexed, *encoded, "features")
    rows = rows.withColumn("run_date", F.lit(run_date).cast("date"))
    rows.write.format("delta").mode("overwrite").partitionBy("run_date").save(out)
    return model


def peer(lake: str, conf_path: str, run_date: str, out: str) -> None:
    """pandas (with delta-rs reads) doing the same work; writes Parquet and the fitted bins and categories."""
    import hashlib
    import pickle
    import warnings

    import numpy as np
    import pandas as pd
    from deltalake import DeltaTable

    from features.clickstream import STATIC_ASSET

    conf = read_conf(conf_path)
    click, parts = conf["clickstream"], dict(conf["address"]["parts"])
    client = click["client_column"]
    tables = os.path.join(lake, "tables")
    base = DeltaTable(os.path.join(tables, conf["base"]["table"])).to_pandas()
    base = base.drop(columns=[c for c in base.columns if c.startswith("_dms")])
    city, state, zip_ = (base[parts.pop(p)].fillna("") for p in ("city", "state", "zip"))
    pieces = [base[c].fillna("") for c in parts.values()]
    street = pieces[0].str.cat(pieces[1:], sep=" ").str.split().str.join(" ")
    base[conf["address"]["output"]] = street + ", " + city + ", " + (state + " " + zip_).str.strip()
    keys = (street + "|" + zip_).str.upper()
    base[conf["address"]["key"]] = [hashlib.sha256(k.encode()).hexdigest() for k in keys]

    start, end = lookback(conf, run_date)
    columns = [client, click["user_column"], "event_ts", "path", "status", "is_bot"]
    logs = DeltaTable(os.path.join(tables, "logs_" + click["source"])).to_pandas(columns=columns)
    logs = logs[(logs.event_ts >= start) & (logs.event_ts < end) & ~logs.is_bot.fillna(False).astype(bool)]
    logs = logs.sort_values([client, "event_ts"], kind="stable")
    gap = logs.event_ts - logs.groupby(client).event_ts.shift()
    starts = gap.isna() | (gap >= pd.Timedelta(minutes=float(click["session_gap_minutes"])))
    logs["_session"] = starts.astype("int64").groupby(logs[client]).cumsum()
    logs["_user"] = logs[click["user_column"]].str.strip()
    known = logs[logs._user.notna() & ~logs._user.isin(["", "-"])]
    with warnings.catch_warnings():  # the pattern's group is only an alternation
        warnings.simplefilter("ignore", UserWarning)
        pages = ~known.path.fillna("").str.contains(STATIC_ASSET)
    by_user = known.assign(_page=pages, _error=known.status >= 400).groupby("_user")
    activity = pd.DataFrame(
        {
            "click_events": by_user.size(),
            "click_pages": by_user._page.sum(),
            "click_errors": by_user._error.sum(),
            "click_sessions": known.drop_duplicates(["_user", client, "_session"]).groupby("_user").size(),
            "click_last_seen": by_user.event_ts.max(),
        }
    )
    last_day = activity.click_last_seen.dt.tz_convert(None).dt.normalize()
    activity["click_days_since_last_visit"] = (pd.Timestamp(run_date) - last_day).dt.days
    base["_user"] = base[click["join_on"]].astype("string")
    joined = base.merge(activity, left_on="_user", right_index=True, how="left").drop(columns="_user")
    for column in ("click_events", "click_pages", "click_errors", "click_sessions"):
        joined[column] = joined[column].fillna(0).astype("int64")

    bins, categorical = recipe_outputs(conf)
    edges = {c: np.unique(np.nanquantile(joined[c].astype("float64"), np.arange(1, n) / n)) for c, n in bins.items()}
    categories = {c: joined[c].value_counts().index.tolist() for c in categorical}
    joined["label"] = joined[conf["schema"]["targetAttributeName"]].astype("float64")
    joined["run_date"] = dt.date.fromisoformat(run_date)
    os.makedirs(out)
    with open(os.path.join(out, "_model.pkl"), "wb") as handle:
        pickle.dump((edges, categories), handle)
    joined.to_parquet(os.path.join(out, "part-0.parquet"), index=False)


# --- comparison and report -----------------------------------------------------------------


def output_counts(kind: str, path: str) -> Dict[str, float]:
    """Rows out and the sums of the compared click columns (and how many recencies are null)."""
    import pandas as pd

    if kind == "pandas":
        frame = pd.read_parquet(os.path.join(path, "part-0.parquet"), columns=list(COMPARED))
    else:
        from deltalake import DeltaTable

        frame = DeltaTable(path).to_pandas(columns=list(COMPARED))
    counts = {"rows": len(frame), "no_visit": int(frame.click_days_since_last_visit.isna().sum())}
    counts.update({c: int(frame[c].fillna(0).sum()) for c in COMPARED})
    return counts


def check_agree(scale: float, seen: Dict[str, Dict[str, float]]) -> None:
    """Raise (printing what differs) unless every contender's counts equal lakeml's."""
    want = seen["lakeml"]
    differ = {k: {c: v[k] for c, v in seen.items()} for k in want if len({v[k] for v in seen.values()}) > 1}
    if differ:
        for key, values in differ.items():
            print(f"scale {scale:g}: {key} differs: {values}", flush=True)
        raise SystemExit(f"outputs disagree at scale {scale:g}: {sorted(differ)}")


def median_runs(values: List[float]) -> str:
    return f"{statistics.median(values):.2f} ({' / '.join(f'{v:.1f}' for v in values)})"


def scale_table(scale: float, run_date: str, rows: Tuple[int, int], out_rows: int, seen, stage_seen, loads) -> str:
    """The markdown table of one scale and lakeml's stage split."""
    rows_total = sum(rows)
    medians = {k: statistics.median(v) for k, v in seen.items()}
    lines = [
        f"### build_features, demo scale {scale:g} ({dt.date.today().isoformat()}, {os.cpu_count()} cores)",
        f"{rows[0]:,} customers + {rows[1]:,} log lines in, run date {run_date}",
        "",
        "| contender | rows in | rows out | median s (runs) | lakeml s / this s | rows in/s | loads (1, 5, 15 min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in CONTENDERS:
        lines.append(
            f"| {name} | {rows_total:,} | {out_rows:,} | {median_runs(seen[name])} | "
            f"{medians['lakeml'] / medians[name]:.2f} | {rows_total / medians[name]:,.0f} | {'; '.join(loads[name])} |"
        )
    split = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stage_seen.items())
    lines += [
        "",
        f"lakeml / floor: {medians['lakeml'] / medians['floor']:.2f}x the time; "
        f"lakeml rows/s over pandas rows/s: {medians['pandas'] / medians['lakeml']:.2f}",
        f"lakeml stages (median s): {split}",
    ]
    return "\n".join(lines)


def growth(medians: Dict[float, Dict[str, float]]) -> str:
    """Each contender's exponent b in seconds ~ scale^b between the smallest and largest scale."""
    low, high = min(medians), max(medians)
    lines = [
        f"### growth of the median seconds, scale {low:g} -> {high:g}",
        "",
        f"| contender | s at {low:g} | s at {high:g} | exponent |",
        "|---|---|---|---|",
    ]
    for name in CONTENDERS:
        a, b = medians[low][name], medians[high][name]
        exponent = math.log(b / a) / math.log(high / low) if high != low else float("nan")
        lines.append(f"| {name} | {a:.2f} | {b:.2f} | {exponent:.2f} |")
    return "\n".join(lines)


def bench(scales: List[float], runs: int) -> None:
    ensure_dirs()
    run_date = demo_run_date()
    medians: Dict[float, Dict[str, float]] = {}
    for scale in scales:
        lake, conf_path = write_input(scale, run_date)
        conf = read_conf(conf_path)
        rows = rows_in(lake, conf)
        outputs = {
            "lakeml": os.path.join(lake, "features", FEATURE_SET),
            "floor": os.path.join(OUT_DIR, "build_features_floor"),
            "pandas": os.path.join(OUT_DIR, "build_features_pandas"),
        }
        seen: Dict[str, List[float]] = defaultdict(list)
        stage_seen: Dict[str, List[float]] = defaultdict(list)
        loads: Dict[str, List[str]] = defaultdict(list)
        for _ in range(runs):
            counts = {}
            for name in CONTENDERS:
                loads[name].append(wait_quiet())
                if name == "lakeml":
                    seconds, stages = run_lakeml(lake, conf_path, run_date)
                    for stage_name, value in stages.items():
                        stage_seen[stage_name].append(value)
                else:
                    seconds = run_process(name, lake, conf_path, run_date, outputs[name])
                seen[name].append(seconds)
                counts[name] = output_counts(name, outputs[name])
            check_agree(scale, counts)
            print(scale, {k: round(v[-1], 2) for k, v in seen.items()}, counts["lakeml"], flush=True)
        print(scale_table(scale, run_date, rows, counts["lakeml"]["rows"], seen, stage_seen, loads), flush=True)
        medians[scale] = {k: statistics.median(v) for k, v in seen.items()}
    if len(medians) > 1:
        print(growth(medians), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--pandas", help=argparse.SUPPRESS)
    parser.add_argument("--conf", help=argparse.SUPPRESS)
    parser.add_argument("--run-date", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor(args.floor, args.conf, args.run_date, args.out)
    elif args.pandas:
        peer(args.pandas, args.conf, args.run_date, args.out)
    else:
        bench([float(s) for s in args.scales.split(",")], args.runs)


if __name__ == "__main__":
    main()
