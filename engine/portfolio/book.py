"""The account's book in the store: load it, mark it, assess the kill switches.

The store is the only truth between cycles: `load_book` rebuilds cash and positions
from the last committed session's `equity`/`positions` rows plus the fills already
written in this cycle, so a resumed run (empty `ctx.state`) sees exactly what an
uninterrupted one holds. `assess(ctx)` marks the post-fill book at this session's
close and evaluates the kill switches once per cycle for the later stages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.portfolio.benchmark import closes_on
from engine.portfolio.broker import Book, Fill
from engine.portfolio.db import first_row
from engine.portfolio.killswitch import KillSwitchDecision, KillSwitchLimits, KillSwitchState, evaluate_killswitches
from engine.portfolio.market import MarketView, market_view

if TYPE_CHECKING:
    import duckdb

    from engine.cycle import CycleContext

_BOOK = "portfolio.book"
_ASSESS = "portfolio.assess"
_LAST = "portfolio.last_row"


@dataclass(frozen=True)
class PriorSession:
    """What the last committed session left: its date, equity and kill-switch state."""

    as_of: dt.date | None
    equity: float | None
    peak: float | None  # all-time equity high-water mark
    ks: KillSwitchState


def _last_row(con: duckdb.DuckDBPyConnection, account: str, session: dt.date) -> tuple | None:
    """(as_of, cash, equity, ks_peak, ks_cooldown, all-time peak) of the last session before `session`."""
    return first_row(
        con,
        "SELECT e.as_of, e.cash, e.equity, r.ks_peak, r.ks_cooldown, "
        "(SELECT max(equity) FROM equity WHERE account = ? AND as_of < ?) FROM equity e "
        "LEFT JOIN risk r ON r.account = e.account AND r.as_of = e.as_of "
        "WHERE e.account = ? AND e.as_of < ? ORDER BY e.as_of DESC LIMIT 1",
        [account, session, account, session],
    )


def prior_session(
    con: duckdb.DuckDBPyConnection, account: str, session: dt.date, initial_cash: float, row: tuple | None = None
) -> PriorSession:
    """What the last committed session before `session` left (`row`: a prefetched `_last_row`)."""
    row = row if row is not None else _last_row(con, account, session)
    if row is None:
        return PriorSession(None, None, None, KillSwitchState(peak=initial_cash))
    ks = KillSwitchState(peak=float(row[3]) if row[3] is not None else float(row[2]), cooldown=int(row[4] or 0))
    return PriorSession(row[0], float(row[2]), float(row[5]), ks)


def load_book(
    con: duckdb.DuckDBPyConnection, account: str, session: dt.date, initial_cash: float, row: tuple | None = None
) -> Book:
    """Cash and positions at the close of the last committed session before `session`."""
    row = row if row is not None else _last_row(con, account, session)
    if row is None:
        return Book(cash=float(initial_cash))
    pos = con.execute(
        "SELECT ticker, qty, avg_cost FROM positions WHERE account = ? AND as_of = ? AND qty <> 0 ORDER BY ticker",
        [account, row[0]],
    ).fetchall()
    return Book(cash=float(row[1]), positions={t: (int(q), float(a)) for t, q, a in pos})


def last_row(ctx: CycleContext) -> tuple | None:
    """`_last_row` for this cycle, read once."""
    cached = ctx.state.get(_LAST)
    if cached is not None and cached[0] == ctx.session:
        return cached[1]
    row = _last_row(ctx.con, ctx.account, ctx.session)
    ctx.state[_LAST] = (ctx.session, row)
    return row


def fills_on(con: duckdb.DuckDBPyConnection, account: str, session: dt.date) -> list[Fill]:
    rows = con.execute(
        "SELECT fill_id, order_id, account, date, ticker, side, qty, price, commission, slippage "
        "FROM fills WHERE account = ? AND date = ?",
        [account, session],
    ).fetchall()
    fills = [
        Fill(fid, oid, acct, day, tk, side, int(qty), float(px), float(fee), float(slip))
        for fid, oid, acct, day, tk, side, qty, px, fee, slip in rows
    ]
    return sorted(fills, key=lambda f: (f.side != "SELL", f.ticker, f.order_id))


def current_book(ctx: CycleContext) -> Book:
    """The book after this session's fills (from `ctx.state`, else rebuilt from the store)."""
    cached = ctx.state.get(_BOOK)
    if cached is not None and cached[0] == ctx.session:
        return cached[1]
    cash0 = ctx.config.portfolio.initial_cash
    book = load_book(ctx.con, ctx.account, ctx.session, cash0, last_row(ctx) or None)
    for f in fills_on(ctx.con, ctx.account, ctx.session):
        book.apply(f)
    ctx.state[_BOOK] = (ctx.session, book)
    return book


def set_book(ctx: CycleContext, book: Book) -> None:
    ctx.state[_BOOK] = (ctx.session, book)


def benchmark_return(ctx: CycleContext, view: MarketView, prices: dict[str, float]) -> float:
    """The declared benchmark's return this session: the weights stored with the previous
    session, grown by each name's close-to-close change (0 with none stored or cash)."""
    prev = ctx.con.execute(
        "SELECT as_of, ticker, weight FROM benchmark_weights WHERE account = ? AND as_of = "
        "(SELECT max(as_of) FROM benchmark_weights WHERE account = ? AND as_of < ?)",
        [ctx.account, ctx.account, ctx.session],
    ).fetchall()
    if not prev:
        return 0.0
    before = closes_on(view, prev[0][0]) or {}
    w = np.array([float(x) for _d, _t, x in prev])
    p0 = np.array([before.get(t, np.nan) for _d, t, _x in prev])
    p1 = np.array([prices.get(t, np.nan) for _d, t, _x in prev])
    ok = np.isfinite(p0) & np.isfinite(p1) & (p0 > 0)
    held = float(w[ok].sum())
    if held <= 0:
        return 0.0
    return float((w[ok] * p1[ok] / p0[ok]).sum() / held - 1.0)


@dataclass(eq=False)
class Assessment:
    """The post-fill book marked at this close, and the kill switches' verdict."""

    session: dt.date
    book: Book
    view: MarketView
    prices: dict[str, float]  # mark price per ticker in the view (last close <= session)
    market_values: dict[str, float]  # per held ticker
    equity: float
    prior: PriorSession
    ks: KillSwitchDecision

    def weight(self, ticker: str) -> float:
        return self.market_values.get(ticker, 0.0) / self.equity if self.equity > 0 else 0.0


def ticker_flags(ctx: CycleContext, view: MarketView, held: list[str]) -> dict[str, str]:
    """Tickers whose data this session is stale, quarantined or missing."""
    rows = ctx.con.execute("SELECT ticker, quarantined, stale FROM bars WHERE date = ?", [ctx.session]).fetchall()
    status = {t: (bool(q), bool(s)) for t, q, s in rows}
    recent = set()
    if len(view.dates) >= 2:
        prev = view.close[-2] if view.dates[-1] == ctx.session else view.close[-1]
        recent = {t for i, t in enumerate(view.tickers) if np.isfinite(prev[i])}
    flags: dict[str, str] = {}
    for t in sorted(recent | set(held) | set(status)):
        q, s = status.get(t, (None, None))
        if q is None:
            flags[t] = f"no bar on {ctx.session}"
        elif q:
            flags[t] = "quarantined bar"
        elif s:
            flags[t] = "stale data"
    return flags


def assess(ctx: CycleContext) -> Assessment:
    """Mark and kill-switch verdict for this session (computed once per cycle)."""
    cached = ctx.state.get(_ASSESS)
    if cached is not None and cached.session == ctx.session:
        return cached
    view = market_view(ctx)
    book = current_book(ctx)
    last = view.last_close()
    prices = {t: float(last[i]) for i, t in enumerate(view.tickers) if np.isfinite(last[i])}
    missing = [t for t in book.positions if t not in prices]
    if missing:  # a held name outside the window: its last stored close
        for t in missing:
            row = first_row(
                ctx.con,
                "SELECT close FROM bars WHERE ticker = ? AND date <= ? AND NOT quarantined ORDER BY date DESC LIMIT 1",
                [t, ctx.session],
            )
            prices[t] = float(row[0]) if row else book.positions[t][1]
    mv = {t: q * prices[t] for t, (q, _a) in sorted(book.positions.items())}
    equity = book.cash + sum(mv.values())
    cash0 = ctx.config.portfolio.initial_cash
    prior = prior_session(ctx.con, ctx.account, ctx.session, cash0, last_row(ctx) or None)
    flags = ticker_flags(ctx, view, list(book.positions))
    lim = KillSwitchLimits.from_config(ctx.config)
    r_bench = benchmark_return(ctx, view, prices) if lim.basis == "benchmark" else 0.0
    ks = evaluate_killswitches(
        equity, prior.equity, prior.ks, view.universe_median_return(), flags, lim, benchmark_return=r_bench
    )
    a = Assessment(ctx.session, book, view, prices, mv, equity, prior, ks)
    ctx.state[_ASSESS] = a
    return a


def invalidate(ctx: CycleContext) -> None:
    """Forget this cycle's cached assessment after the book changed.

    Only the assessment: the caller stores the changed book itself with `set_book`,
    and the next `assess` marks that book afresh.
    """
    ctx.state.pop(_ASSESS, None)
