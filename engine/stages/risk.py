"""risk stage: mark to market, reconcile, measure risk, publish kill-switch breaches.

Writes this session's `positions`, `equity` and `risk` rows (replacing the skeleton's
`mark` stage). Cash + sum(qty x close) = equity is checked against the fill ledger
to the cent every session; a difference raises `InvariantError` and the cycle rolls
back. VaR/CVaR follow empyrical's sign convention: negative return fractions.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.cycle import CycleContext, Stage
from engine.events import Event
from engine.portfolio import risk_measures as rk
from engine.portfolio.book import Assessment, assess
from engine.portfolio.db import first_row, insert_row
from engine.portfolio.reconcile import reconcile
from engine.stage_state import REGIME_KEY, garch_vols
from engine.store import append


@dataclass(frozen=True)
class RiskLimitBreached(Event):
    """A kill switch tripped at this session's close."""

    session: dt.date
    limit: str  # daily_loss | drawdown_halve | drawdown_flatten | market_shock | cooldown | ticker
    value: float
    threshold: float
    action: str  # halt_buys | halve_exposure | flatten | halt_ticker
    detail: str


@dataclass(frozen=True)
class RiskUpdated(Event):
    session: dt.date
    equity: float
    drawdown: float
    var_hist_95: float | None
    halted: bool
    halt_reason: str | None


def _nan_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _mc(ctx: CycleContext, r: np.ndarray, w: np.ndarray) -> dict[str, object]:
    """Monte-Carlo VaR/CVaR via engine.gpu.montecarlo; empty when off or unavailable."""
    rc = ctx.config.risk
    n_paths, every = rc.mc_paths, max(rc.mc_every, 1)
    if n_paths <= 0 or not np.any(w) or ctx.session_index % every or r.shape[0] < 30:
        return {}
    from engine.errors import PmaxError

    try:
        from engine.gpu.montecarlo import mc_var_cvar

        res = mc_var_cvar(
            r,
            w,
            n_paths,
            levels=(0.95, 0.99),
            method=rc.mc_method,
            device=ctx.device,
            seed=ctx.config.app.seed + int(ctx.session_index),
        )
    except (ImportError, PmaxError, np.linalg.LinAlgError):
        return {}
    return {
        "var_mc_95": res.var[0.95],
        "var_mc_99": res.var[0.99],
        "cvar_mc_95": res.cvar[0.95],
        "cvar_mc_99": res.cvar[0.99],
        "mc_paths": int(res.n_paths),
        "mc_device": str(res.device),
    }


def _stress(ctx: CycleContext, held: list[str], w: np.ndarray, r: np.ndarray, market: np.ndarray) -> str | None:
    if not ctx.config.risk.stress or not held:
        return None
    from engine.portfolio.stress import stress_test

    m = market - market.mean()
    vm = float(m @ m)
    betas = dict(zip(held, ((r - r.mean(axis=0)).T @ m / vm).tolist())) if vm > 0 else {}
    out = stress_test(dict(zip(held, w.tolist())), betas)
    return json.dumps({k: (round(v, 6) if math.isfinite(v) else None) for k, v in out.items()})


def _garch_vols(ctx: CycleContext) -> dict[str, float]:
    """Annualised one-session GARCH vol per ticker."""
    return {t: v * math.sqrt(252.0) for t, v in garch_vols(ctx, 1).items() if v > 0}


def risk_row(
    ctx: CycleContext, a: Assessment, drawdown: float, gross: float, net: float, daily_return: float
) -> dict[str, Any]:
    """Every measure of the `risk` row for this session."""
    view = a.view
    held = [t for t in sorted(a.book.positions) if view.col(t) is not None]
    w = np.array([a.weight(t) for t in held])
    rets = view.returns
    r = np.nan_to_num(rets[:, view.cols(held)]) if held else np.zeros((rets.shape[0], 0))
    market = np.nan_to_num(np.nanmean(np.where(np.isfinite(rets), rets, np.nan), axis=1)) if rets.size else np.zeros(0)
    port = r @ w if held else np.zeros(rets.shape[0])
    row: dict[str, object] = {"account": ctx.account, "as_of": ctx.session}
    for lvl, tag in ((0.95, "95"), (0.99, "99")):
        row[f"var_hist_{tag}"] = _nan_none(rk.var_hist(port, lvl))
        row[f"cvar_hist_{tag}"] = _nan_none(rk.cvar_hist(port, lvl))
        row[f"var_param_{tag}"] = _nan_none(rk.var_param(port, lvl))
        row[f"cvar_param_{tag}"] = _nan_none(rk.cvar_param(port, lvl))
    row.update(_mc(ctx, r, w))
    hist = ctx.con.execute(
        "SELECT daily_return FROM equity WHERE account = ? AND as_of < ? ORDER BY as_of DESC LIMIT 62",
        [ctx.account, ctx.session],
    ).fetchall()
    realised = np.array([daily_return] + [float(x[0] or 0.0) for x in hist])
    row["realised_vol"] = _nan_none(rk.annual_vol(realised))
    gv = _garch_vols(ctx)
    if held and all(t in gv for t in held):
        corr = np.atleast_2d(np.corrcoef(r, rowvar=False)) if len(held) > 1 else np.ones((1, 1))
        row["forecast_vol"] = _nan_none(rk.forecast_vol(w, np.array([gv[t] for t in held]), corr))
    elif held and r.shape[0] > 2:
        cov = np.atleast_2d(np.cov(r, rowvar=False, ddof=1))
        row["forecast_vol"] = float(math.sqrt(max(w @ cov @ w, 0.0) * 252.0))
    else:
        row["forecast_vol"] = 0.0 if not held else None
    row["beta"] = _nan_none(rk.beta(port, market)) if held else 0.0
    row["drawdown"] = drawdown
    row["gross"], row["net"] = gross, net
    row["concentration"] = rk.concentration(w)
    reg = ctx.state.get(REGIME_KEY)
    if reg is None or reg[0] != ctx.session:
        got = first_row(ctx.con, "SELECT regime FROM regimes WHERE as_of = ?", [ctx.session])
        reg = (ctx.session, got[0] if got else None)
    row["regime"] = reg[1]
    row["halted"] = bool(a.ks.halted)
    row["halt_reason"] = a.ks.reason
    rc, p = ctx.config.risk, ctx.config.portfolio
    placed = ctx.state.get("portfolio.orders")
    if placed is not None and placed[0] == ctx.session:
        n_orders = sum(o.status != "rejected" for o in placed[1])
    else:
        n_orders = ctx.con.execute(
            "SELECT count(*) FROM orders WHERE account = ? AND as_of = ? AND status <> 'rejected'",
            [ctx.account, ctx.session],
        ).fetchall()[0][0]
    util = {
        "gross": gross / p.max_gross,
        "max_position": (float(np.max(np.abs(w))) if held else 0.0) / p.max_position,
        "daily_loss": max(0.0, -daily_return) / rc.daily_loss_halt,
        "drawdown_halve": max(0.0, -a.ks.drawdown) / rc.drawdown_halve,
        "drawdown_flatten": max(0.0, -a.ks.drawdown) / rc.drawdown_flatten,
        "trades": n_orders / rc.max_trades_per_session,
    }
    row["limit_utilisation"] = json.dumps({k: round(v, 6) for k, v in util.items()})
    row["stress"] = _stress(ctx, held, w, r, market)
    row["ks_peak"], row["ks_cooldown"] = a.ks.state.peak, a.ks.state.cooldown
    return row


class RiskStage(Stage):
    name = "risk"

    def run(self, ctx: CycleContext) -> None:
        a = assess(ctx)
        eq = a.equity
        cash0 = ctx.config.portfolio.initial_cash
        reconcile(ctx.con, ctx.account, ctx.session, cash0, a.book, a.prices, eq)
        pos = [
            {
                "account": ctx.account,
                "as_of": ctx.session,
                "ticker": t,
                "qty": q,
                "avg_cost": c,
                "close": a.prices[t],
                "market_value": a.market_values[t],
                "weight": a.market_values[t] / eq if eq else 0.0,
            }
            for t, (q, c) in sorted(a.book.positions.items())
        ]
        if pos:
            append(ctx.con, "positions", pd.DataFrame(pos))
        gross = sum(abs(v) for v in a.market_values.values()) / eq if eq else 0.0
        net = sum(a.market_values.values()) / eq if eq else 0.0
        peak = max(a.prior.peak or eq, eq)
        drawdown = eq / peak - 1.0 if peak > 0 else 0.0
        daily = eq / a.prior.equity - 1.0 if a.prior.equity else 0.0
        insert_row(
            ctx.con,
            "equity",
            {
                "account": ctx.account,
                "as_of": ctx.session,
                "cash": a.book.cash,
                "equity": eq,
                "gross": gross,
                "net": net,
                "drawdown": drawdown,
                "daily_return": daily,
            },
        )
        row = risk_row(ctx, a, drawdown, gross, net, daily)
        insert_row(ctx.con, "risk", row)
        for b in a.ks.breaches:
            ctx.publish(RiskLimitBreached(ctx.session, b.limit, b.value, b.threshold, b.action, b.detail))
        ctx.publish(RiskUpdated(ctx.session, eq, drawdown, row.get("var_hist_95"), bool(a.ks.halted), a.ks.reason))
