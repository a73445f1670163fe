"""broker_fill stage: yesterday's orders fill (or are cancelled) at today's bar.

Runs right after ingest. Open orders are those still `new` from earlier sessions;
they are day orders, so each resolves here: filled, partially filled, rejected (no
cash at the fill) or cancelled (no bar, limit not reached), always with a reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from engine.cycle import CycleContext, Stage
from engine.events import Event
from engine.portfolio.book import current_book, invalidate, set_book
from engine.portfolio.broker import ORDER_COLUMNS, Bar, BrokerCosts, Order, PaperBroker
from engine.store import append


@dataclass(frozen=True)
class OrderFilled(Event):
    session: dt.date
    order_id: str
    ticker: str
    side: str
    qty: int
    price: float
    status: str  # filled | partially_filled


@dataclass(frozen=True)
class OrderCancelled(Event):
    session: dt.date
    order_id: str
    ticker: str
    status: str  # cancelled | rejected
    reason: str


def broker_costs(ctx: CycleContext) -> BrokerCosts:
    return BrokerCosts.from_config(ctx.config)


def open_orders(ctx: CycleContext) -> list[Order]:
    rows = ctx.con.execute(
        f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE account = ? AND status = 'new' AND as_of < ? "
        "ORDER BY order_id",
        [ctx.account, ctx.session],
    ).fetchall()
    return [
        Order(
            oid,
            acc,
            as_of,
            t,
            side,
            int(q),
            typ,
            None if lp is None else float(lp),
            st,
            why or "",
            intent,
            int(fq or 0),
            None,
        )
        for oid, acc, as_of, t, side, q, typ, lp, st, why, intent, fq, _u in rows
    ]


def session_bars(ctx: CycleContext) -> dict[str, Bar]:
    """Gated (non-quarantined) bars dated this session."""
    b = ctx.bars
    if b.empty:
        return {}
    b = b[b["date"] == ctx.session]
    return {
        t: Bar(float(o), float(h), float(lo), float(c), float(v))
        for t, o, h, lo, c, v in zip(b["ticker"], b["open"], b["high"], b["low"], b["close"], b["volume"])
    }


def write_order_updates(ctx: CycleContext, orders: list[Order]) -> None:
    if not orders:
        return
    upd = pd.DataFrame(
        {
            "order_id": [o.order_id for o in orders],
            "status": [o.status for o in orders],
            "reason": [o.reason for o in orders],
            "filled_qty": [o.filled_qty for o in orders],
            "updated_session": [o.updated_session for o in orders],
        }
    )
    _pmax_order_upd = upd  # replacement scan (no register(): see docs/ARCHITECTURE.md)
    ctx.con.execute(
        "UPDATE orders SET status = u.status, reason = u.reason, filled_qty = u.filled_qty, "
        "updated_session = u.updated_session FROM _pmax_order_upd u WHERE orders.order_id = u.order_id"
    )


class BrokerFillStage(Stage):
    name = "broker_fill"

    def run(self, ctx: CycleContext) -> None:
        orders = open_orders(ctx)
        if not orders:
            return
        book = current_book(ctx).copy()
        fills_before = ctx.con.execute(
            "SELECT count(*) FROM fills WHERE account = ? AND date = ?", [ctx.account, ctx.session]
        ).fetchall()[0][0]
        if fills_before:  # never fill twice: this session's fills are already booked
            return
        broker = PaperBroker(broker_costs(ctx))
        updated, fills = broker.fill_session(orders, session_bars(ctx), book, ctx.session)
        write_order_updates(ctx, updated)
        if fills:
            append(ctx.con, "fills", pd.DataFrame([f.__dict__ for f in fills]))
        set_book(ctx, book)
        invalidate(ctx)
        for o in updated:
            if o.status in ("filled", "partially_filled"):
                f = next(f for f in fills if f.order_id == o.order_id)
                ctx.publish(OrderFilled(ctx.session, o.order_id, o.ticker, o.side, f.qty, f.price, o.status))
            else:
                ctx.publish(OrderCancelled(ctx.session, o.order_id, o.ticker, o.status, o.reason))
