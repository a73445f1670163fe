"""VaR backtest: the `risk` stage's stored one-day VaR against the P&L that followed.

The VaR stored at the close of session t (a negative return fraction, empyrical's
convention, of the book held at that close) is compared with the account's
realised return on the next session (`equity.daily_return` at t+1, after costs).
An exception is a realised return below the VaR. For each stored measure
(historical, parametric, Monte-Carlo; 95% and 99%) this reports the exception
count and rate against the expected 1 - level, Kupiec's unconditional-coverage
test and Christoffersen's independence test (exceptions should not cluster).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from engine.store.connection import Queryable

MEASURES = ("var_hist_95", "var_hist_99", "var_param_95", "var_param_99", "var_mc_95", "var_mc_99")
BACKTEST_COLUMNS = [
    "measure",
    "level",
    "n",
    "exceptions",
    "rate",
    "expected",
    "kupiec_lr",
    "kupiec_p",
    "independence_lr",
    "independence_p",
    "verdict",
]


def var_pairs(con: Queryable, account: str) -> pd.DataFrame:
    """as_of, every stored VaR at that close, and the next session's realised return."""
    cols = ", ".join(f"r.{m}" for m in MEASURES)
    return con.execute(
        f"SELECT r.as_of, {cols}, e.next_return FROM risk r JOIN ("
        "  SELECT as_of, lead(daily_return) OVER (ORDER BY as_of) AS next_return FROM equity WHERE account = ?"
        ") e ON e.as_of = r.as_of WHERE r.account = ? ORDER BY r.as_of",
        [account, account],
    ).df()


def backtest(pairs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """One row per VaR measure with at least 20 (VaR, next return) pairs."""
    from engine.significance import christoffersen_independence, kupiec_pof

    rows = []
    nxt = pairs["next_return"].to_numpy(float) if "next_return" in pairs else np.array([])
    for m in MEASURES:
        if m not in pairs:
            continue
        var = pairs[m].to_numpy(float)
        ok = np.isfinite(var) & np.isfinite(nxt) & (var < 0)  # VaR of an empty book is 0: nothing at risk
        if ok.sum() < 20:
            continue
        level = int(m[-2:]) / 100.0
        exc = (nxt[ok] < var[ok]).astype(float)
        uc = kupiec_pof(exc, 1.0 - level)
        ind = christoffersen_independence(exc)
        bad = [
            name
            for name, p in (("exception rate", uc.pvalue), ("clustering", ind.pvalue))
            if np.isfinite(p) and p < alpha
        ]
        rows.append(
            {
                "measure": m,
                "level": level,
                "n": int(ok.sum()),
                "exceptions": int(exc.sum()),
                "rate": float(exc.mean()),
                "expected": 1.0 - level,
                "kupiec_lr": uc.stat,
                "kupiec_p": uc.pvalue,
                "independence_lr": ind.stat,
                "independence_p": ind.pvalue,
                "verdict": ("rejected: " + ", ".join(bad)) if bad else "not rejected",
            }
        )
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
