"""portfolio stage: target weights -> whole-share orders -> pre-trade checks -> `orders`.

Trades a name only when its drift from target exceeds the no-trade band and the
expected benefit beats the cost (a leg that widens a deviation from the base pays the
round trip), within the annual turnover budget; a drawdown stop turns every holding
into a `flatten` order and funding an all-cash book is a `fund` order (both exempt
from the budget). A name removed from the watchlist with "liquidate" (`engine.universe`)
has no target, so its exit is forced too (intent `liquidate`).
Every proposed order is stored: `new` (fills at the next session's bar) or
`rejected` with the failing check's reason.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from engine.cycle import CycleContext, Stage
from engine.errors import ConfigError
from engine.events import Event
from engine.portfolio.book import Assessment, assess
from engine.portfolio.broker import ORDER_COLUMNS, Order, order_id
from engine.portfolio.checks import CheckContext, CheckLimits, run_checks
from engine.portfolio.sizing import RebalanceLeg, fit_turnover_budget, rebalance_legs, target_shares
from engine.stage_state import TARGETS_KEY
from engine.store import append
from engine.universe import liquidating

ORDER_TYPES = ("market", "limit")


@dataclass(frozen=True)
class OrderPlaced(Event):
    session: dt.date
    order_id: str
    ticker: str
    side: str
    qty: int
    intent: str


@dataclass(frozen=True)
class OrderRejected(Event):
    session: dt.date
    order_id: str
    ticker: str
    side: str
    qty: int
    reason: str


def load_targets(ctx: CycleContext) -> tuple[dict[str, float], dict[str, float]]:
    """Target weights and validated edges for this session (state, else the signals rows)."""
    cached = ctx.state.get(TARGETS_KEY)
    if cached is not None and cached[0] == ctx.session:
        return cached[1], cached[2]
    rows = ctx.con.execute(
        "SELECT ticker, target_weight, expected_return, validated, tilt FROM signals "
        "WHERE account = ? AND as_of = ? ORDER BY ticker",
        [ctx.account, ctx.session],
    ).fetchall()
    targets = {t: float(w) for t, w, _e, _v, _tl in rows if w is not None}
    edges = {t: (float(e) if v and tl and e is not None else 0.0) for t, _w, e, v, tl in rows}
    return targets, edges


def load_bases(ctx: CycleContext) -> dict[str, float]:
    """Each signalled ticker's base weight this session (the benchmark after overlays)."""
    rows = ctx.con.execute(
        "SELECT ticker, base_weight FROM signals WHERE account = ? AND as_of = ?", [ctx.account, ctx.session]
    ).fetchall()
    return {t: float(w) for t, w in rows if w is not None}


BUDGET_WINDOW = 252
"""Sessions the turnover budget looks back over (one year)."""


def turnover_budget_left(ctx: CycleContext, equity: float) -> float:
    """One-way notional the turnover budget still allows this session.

    The allowance accrues pro rata: `turnover_budget x equity x sessions / 252` over
    the trailing 252 sessions (fewer at the start), less what non-exempt fills used
    (half their notional); funding and flatten orders are exempt.
    """
    row = ctx.con.execute(
        "WITH s AS (SELECT as_of FROM equity WHERE account = ? AND as_of < ? ORDER BY as_of DESC LIMIT ?) "
        "SELECT (SELECT count(*) FROM s), (SELECT coalesce(sum(f.qty * f.price), 0) FROM fills f "
        "JOIN orders o USING (order_id) WHERE f.account = ? AND o.intent NOT IN ('fund', 'flatten') "
        "AND f.date > coalesce((SELECT min(as_of) FROM s), DATE '0001-01-01'))",
        [ctx.account, ctx.session, BUDGET_WINDOW - 1, ctx.account],
    ).fetchall()[0]
    sessions, traded = int(row[0]) + 1, float(row[1])
    allowed = ctx.config.portfolio.turnover_budget * equity * sessions / BUDGET_WINDOW
    return max(0.0, allowed - 0.5 * traded)


def check_limits(ctx: CycleContext) -> CheckLimits:
    r, p, b = ctx.config.risk, ctx.config.portfolio, ctx.config.broker
    return CheckLimits(
        max_position=p.max_position,
        max_gross=p.max_gross,
        max_trades_per_session=r.max_trades_per_session,
        fat_finger_price_pct=r.fat_finger_price_pct,
        fat_finger_notional_pct=r.fat_finger_notional_pct,
        max_participation=r.max_participation,
        cost_bps=b.slippage_bps + b.commission_bps,
        cash_cushion_bps=r.cash_cushion_bps,
    )


def propose_orders(ctx: CycleContext, a: Assessment, targets: dict[str, float], edges: dict[str, float]) -> list[Order]:
    """Whole-share rebalance legs that pass the drift and benefit rules, as orders."""
    p = ctx.config.portfolio
    order_type = p.order_type
    if order_type not in ORDER_TYPES:
        raise ConfigError(f"portfolio.order_type must be one of {', '.join(ORDER_TYPES)}, got {order_type!r}")
    flatten = a.ks.flatten
    names = sorted((set(targets) | set(a.book.positions)) - set(a.ks.ticker_halts))
    names = [t for t in names if math.isfinite(a.prices.get(t, math.nan))]
    if not names:
        return []
    cur = np.array([a.book.qty(t) for t in names], dtype=np.int64)
    px = np.array([a.prices[t] for t in names])
    w = np.array([0.0 if flatten else targets.get(t, 0.0) for t in names])
    tgt = target_shares(w, a.equity, px)
    force = np.array([flatten or (t not in targets and a.book.qty(t) != 0) for t in names])
    cost_bps = ctx.config.broker.slippage_bps + ctx.config.broker.commission_bps
    # The reference a leg moves toward or away from: the base within the position cap (a
    # drifting benchmark can outgrow the cap; trimming it back is risk control, not a bet).
    cap = p.max_position
    bases = {t: min(max(b, -cap), cap) for t, b in load_bases(ctx).items()}
    legs = rebalance_legs(
        cur,
        tgt,
        px,
        a.equity,
        np.array([edges.get(t, 0.0) for t in names]),
        drift_threshold=p.drift_threshold,
        cost_bps=cost_bps,
        tracking_value_bps=p.tracking_value_bps,
        drift_relative=p.drift_relative,
        force=force,
        base_weights=np.array([bases.get(t, 0.0) for t in names]),
    )
    # Funding an all-cash book into its base is not discretionary turnover.
    funding = not flatten and not a.book.positions
    if (
        not flatten and not funding and min(a.ks.exposure_scale, a.ks.active_scale) >= 1.0
    ):  # risk cuts never wait for budget
        legs = fit_turnover_budget(legs, px, turnover_budget_left(ctx, a.equity), exempt=force)
    legs = fit_gross_budget(legs, cur, px, a.equity, p.max_gross)
    intent = "flatten" if flatten else ("fund" if funding else "rebalance")
    selling = liquidating(ctx)
    off = p.limit_offset_bps / 1e4
    orders = []
    for leg in legs:
        t = names[leg.index]
        side = "BUY" if leg.qty > 0 else "SELL"
        limit = None
        if order_type == "limit":
            limit = round(px[leg.index] * (1 + off if side == "BUY" else 1 - off), 2)
        why = (
            "drawdown stop: flatten" if flatten else ("not a tradable target: exit" if force[leg.index] else leg.reason)
        )
        kind = intent
        if t in selling and not flatten:
            kind, why = "liquidate", "removed from the watchlist: liquidate at the next open"
        orders.append(
            Order(
                order_id(ctx.account, ctx.session, t, kind),
                ctx.account,
                ctx.session,
                t,
                side,
                abs(leg.qty),
                order_type,
                limit,
                "new",
                why,
                kind,
                0,
                ctx.session,
            )
        )
    return orders


def fit_gross_budget(
    legs: list[RebalanceLeg], cur: np.ndarray, px: np.ndarray, equity: float, max_gross: float
) -> list[RebalanceLeg]:
    """Scales buys down (whole shares) so the book after every leg stays within the
    gross cap: names left alone because their drift is small keep their weight."""
    after = cur.astype(float).copy()
    for leg in legs:
        after[leg.index] += leg.qty
    gross = float(np.abs(after) @ px)
    buys = [leg for leg in legs if leg.qty > 0]
    excess = gross - max_gross * equity
    if excess <= 0 or not buys:
        return legs
    bought = sum(leg.qty * px[leg.index] for leg in buys)
    keep = max(0.0, 1.0 - excess / bought) if bought > 0 else 0.0
    out = []
    for leg in legs:
        if leg.qty > 0:
            q = int(np.floor(leg.qty * keep))
            if q <= 0:
                continue
            leg = replace(leg, qty=q, reason=f"{leg.reason}; scaled to {keep:.0%} to stay within gross cap")
        out.append(leg)
    return out


class PortfolioStage(Stage):
    name = "portfolio"

    def run(self, ctx: CycleContext) -> None:
        a = assess(ctx)
        targets, edges = load_targets(ctx)
        if not targets and not a.ks.flatten:
            return  # no signals this session (nothing tradable): hold, never liquidate by default
        proposed = propose_orders(ctx, a, targets, edges)
        if not proposed:
            return
        ids = [o.order_id for o in proposed]
        existing = {
            r[0]
            for r in ctx.con.execute("SELECT order_id FROM orders WHERE list_contains(?, order_id)", [ids]).fetchall()
        }
        view = a.view
        adv = view.adv(20)
        cc = CheckContext(
            equity=a.equity,
            cash=a.book.cash,
            positions={t: q for t, (q, _c) in a.book.positions.items()},
            closes=dict(a.prices),
            adv20={t: float(adv[i]) for i, t in enumerate(view.tickers)},
            halt_buys=a.ks.halt_buys_reason if a.ks.halt_buys else None,
            ticker_halts=dict(a.ks.ticker_halts),
            existing_ids=existing,
        )
        checked = [o for o in run_checks(proposed, cc, check_limits(ctx)) if o.order_id not in existing]
        if not checked:
            return
        append(ctx.con, "orders", pd.DataFrame([{c: getattr(o, c) for c in ORDER_COLUMNS} for o in checked]))
        ctx.state["portfolio.orders"] = (ctx.session, checked)
        for o in checked:
            if o.status == "rejected":
                ctx.publish(OrderRejected(ctx.session, o.order_id, o.ticker, o.side, o.qty, o.reason))
            else:
                ctx.publish(OrderPlaced(ctx.session, o.order_id, o.ticker, o.side, o.qty, o.intent))
