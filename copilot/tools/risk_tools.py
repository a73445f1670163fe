"""Grounding tools for "what is my biggest risk?" and "what if I sold X?".

``risk_breakdown`` puts the stored risk row beside the stored stress scenarios (in
dollars on today's equity), limit use (closest to binding first) and each
position's contribution to 1-day historical VaR(95%). ``what_if`` recomputes
exposure, VaR, beta, stress and cash for a hypothetical close or resize. Both use
the engine's own risk code (``engine.portfolio.risk_measures`` on the same bars, weights
and lookback the risk stage uses, ``engine.portfolio.stress`` for scenarios); nothing is
written, and what-if rows are labelled hypothetical.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from copilot.tools.base import cite, norm_ticker, parse_json, result, select
from copilot.types import ToolResult

if TYPE_CHECKING:
    from engine.store.connection import Queryable

LOOKBACK = 252  # sessions of returns, as [portfolio] lookback's default


@dataclass
class _Book:
    as_of: dt.date
    equity: float
    cash: float
    tickers: list[str]
    qty: np.ndarray
    close: np.ndarray
    weights: np.ndarray
    returns: np.ndarray  # (T x N) simple returns of the held tickers (NaN → 0)
    market: np.ndarray  # (T,) equal-weight mean return of the universe


def _book(con: Queryable, account: str) -> _Book | None:
    """The latest marked book and the lookback's returns, as the risk stage sees them."""
    import pandas as pd

    from engine.portfolio.market import build_view

    _, eq = select(
        con, "SELECT as_of, equity, cash FROM equity WHERE account = ? ORDER BY as_of DESC LIMIT 1", [account]
    )
    if not eq:
        return None
    as_of, equity, cash = eq[0][0], float(eq[0][1]), float(eq[0][2])
    _, pos = select(
        con,
        "SELECT ticker, qty, close, market_value FROM positions WHERE account = ? "
        "AND as_of = ? AND qty <> 0 ORDER BY ticker",
        [account, as_of],
    )
    start = as_of - dt.timedelta(days=int(LOOKBACK * 1.6) + 14)
    cols, bars = select(
        con,
        "SELECT date, ticker, open, high, low, close, volume FROM bars "
        "WHERE date >= ? AND date <= ? AND NOT quarantined",
        [start, as_of],
    )
    view = build_view(pd.DataFrame(bars, columns=cols), as_of, LOOKBACK)
    rets = view.returns
    held = [p for p in pos if view.col(p[0]) is not None]
    tickers = [p[0] for p in held]
    r = np.nan_to_num(rets[:, view.cols(tickers)]) if tickers else np.zeros((rets.shape[0], 0))
    market = np.nan_to_num(np.nanmean(np.where(np.isfinite(rets), rets, np.nan), axis=1)) if rets.size else np.zeros(0)
    return _Book(
        as_of,
        equity,
        cash,
        tickers,
        np.array([float(p[1]) for p in held]),
        np.array([float(p[2]) for p in held]),
        np.array([float(p[3]) / equity if equity else 0.0 for p in held]),
        r,
        market,
    )


def _measures(b: _Book, w: np.ndarray) -> dict[str, float | None]:
    """VaR/CVaR (hist 95), beta and stress for weights ``w`` (engine code, same inputs)."""
    from engine.portfolio import risk_measures as rk

    port = b.returns @ w if w.size else np.zeros(b.returns.shape[0])
    out: dict[str, float | None] = {
        "var_hist_95": _f(rk.var_hist(port, 0.95)),
        "cvar_hist_95": _f(rk.cvar_hist(port, 0.95)),
        "beta": _f(rk.beta(port, b.market)) if w.size else 0.0,
        "gross": _f(np.abs(w).sum()),
        "net": _f(w.sum()),
    }
    out.update({f"stress_{k}": v for k, v in _stress(b, w).items()})
    return out


def _stress(b: _Book, w: np.ndarray) -> dict[str, float | None]:
    from engine.portfolio.stress import stress_test

    if not w.size or not np.any(w):
        return {}
    m = b.market - b.market.mean()
    vm = float(m @ m)
    betas = dict(zip(b.tickers, ((b.returns - b.returns.mean(axis=0)).T @ m / vm).tolist())) if vm > 0 else {}
    return {k: _f(v) for k, v in stress_test(dict(zip(b.tickers, w.tolist())), betas).items()}


def _f(x: Any) -> float | None:
    x = float(x)
    return round(x, 6) if np.isfinite(x) else None


def var_contributions(b: _Book) -> np.ndarray:
    """Each position's share of historical VaR(95%) (Euler allocation on the sample
    covariance, scaled so the parts sum to the VaR)."""
    from engine.portfolio import risk_measures as rk

    w = b.weights
    if w.size == 0:
        return w
    var = rk.var_hist(b.returns @ w, 0.95)
    cov = (
        np.atleast_2d(np.cov(b.returns, rowvar=False, ddof=1)) if b.returns.shape[0] > 2 else np.zeros((w.size, w.size))
    )
    total = float(w @ cov @ w)
    if total <= 0 or not np.isfinite(var):
        return np.full(w.size, np.nan)
    return var * w * (cov @ w) / total


_RB_COLS = (
    "as_of",
    "equity",
    "var_hist_95",
    "var_95_usd",
    "cvar_hist_95",
    "drawdown",
    "gross",
    "net",
    "beta",
    "worst_scenario",
    "worst_scenario_return",
    "worst_scenario_usd",
    "top_var_contributor",
    "top_var_share",
    "closest_limit",
    "closest_limit_used",
    "halted",
)


def risk_breakdown(con: Queryable, account: str) -> ToolResult:
    """The biggest risks now: stress scenarios, VaR by position, limit use."""
    _, rows = select(
        con,
        "SELECT as_of, var_hist_95, cvar_hist_95, drawdown, gross, net, beta, "
        "halted, limit_utilisation, stress FROM risk WHERE account = ? "
        "ORDER BY as_of DESC LIMIT 1",
        [account],
    )
    b = _book(con, account)
    if not rows or b is None:
        return result(
            "risk_breakdown",
            "Risk breakdown",
            list(_RB_COLS),
            [],
            [],
            note=f"No risk snapshot is stored yet (account {account}).",
        )
    as_of, var, cvar, dd, gross, net, beta, halted, limits, stress = rows[0]
    risk_cite = cite("risk", as_of, account=account)
    scen = parse_json(stress) or {}
    scen_rows = sorted(
        ((k, _f(v), round(float(v) * b.equity, 2)) for k, v in scen.items() if v is not None),
        key=lambda s: (s[1] is None, s[1] or 0.0),
    )  # non-finite last
    lim = parse_json(limits) or {}
    lim_rows = sorted(
        ((k, _f(v)) for k, v in lim.items() if v is not None), key=lambda s: (s[1] is None, -(s[1] or 0.0))
    )
    contrib = var_contributions(b)
    pos_rows = sorted(
        (
            (t, _f(w), round(float(q)), _f(c), _f(c / var) if var else None)
            for t, w, q, c in zip(b.tickers, b.weights, b.qty, contrib)
        ),
        key=lambda r: r[3] if r[3] is not None else 0.0,
    )
    worst = scen_rows[0] if scen_rows else (None, None, None)
    top = pos_rows[0] if pos_rows else (None, None, None, None, None)
    near = lim_rows[0] if lim_rows else (None, None)
    row = (
        as_of,
        round(b.equity, 2),
        _f(var) if var is not None else None,
        round(float(var) * b.equity, 2) if var is not None else None,
        _f(cvar) if cvar is not None else None,
        _f(dd) if dd is not None else None,
        _f(gross),
        _f(net),
        _f(beta) if beta is not None else None,
        worst[0],
        worst[1],
        worst[2],
        top[0],
        top[4],
        near[0],
        near[1],
        bool(halted),
    )
    pos_cite = cite("positions", as_of, account=account)
    bars_cite = cite("bars", as_of, sessions=f"last {LOOKBACK}", rule="engine.portfolio.risk_measures.var_hist")
    children = []
    if scen_rows:
        children.append(
            result(
                "risk_breakdown",
                "Stress scenarios on today's holdings (S&P 500 sell-offs through betas; worst first)",
                ["scenario", "return", "usd"],
                scen_rows,
                [risk_cite],
            )
        )
    if pos_rows:
        children.append(
            result(
                "risk_breakdown",
                "Contribution to 1-day VaR(95%) by position (largest first; parts sum to the VaR)",
                ["ticker", "weight", "qty", "var_contribution", "share_of_var"],
                pos_rows[:8],
                [pos_cite, bars_cite],
            )
        )
    if lim_rows:
        children.append(
            result(
                "risk_breakdown",
                "Limit use (fraction of each limit; 1 = at the limit)",
                ["limit", "used"],
                lim_rows,
                [risk_cite],
            )
        )
    return result(
        "risk_breakdown",
        f"Risk breakdown (as of {as_of}; returns as fractions, $ on today's equity)",
        list(_RB_COLS),
        [row],
        [risk_cite],
        children=tuple(children),
    )


_WI_COLS = ("measure", "now", "hypothetical", "change")


def what_if(
    con: Queryable,
    account: str,
    ticker: str | None = None,
    action: str = "close",
    target_weight: float | None = None,
    qty: int | None = None,
    fraction: float | None = None,
) -> ToolResult:
    """HYPOTHETICAL: close or resize one position at the latest close; nothing is traded."""
    from engine.errors import InputError

    tk = norm_ticker(ticker)
    act = str(action or "close").lower()
    if act not in ("close", "resize"):
        raise InputError(
            f"action must be close or resize, got {action!r}",
            hint="use action=close, or action=resize with target_weight or qty",
        )
    b = _book(con, account)
    if not tk:
        return result(
            "what_if",
            "What-if",
            list(_WI_COLS),
            [],
            [],
            note="Name the position to close or resize (e.g. 'what if I sold all NVDA?').",
        )
    if b is None or tk not in b.tickers:
        return result(
            "what_if",
            f"What-if for {tk}",
            list(_WI_COLS),
            [],
            [],
            note=f"There is no open {tk} position to close or resize (account {account}).",
            args={"ticker": tk},
        )
    i = b.tickers.index(tk)
    new_qty = b.qty.copy()
    if act == "close":
        new_qty[i] = 0.0
    elif qty is not None:
        new_qty[i] = float(qty)
    elif fraction is not None:
        new_qty[i] = round(float(fraction) * b.qty[i])
    elif target_weight is not None:
        new_qty[i] = round(float(target_weight) * b.equity / b.close[i])
    else:
        raise InputError("resize needs target_weight, qty or fraction", hint="e.g. target_weight=0.02 or fraction=0.5")
    proceeds = float((b.qty[i] - new_qty[i]) * b.close[i])
    w_new = b.weights.copy()
    w_new[i] = new_qty[i] * b.close[i] / b.equity if b.equity else 0.0
    now, then = _measures(b, b.weights), _measures(b, w_new)
    rows = [
        ("qty " + tk, float(b.qty[i]), float(new_qty[i]), float(new_qty[i] - b.qty[i])),
        ("cash", round(b.cash, 2), round(b.cash + proceeds, 2), round(proceeds, 2)),
        ("weight " + tk, _f(b.weights[i]), _f(w_new[i]), _f(w_new[i] - b.weights[i])),
    ]
    for key in now:
        a, c = now[key], then.get(key)
        rows.append((key, a, c, _f(c - a) if a is not None and c is not None else None))
    cites = [
        cite("positions", b.as_of, account=account, ticker=tk),
        cite("equity", b.as_of, account=account),
        cite("bars", b.as_of, sessions=f"last {LOOKBACK}", rule="engine.portfolio.risk_measures"),
    ]
    verb = "closing" if act == "close" else f"resizing to {new_qty[i]:.0f} shares"
    return result(
        "what_if",
        f"HYPOTHETICAL: {verb} {tk} at the {b.as_of} close ({b.close[i]:.2f}), before costs; nothing is traded",
        list(_WI_COLS),
        rows,
        cites,
        args={"ticker": tk, "action": act, "target_weight": target_weight, "qty": qty, "fraction": fraction},
    )
