"""RECOMMEND models: ALS with a user/item bias baseline for cold start, top-k lists, ranking metrics.

The fitted PipelineModel: StringIndexer (user -> __u), StringIndexer (item -> __i), both keeping
unseen ids apart, ALS (-> __als, coldStartStrategy "nan": nothing is dropped), BiasBaseline
(`prediction` = the ALS value, or for a user or item ALS never saw, the baseline
mean + b_user + b_item, with a missing bias 0), DropColumns. The biases are damped means of the
training residuals: b_item = sum(r - mean) / (n_item + 10), then b_user = sum(r - mean - b_item) /
(n_user + 10). Implicit feedback (`--implicit`) trains ALS on event strengths (the rating column
summed per user and item, 1 per event without one) with implicitPrefs.

`top_k` lists up to k items per user that the user has not rated or used (the version folder keeps
every rated pair of the datasource, training and evaluation rows, under `seen/`); a user unknown
to the model gets the unrated items with the highest baseline. Ranking metrics (precision@k, NDCG@k with
binary relevance) take an evaluation item as relevant when rated >= 4 (explicit) or when present
(implicit), over users with one or more.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters

from core.errors import UsageError
from features.stage_io import StageReadable, StageWritable
from ml.version_record import VersionRecord

DAMPING = 10.0
RELEVANT_RATING = 4.0
# checkpointInterval 5: a tuning loop of 10-iteration fits overflowed task stacks at Spark's default of 10
ALS_DEFAULTS = {"rank": 10, "regParam": 0.1, "maxIter": 10, "seed": 7, "checkpointInterval": 5}


class _BiasBaselineParams(Params):
    """Params of BiasBaseline: the columns it reads and writes and the fitted bias model."""

    userCol = Param(Params._dummy(), "userCol", "raw user column", TypeConverters.toString)
    itemCol = Param(Params._dummy(), "itemCol", "raw item column", TypeConverters.toString)
    inputCol = Param(Params._dummy(), "inputCol", "ALS prediction column", TypeConverters.toString)
    outputCol = Param(Params._dummy(), "outputCol", "prediction column", TypeConverters.toString)
    mean = Param(Params._dummy(), "mean", "training mean rating", TypeConverters.toFloat)
    userIds = Param(Params._dummy(), "userIds", "users with a bias", TypeConverters.toListString)
    userBias = Param(Params._dummy(), "userBias", "their biases", TypeConverters.toListFloat)
    itemIds = Param(Params._dummy(), "itemIds", "items with a bias", TypeConverters.toListString)
    itemBias = Param(Params._dummy(), "itemBias", "their biases", TypeConverters.toListFloat)
    residual = Param(
        Params._dummy(),
        "residual",
        "ALS learned the residuals of the bias model: prediction = baseline + ALS",
        TypeConverters.toBoolean,
    )
    ratingRange = Param(
        Params._dummy(),
        "ratingRange",
        "[lowest, highest] rating seen in training; [] keeps predictions unclipped",
        TypeConverters.toListFloat,
    )

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._setDefault(
            inputCol="__als",
            outputCol="prediction",
            mean=0.0,
            userIds=[],
            userBias=[],
            itemIds=[],
            itemBias=[],
            ratingRange=[],
            residual=False,
        )

    def getUserCol(self) -> str:
        """The raw user column."""
        return self.getOrDefault(self.userCol)

    def getItemCol(self) -> str:
        """The raw item column."""
        return self.getOrDefault(self.itemCol)

    def getInputCol(self) -> str:
        """ALS's prediction column."""
        return self.getOrDefault(self.inputCol)

    def getOutputCol(self) -> str:
        """The prediction column written."""
        return self.getOrDefault(self.outputCol)

    def getMean(self) -> float:
        """The training mean rating."""
        return self.getOrDefault(self.mean)

    def getResidual(self) -> bool:
        """True when ALS learned the residuals of the bias model."""
        return self.getOrDefault(self.residual)

    def rating_range(self) -> Optional[Tuple[float, float]]:
        """The training rating scale predictions are clipped to, or None (implicit feedback, older models)."""
        bounds = self.getOrDefault(self.ratingRange)
        return (bounds[0], bounds[1]) if len(bounds) == 2 else None


class BiasBaseline(Transformer, _BiasBaselineParams, StageReadable, StageWritable):
    """`prediction` from ALS's value, or mean + user bias + item bias where ALS has none."""

    @keyword_only
    def __init__(
        self,
        *,
        userCol=None,
        itemCol=None,
        inputCol=None,
        outputCol=None,
        mean=None,
        userIds=None,
        userBias=None,
        itemIds=None,
        itemBias=None,
        ratingRange=None,
        residual=None,
    ):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        userCol=None,
        itemCol=None,
        inputCol=None,
        outputCol=None,
        mean=None,
        userIds=None,
        userBias=None,
        itemIds=None,
        itemBias=None,
        ratingRange=None,
        residual=None,
    ) -> BiasBaseline:
        """Set any of the params by keyword."""
        return self._set(**self._input_kwargs)

    def biases(self, spark, which: str):
        """The (id, bias) DataFrame of users or items."""
        ids, values = (self.userIds, self.userBias) if which == "user" else (self.itemIds, self.itemBias)
        pairs = list(zip(self.getOrDefault(ids), self.getOrDefault(values)))
        return spark.createDataFrame(pairs, f"__{which} string, __b_{which} double")

    def _transform(self, dataset):
        from pyspark.sql import functions as F

        spark = dataset.sparkSession
        user, item = self.getUserCol(), self.getItemCol()
        out = dataset.join(
            F.broadcast(self.biases(spark, "user")), F.col(user).cast("string") == F.col("__user"), "left"
        )
        out = out.join(F.broadcast(self.biases(spark, "item")), F.col(item).cast("string") == F.col("__item"), "left")
        base = F.lit(self.getMean()) + F.coalesce("__b_user", F.lit(0.0)) + F.coalesce("__b_item", F.lit(0.0))
        als = F.col(self.getInputCol())
        known = F.when(als.isNull() | F.isnan(als), F.lit(None)).otherwise(als.cast("double"))
        if self.getResidual():
            value = base + F.coalesce(known, F.lit(0.0))
        else:
            value = F.coalesce(known, base)
        value = clip_to(value, self.rating_range())
        return out.withColumn(self.getOutputCol(), value).drop("__user", "__b_user", "__item", "__b_item")


def clip_to(value, bounds: Optional[Tuple[float, float]]):
    """A prediction column clipped to [lowest, highest] (unchanged without bounds)."""
    from pyspark.sql import functions as F

    if not bounds:
        return value
    return F.least(F.greatest(value, F.lit(bounds[0])), F.lit(bounds[1]))


def rating_range(train, rating: str) -> Tuple[float, float]:
    """(lowest, highest) rating of the training interactions: the scale predictions are clipped to."""
    from pyspark.sql import functions as F

    row = train.agg(F.min(rating), F.max(rating)).first()
    return float(row[0]), float(row[1])


RESIDUAL = "__residual"


def with_residual(train, cols: Dict[str, str], mean: float, items, users):
    """The training ratings with RESIDUAL = rating - (mean + user bias + item bias)."""
    from pyspark.sql import functions as F

    spark = train.sparkSession
    b_item = spark.createDataFrame(items, "__ri string, __bi double")
    b_user = spark.createDataFrame(users, "__ru string, __bu double")
    out = train.join(F.broadcast(b_item), F.col(cols["item_col"]).cast("string") == F.col("__ri"), "left")
    out = out.join(F.broadcast(b_user), F.col(cols["user_col"]).cast("string") == F.col("__ru"), "left")
    base = F.lit(mean) + F.coalesce("__bi", F.lit(0.0)) + F.coalesce("__bu", F.lit(0.0))
    return out.withColumn(RESIDUAL, F.col(cols["rating_col"]) - base).drop("__ri", "__bi", "__ru", "__bu")


def fit_biases(train, user: str, item: str, rating: str):
    """(mean, item biases, user biases) as small pandas-free lists of (id, bias)."""
    from pyspark.sql import functions as F

    mean = float(train.agg(F.avg(rating)).first()[0])
    items = train.groupBy(F.col(item).cast("string").alias("i")).agg(
        (F.sum(F.col(rating) - mean) / (F.count(F.lit(1)) + DAMPING)).alias("b")
    )
    joined = train.join(items, F.col(item).cast("string") == F.col("i"))
    users = joined.groupBy(F.col(user).cast("string").alias("u")).agg(
        (F.sum(F.col(rating) - mean - F.col("b")) / (F.count(F.lit(1)) + DAMPING)).alias("b")
    )
    return mean, [(r["i"], float(r["b"])) for r in items.collect()], [(r["u"], float(r["b"])) for r in users.collect()]


def interactions(rows, cols: Dict[str, str], implicit: bool):
    """The rows ALS learns from: explicit ratings as given, implicit events summed per user and item."""
    from pyspark.sql import functions as F

    user, item, rating = cols["user_col"], cols["item_col"], cols["rating_col"]
    rows = rows.where(F.col(user).isNotNull() & F.col(item).isNotNull())
    if not implicit:
        return rows.where(F.col(rating).isNotNull())
    strength = F.coalesce(F.col(rating).cast("double"), F.lit(1.0)) if rating in rows.columns else F.lit(1.0)
    return rows.groupBy(user, item).agg(F.sum(strength).alias(rating))


def fit_recommender(train, cols: Dict[str, str], implicit: bool, params: Dict[str, Any]):
    """(PipelineModel, the ALS params used) fitted on the training interactions."""
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS

    from features.stages import DropColumns

    user, item, rating = cols["user_col"], cols["item_col"], cols["rating_col"]
    mean, items, users = fit_biases(train, user, item, rating)
    if not implicit:  # explicit ratings: ALS learns what the user and item biases leave
        # materialized, so ALS's iterations stack on a short plan (a long one overflowed task stacks)
        train = with_residual(train, cols, mean, items, users).localCheckpoint()
    als = ALS(
        userCol="__u",
        itemCol="__i",
        ratingCol=rating if implicit else RESIDUAL,
        coldStartStrategy="nan",
        implicitPrefs=implicit,
    ).setPredictionCol("__als")  # ALS's constructor takes no predictionCol
    chosen = {**ALS_DEFAULTS, **params}
    for key, value in chosen.items():
        if not als.hasParam(key) or key in ("userCol", "itemCol", "ratingCol", "predictionCol", "coldStartStrategy"):
            raise UsageError(f"--params: {key!r} is not an ALS parameter lakeml passes through")
        als._set(**{key: value})
    stages = [
        StringIndexer(inputCol=user, outputCol="__u", handleInvalid="keep"),
        StringIndexer(inputCol=item, outputCol="__i", handleInvalid="keep"),
        als,
    ]
    fitted = Pipeline(stages=stages).fit(train)
    bias = BiasBaseline(
        userCol=user,
        itemCol=item,
        mean=mean,
        userIds=[u for u, _ in users],
        userBias=[b for _, b in users],
        itemIds=[i for i, _ in items],
        itemBias=[b for _, b in items],
        ratingRange=[] if implicit else list(rating_range(train, rating)),
        residual=not implicit,
    )
    model = PipelineModel(stages=[*fitted.stages, bias, DropColumns(cols=["__u", "__i", "__als"])])
    return model, chosen


def _parts(model):
    from pyspark.ml.feature import StringIndexerModel
    from pyspark.ml.recommendation import ALSModel

    indexers = [s for s in model.stages if isinstance(s, StringIndexerModel)]
    als = next(s for s in model.stages if isinstance(s, ALSModel))
    bias = next(s for s in model.stages if isinstance(s, BiasBaseline))
    return indexers[0], indexers[1], als, bias


def model_rating_range(model) -> Optional[Tuple[float, float]]:
    """The rating scale a fitted recommender clips its predictions to (recorded in the version's metadata)."""
    return _parts(model)[3].rating_range()


def recommend(spark, model, users, seen, k: int, user_col: str, item_col: str):
    """(user, item, rank, score): the top k unseen items per user; unknown users get the top unseen baseline items."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    user_ix, item_ix, als, bias = _parts(model)
    user_ids = spark.createDataFrame(list(enumerate(user_ix.labels)), "__u int, user string")
    item_ids = spark.createDataFrame(list(enumerate(item_ix.labels)), "__i int, item string")
    wanted = users.select(F.col(user_col).cast("string").alias("user")).distinct()
    seen = seen.select(F.col(user_col).cast("string").alias("user"), F.col(item_col).cast("string").alias("item"))
    known = wanted.join(user_ids, "user")
    # factors copied out of ALS's lineage first: tasks that carried it (recommendForUserSubset's too) overflowed
    # the stack on deserialization
    factors = "__f int, features array<float>"
    user_rows = als.userFactors.join(known.select(F.col("__u").alias("id")), "id").collect()
    users_f = spark.createDataFrame([(r["id"], r["features"]) for r in user_rows], factors)
    users_f = with_bias(users_f.join(known, F.col("__f") == F.col("__u")), bias, "user", "uf")
    item_rows = als.itemFactors.collect()
    items_f = spark.createDataFrame([(r["id"], r["features"]) for r in item_rows], factors)
    items_f = with_bias(items_f.join(item_ids, F.col("__f") == F.col("__i")), bias, "item", "vf")
    dot = F.aggregate(F.zip_with("uf", "vf", lambda a, b: a * b), F.lit(0.0), lambda acc, x: acc + x)
    value = dot.cast("double") + F.col("user_b") + F.col("item_b")  # biases are 0 unless ALS learned residuals
    listed = users_f.crossJoin(F.broadcast(items_f)).select("user", "item", value.alias("score"))
    # ranked by the model's own value, shown on the rating scale (ties at the top of the scale keep their order)
    cold_users = wanted.join(user_ids, "user", "left_anti")
    cold = cold_users.crossJoin(F.broadcast(popular_items(spark, bias, cold_users, seen, k)))
    both = listed.unionByName(cold.select("user", "item", "score")).join(seen, ["user", "item"], "left_anti")
    order = Window.partitionBy("user").orderBy(F.desc("score"), F.asc("item"))
    return (
        both.withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= k)
        .select("user", "item", "rank", clip_to(F.col("score"), bias.rating_range()).alias("score"))
    )


def with_bias(factors, bias, which: str, vector: str):
    """(id, factor vector, bias term) of users or items: the term a residual model adds to the dot product
    (the mean goes with the users), 0 for a model whose ALS learned the ratings themselves."""
    from pyspark.sql import functions as F

    if not bias.getResidual():
        return factors.select(which, F.col("features").alias(vector), F.lit(0.0).alias(f"{which}_b"))
    spark = factors.sparkSession
    joined = factors.join(F.broadcast(bias.biases(spark, which)), F.col(which) == F.col(f"__{which}"), "left")
    term = F.coalesce(F.col(f"__b_{which}"), F.lit(0.0))
    if which == "user":
        term = term + F.lit(bias.getMean())
    return joined.select(which, F.col("features").alias(vector), term.alias(f"{which}_b"))


def popular_items(spark, bias, cold_users, seen, k: int):
    """(item, score) by baseline, enough of them that k remain for every cold user after its seen items go."""
    from pyspark.sql import functions as F

    most_seen = cold_users.join(seen, "user").groupBy("user").count().agg(F.max("count")).first()[0] or 0
    return (
        bias.biases(spark, "item")
        .select(F.col("__item").alias("item"), (F.col("__b_item") + bias.getMean()).alias("score"))
        .orderBy(F.desc("score"), "item")
        .limit(k + int(most_seen))
    )


def top_k(spark, model, record: VersionRecord, version_uri: str, users_df, k: int):
    """DataFrame(user, item, rank, score): up to k items per user of users_df, none it rated or used."""
    from core.lake import join, spark_uri

    rec = record.recommend
    seen = spark.read.parquet(spark_uri(join(version_uri, "seen")))
    return recommend(spark, model, users_df, seen, k, rec["user_col"], rec["item_col"])


def seen_pairs(rated, cols: Dict[str, str]):
    """The distinct (user, item) pairs rated, saved as <version>/seen/ so top_k never repeats them."""
    from pyspark.sql import functions as F

    return rated.select(F.col(cols["user_col"]).cast("string"), F.col(cols["item_col"]).cast("string")).distinct()


def ranking_metrics(recs, relevant, k: int) -> Dict[str, float]:
    """Mean precision@k and NDCG@k (binary relevance) over users with a relevant item."""
    from pyspark.sql import functions as F

    rel_counts = relevant.groupBy("user").agg(F.count(F.lit(1)).alias("n_rel"))
    hits = (
        recs.join(relevant.select("user", "item"), ["user", "item"])
        .groupBy("user")
        .agg(F.count(F.lit(1)).alias("hits"), F.sum(1.0 / F.log2(F.col("rank") + 1.0)).alias("dcg"))
    )
    ideal = F.aggregate(
        F.sequence(F.lit(1), F.least(F.col("n_rel"), F.lit(k))), F.lit(0.0), lambda acc, i: acc + 1.0 / F.log2(i + 1.0)
    )
    per_user = rel_counts.join(hits, "user", "left").select(
        (F.coalesce("hits", F.lit(0)) / float(k)).alias("p"), (F.coalesce("dcg", F.lit(0.0)) / ideal).alias("ndcg")
    )
    row = per_user.agg(F.avg("p"), F.avg("ndcg"), F.count(F.lit(1))).first()
    return {
        f"precision_at_{k}": float(row[0] or 0.0),
        f"ndcg_at_{k}": float(row[1] or 0.0),
        "ranked_users": int(row[2]),
    }


def evaluate(spark, model, seen, mean: float, test, cols: Dict[str, str], implicit: bool, k: int = 10):
    """RECOMMEND Evaluation: RMSE (explicit) beside the training mean, precision@k and NDCG@k of unseen items."""
    from pyspark.sql import functions as F

    from ml.metrics import Evaluation

    user, item, rating = cols["user_col"], cols["item_col"], cols["rating_col"]
    scored = model.transform(test).select(F.col(rating).cast("double").alias("r"), "prediction")
    row = scored.agg(
        F.avg((F.col("prediction") - F.col("r")) ** 2), F.avg((F.col("r") - mean) ** 2), F.count("r")
    ).first()
    recs = recommend(spark, model, test, seen, k, user, item)
    keep = F.lit(True) if implicit else F.col(rating) >= RELEVANT_RATING
    relevant = test.where(keep).select(
        F.col(user).cast("string").alias("user"), F.col(item).cast("string").alias("item")
    )
    ranking = ranking_metrics(recs, relevant.distinct(), k)
    metrics: Dict[str, Any] = {"rows": int(row[2]), **ranking, "ndcg_at_k": ranking[f"ndcg_at_{k}"], "k": k}
    baseline: Dict[str, Any] = {"mean": mean}
    worse = False
    if not implicit:
        metrics["rmse"] = math.sqrt(float(row[0]))
        baseline["mean_rmse"] = math.sqrt(float(row[1]))
        baseline["rmse"] = bias_rmse(model, test, cols)  # the bar: the user and item bias model alone
        worse = not metrics["rmse"] < baseline["rmse"]
    return Evaluation("RECOMMEND", metrics, baseline, worse, {"ranking": [{"k": k, **ranking}]})


def rmse(model, rows, rating: str) -> float:
    """RMSE of a recommender's predictions on rated rows."""
    from pyspark.sql import functions as F

    error = F.col("prediction") - F.col(rating).cast("double")
    return math.sqrt(float(model.transform(rows).agg(F.avg(error * error)).first()[0] or 0.0))


def bias_rmse(model, test, cols: Dict[str, str]) -> float:
    """RMSE on the rows of the user and item bias model the recommender carries (mean + b_user + b_item)."""
    from pyspark.sql import functions as F

    bias = _parts(model)[3]
    pairs = {w: list(zip(*(bias.getOrDefault(p) for p in bias_params(bias, w)))) for w in ("user", "item")}
    scored = with_residual(test, cols, bias.getMean(), pairs["item"], pairs["user"])
    residual = clip_to(F.col(cols["rating_col"]) - F.col(RESIDUAL), bias.rating_range()) - F.col(cols["rating_col"])
    return math.sqrt(float(scored.agg(F.avg(residual * residual)).first()[0] or 0.0))


def bias_params(bias, which: str):
    """The (ids, biases) Params of users or items."""
    return (bias.userIds, bias.userBias) if which == "user" else (bias.itemIds, bias.itemBias)


def pair_key(cols: Dict[str, str]):
    """A stable key of a (user, item) pair: the row position summed events do not have."""
    from pyspark.sql import functions as F

    return F.xxhash64(F.col(cols["user_col"]).cast("string"), F.col(cols["item_col"]).cast("string"))


TUNE_GRID = {"rank": (5, 20), "regParam": (0.05, 0.2)}


def tune_recommender(spark, fit_rows, check_rows, cols: Dict[str, str], implicit: bool, params: Dict[str, Any], k=10):
    """(best ALS params, every grid point's score): rank x regParam fitted on fit_rows, judged on check_rows
    (RMSE for ratings, NDCG@k for events); the evaluation rows never take part."""
    results = []
    for rank in TUNE_GRID["rank"]:
        for reg in TUNE_GRID["regParam"]:
            point = {**params, "rank": rank, "regParam": reg}
            model, _ = fit_recommender(fit_rows, cols, implicit, point)
            if implicit:
                mean = training_mean(fit_rows, cols["rating_col"])
                score = evaluate(spark, model, fit_rows, mean, check_rows, cols, implicit, k).metrics["ndcg_at_k"]
            else:
                score = rmse(model, check_rows, cols["rating_col"])
            results.append({"rank": rank, "regParam": reg, "score": score})
    best = (max if implicit else min)(results, key=lambda r: r["score"])
    return {**params, "rank": best["rank"], "regParam": best["regParam"]}, results


def training_mean(train, rating: str) -> float:
    """The mean rating of the training interactions (the RMSE baseline)."""
    from pyspark.sql import functions as F

    return float(train.agg(F.avg(rating)).first()[0])


def recommend_columns(
    schema: Dict[str, Any], user: Optional[str], item: Optional[str], rating: Optional[str], implicit: bool
) -> Dict[str, str]:
    """User, item and rating columns: from the flags, else the first two CATEGORICAL attributes and the target."""
    from features.schema import attribute_types, feature_attributes

    types = attribute_types(schema)
    categorical = [a for a, t in feature_attributes(schema).items() if t == "CATEGORICAL"]
    user = user or (categorical[0] if categorical else None)
    item = item or next((a for a in categorical if a != user), None)
    rating = rating or schema.get("targetAttributeName")
    for flag, name in (("--user-col", user), ("--item-col", item)):
        if not name or name not in types:
            raise UsageError(f"{flag}: {name!r} is not an attribute of the schema; name the column with {flag}")
    if not implicit and (not rating or types.get(rating) != "NUMERIC"):
        raise UsageError(f"--rating-col: explicit ratings need a NUMERIC rating attribute, got {rating!r}")
    return {"user_col": user, "item_col": item, "rating_col": rating or "__events"}
