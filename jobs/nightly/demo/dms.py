"""The demo shop's AWS DMS output: full load + CDC files for shop.customers, shop.orders, shop.reviews.

DMS conventions (docs/dms.md): one folder per table `raw/dms/<schema>/<table>/`; the full load as
`LOAD00000001.csv, ...` (8-digit uppercase-hex counter, no Op column); CDC files named by their time
under date folders (DatePartitionEnabled, YYYYMMDD with slashes) with Op I/U/D first; CSV without a
header, RFC 4180 quoting, `NULL` for nulls; every row ends with `change_seq` ($AR_H_CHANGE_SEQ: 16
digits of time then a 19-digit counter) and `dms_ts` (TimestampColumnName). A U row carries the row
after the change, a D row the row before the delete.

Day 1 has the full load (taken at 00:30) and three CDC files; days 2 and 3 three CDC files each;
day 3 also brings a late orders file: named and filed at day 2, 10:00, it arrives a night late and
holds changes older than ones already applied (which must lose) beside changes nothing overtook.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

import numpy as np

from jobs.nightly.demo.world import (
    DIRECTIONS,
    FIRST,
    LAST,
    PLACES,
    STREET_TYPES,
    STREETS,
    UNIT_TYPES,
    DemoSpec,
    World,
    build_world,
    rating_of,
    rng,
)

DMS_PREFIX = "raw/dms"
CUSTOMER_COLUMNS = (
    "customer_id", "username", "first_name", "last_name", "email", "street_number", "pre_direction",
    "street_name", "street_type", "unit_type", "unit", "city", "state", "zip", "signup_date",
    "reordered_30d", "updated_at",
)  # fmt: skip
ORDER_COLUMNS = ("order_id", "customer_id", "product_id", "quantity", "amount", "status", "ordered_at", "updated_at")
REVIEW_COLUMNS = ("review_id", "customer_id", "product_id", "rating", "reviewed_at")
LOAD_ROWS_PER_FILE = 2500  # MaxFileSize stands in as a row count
CDC_HOURS = (6, 12, 18)
LATE_HOUR = 10  # the late file's time on day 2
STATUSES = ("placed", "paid", "shipped", "delivered")
Row = Dict[str, object]


@dataclass(order=True)
class Change:
    """One row DMS writes: when, what, and the row image."""

    at: dt.datetime
    seq: int
    op: str = field(compare=False)  # "L" for full-load rows (no Op column)
    row: Row = field(compare=False)


def ts_text(at: dt.datetime) -> str:
    """TimestampColumnName's format."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def change_seq(at: dt.datetime, counter: int) -> str:
    """$AR_H_CHANGE_SEQ: 16 digits from the time, then the 19-digit record counter."""
    return at.strftime("%Y%m%d%H%M%S") + f"{at.microsecond // 10000:02d}" + f"{counter:019d}"


def csv_bytes(changes: List[Change], columns: Tuple[str, ...], with_op: bool) -> bytes:
    """DMS CSV: no header, RFC 4180 quoting, NULL for nulls, change_seq and dms_ts last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for c in changes:
        values = ["NULL" if c.row.get(name) is None else str(c.row[name]) for name in columns]
        writer.writerow(([c.op] if with_op else []) + values + [change_seq(c.at, c.seq), ts_text(c.at)])
    return out.getvalue().encode("utf-8")


class Recorder:
    """Collects changes of one table with a shared change counter."""

    def __init__(self, counter: List[int]):
        self.counter = counter
        self.changes: List[Change] = []
        self.current: Dict[int, Row] = {}

    def put(self, at: dt.datetime, op: str, key: int, row: Optional[Row] = None) -> None:
        """Record an insert/update (row = the new image) or delete (the stored image)."""
        self.counter[0] += 1
        if op == "D":
            image = self.current.pop(key)
        else:
            image = dict(row if row is not None else self.current[key])
            self.current[key] = image
        self.changes.append(Change(at, self.counter[0], op, dict(image)))


def address(r: np.random.Generator, place: int, state_missing: bool) -> Row:
    """Address parts; some are missing (no direction, no unit, now and then no type or zip)."""
    city, state, zip_prefix, _ = PLACES[place]
    has_unit = r.random() < 0.3
    return {
        "street_number": str(int(r.integers(1, 9999))),
        "pre_direction": DIRECTIONS[int(r.integers(0, 4))] if r.random() < 0.2 else None,
        "street_name": STREETS[int(r.integers(0, len(STREETS)))],
        "street_type": STREET_TYPES[int(r.integers(0, len(STREET_TYPES)))] if r.random() > 0.05 else None,
        "unit_type": UNIT_TYPES[int(r.integers(0, 3))] if has_unit else None,
        "unit": str(int(r.integers(1, 40))) + ("B" if r.random() < 0.2 else "") if has_unit else None,
        "city": city,
        "state": None if state_missing else state,
        "zip": None if r.random() < 0.04 else zip_prefix + f"{int(r.integers(0, 100)):02d}",
    }


def customer_row(world: World, i: int, signup: dt.date, at: dt.datetime) -> Row:
    """The source row of customer index i."""
    r = rng(world.spec, "customer", i)
    first, last = FIRST[int(r.integers(0, len(FIRST)))], LAST[int(r.integers(0, len(LAST)))]
    row: Row = {
        "customer_id": i + 1,
        "username": f"user{i + 1:05d}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{i + 1}@example.com",
        "signup_date": signup.isoformat(),
        "reordered_30d": int(world.label[i]),
        "updated_at": ts_text(at),
    }
    row.update(address(r, int(world.place[i]), bool(world.state_missing[i])))
    return row


def at_hour(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A naive UTC datetime."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, second)


def price(product: int) -> float:
    """The list price of a product id."""
    return round(9.0 + (product * 37 % 120) + 0.99, 2)


def order_row(order_id: int, customer: int, product: int, quantity: int, at: dt.datetime, status: str) -> Row:
    """A new order's source row."""
    return {
        "order_id": order_id,
        "customer_id": customer + 1,
        "product_id": product + 1,
        "quantity": quantity,
        "amount": f"{price(product + 1) * quantity:.2f}",
        "status": status,
        "ordered_at": ts_text(at),
        "updated_at": ts_text(at),
    }


@dataclass
class Shop:
    """The source database while it is simulated: one recorder per table, ids handed out in order."""

    world: World
    customers: Recorder
    orders: Recorder
    reviews: Recorder
    next_order: int = 1
    next_review: int = 1
    protected: set = field(default_factory=set)  # orders with a change in the late window: never deleted

    def weights(self) -> np.ndarray:
        """Who buys and reviews: visitors more often."""
        w = self.world.sessions.astype(float) + 0.5
        return w / w.sum()


def full_load(shop: Shop, r: np.random.Generator) -> None:
    """Day 1's source state, recorded as full-load rows at 00:30."""
    world, day1 = shop.world, shop.world.spec.day_date(1)
    at = at_hour(day1, 0, 30)
    for i in range(world.n_customers):
        signup = day1 - dt.timedelta(days=int(r.integers(30, 900)))
        shop.customers.put(at, "L", i + 1, customer_row(world, i, signup, at))
    weights = shop.weights()[: world.n_customers]
    weights = weights / weights.sum()
    for _ in range(int(world.n_customers * 1.5)):
        customer = int(r.choice(world.n_customers, p=weights))
        placed = at_hour(day1, 0) - dt.timedelta(minutes=int(r.integers(60, 90 * 24 * 60)))
        status = "delivered" if (at - placed).days > 5 else STATUSES[int(r.integers(0, 3))]
        row = order_row(
            shop.next_order, customer, int(r.choice(world.n_products, p=world.popularity)), 1, placed, status
        )
        shop.orders.put(at, "L", shop.next_order, row)
        shop.next_order += 1
    for customer in np.flatnonzero(world.sessions[: world.n_customers] > 0):
        count = min(world.n_products, 3 + int(r.poisson(6)))  # enough per user for ALS to beat the bias baseline
        for product in r.choice(world.n_products, size=count, replace=False, p=world.popularity):
            add_review(shop, int(customer), int(product), at, "L", r)


def add_review(shop: Shop, customer: int, product: int, at: dt.datetime, op: str, r) -> None:
    """A new review with the planted rating."""
    row = {
        "review_id": shop.next_review,
        "customer_id": customer + 1,
        "product_id": product + 1,
        "rating": rating_of(shop.world, customer, product, float(r.normal(0, 0.35))),
        "reviewed_at": ts_text(at),
    }
    shop.reviews.put(at, op, shop.next_review, row)
    shop.next_review += 1


def order_event(shop: Shop, at: dt.datetime, r: np.random.Generator, late: bool) -> None:
    """One change to orders: a new order, a status step, a quantity fix or a deleted test order."""
    world, kind = shop.world, r.random()
    open_orders = [k for k, row in shop.orders.current.items() if row["status"] != "delivered"]
    if kind < 0.4 or not open_orders:
        customer = int(r.choice(len(world.label), p=shop.weights()))
        product = int(r.choice(world.n_products, p=world.popularity))
        row = order_row(shop.next_order, customer, product, int(r.integers(1, 4)), at, "placed")
        key, op, shop.next_order = shop.next_order, "I", shop.next_order + 1
    else:
        key = open_orders[-1 - int(min(len(open_orders) - 1, r.geometric(0.05) - 1))]  # recent ones more often
        row = dict(shop.orders.current[key], updated_at=ts_text(at))
        if kind < 0.93 or key in shop.protected or late:
            op = "U"
            if kind < 0.85:
                row["status"] = STATUSES[STATUSES.index(str(row["status"])) + 1]
            else:
                row["quantity"] = int(row["quantity"]) + 1
                row["amount"] = f"{price(int(row['product_id'])) * int(row['quantity']):.2f}"
        else:
            op, row = "D", None
    if late:
        shop.protected.add(key)
    shop.orders.put(at, op, key, row)


def customer_event(shop: Shop, at: dt.datetime, r: np.random.Generator) -> None:
    """One change to customers: a new e-mail, a move (address parts change, some go missing), a closed account."""
    keys = list(shop.customers.current)
    key = keys[int(r.integers(0, len(keys)))]
    kind = r.random()
    if kind < 0.93:
        row = dict(shop.customers.current[key], updated_at=ts_text(at))
        if kind < 0.5:
            row["email"] = f"{str(row['first_name']).lower()}.{key}.{int(r.integers(2, 99))}@example.org"
        else:
            i = key - 1
            row.update(address(r, int(shop.world.place[i]), bool(shop.world.state_missing[i])))
        shop.customers.put(at, "U", key, row)
    else:
        shop.customers.put(at, "D", key)


def window_times(day: dt.date, window: int, count: int, r: np.random.Generator) -> List[dt.datetime]:
    """Sorted change times inside one CDC window (00:30-06:00, 06:00-12:00, 12:00-18:00)."""
    start = at_hour(day, 0, 30) if window == 0 else at_hour(day, CDC_HOURS[window - 1])
    span = (at_hour(day, CDC_HOURS[window]) - start).total_seconds()
    offsets = np.sort(r.uniform(1, span - 1, count))
    return [start + dt.timedelta(seconds=float(s)) for s in offsets]


def cdc_name(table: str, day: dt.date, hour: int) -> str:
    """A CDC file's path: date folders, then the file's time as its name."""
    return f"{DMS_PREFIX}/shop/{table}/{day:%Y/%m/%d}/{day:%Y%m%d}-{hour:02d}00000000.csv"


def simulate_window(shop: Shop, day: int, window: int, newcomers: List[int], r) -> None:
    """Every change of one CDC window, in time order."""
    world, date = shop.world, shop.world.spec.day_date(day)
    n = world.n_customers
    for t, customer in zip(window_times(date, window, len(newcomers), r), newcomers):
        shop.customers.put(t, "I", customer + 1, customer_row(world, customer, date, t))
        if r.random() < 0.3:  # several changes per key in one file: the new customer adds a unit
            row = dict(shop.customers.current[customer + 1], unit_type="Unit", unit="2", updated_at=ts_text(t))
            shop.customers.put(t + dt.timedelta(seconds=1), "U", customer + 1, row)
    for t in window_times(date, window, max(2, n // 250), r):
        customer_event(shop, t, r)
    for t in window_times(date, window, max(5, n // 40), r):
        late = day == 2 and t.hour == LATE_HOUR - 1
        order_event(shop, t, r, late)
    for t in window_times(date, window, max(3, n // 80), r):
        who = int(r.choice(len(world.label), p=shop.weights()))
        if who + 1 in shop.customers.current:
            add_review(shop, who, int(r.choice(world.n_products, p=world.popularity)), t, "I", r)


def newcomers_of(world: World, day: int) -> List[int]:
    """Customer indexes that sign up on a day (none on day 1)."""
    if day == 1:
        return []
    per_day = (len(world.label) - world.n_customers) // max(1, world.spec.days - 1)
    start = world.n_customers + (day - 2) * per_day
    return list(range(start, start + per_day))


def file_of(table: str, change: Change, spec: DemoSpec) -> Tuple[str, int]:
    """(path, the demo day it arrives) of one recorded change."""
    if change.op == "L":
        return "", 1
    day = (change.at.date() - spec.start_date).days + 1
    if table == "orders" and day == 2 and change.at.hour == LATE_HOUR - 1:
        return cdc_name(table, change.at.date(), LATE_HOUR), 3  # the late file
    window = next(i for i, hour in enumerate(CDC_HOURS) if change.at < at_hour(change.at.date(), hour))
    return cdc_name(table, change.at.date(), CDC_HOURS[window]), day


@lru_cache(maxsize=4)
def run_shop(spec: DemoSpec) -> Shop:
    """The source database simulated over every demo day."""
    world = build_world(spec)
    counter = [0]
    shop = Shop(world, Recorder(counter), Recorder(counter), Recorder(counter))
    r = rng(spec, "dms")
    full_load(shop, r)
    for day in range(1, spec.days + 1):
        arrivals = newcomers_of(world, day)
        for window in range(len(CDC_HOURS)):
            simulate_window(shop, day, window, arrivals[window :: len(CDC_HOURS)], r)
    return shop


@lru_cache(maxsize=4)
def simulate(spec: DemoSpec) -> Dict[str, Dict[int, List[Tuple[str, bytes]]]]:
    """Every DMS file of the demo, by table and the day it arrives."""
    shop = run_shop(spec)
    columns = {"customers": CUSTOMER_COLUMNS, "orders": ORDER_COLUMNS, "reviews": REVIEW_COLUMNS}
    recorders = {"customers": shop.customers, "orders": shop.orders, "reviews": shop.reviews}
    out: Dict[str, Dict[int, List[Tuple[str, bytes]]]] = {}
    for table, recorder in recorders.items():
        loads = [c for c in recorder.changes if c.op == "L"]
        files: Dict[int, List[Tuple[str, bytes]]] = {}
        for n, start in enumerate(range(0, len(loads), LOAD_ROWS_PER_FILE), start=1):
            path = f"{DMS_PREFIX}/shop/{table}/LOAD{n:08X}.csv"
            files.setdefault(1, []).append(
                (path, csv_bytes(loads[start : start + LOAD_ROWS_PER_FILE], columns[table], False))
            )
        grouped: Dict[Tuple[str, int], List[Change]] = {}
        for change in recorder.changes:
            if change.op != "L":
                grouped.setdefault(file_of(table, change, spec), []).append(change)
        for (path, day), changes in sorted(grouped.items()):
            files.setdefault(day, []).append((path, csv_bytes(changes, columns[table], True)))
        out[table] = files
    return out


def dms_files(spec: DemoSpec, day: int) -> List[Tuple[str, bytes]]:
    """The DMS files that arrive on demo day `day`."""
    return [f for table in simulate(spec).values() for f in table.get(day, [])]


def final_state(spec: DemoSpec) -> Dict[str, Dict[int, Row]]:
    """The source tables after the last day (what the lake's tables must equal)."""
    shop = run_shop(spec)
    return {"customers": shop.customers.current, "orders": shop.orders.current, "reviews": shop.reviews.current}
