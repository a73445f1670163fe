"""The copilot's grounding tools: read-only queries over the store, each returning
rows plus citations (table, key, as-of).

``TOOLS`` is the registry the intent router and function-calling backends use;
``run_tool`` is the only way the copilot calls one (unknown names and arguments
are refused, never guessed). ``store_as_of`` feeds the answer cache's key.
There is deliberately no tool that writes, and none that reaches the broker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from copilot.tools.base import TICKER_PARAM, ToolSpec, params, select
from copilot.tools.calc import calculate
from copilot.tools.models import forecasts, latest_signal, model_weights, walk_forward
from copilot.tools.period import history, pnl_period
from copilot.tools.portfolio import performance, positions, quality_issues, recent_fills, rejections, risk_snapshot
from copilot.tools.ranking import forecast_compare, model_ranking
from copilot.tools.risk_tools import risk_breakdown, what_if
from copilot.types import ToolResult

if TYPE_CHECKING:
    from engine.store.connection import Queryable

_MODEL = {
    "type": "string",
    "description": "forecaster name: naive, drift, arima, garch, ssa, lightgbm, neural or ensemble",
}
_LIMIT = {"type": "integer", "description": "maximum rows (default 10)"}
_START = {"type": "string", "description": "first date, YYYY-MM-DD"}
_END = {"type": "string", "description": "last date, YYYY-MM-DD"}

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "latest_signal",
            "Latest trading signal for a ticker (action, confidence, expected "
            "return, validation layers, SHAP drivers); without a ticker, the latest session's "
            "top signals.",
            params(ticker=TICKER_PARAM, limit=_LIMIT),
            latest_signal,
        ),
        ToolSpec(
            "forecasts",
            "Latest forecasts for a ticker by model and horizon: mean forward log "
            "return, interval, P(up), volatility and the model's out-of-sample skill.",
            params(
                ("ticker",),
                ticker=TICKER_PARAM,
                model=_MODEL,
                horizon={"type": "integer", "description": "sessions ahead"},
            ),
            forecasts,
        ),
        ToolSpec(
            "walk_forward",
            "Walk-forward (out-of-sample) report from scored forecasts: RMSE "
            "against the naive random walk, skill, hit rate and interval coverage per model.",
            params(ticker=TICKER_PARAM, model=_MODEL),
            walk_forward,
        ),
        ToolSpec(
            "model_weights",
            "The ensemble's current model weights with skill, Diebold-Mariano test and any demotions.",
            params(model=_MODEL),
            model_weights,
        ),
        ToolSpec(
            "risk_snapshot",
            "Latest risk snapshot: VaR/CVaR, volatility, beta, drawdown, "
            "exposure, regime and the kill-switch (halted) state.",
            params(),
            risk_snapshot,
        ),
        ToolSpec(
            "positions",
            "Current paper positions with weights, plus cash and equity.",
            params(ticker=TICKER_PARAM),
            positions,
        ),
        ToolSpec(
            "recent_fills",
            "Most recent paper fills (trades executed).",
            params(ticker=TICKER_PARAM, limit=_LIMIT),
            recent_fills,
        ),
        ToolSpec(
            "rejections",
            "Recently rejected or cancelled orders and the reason.",
            params(ticker=TICKER_PARAM, limit=_LIMIT),
            rejections,
        ),
        ToolSpec(
            "quality_issues",
            "Data-quality issues found by the quality gate.",
            params(ticker=TICKER_PARAM, limit=_LIMIT),
            quality_issues,
        ),
        ToolSpec(
            "performance",
            "Portfolio performance: total and annual return, volatility, Sharpe, "
            "Sortino, max drawdown, Calmar (empyrical conventions).",
            params(),
            performance,
        ),
        ToolSpec(
            "pnl_period",
            "Profit and loss between two dates with attribution by position "
            "(largest detractors first) and the buy-and-hold benchmark.",
            params(start=_START, end=_END),
            pnl_period,
        ),
        ToolSpec(
            "risk_breakdown",
            "The biggest risks now: stress scenarios in $, each position's "
            "contribution to VaR, and how close each limit is.",
            params(),
            risk_breakdown,
        ),
        ToolSpec(
            "model_ranking",
            "Models ranked by out-of-sample skill against naive for a ticker, "
            "per horizon, with a significance test; names the most accurate.",
            params(ticker=TICKER_PARAM, horizon={"type": "integer"}),
            model_ranking,
        ),
        ToolSpec(
            "forecast_compare",
            "Latest ensemble forecasts for several tickers side by side.",
            params(("tickers",), tickers={"type": "array", "items": {"type": "string"}}),
            forecast_compare,
        ),
        ToolSpec(
            "what_if",
            "HYPOTHETICAL close or resize of one position: exposure, VaR, beta, "
            "stress and cash before and after. Never trades.",
            params(
                ("ticker",),
                ticker=TICKER_PARAM,
                action={"type": "string", "enum": ["close", "resize"]},
                target_weight={"type": "number"},
                fraction={"type": "number", "description": "new size as a fraction of now"},
            ),
            what_if,
        ),
        ToolSpec(
            "history",
            "Equity and drawdown between two dates, fills and signal changes in it.",
            params(start=_START, end=_END, ticker=TICKER_PARAM),
            history,
        ),
        ToolSpec(
            "calculate",
            "Arithmetic for derived figures (differences, ratios, percentages): numbers, + - * / ** and parentheses.",
            params(("expression",), expression={"type": "string"}),
            calculate,
        ),
    )
}


def run_tool(con: Queryable, account: str, name: str, args: dict[str, Any] | None = None) -> ToolResult:
    """Run a registered tool with only the arguments its schema declares."""
    from engine.errors import InputError

    spec = TOOLS.get(name)
    if spec is None:
        raise InputError(f"the copilot has no tool named {name!r}", hint=f"available tools: {', '.join(TOOLS)}")
    allowed = spec.parameters.get("properties", {})
    kwargs = {k: v for k, v in (args or {}).items() if k in allowed and v not in (None, "")}
    return spec.fn(con, account, **kwargs)


_AS_OF_TABLES = (
    "signals",
    "forecasts",
    "model_weights",
    "model_scores",
    "risk",
    "positions",
    "equity",
    "orders",
    "quality_issues",
    "cycles",
)


def store_as_of(con: Queryable) -> str:
    """A fingerprint of how fresh the store is: the latest date and row count per table.

    Row counts catch same-day writes (a second cycle, a new order) that leave the
    latest date unchanged, so a cached answer is never stale.
    """
    date_col = {"orders": "as_of", "quality_issues": "found_session", "cycles": "session"}
    parts = [
        f"SELECT '{t}' AS t, CAST(max({date_col.get(t, 'as_of')}) AS VARCHAR) AS d, count(*) AS n FROM {t}"
        for t in _AS_OF_TABLES
    ]
    _, rows = select(con, " UNION ALL ".join(parts))
    return ";".join(f"{t}:{d}:{n}" for t, d, n in sorted(rows))


def known_tickers(con: Queryable) -> set[str]:
    """Tickers the store knows (bars, signals, forecasts, positions)."""
    _, rows = select(
        con,
        "SELECT DISTINCT ticker FROM bars UNION SELECT DISTINCT ticker FROM "
        "signals UNION SELECT DISTINCT ticker FROM forecasts UNION "
        "SELECT DISTINCT ticker FROM positions",
    )
    return {r[0] for r in rows if r[0]}


__all__ = ["TOOLS", "ToolSpec", "run_tool", "store_as_of", "known_tickers"]
