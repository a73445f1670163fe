"""The benchmark-relative report: one computation behind every performance summary.

`benchmark_report` reads the account's equity, fills, signals, benchmark weights and
bars over a window of sessions and returns plain numbers (JSON-serialisable) that
`pmax --run` (human and `--json`), the Risk pane and the copilot all show:

* strategy vs benchmark total return over the window;
* active return (annualised: mean daily strategy - benchmark return x 252), tracking
  error (std of daily active returns, ddof=1, x sqrt 252), information ratio and its
  t-statistic (mean / (std / sqrt n): i.i.d. days assumed);
* PSR: probability that the strategy's true Sharpe exceeds the benchmark's;
* attribution of the annualised active return, summed from daily contributions of
  weights held from the previous close: base (the core's return - the benchmark's:
  nonzero when the HRP overlay is on or the book's universe differs), overlays
  (base after overlays - core: regime, kill-switch and cash-buffer scaling), tilts
  (validated signals' tilts), caps (target - base - tilt: position and gross caps),
  costs (commission + slippage over the previous equity) and implementation (the
  rest: no-trade bands, whole shares, next-open fills);
* one-way turnover (half the traded notional over mean equity, annualised), costs
  paid and cost drag (costs over mean equity, annualised).

Ratios and annualised figures are withheld, with the reason, below `MIN_SESSIONS`
returns. Metrics follow empyrical's conventions (simple daily returns, 252 sessions).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.metrics import sharpe_ratio
from engine.portfolio.benchmark import BENCHMARK_NAMES, OVERLAYS
from engine.sharpe_stats import probabilistic_sharpe_ratio

if TYPE_CHECKING:
    from engine.store.connection import Queryable

MIN_SESSIONS = 20
"""Fewer daily returns than this: ratios and annualised figures are withheld."""

ANNUAL = 252.0

SURVIVORSHIP = (
    "Survivorship bias: the bundled sample holds 20 S&P 500 members that were "
    "still listed in February 2018, so every return here (the benchmark's too) is "
    "flattered; prices are split- but not dividend-adjusted."
)
OWN_DATA = (
    "Your own data: if the universe is today's survivors, every return here (the "
    "benchmark's too) is flattered by survivorship bias."
)

ATTRIBUTION_PARTS = ("base", "overlays", "tilts", "caps", "costs", "implementation")
# How each part reads on screen: "overlays" also holds the cash buffer and the kill
# switch's scaling, so it is nonzero with every overlay off (a reader would ask why).
ATTRIBUTION_LABELS = {
    "base": "base",
    "overlays": "scaling (overlays, cash buffer, kill switch)",
    "tilts": "tilts",
    "caps": "caps",
    "costs": "costs",
    "implementation": "implementation",
}


def _num(x: Any, digits: int = 6) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def _df(con: Queryable, sql: str, params: list[Any]) -> pd.DataFrame:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return pd.DataFrame(cur.fetchall(), columns=cols)


def _window(con: Queryable, account: str, first: Any, last: Any) -> pd.DataFrame:
    """Equity rows from the session before `first` (the anchor, if any) through `last`."""
    eq = _df(con, "SELECT as_of, equity FROM equity WHERE account = ? ORDER BY as_of", [account])
    if eq.empty:
        return eq
    eq["as_of"] = pd.to_datetime(eq["as_of"]).dt.date
    lo = pd.Timestamp(first).date() if first is not None else eq["as_of"].iloc[0]
    hi = pd.Timestamp(last).date() if last is not None else eq["as_of"].iloc[-1]
    inside = (eq["as_of"] >= lo) & (eq["as_of"] <= hi)
    start = int(np.argmax(inside.to_numpy())) if inside.any() else len(eq)
    keep = inside.copy()
    if start > 0:
        keep.iloc[start - 1] = True  # the anchor: returns of the first session need its close
    return eq[keep].reset_index(drop=True)


def _closes(con: Queryable, days: list[Any]) -> pd.DataFrame:
    bars = _df(
        con, "SELECT date, ticker, close FROM bars WHERE date BETWEEN ? AND ? AND NOT quarantined", [days[0], days[-1]]
    )
    if bars.empty:
        return pd.DataFrame(index=days)
    bars["date"] = pd.to_datetime(bars["date"]).dt.date
    wide = bars.pivot(index="date", columns="ticker", values="close").sort_index().ffill()
    return wide.reindex(days).ffill()


def benchmark_returns(closes: pd.DataFrame, kind: str) -> np.ndarray:
    """Daily returns of the benchmark over the rows of `closes` (first row = start).

    Equal weight: equal dollars in every ticker priced at the start, held (no costs),
    the rule `summary.buy_and_hold_value` uses. Cash: zeros.
    """
    n = max(len(closes) - 1, 0)
    if kind == "cash" or closes.empty:
        return np.zeros(n)
    priced = closes.loc[:, closes.iloc[0].notna() & (closes.iloc[0] > 0)]
    if priced.shape[1] == 0:
        return np.full(n, np.nan)
    value = (priced / priced.iloc[0]).mean(axis=1).to_numpy(dtype=float)
    return value[1:] / value[:-1] - 1.0


def _weights(con: Queryable, account: str, days: list[Any]) -> dict[str, pd.DataFrame]:
    """Per-session weights held from each close: core, base, tilt, target (session x ticker)."""
    core = "coalesce(core_weight, base_weight)" if _has_column(con, "signals", "core_weight") else "base_weight"
    sig = _df(
        con,
        f"SELECT as_of, ticker, {core} AS core, base_weight AS base, tilt, target_weight AS target "
        "FROM signals WHERE account = ? AND as_of BETWEEN ? AND ?",
        [account, days[0], days[-1]],
    )
    if sig.empty:
        return {}
    sig["as_of"] = pd.to_datetime(sig["as_of"]).dt.date
    return {
        col: sig.pivot(index="as_of", columns="ticker", values=col).astype(float)
        for col in ("core", "base", "tilt", "target")
    }


def _contribution(w: pd.DataFrame | None, asset_r: pd.DataFrame, days: list[Any]) -> np.ndarray:
    """sum_i w[t-1, i] x r[t, i] for each t >= 1 (zero weight where none was stored)."""
    if w is None:
        return np.zeros(len(days) - 1)
    held = w.reindex(index=days[:-1], columns=asset_r.columns).fillna(0.0).to_numpy()
    return np.nansum(held * asset_r.to_numpy()[1:], axis=1)


def attribution_daily(
    con: Queryable,
    account: str,
    days: list[Any],
    closes: pd.DataFrame,
    r_strategy: np.ndarray,
    r_bench: np.ndarray,
    costs: np.ndarray,
) -> dict[str, np.ndarray]:
    """Daily contributions to active return; they sum to r_strategy - r_bench exactly."""
    asset_r = closes / closes.shift(1) - 1.0
    w = _weights(con, account, days)
    core, base = _contribution(w.get("core"), asset_r, days), _contribution(w.get("base"), asset_r, days)
    tilt, target = _contribution(w.get("tilt"), asset_r, days), _contribution(w.get("target"), asset_r, days)
    parts = {
        "base": core - r_bench,
        "overlays": base - core,
        "tilts": tilt,
        "caps": target - base - tilt,
        "costs": -costs,
    }
    explained = sum(parts.values())
    parts["implementation"] = (r_strategy - r_bench) - explained
    return parts


def _trades(con: Queryable, account: str, after: Any, last: Any) -> pd.DataFrame:
    return _df(
        con,
        "SELECT f.date, f.qty * f.price AS notional, f.commission + f.slippage AS cost, o.intent "
        "FROM fills f LEFT JOIN orders o USING (order_id) WHERE f.account = ? AND f.date > ? "
        "AND f.date <= ?",
        [account, after, last],
    )


def data_note(con: Queryable, first: Any, last: Any) -> str:
    """The survivorship statement for the data behind the window."""
    row = con.execute(
        "SELECT count(*) FILTER (WHERE source = 'sample') FROM bars WHERE date BETWEEN ? AND ?", [first, last]
    ).fetchall()
    return SURVIVORSHIP if row and row[0][0] else OWN_DATA


def _has(con: Queryable, table: str) -> bool:
    """Whether `table` exists (a read-only database may predate migration 31)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchall()[0][0])


def _has_column(con: Queryable, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = ?", [table, column]
        ).fetchall()[0][0]
    )


def stored_setup(con: Queryable, account: str, first: Any, last: Any) -> tuple[str, list[str]]:
    """(benchmark, overlays) the sessions in the window ran with, from `portfolio_setup`:
    the latest benchmark, and every overlay on in any of them."""
    if not _has(con, "portfolio_setup"):
        return "equal_weight", []
    rows = con.execute(
        "SELECT benchmark, overlays FROM portfolio_setup WHERE account = ? AND as_of BETWEEN "
        "coalesce(?, DATE '0001-01-01') AND coalesce(?, DATE '9999-12-31') ORDER BY as_of",
        [account, first, last],
    ).fetchall()
    if not rows:
        return "equal_weight", []
    seen = {o for _b, ov in rows for o in (ov or "").split(",") if o}
    return str(rows[-1][0]), [o for o in OVERLAYS if o in seen]


def benchmark_report(
    con: Queryable,
    account: str,
    *,
    benchmark: str | None = None,
    overlays: tuple[str, ...] | list[str] | None = None,
    first: Any = None,
    last: Any = None,
    min_sessions: int = MIN_SESSIONS,
) -> dict[str, Any]:
    """The strategy against its benchmark over sessions `first` … `last` (default: all).

    `benchmark` and `overlays` default to what the stored sessions ran with."""
    kind, on = stored_setup(con, account, first, last)
    benchmark = benchmark or kind
    overlays = list(overlays) if overlays is not None else on
    name = BENCHMARK_NAMES.get(benchmark, benchmark)
    out: dict[str, Any] = {
        "benchmark": name,
        "overlays_on": list(overlays),
        "sessions": 0,
        "returns": 0,
        "withheld": None,
    }
    eq = _window(con, account, first, last)
    if eq.empty:
        out["withheld"] = "no equity rows in this window"
        return out
    anchored = first is not None and pd.Timestamp(first).date() > eq["as_of"].iloc[0]
    days = list(eq["as_of"])
    values = eq["equity"].to_numpy(dtype=float)
    out.update(
        sessions=len(days) - int(anchored),
        first_session=(days[1] if anchored else days[0]).isoformat(),
        last_session=days[-1].isoformat(),
        data_note=data_note(con, days[0], days[-1]),
    )
    r_s = values[1:] / values[:-1] - 1.0
    closes = _closes(con, days)
    r_b = benchmark_returns(closes, benchmark)
    trades = _trades(con, account, days[0], days[-1])
    trades["date"] = pd.to_datetime(trades["date"]).dt.date
    cost_by_day = trades.groupby("date")["cost"].sum() if not trades.empty else pd.Series(dtype=float)
    costs = cost_by_day.reindex(days[1:]).fillna(0.0).to_numpy() / values[:-1]
    n = r_s.size
    mean_equity = float(values.mean())
    out.update(
        returns=n,
        strategy_total_return=_num(values[-1] / values[0] - 1.0),
        benchmark_total_return=_num(float(np.prod(1.0 + r_b) - 1.0)) if n else 0.0,
        costs_paid=round(float(trades["cost"].sum()), 2) if not trades.empty else 0.0,
        traded_notional=round(float(trades["notional"].abs().sum()), 2) if not trades.empty else 0.0,
    )
    if n < min_sessions:
        out["withheld"] = (
            f"{n} daily returns in this window; ratios and annualised figures need at least {min_sessions}"
        )
        return out
    active = r_s - r_b
    scale = ANNUAL / n
    te = float(np.std(active, ddof=1)) * math.sqrt(ANNUAL)
    ir_daily = float(np.mean(active) / np.std(active, ddof=1)) if np.std(active, ddof=1) > 0 else float("nan")
    sr_b = float(sharpe_ratio(r_b)) / math.sqrt(ANNUAL) if benchmark != "cash" else 0.0
    funding = trades["intent"].eq("fund") if not trades.empty else pd.Series(dtype=bool)
    parts = attribution_daily(con, account, days, closes, r_s, r_b, costs)
    tilted = con.execute(
        "SELECT count(DISTINCT as_of) FROM signals WHERE account = ? AND as_of BETWEEN ? AND ? AND tilt <> 0",
        [account, days[0], days[-1]],
    ).fetchall()[0][0]
    out.update(
        active_return=_num(float(np.mean(active)) * ANNUAL),
        tracking_error=_num(te),
        information_ratio=_num(ir_daily * math.sqrt(ANNUAL)),
        ir_tstat=_num(ir_daily * math.sqrt(n), 3),
        strategy_sharpe=_num(float(sharpe_ratio(r_s)), 4),
        benchmark_sharpe=_num(float(sharpe_ratio(r_b)), 4) if benchmark != "cash" else None,
        psr_vs_benchmark=_num(
            float(probabilistic_sharpe_ratio(r_s, sr_benchmark=sr_b if math.isfinite(sr_b) else 0.0)), 4
        ),
        attribution={k: _num(float(v.sum()) * scale) for k, v in parts.items()},
        turnover=_num(0.5 * out["traded_notional"] / mean_equity * scale, 4),
        turnover_ex_funding=_num(0.5 * float(trades.loc[~funding, "notional"].abs().sum()) / mean_equity * scale, 4)
        if not trades.empty
        else 0.0,
        cost_drag=_num(out["costs_paid"] / mean_equity * scale),
        tilted_sessions=int(tilted),
    )
    out["verdict"] = verdict(out)
    return out


def verdict(rep: dict[str, Any]) -> str:
    """One plain sentence: did the strategy, and did its validated tilts after costs, beat the benchmark?"""
    act, t = rep.get("active_return"), rep.get("ir_tstat")
    att = rep.get("attribution") or {}
    if act is None or t is None:
        return "not enough sessions to judge"
    beat = "beat" if act > 0 else "trailed"
    sig = "significant" if abs(t) >= 1.96 else "not significant"
    tilts, costs = att.get("tilts") or 0.0, att.get("costs") or 0.0
    net = tilts + costs
    if not rep.get("tilted_sessions"):
        tilt_line = (
            f"no signal passed validation, so the book held its benchmark (costs {costs:+.2%}/yr); "
            "validated tilts have not beaten the benchmark here"
        )
    else:
        tilt_line = (
            f"validated tilts (on {rep['tilted_sessions']} sessions) added {tilts:+.2%}/yr before "
            f"costs of {costs:+.2%}/yr: "
            + ("net of costs they beat the benchmark" if net > 0 else "they did NOT beat the benchmark after costs")
        )
    return f"The strategy {beat} its benchmark by {abs(act):.2%}/yr (t = {t:+.2f}, {sig}); {tilt_line}."
