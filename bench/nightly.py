"""Benchmark: the whole nightly on the demo shop beside its engine floor, one fresh lake and process each.

    bench/run.sh nightly [--scales 0.05,1,4] [--runs 3]      # lakeml / floor, medians
    bench/run.sh nightly --curve [--scales 0.05,1,4,16]      # one night per scale: fixed cost and slope

lakeml: `./spark-submit.sh local nightly --demo --scale S --lake <fresh dir>` (the README's command, the
demo's last night with all three days' files): its wall time (the demo's raw zone written first, included),
each step's seconds from the nightly's summary, the raw rows read, the driver JVM's peak RSS (/proc, 0.2 s).

floor (`floor_night`): one hand-written PySpark program in a fresh `python` (core.session's settings, the
driver memory spark-submit.sh gives) doing the night's eight steps on the same raw zone: the log lines
through the job's own parser to one Delta table; each DMS table's full load and CDC files reduced to the
last change per key, one Delta write each; build_features' floor (bench/build_features.py); the profile's
figures in one aggregation plus the top values; MLlib's LogisticRegression at train's defaults and ALS at
the night's rank and regParam (70/30 splits, AUC and RMSE, models saved); the propensity scores and the
top-10 lists written as Delta. No quarantine, ledgers, reports, versions, champions or run records.

After every pair of runs the rows of every table both write are compared (delta-rs): they must be equal
but for the top-k lists, where lakeml also lists popular items for customers ALS never saw. Each run
starts once the 1-minute load is under 1.5; the medians, every run and the loads are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Dict, List

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [ROOT, *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]


def tree_rss_kib(pid: int) -> Dict[int, int]:
    """Resident KiB of a process and its descendants, by pid."""
    out: Dict[int, int] = {}
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as handle:
                rss = next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as handle:
                stack += [int(c) for c in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
        out[p] = rss
    return out


def java_pids(pids) -> List[int]:
    """The JVMs among pids (the driver of a local run)."""
    found = []
    for p in pids:
        try:
            with open(f"/proc/{p}/comm") as handle:
                if handle.read().strip() == "java":
                    found.append(p)
        except FileNotFoundError:
            continue
    return found


def run_scale(scale: float, out: str) -> dict:
    """One nightly run at a scale: seconds, step seconds, rows, peak driver RSS."""
    lake = os.path.join(out, f"lake-{scale:g}")
    shutil.rmtree(lake, ignore_errors=True)
    cmd = [os.path.join(ROOT, "spark-submit.sh"), "local", "nightly", "--demo", "--scale", str(scale), "--lake", lake]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    lines: List[str] = []
    import threading

    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    while proc.poll() is None:
        sizes = tree_rss_kib(proc.pid)
        peak = max([peak] + [sizes[p] for p in java_pids(sizes)])
        time.sleep(0.2)
    reader.join(timeout=10)
    seconds = time.monotonic() - started
    summary = json.loads(lines[-1])
    steps = {s["name"]: round(s["seconds"], 1) for s in summary["counts"]["steps"]}
    return {
        "scale": scale,
        "exit": proc.returncode,
        "seconds": round(seconds, 1),
        "job_seconds": round(summary["seconds"], 1),
        "rows_in": summary["rows_in"],
        "rows_per_s": round(summary["rows_in"] / summary["seconds"]) if summary["seconds"] else 0,
        "peak_driver_mib": round(peak / 1024),
        "steps": steps,
    }


# --- the engine floor -------------------------------------------------------------------------


def floor_logs(spark, folder: str, table: str) -> None:
    """The log lines parsed by the job's own parser (compiled, the regex for what it declines), the taken
    rows written as one Delta table partitioned by event_date; rejects dropped, not quarantined."""
    from pyspark.sql import functions as F

    from jobs.ingest_logs.parse import parse_lines
    from jobs.ingest_logs.table import table_rows

    lines = spark.read.text(folder).select(
        F.col("value").alias("line"), F.input_file_name().alias("source_file"), F.lit(False).alias("is_json")
    )
    table_rows(parse_lines(lines), "floor").write.format("delta").partitionBy("event_date").save(table)


def floor_dms_table(spark, folder: str, entry: dict, table: str) -> None:
    """A DMS table's full load and CDC files read with its CONF's types, the last change per key kept (deletes
    dropped), one Delta write."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    types = ", ".join(f"`{c['name']}` {c['type']}" for c in entry["columns"])
    csv = spark.read.options(nullValue="NULL")
    load = csv.schema(types).csv(os.path.join(folder, "LOAD*.csv")).withColumn("Op", F.lit("I"))
    cdc = csv.schema("Op STRING, " + types).csv(os.path.join(folder, "*", "*", "*", "*.csv"))
    last = Window.partitionBy(*entry["key"]).orderBy(F.desc(entry["change_seq_column"]))
    rows = load.unionByName(cdc).withColumn("_n", F.row_number().over(last))
    rows.where("_n = 1 AND Op != 'D'").drop("_n", "Op").write.format("delta").save(table)


def floor_profile(rows, schema: dict) -> dict:
    """The profile's figures of the feature rows: one aggregation over the numbers, the top values of the others."""
    from pyspark.sql import functions as F

    from bench.profile import floor_aggregates, top_counts

    types = {a["attributeName"]: a["attributeType"] for a in schema["attributes"]}
    target = schema["targetAttributeName"]
    numeric = [name for name, kind in types.items() if kind == "NUMERIC"]
    first = rows.agg(*floor_aggregates(numeric, target)).collect()[0].asDict()
    others = [name for name, kind in types.items() if kind != "NUMERIC"]
    return {"first": first, "values": {c: top_counts(rows.select(F.col(c).alias("value")), 10) for c in others}}


def model_input(rows, features_model):
    """Feature rows as the recipe's stages take them: no label or run_date, a missing number (binned) as NaN,
    which QuantileDiscretizer's handleInvalid="keep" puts in its extra bucket."""
    from pyspark.sql import functions as F

    binned = features_model.stages[0].getInputCols()
    nan = F.lit(float("nan"))
    return rows.drop("label", "run_date").withColumns({c: F.coalesce(F.col(c).cast("double"), nan) for c in binned})


def floor_train_binary(rows, features_model, out: str):
    """LogisticRegression at train's defaults on the recipe's vectors, 70/30 split; (full PipelineModel, AUC)."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    from bench.train_job import L2, MAX_ITER, TOL

    train, test = features_model.transform(model_input(rows, features_model)).randomSplit([0.7, 0.3], seed=7)
    fitted = LogisticRegression(regParam=L2, tol=TOL, maxIter=MAX_ITER, standardization=False).fit(train)
    auc = BinaryClassificationEvaluator().evaluate(fitted.transform(test))
    model = PipelineModel(stages=[*features_model.stages, fitted])
    model.write().overwrite().save(out)
    return model, auc


def floor_train_als(reviews, params: dict, out: str):
    """ALS with the night's rank and regParam on the reviews, 70/30 split; (model, RMSE)."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS

    train, test = reviews.randomSplit([0.7, 0.3], seed=7)
    als = ALS(userCol="customer_id", itemCol="product_id", ratingCol="rating", coldStartStrategy="drop", seed=7)
    fitted = als.setRank(params["rank"]).setRegParam(params["regParam"]).fit(train)
    rmse = RegressionEvaluator(labelCol="rating").evaluate(fitted.transform(test))
    fitted.write().overwrite().save(out)
    return fitted, rmse


def floor_ingest_dms(spark, lake: str, dms: dict, out: str) -> None:
    """Every DMS table of the night's ingest_dms section as a Delta table `tables/<schema>_<table>` under out."""
    for entry in dms["tables"]["tables"]:
        folder = os.path.join(lake, dms["input"], entry["schema"], entry["table"])
        floor_dms_table(spark, folder, entry, os.path.join(out, "tables", f"{entry['schema']}_{entry['table']}"))


def floor_score_binary(model, rows, key: str, run_date: str, path: str) -> None:
    """The model's probability of 1 per row, with the row's key, as a Delta table partitioned by run_date."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    scored = model.transform(rows).select(
        F.col(key).alias("tag"),
        vector_to_array("probability")[1].alias("score"),
        F.lit(run_date).cast("date").alias("run_date"),
    )
    scored.write.format("delta").partitionBy("run_date").save(path)


def floor_score_top_k(als, users, k: int, run_date: str, path: str) -> None:
    """ALS's top k items of each user (user, item, rank, rating) as a Delta table partitioned by run_date."""
    from pyspark.sql import functions as F

    lists = als.recommendForUserSubset(users, k)
    ranked = lists.select(F.col(als.getUserCol()).alias("user"), F.posexplode("recommendations").alias("rank", "r"))
    item, rank = F.col("r." + als.getItemCol()).alias("item"), (F.col("rank") + 1).alias("rank")
    rows = ranked.select("user", item, rank, "r.rating", F.lit(run_date).cast("date").alias("run_date"))
    rows.write.format("delta").partitionBy("run_date").save(path)


def floor_night(lake: str, out: str, run_date: str) -> dict:
    """The engine floor of the demo night: one PySpark program doing the eight steps on the raw zone of `lake`,
    writing its tables, features, models and scores under `out`; step seconds, AUC, RMSE."""
    from pyspark.sql import functions as F

    from bench.build_features import demo_night, floor_features
    from bench.train_job import DRIVER_MEMORY
    from core.session import build_session

    started = time.perf_counter()
    night, seconds = demo_night(), {}
    spark = build_session("nightly floor", extra={"spark.driver.memory": DRIVER_MEMORY})
    seconds["session"] = time.perf_counter() - started

    def step(name: str, fn):
        began = time.perf_counter()
        value = fn()
        seconds[name] = time.perf_counter() - began
        return value

    def under(*parts: str) -> str:
        return os.path.join(out, *parts)

    logs = night["ingest_logs"][0]
    raw_logs, logs_table = os.path.join(lake, logs["input"]), under("tables", "logs_" + logs["source"])
    step("ingest_logs", lambda: floor_logs(spark, raw_logs, logs_table))
    step("ingest_dms", lambda: floor_ingest_dms(spark, lake, night["ingest_dms"], out))
    conf = night["build_features"][0]["config"]
    features_path = under("features", conf["feature_set"])
    features_model = step("build_features", lambda: floor_features(spark, out, conf, run_date, features_path))
    features = spark.read.format("delta").load(features_path).where(F.col("run_date") == run_date)
    step("profile", lambda: floor_profile(features, conf["schema"]))
    binary, recs = night["train"]
    binary_model, auc = step(
        "train " + binary["name"],
        lambda: floor_train_binary(features, features_model, under("models", binary["name"])),
    )
    reviews = spark.read.format("delta").load(under("tables", recs["table"]))
    als, rmse = step(
        "train " + recs["name"], lambda: floor_train_als(reviews, recs["params"], under("models", recs["name"]))
    )
    rows, key = model_input(features, features_model), conf["base"]["key"]
    step(
        "score " + binary["name"],
        lambda: floor_score_binary(binary_model, rows, key, run_date, under("scores", binary["name"])),
    )
    top = night["score"][1]
    users = spark.read.format("delta").load(under("tables", top["table"])).select(als.getUserCol())
    step(
        "score " + recs["name"],
        lambda: floor_score_top_k(als, users, top["top_k"], run_date, under("scores", recs["name"])),
    )
    spark.stop()
    return {"seconds": time.perf_counter() - started, "steps": seconds, "auc": auc, "rmse": rmse}


def fit(points: List[dict]) -> Dict[str, float]:
    """Least squares seconds = fixed + per_scale * scale."""
    xs = [p["scale"] for p in points]
    ys = [p["job_seconds"] for p in points]
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0
    return {"fixed_seconds": round(my - slope * mx, 1), "seconds_per_scale": round(slope, 1), "points": n}


def markdown(points: List[dict]) -> str:
    """The results as a Markdown table (one row per scale, step seconds as columns)."""
    names = list(points[0]["steps"])
    head = ["scale", "exit", "wall s", "job s", "raw rows", "rows/s", "peak driver MiB", *names]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in points:
        cells = [
            p["scale"],
            p["exit"],
            p["seconds"],
            p["job_seconds"],
            p["rows_in"],
            p["rows_per_s"],
            p["peak_driver_mib"],
        ]
        cells += [p["steps"].get(n, "") for n in names]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(rows)


WRITTEN = (
    "tables/logs_web",
    "tables/shop_customers",
    "tables/shop_orders",
    "tables/shop_reviews",
    "features/purchase_propensity",
    "scores/purchase_propensity",
    "scores/product_recs",
)


def written_rows(root: str) -> Dict[str, int]:
    """Rows of each table the night writes under root (delta-rs, as users' other engines read them)."""
    from deltalake import DeltaTable

    return {name: DeltaTable(os.path.join(root, name)).to_pyarrow_dataset().count_rows() for name in WRITTEN}


def champion_value(lake: str, model: str) -> float:
    """The metric lakeml's night recorded for a model's champion (AUC, RMSE)."""
    with open(os.path.join(lake, "models", model, "champion.json")) as handle:
        return float(json.load(handle)["value"])


def run_floor(lake: str, out: str) -> dict:
    """The floor in a fresh Python process on lake's raw zone; its result dict with the wall seconds."""
    shutil.rmtree(out, ignore_errors=True)
    from bench.build_features import demo_run_date

    argv = [sys.executable, "-m", "bench.nightly", "--floor", lake, "--out", out, "--run-date", demo_run_date()]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"the floor failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": wall}


def compare(lake: str, out: str) -> Dict[str, tuple]:
    """(lakeml, floor) rows of each written table; raises where the tables both must agree on differ (the
    recommendations may differ: lakeml also lists popular items for customers ALS never saw)."""
    mine, floors = written_rows(lake), written_rows(out)
    differ = [n for n in WRITTEN if n != "scores/product_recs" and mine[n] != floors[n]]
    if differ:
        raise SystemExit(f"lakeml's and the floor's rows differ: {[(n, mine[n], floors[n]) for n in differ]}")
    return {n: (mine[n], floors[n]) for n in WRITTEN}


def bench(scales: List[float], runs: int, out: str) -> None:
    """Per scale, `runs` alternating runs of the night and its floor (each once the load is under 1.5)."""
    from bench._harness import wait_quiet

    for scale in scales:
        seen: Dict[str, List[float]] = {"lakeml": [], "floor": []}
        loads: List[str] = []
        for _ in range(runs):
            loads.append(wait_quiet())
            night = run_scale(scale, out)
            lake, floor_out = os.path.join(out, f"lake-{scale:g}"), os.path.join(out, f"floor-{scale:g}")
            loads.append(wait_quiet())
            floor = run_floor(lake, floor_out)
            rows = compare(lake, floor_out)
            seen["lakeml"].append(night["seconds"])
            seen["floor"].append(floor["wall"])
            auc, rmse = champion_value(lake, "purchase_propensity"), champion_value(lake, "product_recs")
            print(json.dumps({"scale": scale, "lakeml": night, "floor": floor, "rows": rows}), flush=True)
            print(f"AUC lakeml {auc:.4f} floor {floor['auc']:.4f}; RMSE lakeml {rmse:.4f} floor {floor['rmse']:.4f}")
        lk, fl = statistics.median(seen["lakeml"]), statistics.median(seen["floor"])
        print(
            f"| {scale:g} | {lk:.1f} ({' / '.join(f'{v:.1f}' for v in seen['lakeml'])}) | "
            f"{fl:.1f} ({' / '.join(f'{v:.1f}' for v in seen['floor'])}) | {lk / fl:.2f} | {'; '.join(loads)} |",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.05,1,4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--curve", action="store_true", help="one night per scale, the fixed cost and the slope")
    parser.add_argument("--out", default="/tmp/lakeml-bench-nightly")
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--run-date", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        print(json.dumps(floor_night(args.floor, args.out, args.run_date)))
        return 0
    os.makedirs(args.out, exist_ok=True)
    scales = [float(s) for s in args.scales.split(",")]
    if not args.curve:
        bench(scales, args.runs, args.out)
        return 0
    points = []
    for scale in scales:
        point = run_scale(scale, args.out)
        points.append(point)
        print(json.dumps(point), flush=True)
    print(markdown(points))
    print(json.dumps(fit(points)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
