"""PaperBroker: deterministic order ids and next-bar fills with costs.

Orders decided at the close of session t fill at the open of t+1 (market) or when
t+1's range crosses the limit (limit); they are day orders, so whatever does not
fill at t+1 is cancelled with a reason. Slippage and commission are in bps of the
fill notional; cash amounts are rounded to the cent so the ledger reconciles to
the cent. Ids hash (account, session, ticker, intent): re-running a cycle can
never create, and so never fill, an order twice.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import Config


def order_id(account: str, session: date, ticker: str, intent: str) -> str:
    """Deterministic order id for (account, session, ticker, intent)."""
    key = f"{account}|{session.isoformat()}|{ticker}|{intent}"
    return "o-" + hashlib.sha1(key.encode()).hexdigest()[:20]


def fill_id(order_id_: str, session: date) -> str:
    """Deterministic fill id: one fill per order and session."""
    key = f"{order_id_}|{session.isoformat()}"
    return "f-" + hashlib.sha1(key.encode()).hexdigest()[:20]


def round_price(x: float) -> float:
    """Fill prices to 1/100 of a cent, half up; `backtest` applies the same formula to arrays."""
    return math.floor(x * 1e4 + 0.5) / 1e4


def cents(x: float) -> float:
    """Round half away from zero to the cent (avoids banker's rounding drift)."""
    return math.copysign(math.floor(abs(x) * 100.0 + 0.5) / 100.0, x)


@dataclass(frozen=True)
class Order:
    """One order row (mirrors the `orders` table)."""

    order_id: str
    account: str
    as_of: date
    ticker: str
    side: str  # BUY | SELL
    qty: int
    type: str = "market"  # market | limit
    limit_price: float | None = None
    status: str = "new"
    reason: str = ""
    intent: str = "rebalance"
    filled_qty: int = 0
    updated_session: date | None = None


#: The `orders` table's columns, in the order of `Order`'s fields.
ORDER_COLUMNS: list[str] = [f.name for f in fields(Order)]


@dataclass(frozen=True)
class Bar:
    """The fill session's bar for one ticker."""

    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True)
class Fill:
    """One fill row (mirrors the `fills` table)."""

    fill_id: str
    order_id: str
    account: str
    date: date
    ticker: str
    side: str
    qty: int
    price: float
    commission: float
    slippage: float  # currency cost of slippage versus the reference price

    @property
    def notional(self) -> float:
        return cents(self.qty * self.price)

    @property
    def cash_delta(self) -> float:
        """Signed cash change: buys pay notional + commission, sells receive notional - it."""
        if self.side == "BUY":
            return -(self.notional + self.commission)
        return self.notional - self.commission


@dataclass
class Book:
    """Cash and positions of one account: ticker -> (qty, avg_cost)."""

    cash: float
    positions: dict[str, tuple[int, float]] = field(default_factory=dict)

    def qty(self, ticker: str) -> int:
        return self.positions.get(ticker, (0, 0.0))[0]

    def apply(self, fill: Fill) -> None:
        """Books a fill: cash to the cent, quantity and average cost."""
        self.cash = cents(self.cash + fill.cash_delta)
        q, avg = self.positions.get(fill.ticker, (0, 0.0))
        dq = fill.qty if fill.side == "BUY" else -fill.qty
        nq = q + dq
        if nq == 0:
            self.positions.pop(fill.ticker, None)
            return
        if q == 0 or (q > 0) != (nq > 0):
            avg = fill.price  # opened or flipped
        elif abs(nq) > abs(q):
            avg = (abs(q) * avg + fill.qty * fill.price) / abs(nq)
        self.positions[fill.ticker] = (nq, avg)

    def copy(self) -> Book:
        return Book(self.cash, dict(self.positions))


@dataclass(frozen=True)
class BrokerCosts:
    """Cost and liquidity settings of the paper broker ([broker] and signals.allow_short).

    No defaults here: `from_config` reads them from the loaded config (config/default.toml).
    """

    slippage_bps: float
    commission_bps: float
    max_bar_participation: float  # at most this share of the fill bar's volume
    allow_short: bool

    @classmethod
    def from_config(cls, cfg: Config) -> BrokerCosts:
        b = cfg.broker
        return cls(
            slippage_bps=b.slippage_bps,
            commission_bps=b.commission_bps,
            max_bar_participation=b.max_bar_participation,
            allow_short=cfg.signals.allow_short,
        )


class PaperBroker:
    """Fills orders against the next session's bar, in a deterministic order.

    Sells fill before buys (their proceeds fund the buys), each group by ticker.
    """

    def __init__(self, costs: BrokerCosts) -> None:
        self.costs = costs

    def _price(self, order: Order, bar: Bar) -> tuple[float | None, float]:
        """Fill price and its reference price, or None when a limit is not reached."""
        s = self.costs.slippage_bps / 1e4
        buy = order.side == "BUY"
        if order.type == "market":
            ref = bar.open
            px = ref * (1 + s) if buy else ref * (1 - s)
            return round_price(px), ref
        lim = float(order.limit_price or float("nan"))
        if buy:
            if not bar.low <= lim:
                return None, lim
            ref = min(bar.open, lim)
            return round_price(min(ref * (1 + s), lim)), ref
        if not bar.high >= lim:
            return None, lim
        ref = max(bar.open, lim)
        return round_price(max(ref * (1 - s), lim)), ref

    def fill_one(self, order: Order, bar: Bar | None, book: Book, session: date) -> tuple[Order, Fill | None]:
        """Resolves one order against `bar`; updates `book` when it fills."""
        if bar is None or not all(math.isfinite(v) and v > 0 for v in (bar.open, bar.high, bar.low)):
            return replace(
                order, status="cancelled", reason=f"no tradable bar on {session}", updated_session=session
            ), None
        px, ref = self._price(order, bar)
        if px is None:
            lim = "missing" if order.limit_price is None else f"{order.limit_price:.2f}"
            return replace(
                order,
                status="cancelled",
                reason=f"limit {lim} not reached in range [{bar.low:.2f}, {bar.high:.2f}]",
                updated_session=session,
            ), None
        qty, why = order.qty, []
        cap = int(math.floor(self.costs.max_bar_participation * max(bar.volume, 0)))
        if qty > cap:
            qty = cap
            why.append(f"volume cap {cap} ({self.costs.max_bar_participation:.0%} of bar volume)")
        if order.side == "SELL" and not self.costs.allow_short:
            held = max(book.qty(order.ticker), 0)
            if qty > held:
                qty = held
                why.append(f"only {held} held")
        if order.side == "BUY":
            c = self.costs.commission_bps / 1e4
            affordable = int(math.floor(max(book.cash, 0.0) / (px * (1 + c) + 1e-9)))
            while affordable > 0 and cents(affordable * px) + cents(cents(affordable * px) * c) > book.cash:
                affordable -= 1
            if qty > affordable:
                qty = affordable
                why.append(f"cash {book.cash:.2f} buys only {affordable}")
        if qty <= 0:
            status = "rejected" if order.side == "BUY" and why and why[-1].startswith("cash") else "cancelled"
            return replace(
                order, status=status, reason="; ".join(why) or "nothing to fill", updated_session=session
            ), None
        notional = cents(qty * px)
        commission = cents(notional * self.costs.commission_bps / 1e4)
        fill = Fill(
            fill_id(order.order_id, session),
            order.order_id,
            order.account,
            session,
            order.ticker,
            order.side,
            qty,
            px,
            commission,
            cents(abs(px - ref) * qty),
        )
        book.apply(fill)
        status = "filled" if qty == order.qty else "partially_filled"
        reason = f"filled {qty} @ {px:.4f}" + (f" ({'; '.join(why)})" if why else "")
        return replace(order, status=status, reason=reason, filled_qty=qty, updated_session=session), fill

    def fill_session(
        self, orders: list[Order], bars: dict[str, Bar], book: Book, session: date
    ) -> tuple[list[Order], list[Fill]]:
        """Fills every open order at `session`; returns updated orders and fills."""
        ordered = sorted(orders, key=lambda o: (o.side != "SELL", o.ticker, o.order_id))
        updated, fills = [], []
        for o in ordered:
            u, f = self.fill_one(o, bars.get(o.ticker), book, session)
            updated.append(u)
            if f is not None:
                fills.append(f)
        return updated, fills
