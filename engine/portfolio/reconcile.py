"""Reconciliation: the book must agree with the fill ledger and the marks, to the cent.

`reconcile` recomputes cash and quantities from every fill the account has ever had
(plus the starting cash) and compares them with the book about to be stored, and
checks cash + sum(qty x close) = equity. Any difference raises `InvariantError`,
which rolls the cycle back and halts trading.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import InvariantError
from engine.portfolio.broker import Book

if TYPE_CHECKING:
    import duckdb

CENT = 0.005  # half a cent: anything larger is a real difference


def _cents(x: np.ndarray) -> np.ndarray:
    return np.copysign(np.floor(np.abs(x) * 100.0 + 0.5) / 100.0, x)


def ledger(con: duckdb.DuckDBPyConnection, account: str, session: dt.date,
           initial_cash: float) -> tuple[float, dict[str, int]]:
    """Cash and quantities implied by the fills dated on or before `session`."""
    df = con.execute("SELECT ticker, side, qty, price, commission FROM fills "
                     "WHERE account = ? AND date <= ? ORDER BY date, fill_id", [account, session]).df()
    if df.empty:
        return float(initial_cash), {}
    buy = (df["side"] == "BUY").to_numpy()
    notional = _cents(df["qty"].to_numpy(float) * df["price"].to_numpy(float))
    comm = df["commission"].to_numpy(float)
    flows = np.where(buy, -(notional + comm), notional - comm)
    signed = np.where(buy, df["qty"].to_numpy(np.int64), -df["qty"].to_numpy(np.int64))
    qty = df.assign(q=signed).groupby("ticker", sort=True)["q"].sum()
    return float(initial_cash + flows.sum()), {str(t): int(q) for t, q in qty.items() if q != 0}


def reconcile(con: duckdb.DuckDBPyConnection, account: str, session: dt.date, initial_cash: float,
              book: Book, prices: dict[str, float], equity: float) -> None:
    """Raise InvariantError unless ledger, book and marks agree to the cent."""
    cash, qty = ledger(con, account, session, initial_cash)
    if abs(cash - book.cash) > CENT:
        raise InvariantError(f"{account} {session}: cash {book.cash:.2f} != ledger {cash:.2f}",
                             "the books no longer reconcile; trading halts until this is investigated")
    held = {t: q for t, (q, _a) in book.positions.items() if q != 0}
    if held != qty:
        diff = sorted(set(held.items()) ^ set(qty.items()))
        raise InvariantError(f"{account} {session}: positions differ from the fill ledger: {diff[:4]}",
                             "the books no longer reconcile; trading halts until this is investigated")
    marked = book.cash + sum(q * prices[t] for t, q in held.items())
    if abs(marked - equity) > CENT:
        raise InvariantError(f"{account} {session}: cash + positions {marked:.2f} != equity {equity:.2f}",
                             "the books no longer reconcile; trading halts until this is investigated")
