"""Grounding tools over the paper portfolio: risk snapshot and kill-switch state,
positions, recent fills, rejected orders, data-quality issues and performance
metrics (empyrical conventions, through ``engine.metrics``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from copilot.tools.base import cite, clamp_limit, norm_ticker, parse_json, result, select
from copilot.types import Citation, ToolResult
from engine.store import read_model

if TYPE_CHECKING:
    from engine.store.connection import Queryable

_RISK_COLS = (
    "as_of",
    "var_hist_95",
    "cvar_hist_95",
    "var_hist_99",
    "cvar_hist_99",
    "var_mc_99",
    "realised_vol",
    "forecast_vol",
    "beta",
    "drawdown",
    "gross",
    "net",
    "concentration",
    "regime",
    "halted",
    "halt_reason",
)


def risk_snapshot(con: Queryable, account: str) -> ToolResult:
    """The latest risk row: VaR/CVaR, volatility, drawdown, exposure, kill-switch state."""
    _, rows = select(
        con,
        f"SELECT {', '.join(_RISK_COLS)}, limit_utilisation FROM risk WHERE account = ? ORDER BY as_of DESC LIMIT 1",
        [account],
    )
    if not rows:
        return result(
            "risk_snapshot",
            "Risk snapshot",
            list(_RISK_COLS),
            [],
            [],
            note=f"No risk snapshot is stored yet (account {account}).",
        )
    row = rows[0]
    as_of = row[0]
    citation = cite("risk", as_of, account=account)
    children: tuple[ToolResult, ...] = ()
    limits = parse_json(row[len(_RISK_COLS)])
    if isinstance(limits, dict) and limits:
        children = (
            result(
                "risk_snapshot",
                "Limit utilisation (fraction of each limit used)",
                ["limit", "used"],
                sorted(limits.items()),
                [citation],
            ),
        )
    return result(
        "risk_snapshot",
        f"Risk snapshot (as of {as_of}; VaR/CVaR as return fractions)",
        list(_RISK_COLS),
        [row[: len(_RISK_COLS)]],
        [citation],
        data_text=("halt_reason",),
        children=children,
    )


_POS_COLS = ("as_of", "ticker", "qty", "avg_cost", "close", "market_value", "weight")


def positions(con: Queryable, account: str, ticker: str | None = None) -> ToolResult:
    """Positions at the latest marked session, plus cash and equity from ``equity``."""
    tk = norm_ticker(ticker)
    _, rows = select(con, *read_model.current_positions(account, ticker=tk))
    _, eq = select(
        con,
        "SELECT as_of, cash, equity, gross, net, drawdown FROM equity WHERE account = ? ORDER BY as_of DESC LIMIT 1",
        [account],
    )
    children: tuple[ToolResult, ...] = ()
    cites: list[Citation] = []
    if eq:
        eq_cite = cite("equity", eq[0][0], account=account)
        children = (
            result("positions", "Account", ["as_of", "cash", "equity", "gross", "net", "drawdown"], eq, [eq_cite]),
        )
    title = f"Positions{' in ' + tk if tk else ''}"
    if not rows:
        return result(
            "positions",
            title,
            list(_POS_COLS),
            [],
            cites,
            note=f"No open positions{' in ' + tk if tk else ''} (account {account}).",
            args={"ticker": tk},
            children=children,
        )
    as_of = rows[0][0]
    cites.append(cite("positions", as_of, account=account, ticker=tk))
    return result(
        "positions", f"{title} (as of {as_of})", list(_POS_COLS), rows, cites, args={"ticker": tk}, children=children
    )


_FILL_COLS = ("date", "ticker", "side", "qty", "price", "commission", "slippage", "order_id")


def recent_fills(con: Queryable, account: str, ticker: str | None = None, limit: int = 10) -> ToolResult:
    """The most recent paper fills (newest first)."""
    tk = norm_ticker(ticker)
    n = clamp_limit(limit, 10)
    _, rows = select(con, *read_model.recent_fills(account, n, ticker=tk))
    scope = f" in {tk}" if tk else ""
    if not rows:
        return result(
            "recent_fills",
            f"Recent fills{scope}",
            list(_FILL_COLS),
            [],
            [],
            note=f"No fills{scope} yet (account {account}).",
            args={"ticker": tk},
        )
    cites = [cite("fills", rows[0][0], account=account, ticker=tk, fill_dates=f"{rows[-1][0]}..{rows[0][0]}")]
    return result(
        "recent_fills",
        f"Recent fills{scope} (newest first)",
        list(_FILL_COLS),
        rows,
        cites,
        args={"ticker": tk, "limit": n},
    )


_REJ_COLS = ("as_of", "ticker", "side", "qty", "status", "reason", "order_id")


def rejections(con: Queryable, account: str, ticker: str | None = None, limit: int = 10) -> ToolResult:
    """Recently rejected or cancelled orders and why (pre-trade checks, kill switches)."""
    tk = norm_ticker(ticker)
    n = clamp_limit(limit, 10)
    _, rows = select(con, *read_model.orders_with_status(account, ("rejected", "cancelled"), n, ticker=tk))
    scope = f" for {tk}" if tk else ""
    if not rows:
        return result(
            "rejections",
            f"Rejected orders{scope}",
            list(_REJ_COLS),
            [],
            [],
            note=f"No rejected or cancelled orders{scope} (account {account}).",
            args={"ticker": tk},
        )
    cites = [cite("orders", rows[0][0], account=account, status="rejected|cancelled", ticker=tk)]
    return result(
        "rejections",
        f"Rejected or cancelled orders{scope} (newest first)",
        list(_REJ_COLS),
        rows,
        cites,
        data_text=("reason",),
        args={"ticker": tk},
    )


_QI_COLS = ("found_session", "ticker", "date", "rule", "action", "detail")


def quality_issues(con: Queryable, account: str, ticker: str | None = None, limit: int = 15) -> ToolResult:
    """Recent data-quality issues the gate flagged, repaired or quarantined."""
    tk = norm_ticker(ticker)
    n = clamp_limit(limit, 15)
    where, args = ["TRUE"], []
    if tk:
        where.append("ticker = ?")
        args.append(tk)
    _, rows = select(
        con,
        f"SELECT {', '.join(_QI_COLS)} FROM quality_issues "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY found_session DESC NULLS LAST, date DESC LIMIT ?",
        args + [n],
    )
    _, counts = select(
        con,
        f"SELECT action, count(*) FROM quality_issues WHERE {' AND '.join(where)} GROUP BY action ORDER BY action",
        args,
    )
    scope = f" for {tk}" if tk else ""
    if not rows:
        return result(
            "quality_issues",
            f"Data-quality issues{scope}",
            list(_QI_COLS),
            [],
            [],
            note=f"No data-quality issues{scope} are recorded.",
            args={"ticker": tk},
        )
    last = rows[0][0] or rows[0][2]
    citation = cite("quality_issues", last, ticker=tk)
    children = (result("quality_issues", "Issues by action", ["action", "count"], counts, [citation]),)
    return result(
        "quality_issues",
        f"Data-quality issues{scope} (newest first)",
        list(_QI_COLS),
        rows,
        [citation],
        data_text=("detail",),
        args={"ticker": tk},
        children=children,
    )


_PERF_COLS = (
    "portfolio",
    "first_as_of",
    "last_as_of",
    "sessions",
    "equity",
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
)


def performance(con: Queryable, account: str) -> ToolResult:
    """Portfolio performance over the stored equity curve (empyrical conventions)."""
    import numpy as np

    _, rows = select(con, "SELECT as_of, equity, daily_return FROM equity WHERE account = ? ORDER BY as_of", [account])
    if len(rows) < 2:
        return result(
            "performance",
            "Portfolio performance",
            list(_PERF_COLS),
            [],
            [],
            note="Not enough equity history yet (needs two or more marked sessions).",
        )
    equity = np.array([r[1] for r in rows], dtype=float)
    rets = np.array([r[2] if r[2] is not None else np.nan for r in rows[1:]], dtype=float)
    fallback = equity[1:] / equity[:-1] - 1.0
    rets = np.where(np.isnan(rets), fallback, rets)
    stats = _metrics(rets)
    first, last = rows[0][0], rows[-1][0]
    out = [(account, first, last, len(rows), float(equity[-1]), float(equity[-1] / equity[0] - 1.0), *stats)]
    citations = [cite("equity", last, account=account, sessions=f"{first}..{last}")]
    baseline = _buy_and_hold(con, first, last)
    if baseline is not None:  # the naive portfolio every figure is judged against
        value, base_rets = baseline
        out.append(
            ("equal-weight buy-and-hold", first, last, len(value), None, float(value[-1] - 1.0), *_metrics(base_rets))
        )
        citations.append(cite("bars", last, sessions=f"{first}..{last}", rule="equal weight at first close"))
    return result(
        "performance",
        f"Portfolio performance beside buy-and-hold ({first} to {last}; "
        "daily simple returns, annualised over 252 sessions)",
        list(_PERF_COLS),
        out,
        citations,
        children=(_against_benchmark(con, account, citations),),
    )


_BENCH_COLS = (
    "benchmark",
    "sessions",
    "strategy_total_return",
    "benchmark_total_return",
    "active_return",
    "tracking_error",
    "information_ratio",
    "ir_tstat",
    "psr_vs_benchmark",
    "turnover",
    "costs_paid",
    "cost_drag",
    "overlays_on",
)


def _against_benchmark(con: Queryable, account: str, citations: list[Any]) -> ToolResult:
    """engine.portfolio.report's figures: active return, TE, IR (t), PSR, attribution, turnover, costs."""
    from engine.portfolio.report import ATTRIBUTION_LABELS, benchmark_report

    rep = benchmark_report(con, account)
    row = tuple(", ".join(rep.get(c) or []) or "none" if c == "overlays_on" else rep.get(c) for c in _BENCH_COLS)
    att = [(ATTRIBUTION_LABELS.get(k, k), v) for k, v in sorted((rep.get("attribution") or {}).items())]
    note = " ".join(
        x
        for x in (
            rep.get("withheld") and f"Ratios withheld: {rep['withheld']}.",
            rep.get("verdict"),
            rep.get("data_note"),
        )
        if x
    )
    kids = (
        (result("performance", "Active return by source (annualised)", ["source", "active_return"], att, citations),)
        if att
        else ()
    )
    return result(
        "performance",
        f"Against the benchmark (annualised; active = strategy - benchmark). {note}",
        list(_BENCH_COLS),
        [row],
        citations,
        note=note,
        data_text=("benchmark", "overlays_on"),
        children=kids,
    )


def _buy_and_hold(con: Queryable, first: Any, last: Any) -> tuple[Any, Any] | None:
    """Equal dollars in every ticker at the first close, held: (value path, daily returns)."""
    import pandas as pd

    from engine.portfolio.summary import BUY_AND_HOLD_SQL, buy_and_hold_value

    cols, rows = select(con, BUY_AND_HOLD_SQL, [first, last])
    value = buy_and_hold_value(pd.DataFrame(rows, columns=cols)).to_numpy(dtype=float)
    if value.size < 2:
        return None
    return value, value[1:] / value[:-1] - 1.0


def _metrics(rets: Any) -> tuple[float | None, ...]:
    """annual_return, annual_volatility, sharpe, sortino, max_drawdown, calmar (engine.metrics)."""
    import numpy as np

    from engine import metrics

    out: list[float | None] = []
    for name in ("annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio", "max_drawdown", "calmar_ratio"):
        value = float(np.asarray(getattr(metrics, name)(rets)).reshape(-1)[0])
        out.append(value if np.isfinite(value) else None)
    return tuple(out)
