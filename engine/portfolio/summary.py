"""What a run did, for `pmax --run --json`: final equity, Sharpe, max drawdown, trades.

Metrics follow empyrical's conventions (daily simple returns, ddof=1, 252 sessions,
max drawdown a negative fraction); `engine.metrics` is used when present.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.portfolio.db import first_row

if TYPE_CHECKING:
    import duckdb


def _sharpe(r: np.ndarray) -> float:
    try:
        from engine.metrics import sharpe_ratio

        return float(sharpe_ratio(r))
    except ImportError:
        pass
    if r.size < 2:
        return float("nan")
    sd = r.std(ddof=1)
    return float(r.mean() / sd * math.sqrt(252.0)) if sd > 0 else float("nan")


def _max_drawdown(r: np.ndarray) -> float:
    try:
        from engine.metrics import max_drawdown

        return float(max_drawdown(r))
    except ImportError:
        pass
    if r.size == 0:
        return 0.0
    cum = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(np.concatenate([[1.0], cum]))[1:]
    return float(min(0.0, (cum / peak - 1.0).min()))


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def run_summary(con: duckdb.DuckDBPyConnection, account: str) -> dict[str, Any]:
    """The account's results over every stored session (JSON-serialisable).

    Keys: sessions, first_session, last_session, initial_equity, final_equity,
    total_return, sharpe, max_drawdown, trade_count (fills), orders, rejected,
    cancelled, halted_sessions.
    """
    eq = con.execute("SELECT as_of, equity, daily_return FROM equity WHERE account = ? ORDER BY as_of",
                     [account]).fetchall()
    counts = first_row(con,
        "SELECT count(*), count(*) FILTER (WHERE status = 'rejected'), "
        "count(*) FILTER (WHERE status = 'cancelled') FROM orders WHERE account = ?", [account])
    fills = con.execute("SELECT count(*) FROM fills WHERE account = ?", [account]).fetchall()[0][0]
    halted = con.execute("SELECT count(*) FROM risk WHERE account = ? AND halted", [account]).fetchall()[0][0]
    if not eq:
        return {"sessions": 0, "first_session": None, "last_session": None, "initial_equity": None,
                "final_equity": None, "total_return": None, "sharpe": None, "max_drawdown": None,
                "trade_count": int(fills), "orders": int(counts[0]), "rejected": int(counts[1]),
                "cancelled": int(counts[2]), "halted_sessions": int(halted)}
    baseline = buy_and_hold_summary(con, eq[0][0], eq[-1][0])
    values = np.array([float(e) for _d, e, _r in eq])
    r = np.array([float(x or 0.0) for _d, _e, x in eq])[1:]
    first = values[0] / (1.0 + float(eq[0][2] or 0.0))
    return {
        "sessions": len(eq),
        "first_session": eq[0][0].isoformat(),
        "last_session": eq[-1][0].isoformat(),
        "initial_equity": round(float(first), 2),
        "final_equity": round(float(values[-1]), 2),
        "total_return": _num(values[-1] / first - 1.0),
        "sharpe": _num(_sharpe(r)),
        "max_drawdown": _num(_max_drawdown(r)),
        "trade_count": int(fills),
        "orders": int(counts[0]),
        "rejected": int(counts[1]),
        "cancelled": int(counts[2]),
        "halted_sessions": int(halted),
        "psr": _num(_psr(r)),
        "baseline": baseline,
    }


def _psr(r: np.ndarray) -> float:
    from engine.metrics import probabilistic_sharpe_ratio

    return float(probabilistic_sharpe_ratio(r)) if r.size > 2 else float("nan")


def buy_and_hold_summary(con: duckdb.DuckDBPyConnection, first: Any, last: Any) -> dict[str, Any]:
    """The naive portfolio beside the strategy: equal dollars in every ticker at the first
    session's close, held to the last session (no costs). Same metrics, same sessions."""
    rows = con.execute(
        "SELECT date, ticker, close FROM bars WHERE date BETWEEN ? AND ? AND NOT quarantined ORDER BY date, ticker",
        [first, last]).df()
    if rows.empty:
        return {"name": "equal-weight buy-and-hold", "total_return": None, "sharpe": None, "max_drawdown": None}
    closes = rows.pivot(index="date", columns="ticker", values="close").ffill()
    closes = closes.loc[:, closes.iloc[0].notna()]
    value = (closes / closes.iloc[0]).mean(axis=1).to_numpy()
    r = value[1:] / value[:-1] - 1.0
    return {
        "name": "equal-weight buy-and-hold",
        "total_return": _num(value[-1] - 1.0),
        "sharpe": _num(_sharpe(r)),
        "max_drawdown": _num(_max_drawdown(r)),
    }
