"""What one stage hands later stages within a cycle through `ctx.state`, in one place.

Stages never import each other (an import-linter contract says so): the keys under
which signals leaves its targets and regime, and the session's forecast rows that
signals and risk both read (one query per cycle), live here. Every value is stored
as `(session, …)` so a value left by an earlier session is never taken for this one.
"""

from __future__ import annotations

from engine.cycle import CycleContext

TARGETS_KEY = "portfolio.targets"
FORECASTS_KEY = "portfolio.forecasts"
REGIME_KEY = "portfolio.regime"


def session_forecasts(ctx: CycleContext) -> list[dict]:
    """This session's ensemble and GARCH forecast rows (one query, cached for the cycle)."""
    cached = ctx.state.get(FORECASTS_KEY)
    if cached is not None and cached[0] == ctx.session:
        return cached[1]
    cur = ctx.con.execute(
        "SELECT model, horizon, ticker, mean, lower, upper, prob_up, vol, drivers FROM forecasts "
        "WHERE account = ? AND as_of = ? AND model IN ('ensemble', 'garch')",
        [ctx.account, ctx.session],
    )
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    ctx.state[FORECASTS_KEY] = (ctx.session, rows)
    return rows


def ensemble_forecasts(ctx: CycleContext, horizon: int) -> dict[str, dict]:
    return {r["ticker"]: r for r in session_forecasts(ctx) if r["model"] == "ensemble" and r["horizon"] == horizon}


def garch_vols(ctx: CycleContext, horizon: int) -> dict[str, float]:
    """Forecast h-session log-return vol per ticker from the GARCH model."""
    return {
        r["ticker"]: float(r["vol"])
        for r in session_forecasts(ctx)
        if r["model"] == "garch" and r["horizon"] == horizon and r["vol"] is not None
    }
