"""`python -m jobs.nightly.demo --out DIR`: write the demo raw zone to a local folder."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from jobs.nightly.demo import DemoSpec, day_files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.nightly.demo", description=__doc__)
    parser.add_argument("--out", required=True, help="lake folder; files land under <out>/raw/")
    parser.add_argument("--scale", type=float, default=1.0, help="size: 1 = 2,000 customers, ~80k log lines")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start-date", type=dt.date.fromisoformat, default=DemoSpec().start_date)
    parser.add_argument("--days", type=int, default=3, choices=(1, 2, 3), help="write days 1..N")
    args = parser.parse_args(argv)
    spec = DemoSpec(scale=args.scale, seed=args.seed, start_date=args.start_date)
    for day in range(1, args.days + 1):
        for path, data in day_files(spec, day):
            target = os.path.join(args.out, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
        print(f"day {day} ({spec.day_date(day)}) written under {os.path.join(args.out, 'raw')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
