"""Reconciliation: the book must agree with the fill ledger and the marks, to the cent.

`reconcile` recomputes cash and quantities from every fill the account has ever had
(plus the starting cash) and compares them with the book about to be stored, and
checks cash + sum(qty x close) = equity. Any difference raises `InvariantError`,
which rolls the cycle back and halts trading.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from engine.errors import InvariantError
from engine.portfolio.broker import Book

if TYPE_CHECKING:
    import duckdb

CENT = 0.005  # half a cent: anything larger is a real difference


def ledger(
    con: duckdb.DuckDBPyConnection, account: str, session: dt.date, initial_cash: float
) -> tuple[float, dict[str, int]]:
    """Cash and quantities implied by the fills dated on or before `session`.

    Notionals are rounded to the cent exactly as `broker.cents` does (half away
    from zero on the same IEEE doubles), so the ledger and the book agree.
    """
    rows = con.execute(
        "SELECT ticker, sum(CASE WHEN side = 'BUY' THEN qty ELSE -qty END), "
        "sum(CASE WHEN side = 'BUY' THEN -(n + commission) ELSE n - commission END) FROM ("
        "  SELECT ticker, side, qty, commission, "
        "  sign(qty * price) * floor(abs(qty * price) * 100.0 + 0.5) / 100.0 AS n "
        "  FROM fills WHERE account = ? AND date <= ?) GROUP BY ticker ORDER BY ticker",
        [account, session],
    ).fetchall()
    flows = sum(float(f) for _t, _q, f in rows)
    return float(initial_cash) + flows, {str(t): int(q) for t, q, _f in rows if q != 0}


def reconcile(
    con: duckdb.DuckDBPyConnection,
    account: str,
    session: dt.date,
    initial_cash: float,
    book: Book,
    prices: dict[str, float],
    equity: float,
) -> None:
    """Raise InvariantError unless ledger, book and marks agree to the cent."""
    cash, qty = ledger(con, account, session, initial_cash)
    if abs(cash - book.cash) > CENT:
        raise InvariantError(
            f"{account} {session}: cash {book.cash:.2f} != ledger {cash:.2f}",
            "the books no longer reconcile; trading halts until this is investigated",
        )
    held = {t: q for t, (q, _a) in book.positions.items() if q != 0}
    if held != qty:
        diff = sorted(set(held.items()) ^ set(qty.items()))
        raise InvariantError(
            f"{account} {session}: positions differ from the fill ledger: {diff[:4]}",
            "the books no longer reconcile; trading halts until this is investigated",
        )
    marked = book.cash + sum(q * prices[t] for t, q in held.items())
    if abs(marked - equity) > CENT:
        raise InvariantError(
            f"{account} {session}: cash + positions {marked:.2f} != equity {equity:.2f}",
            "the books no longer reconcile; trading halts until this is investigated",
        )
