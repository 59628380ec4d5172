"""The demo shop's world: customers, products and the planted signals, drawn once from (seed, scale).

Everything here is pure numpy and deterministic. The purchase-propensity label `reordered_30d`
is drawn from a logistic model of three things the pipeline can see: visit recency (days since the
customer's last visit, from the access logs), visits (sessions in the logs) and the address's
region (the state). `design_auc` is the AUC of the true probabilities: the best any model can do.
Ratings for recommendations come from rank-3 user and item factors plus item biases.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional

import numpy as np

HISTORY_DAYS = 28  # the first night's logs cover this many days up to day 1
RATING_RANK = 3
# (city, state, zip prefix, region)
PLACES = (
    ("Seattle", "WA", "981", "west"),
    ("Portland", "OR", "972", "west"),
    ("San Francisco", "CA", "941", "west"),
    ("Los Angeles", "CA", "900", "west"),
    ("New York", "NY", "100", "northeast"),
    ("Boston", "MA", "021", "northeast"),
    ("Philadelphia", "PA", "191", "northeast"),
    ("Austin", "TX", "787", "south"),
    ("Miami", "FL", "331", "south"),
    ("Atlanta", "GA", "303", "south"),
    ("Winston-Salem", "NC", "271", "south"),
    ("Chicago", "IL", "606", "midwest"),
    ("Columbus", "OH", "432", "midwest"),
    ("Minneapolis", "MN", "554", "midwest"),
)
REGION_EFFECT = {"west": 0.9, "northeast": 0.3, "south": -0.4, "midwest": -0.8, None: 0.0}
FIRST = ("Ann", "Bob", "Carla", "Dev", "Erin", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemal", "Lena", "Mo", "Noor")
LAST = ("Smith", "Jones", "Garcia", "O'Neil", "Nguyen", "Khan", "Miller", "Smith, Jr.", "Lee", "Brown", "Rossi")
STREETS = ("Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset")
STREET_TYPES = ("Street", "Avenue", "Boulevard", "Road", "Drive", "Lane", "Court")
DIRECTIONS = ("North", "South", "East", "West")
UNIT_TYPES = ("Apartment", "Suite", "Unit")
CATEGORIES = ("shoes", "jackets", "bags", "hats", "socks", "gloves", "scarves", "belts")
START_DATE = dt.date(2026, 11, 20)


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: the size, the seed, and day 1's date."""

    scale: float = 1.0
    seed: int = 7
    start_date: dt.date = START_DATE
    days: int = 3

    def day_date(self, day: int) -> dt.date:
        """The calendar date of demo day `day` (1-based)."""
        return self.start_date + dt.timedelta(days=day - 1)


def rng(spec: DemoSpec, *purpose: object) -> np.random.Generator:
    """A generator for one purpose (and day): independent of what else was drawn."""
    words = [spec.seed, round(spec.scale * 1000)] + [sum(map(ord, str(p))) * 7919 + i for i, p in enumerate(purpose)]
    return np.random.default_rng(np.random.SeedSequence(words))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def rank_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by ranks (ties averaged)."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    i = 0
    while i < len(score):
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class World:
    """Customers (arrays indexed by customer_id - 1), products and planted factors."""

    spec: DemoSpec
    n_customers: int  # day 1's customers; later days add ids after these
    n_products: int
    place: np.ndarray  # index into PLACES, per customer
    state_missing: np.ndarray  # bool: the address has no state
    sessions: np.ndarray  # sessions in the history window (0 = never visited)
    last_seen: np.ndarray  # days before day 1 of the last visit (history window)
    label: np.ndarray  # reordered_30d, 0/1
    probability: np.ndarray  # the true probability behind the label
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_bias: np.ndarray
    popularity: np.ndarray  # product choice weights

    @property
    def design_auc(self) -> float:
        """AUC of the true probabilities against the drawn labels: the ceiling for any model."""
        return rank_auc(self.label, self.probability)

    def region(self, i: int) -> Optional[str]:
        """The region of customer index i, None when the address has no state."""
        return None if self.state_missing[i] else PLACES[self.place[i]][3]


def customer_count(scale: float) -> int:
    """Day 1's customers at a scale."""
    return max(50, round(2000 * scale))


def product_count(scale: float) -> int:
    """Products at a scale (grows slower than customers)."""
    return max(30, round(150 * math.sqrt(scale)))


def total_customers(spec: DemoSpec) -> int:
    """Customers over every demo day (each later day adds 2%)."""
    n = customer_count(spec.scale)
    return n + (spec.days - 1) * new_customers_per_day(n)


def new_customers_per_day(n: int) -> int:
    """Sign-ups on each day after the first."""
    return max(2, n // 50)


def propensity_logit(sessions: np.ndarray, last_seen: np.ndarray, regions: List[Optional[str]]) -> np.ndarray:
    """The planted model: more visits, a recent visit and the region raise the odds of ordering again."""
    visits = np.log1p(sessions) - 1.6
    recency = np.where(sessions > 0, last_seen, 40.0) / 10.0 - 1.4
    region = np.array([REGION_EFFECT[r] for r in regions])
    return -0.2 + 1.4 * visits - 1.1 * recency + region


@lru_cache(maxsize=4)
def build_world(spec: DemoSpec) -> World:
    """Draw the whole world of a spec."""
    r = rng(spec, "world")
    total = total_customers(spec)
    n_products = product_count(spec.scale)
    place = r.integers(0, len(PLACES), total)
    state_missing = r.random(total) < 0.03
    activity = r.gamma(2.0, 3.0, total)
    sessions = np.where(r.random(total) < 0.12, 0, np.maximum(1, r.poisson(activity)))
    last_seen = r.integers(0, HISTORY_DAYS, total)
    newcomers = np.arange(total) >= customer_count(spec.scale)
    sessions[newcomers], last_seen[newcomers] = 1, 0  # one visit, on the day they sign up
    regions = [None if state_missing[i] else PLACES[place[i]][3] for i in range(total)]
    probability = sigmoid(propensity_logit(sessions, last_seen, regions))
    label = (r.random(total) < probability).astype(int)
    popularity = 1.0 / np.arange(1, n_products + 1) ** 0.8
    return World(
        spec=spec,
        n_customers=customer_count(spec.scale),
        n_products=n_products,
        place=place,
        state_missing=state_missing,
        sessions=sessions,
        last_seen=last_seen,
        label=label,
        probability=probability,
        user_factors=r.normal(0, 0.8, (total, RATING_RANK)),
        item_factors=r.normal(0, 0.8, (n_products, RATING_RANK)),
        item_bias=r.normal(0, 0.4, n_products),
        popularity=popularity / popularity.sum(),
    )


def rating_of(world: World, customer: int, product: int, noise: float) -> int:
    """A 1-5 star rating from the planted factors (customer and product are 0-based indexes)."""
    value = 3.3 + 0.9 * float(world.user_factors[customer] @ world.item_factors[product])
    return int(min(5, max(1, round(value + world.item_bias[product] + noise))))


def manifest(world: World) -> Dict[str, object]:
    """What the demo was built with and what a model can reach on it."""
    spec = world.spec
    return {
        "generator": "lakeml demo shop",
        "scale": spec.scale,
        "seed": spec.seed,
        "start_date": spec.start_date.isoformat(),
        "days": spec.days,
        "customers_day1": world.n_customers,
        "customers_total": len(world.label),
        "products": world.n_products,
        "label": "reordered_30d",
        "label_rate": round(float(world.label.mean()), 4),
        "design_auc": round(world.design_auc, 4),
        "signal": "logit = -0.2 + 1.4*(log1p(sessions)-1.6) - 1.1*(days_since_last_visit/10-1.4) + region(state)",
    }
