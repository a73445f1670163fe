"""Read-only queries behind the panes: cursor in, plain data out.

Every function here takes a DuckDB cursor and runs on a worker thread (never the
UI thread). They read only committed rows, key everything by account, and return
small frozen dataclasses or DataFrames that the panes render. Columns follow
`engine/store/migrations/m001_core.py`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from engine.store.read_model import current_positions, latest_forecasts, orders_with_status, recent_fills, weights_as_of


@dataclass(frozen=True)
class WatchRow:
    """One watchlist line: last close, day change, recent closes and latest signal."""

    ticker: str
    date: dt.date | None = None
    last: float | None = None
    change: float | None = None  # simple return vs the previous close
    spark: tuple[float, ...] = ()
    signal: str | None = None
    confidence: float | None = None
    stale: bool = False
    quarantined: bool = False


@dataclass(frozen=True)
class ForecastView:
    """The selected ticker's recent closes, latest forecasts and model weights."""

    ticker: str
    closes: pd.DataFrame  # date, close
    as_of: dt.date | None
    forecasts: pd.DataFrame  # model, horizon, mean, lower, upper, level, prob_up, vol, target_date
    weights: pd.DataFrame  # model, horizon, weight, skill, dm_pvalue, n_scored, demoted, reason
    fills: pd.DataFrame = field(default_factory=pd.DataFrame)  # date, side, qty, price (within the closes)

    @property
    def horizons(self) -> tuple[int, ...]:
        if self.forecasts.empty:
            return ()
        return tuple(sorted(int(h) for h in self.forecasts["horizon"].unique()))


@dataclass(frozen=True)
class RiskView:
    """The account's equity history, latest risk row, positions, fills and rejections."""

    equity: pd.DataFrame  # as_of, equity, drawdown, cash, gross, net, daily_return, baseline
    risk: dict[str, Any] | None
    positions: pd.DataFrame
    fills: pd.DataFrame
    rejections: pd.DataFrame
    regime: str | None = None
    report: dict[str, Any] | None = None  # engine.portfolio.report.benchmark_report over every session


@dataclass(frozen=True)
class Snapshot:
    """Everything one refresh reads, posted to the UI in one message."""

    as_of: dt.date | None
    sessions: int
    watch: tuple[WatchRow, ...]
    signals: pd.DataFrame
    risk: RiskView
    all_tickers: tuple[str, ...] = field(default=())


def _df(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    try:
        return cur.execute(sql, list(params)).df()
    except duckdb.CatalogException:
        return pd.DataFrame()


def _columns(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The pane's columns of a read-model frame (an empty frame as it is)."""
    return df[cols] if not df.empty else df


def load_status(cur: duckdb.DuckDBPyConnection, account: str) -> tuple[dt.date | None, int]:
    """The last committed session and how many sessions are committed."""
    try:
        row = cur.execute("SELECT max(session), count(*) FROM cycles WHERE account = ?", [account]).fetchone()
    except duckdb.CatalogException:
        return None, 0
    if not row:
        return None, 0
    return (_to_date(row[0]), int(row[1] or 0))


def load_tickers(cur: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Every ticker with stored bars."""
    df = _df(cur, "SELECT DISTINCT ticker FROM bars ORDER BY ticker")
    return tuple(df["ticker"]) if not df.empty else ()


def load_watchlist(
    cur: duckdb.DuckDBPyConnection, tickers: Sequence[str], account: str, spark_n: int = 20
) -> tuple[WatchRow, ...]:
    """One row per ticker (all stored tickers when `tickers` is empty), in the given order."""
    where, params = ("", []) if not tickers else ("AND ticker IN (SELECT unnest(?))", [list(tickers)])
    bars = _df(
        cur,
        f"""
        SELECT ticker, date, close, stale FROM (
            SELECT ticker, date, close, stale,
                   row_number() OVER (PARTITION BY ticker ORDER BY date DESC) AS rn
            FROM bars WHERE NOT quarantined {where}
        ) WHERE rn <= ? ORDER BY ticker, date
        """,
        [*params, max(spark_n, 2)],
    )
    quarantine = _df(
        cur, f"SELECT ticker, max(date) AS last_q FROM bars WHERE quarantined {where} GROUP BY ticker", params
    )
    sig = _df(
        cur,
        """
        SELECT ticker, action, confidence FROM signals
        WHERE account = ? AND as_of = (SELECT max(as_of) FROM signals WHERE account = ?)
        """,
        [account, account],
    )
    last_q = dict(zip(quarantine.get("ticker", []), quarantine.get("last_q", []), strict=False))
    signals = {r.ticker: (r.action, r.confidence) for r in sig.itertuples()} if not sig.empty else {}
    rows: dict[str, WatchRow] = {}
    if not bars.empty:
        tick = bars["ticker"].to_numpy()
        closes = bars["close"].to_numpy(dtype=float)
        dates = bars["date"].to_numpy()
        stale = bars["stale"].to_numpy()
        bounds = np.flatnonzero(np.r_[True, tick[1:] != tick[:-1], True])
        for start, stop in itertools.pairwise(bounds):
            name = str(tick[start])
            series = closes[start:stop]
            first_date = _to_date(dates[start])
            q_date = _to_date(last_q.get(name))
            change = series[-1] / series[-2] - 1.0 if len(series) > 1 and series[-2] else None
            action, conf = signals.get(name, (None, None))
            rows[name] = WatchRow(
                ticker=name,
                date=_to_date(dates[stop - 1]),
                last=float(series[-1]),
                change=None if change is None else float(change),
                spark=tuple(float(x) for x in series[-spark_n:]),
                signal=action,
                confidence=None if conf is None or pd.isna(conf) else float(conf),
                stale=bool(stale[stop - 1]),
                quarantined=q_date is not None and first_date is not None and q_date >= first_date,
            )
    order = list(tickers) if tickers else sorted(rows)
    return tuple(rows.get(t) or WatchRow(ticker=t, signal=signals.get(t, (None,))[0]) for t in order)


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


def parse_json_list(text: Any) -> list[dict[str, Any]]:
    """A JSON list-of-objects column (layers, drivers) as Python; [] when empty or bad."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except (TypeError, ValueError):
        return []
    if isinstance(value, dict):
        value = [{"feature": k, "shap": v} for k, v in value.items()]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_json_dict(text: Any) -> dict[str, Any]:
    """A JSON object column (limit utilisation, stress) as a dict; {} when empty or bad."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


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
