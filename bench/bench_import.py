"""Benchmark: import the 505-ticker file through the quality gate into DuckDB, then
check the report against the defects the data's README lists.

    .venv/bin/python bench/bench_import.py [PATH] [--db /tmp/x.duckdb]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data.cache import import_file
from engine.data.quality import QualityGate
from engine.data.report import quality_report
from engine.store import Store

DEFAULT = "/work/shared/data/us_equities_daily.parquet"
REAL_MOVES = [
    ("AMD", "2016-04-22"),
    ("EBAY", "2015-07-20"),
    ("BAX", "2015-07-01"),
    ("NI", "2015-07-02"),
    ("DISCA", "2014-08-07"),
    ("DISCK", "2014-08-07"),
    ("A", "2014-11-03"),
]
NAN_OPEN = [
    "BHF 2017-07-26",
    "DHR 2015-07-17",
    "DHR 2016-01-12",
    "ES 2015-07-17",
    "FTV 2016-07-01",
    "O 2015-07-17",
    "O 2016-01-12",
    "REGN 2015-06-09",
    "UA 2016-04-07",
    "VRTX 2015-05-12",
    "WRK 2015-06-26",
]
GAPS = {"DHR": 16, "O": 16, "ES": 10, "ICE": 5, "BMY": 2, "ORCL": 2}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default=DEFAULT)
    ap.add_argument("--db", default="/tmp/pmax_bench_import.duckdb")
    args = ap.parse_args()
    db = Path(args.db)
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    t0 = time.perf_counter()
    store = Store.open(db)
    summary = import_file(store, args.path, QualityGate())
    elapsed = time.perf_counter() - t0
    report = quality_report(store.con)
    iss = store.query_df("SELECT ticker, CAST(date AS VARCHAR) AS date, rule, action FROM quality_issues")
    bars = store.query_df("SELECT ticker, CAST(date AS VARCHAR) AS date, quarantined FROM bars")
    keys = set(zip(iss.ticker, iss.date, iss.rule))
    q = set(zip(bars.ticker[bars.quarantined], bars.date[bars.quarantined]))
    checks = {
        "nan_open_rows_reported": sum((t, d, "missing") in keys for t, d in (s.split() for s in NAN_OPEN)),
        "ohlc_rows_reported": int((iss.rule == "ohlc").sum()),
        "zero_volume_reported": int((iss.rule == "zero_volume").sum()),
        "lnt_2016_05_19_quarantined": ("LNT", "2016-05-19") in q,
        "gaps_by_ticker": {t: int(((iss.rule == "gap") & (iss.ticker == t)).sum()) for t in GAPS},
        "real_moves_quarantined": [f"{t} {d}" for t, d in REAL_MOVES if (t, d) in q],
    }
    ok = (
        checks["nan_open_rows_reported"] == 11
        and checks["ohlc_rows_reported"] == 12
        and checks["zero_volume_reported"] == 4
        and checks["lnt_2016_05_19_quarantined"]
        and checks["gaps_by_ticker"] == GAPS
        and not checks["real_moves_quarantined"]
    )
    print(
        json.dumps(
            {
                "rows": summary.rows,
                "tickers": summary.tickers,
                "quarantined": summary.quarantined,
                "read_s": round(summary.read_s, 2),
                "gate_s": round(summary.gate_s, 2),
                "write_s": round(summary.write_s, 2),
                "total_s_incl_open": round(elapsed, 2),
                "by_rule": report["by_rule"],
                "checks": checks,
                "all_checks_pass": ok,
            },
            indent=2,
            default=str,
        )
    )
    store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
