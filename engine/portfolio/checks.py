"""Pre-trade checks: every proposed order passes them or is stored rejected with a reason.

Checks, in order: kill switches (buys halted, ticker halted), duplicate order,
daily trade count, fat finger (price far from the last close, notional far above
normal), participation (<= N% of 20-session average volume; the quantity is cut to
the cap), max position %, max gross exposure, and cash (the quantity is cut to what
the estimated cash buys at the close plus costs and a cushion for the open). Sells are
checked first so their proceeds count as cash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from engine.portfolio.broker import Order


@dataclass(frozen=True)
class CheckLimits:
    """Limits of the pre-trade checks ([risk], [portfolio] and [broker] config).

    No config defaults here: the stage builds one from the loaded config
    (config/default.toml); only `tolerance`, a code constant, has a default.
    """

    max_position: float  # |position value| / equity after the trade
    max_gross: float  # sum |position value| / equity after the trade
    max_trades_per_session: int
    fat_finger_price_pct: float  # |reference price / last close - 1|
    fat_finger_notional_pct: float  # order notional / equity
    max_participation: float  # of 20-session average daily volume
    cost_bps: float  # slippage + commission, for the cash estimate
    cash_cushion_bps: float  # room for the next open gapping above the close
    tolerance: float = 0.005  # slack on the position and gross caps


@dataclass
class CheckContext:
    """What the checks see at the close of the deciding session."""

    equity: float
    cash: float
    positions: dict[str, int]
    closes: dict[str, float]
    adv20: dict[str, float]
    halt_buys: str | None = None  # reason, when buys are halted
    ticker_halts: dict[str, str] = field(default_factory=dict)
    existing_ids: set[str] = field(default_factory=set)


def _reject(o: Order, reason: str) -> Order:
    return replace(o, status="rejected", reason=reason)


def run_checks(orders: list[Order], ctx: CheckContext, lim: CheckLimits) -> list[Order]:
    """Returns every order either `new` (accepted, maybe with a reduced qty and a note)
    or `rejected` with the failing check as its reason. Deterministic order."""
    out: list[Order] = []
    seen: set[str] = set()
    accepted = 0
    cash = ctx.cash
    pos = dict(ctx.positions)
    gross_value = sum(abs(q) * ctx.closes.get(t, 0.0) for t, q in pos.items())
    cb = lim.cost_bps / 1e4
    for o in sorted(orders, key=lambda o: (o.side != "SELL", o.ticker, o.intent)):
        px = ctx.closes.get(o.ticker, float("nan"))
        notes: list[str] = []
        if o.ticker in ctx.ticker_halts:
            out.append(_reject(o, f"kill switch: {ctx.ticker_halts[o.ticker]}"))
            continue
        if o.side == "BUY" and ctx.halt_buys:
            out.append(_reject(o, f"kill switch: {ctx.halt_buys}"))
            continue
        if o.order_id in ctx.existing_ids or o.ticker in seen:
            out.append(_reject(o, f"duplicate: an order for {o.ticker} already exists this session"))
            continue
        if accepted >= lim.max_trades_per_session:
            out.append(_reject(o, f"daily trade count {lim.max_trades_per_session} reached"))
            continue
        if not (math.isfinite(px) and px > 0):
            out.append(_reject(o, "no last close to check the price against"))
            continue
        ref = o.limit_price if o.type == "limit" and o.limit_price else px
        if abs(ref / px - 1.0) > lim.fat_finger_price_pct:
            out.append(_reject(o, f"fat finger: price {ref:.2f} is {ref / px - 1:+.1%} from close {px:.2f}"))
            continue
        if o.qty <= 0:
            out.append(_reject(o, "quantity must be positive"))
            continue
        if o.qty * px > lim.fat_finger_notional_pct * ctx.equity and o.intent != "flatten":
            out.append(
                _reject(o, f"fat finger: notional {o.qty * px:,.0f} > {lim.fat_finger_notional_pct:.0%} of equity")
            )
            continue
        qty = o.qty
        adv = ctx.adv20.get(o.ticker, float("nan"))
        cap = int(math.floor(lim.max_participation * adv)) if math.isfinite(adv) else 0
        if qty > cap:
            if cap <= 0:
                out.append(_reject(o, "participation: no 20-session average volume"))
                continue
            notes.append(f"qty cut {qty}->{cap}: {lim.max_participation:.0%} of 20-session ADV")
            qty = cap
        held = pos.get(o.ticker, 0)
        after = held + qty if o.side == "BUY" else held - qty
        if o.side == "BUY":
            if abs(after) * px > (lim.max_position + lim.tolerance) * ctx.equity:
                out.append(
                    _reject(o, f"max position: {abs(after) * px / ctx.equity:.1%} > {lim.max_position:.0%} of equity")
                )
                continue
            new_gross = gross_value + (abs(after) - abs(held)) * px
            if new_gross > (lim.max_gross + lim.tolerance) * ctx.equity:
                out.append(_reject(o, f"max gross: {new_gross / ctx.equity:.1%} > {lim.max_gross:.0%}"))
                continue
            unit = px * (1.0 + cb + lim.cash_cushion_bps / 1e4)
            if qty * unit > cash:
                afford = int(math.floor(max(cash, 0.0) / unit))
                if afford <= 0:
                    out.append(_reject(o, f"cash: {cash:,.2f} does not buy one share"))
                    continue
                notes.append(f"qty cut {qty}->{afford}: estimated cash {cash:,.2f}")
                qty = afford
                after = held + qty
            cash -= qty * unit
        else:
            cash += qty * px * (1.0 - cb)
        gross_value += (abs(after) - abs(held)) * px
        pos[o.ticker] = after
        seen.add(o.ticker)
        accepted += 1
        out.append(replace(o, qty=qty, status="new", reason="; ".join(notes) or o.reason))
    return out
