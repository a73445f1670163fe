"""What a run did, for `pmax --run --json`: final equity, Sharpe, max drawdown, trades,
and the benchmark-relative report (`engine.portfolio.report`) for the same sessions.

Metrics follow empyrical's conventions (daily simple returns, ddof=1, 252 sessions,
max drawdown a negative fraction), computed by `engine.metrics`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.metrics import max_drawdown, sharpe_ratio
from engine.portfolio.db import first_row
from engine.portfolio.report import MIN_SESSIONS, benchmark_report
from engine.sharpe_stats import probabilistic_sharpe_ratio

if TYPE_CHECKING:
    import duckdb


def _sharpe(r: np.ndarray) -> float:
    return float(sharpe_ratio(r))


def _max_drawdown(r: np.ndarray) -> float:
    return float(max_drawdown(r)) if r.size else 0.0


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def run_summary(
    con: duckdb.DuckDBPyConnection,
    account: str,
    *,
    first: Any = None,
    last: Any = None,
    benchmark: str | None = None,
    overlays: tuple[str, ...] | list[str] | None = None,
) -> dict[str, Any]:
    """What the sessions `first` … `last` did (default: every stored session), JSON-serialisable.

    Keys: sessions, first_session, last_session, initial_equity, final_equity,
    total_return, sharpe, psr, max_drawdown, metrics_withheld (why Sharpe and PSR are
    null: fewer than `MIN_SESSIONS` daily returns), trade_count (fills), orders,
    rejected, cancelled, halted_sessions, baseline (equal-weight buy-and-hold over the
    same sessions) and benchmark (`engine.portfolio.report.benchmark_report`).
    """
    eq = con.execute(
        "SELECT as_of, equity, daily_return FROM equity WHERE account = ? "
        "AND as_of BETWEEN coalesce(?, DATE '0001-01-01') AND coalesce(?, DATE '9999-12-31') "
        "ORDER BY as_of",
        [account, first, last],
    ).fetchall()
    lo, hi = (eq[0][0], eq[-1][0]) if eq else (first, last)
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'rejected'), "
        "count(*) FILTER (WHERE status = 'cancelled') FROM orders WHERE account = ? AND as_of BETWEEN ? AND ?",
        [account, lo, hi],
    ).fetchall()[0]
    fills = con.execute(
        "SELECT count(*) FROM fills WHERE account = ? AND date BETWEEN ? AND ?", [account, lo, hi]
    ).fetchall()[0][0]
    halted = con.execute(
        "SELECT count(*) FROM risk WHERE account = ? AND halted AND as_of BETWEEN ? AND ?", [account, lo, hi]
    ).fetchall()[0][0]
    tallies = {
        "trade_count": int(fills),
        "orders": int(counts[0]),
        "rejected": int(counts[1]),
        "cancelled": int(counts[2]),
        "halted_sessions": int(halted),
    }
    if not eq:
        return {
            "sessions": 0,
            "first_session": None,
            "last_session": None,
            "initial_equity": None,
            "final_equity": None,
            "total_return": None,
            "sharpe": None,
            "max_drawdown": None,
            "psr": None,
            "metrics_withheld": "no sessions",
            **tallies,
        }
    prior = first_row(
        con,
        "SELECT as_of, equity FROM equity WHERE account = ? AND as_of < ? ORDER BY as_of DESC LIMIT 1",
        [account, lo],
    )
    values = np.array([float(e) for _d, e, _r in eq])
    start = float(prior[1]) if prior else values[0] / (1.0 + float(eq[0][2] or 0.0))
    path = np.r_[start, values] if prior else values
    r = path[1:] / path[:-1] - 1.0
    withheld = (
        None if r.size >= MIN_SESSIONS else (f"{r.size} daily returns; Sharpe and PSR need at least {MIN_SESSIONS}")
    )
    return {
        "sessions": len(eq),
        "first_session": eq[0][0].isoformat(),
        "last_session": eq[-1][0].isoformat(),
        "initial_equity": round(float(start), 2),
        "final_equity": round(float(values[-1]), 2),
        "total_return": _num(values[-1] / start - 1.0),
        "sharpe": None if withheld else _num(_sharpe(r)),
        "psr": None if withheld else _num(_psr(r)),
        "max_drawdown": _num(_max_drawdown(r)),
        "metrics_withheld": withheld,
        **tallies,
        "baseline": buy_and_hold_summary(con, prior[0] if prior else lo, hi, withhold=bool(withheld)),
        "benchmark": benchmark_report(con, account, benchmark=benchmark, overlays=overlays, first=lo, last=hi),
    }


def _psr(r: np.ndarray) -> float:
    return float(probabilistic_sharpe_ratio(r)) if r.size > 2 else float("nan")


BUY_AND_HOLD_SQL = (
    "SELECT date, ticker, close FROM bars WHERE date BETWEEN ? AND ? AND NOT quarantined ORDER BY date, ticker"
)
"""The bars `buy_and_hold_value` needs; parameters (first session, last session)."""


def buy_and_hold_value(bars: pd.DataFrame) -> pd.Series:
    """The naive portfolio: equal dollars in every ticker at the first session's close,
    held (no costs). Value per date, 1.0 at the first; empty if nothing can be priced."""
    if bars.empty:
        return pd.Series(dtype=float)
    closes = bars.pivot(index="date", columns="ticker", values="close").sort_index().ffill()
    closes = closes.loc[:, closes.iloc[0].notna() & (closes.iloc[0] > 0)]
    if closes.shape[1] == 0:
        return pd.Series(dtype=float)
    return (closes / closes.iloc[0]).mean(axis=1)


def buy_and_hold_summary(
    con: duckdb.DuckDBPyConnection, first: Any, last: Any, withhold: bool = False
) -> dict[str, Any]:
    """The naive baseline beside the strategy: same metrics over the same sessions
    (`withhold`: Sharpe left null, as the strategy's is, when there are too few)."""
    value = buy_and_hold_value(con.execute(BUY_AND_HOLD_SQL, [first, last]).df()).to_numpy(dtype=float)
    if value.size == 0:
        return {"name": "equal-weight buy-and-hold", "total_return": None, "sharpe": None, "max_drawdown": None}
    r = value[1:] / value[:-1] - 1.0
    return {
        "name": "equal-weight buy-and-hold",
        "total_return": _num(value[-1] - 1.0),
        "sharpe": None if withhold else _num(_sharpe(r)),
        "max_drawdown": _num(_max_drawdown(r)),
    }
