"""Read-only queries behind the panes: cursor in, plain data out.

Every function here takes a DuckDB cursor and runs on a worker thread (never the
UI thread). They read only committed rows, key everything by account, and return
the frozen dataclasses of `tui.panes.views` or DataFrames that the panes render.
Columns follow `engine/store/migrations/m001_core.py`. The watchlist and the status
are read without pandas (`tui.panes.watch_rows`); this module loads pandas, so the
app imports it only where a refresh needs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from engine.store.read_model import current_positions, latest_forecasts, orders_with_status, recent_fills, weights_as_of
from tui.panes.views import ForecastView, RiskView, Snapshot
from tui.panes.watch_rows import load_status, load_watchlist


def _df(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    try:
        return cur.execute(sql, list(params)).df()
    except duckdb.CatalogException:
        return pd.DataFrame()


def _columns(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The pane's columns of a read-model frame (an empty frame as it is)."""
    return df[cols] if not df.empty else df


def load_tickers(cur: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Every ticker with stored bars."""
    df = _df(cur, "SELECT DISTINCT ticker FROM bars ORDER BY ticker")
    return tuple(df["ticker"]) if not df.empty else ()


def load_forecast(cur: duckdb.DuckDBPyConnection, account: str, ticker: str, n_closes: int = 60) -> ForecastView:
    """Recent closes plus the latest forecasts (every model and horizon) for one ticker."""
    closes = _df(
        cur,
        """
        SELECT date, close FROM (
            SELECT date, close FROM bars WHERE ticker = ? AND NOT quarantined ORDER BY date DESC LIMIT ?
        ) ORDER BY date
        """,
        [ticker, n_closes],
    )
    forecasts = latest_forecasts(account, ticker).frame(cur)
    as_of = _to_date(forecasts["as_of"].iloc[0]) if not forecasts.empty else None
    weights = weights_as_of(account, as_of).frame(cur) if as_of is not None else pd.DataFrame()
    fills = pd.DataFrame()
    if not closes.empty:
        fills = _df(
            cur,
            "SELECT date, side, qty, price FROM fills WHERE account = ? AND ticker = ? AND date >= ? ORDER BY date",
            [account, ticker, closes["date"].iloc[0]],
        )
    return ForecastView(ticker=ticker, closes=closes, as_of=as_of, forecasts=forecasts, weights=weights, fills=fills)


def load_signals(cur: duckdb.DuckDBPyConnection, account: str) -> pd.DataFrame:
    """The latest session's signals across the universe, strongest first."""
    return _df(
        cur,
        """
        SELECT as_of, ticker, action, confidence, expected_return, horizon, prob_up, validated,
               layers, drivers, target_weight, reason
        FROM signals
        WHERE account = ? AND as_of = (SELECT max(as_of) FROM signals WHERE account = ?)
        ORDER BY CASE action WHEN 'BUY' THEN 0 WHEN 'SELL' THEN 1 ELSE 2 END, confidence DESC, ticker
        """,
        [account, account],
    )


def _buy_and_hold(cur: duckdb.DuckDBPyConnection, equity: pd.DataFrame) -> np.ndarray:
    """The naive baseline in dollars beside each equity row (`run_summary`'s rule)."""
    from engine.portfolio.summary import BUY_AND_HOLD_SQL, buy_and_hold_value

    first, last = equity["as_of"].iloc[0], equity["as_of"].iloc[-1]
    value = buy_and_hold_value(_df(cur, BUY_AND_HOLD_SQL, [first, last]))
    value.index = pd.to_datetime(value.index)
    return value.reindex(pd.to_datetime(equity["as_of"])).to_numpy(dtype=float) * float(equity["equity"].iloc[0])


def load_risk(cur: duckdb.DuckDBPyConnection, account: str, n_recent: int = 15) -> RiskView:
    """Equity and drawdown history, the latest risk row, positions, fills, rejections."""
    equity = _df(
        cur,
        "SELECT as_of, equity, drawdown, cash, gross, net, daily_return FROM equity WHERE account = ? ORDER BY as_of",
        [account],
    )
    if not equity.empty:
        equity["baseline"] = _buy_and_hold(cur, equity)
    risk_df = _df(cur, "SELECT * FROM risk WHERE account = ? ORDER BY as_of DESC LIMIT 1", [account])
    risk = None if risk_df.empty else {k: _plain(v) for k, v in risk_df.iloc[0].items()}
    positions = _columns(
        current_positions(account).frame(cur), ["ticker", "qty", "avg_cost", "close", "market_value", "weight"]
    )
    fills = _columns(
        recent_fills(account, n_recent).frame(cur), ["date", "ticker", "side", "qty", "price", "commission"]
    )
    rejections = _columns(
        orders_with_status(account, ("rejected",), n_recent).frame(cur), ["as_of", "ticker", "side", "qty", "reason"]
    )
    regime = risk.get("regime") if risk else None
    if not regime:
        reg = _df(cur, "SELECT regime FROM regimes ORDER BY as_of DESC LIMIT 1")
        regime = None if reg.empty else str(reg["regime"].iloc[0])
    from engine.portfolio.report import benchmark_report

    report = benchmark_report(cur, account) if not equity.empty else None
    return RiskView(
        equity=equity, risk=risk, positions=positions, fills=fills, rejections=rejections, regime=regime, report=report
    )


def load_snapshot(cur: duckdb.DuckDBPyConnection, account: str, tickers: Sequence[str], spark_n: int = 20) -> Snapshot:
    """One consistent read of everything but the per-ticker forecast view."""
    as_of, sessions = load_status(cur, account)
    return Snapshot(
        as_of=as_of,
        sessions=sessions,
        watch=load_watchlist(cur, tickers, account, spark_n),
        signals=load_signals(cur, account),
        risk=load_risk(cur, account),
        all_tickers=load_tickers(cur),
    )


def _to_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        return pd.Timestamp(value).date()
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value
