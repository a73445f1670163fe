"""The declared benchmark and the overlays that may move the base away from it.

`[portfolio] benchmark` is what the book holds when no signal is validated and what
every result is measured against: "equal_weight" is equal-weight buy-and-hold of the
traded universe (weights drift with prices; they reset to equal only when the
universe changes), "cash" holds nothing. `[portfolio] overlays` turns on strategy
choices on top of it ("hrp": an HRP base instead of the benchmark's weights;
"regime": exposure scaled by the detected regime); both are off by default.

`drift_weights` is the pure kernel; `benchmark_weights` reads the previous session's
weights from the `benchmark_weights` table (so a resumed run drifts from where it
stopped) and writes this session's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.store import append

if TYPE_CHECKING:
    from engine.config import Config
    from engine.cycle import CycleContext
    from engine.portfolio.market import MarketView

BENCHMARKS = ("equal_weight", "cash")
OVERLAYS = ("hrp", "regime")
BENCHMARK_NAMES = {"equal_weight": "equal-weight buy-and-hold", "cash": "cash"}


def benchmark_kind(cfg: Config) -> str:
    return cfg.portfolio.benchmark


def overlays_on(cfg: Config) -> tuple[str, ...]:
    """The overlays switched on in the config, in canonical order."""
    chosen = set(cfg.portfolio.overlays)  # validated at load: a subset of OVERLAYS, lower case
    return tuple(o for o in OVERLAYS if o in chosen)


def drift_weights(
    universe: Sequence[str],
    prices: Mapping[str, float],
    kind: str,
    previous: Mapping[str, float] | None = None,
    previous_prices: Mapping[str, float] | None = None,
) -> np.ndarray:
    """The benchmark's weights over `universe` at today's prices.

    Equal weight: yesterday's weights grown by each name's price change and
    renormalised (buy-and-hold); equal weights when there is no yesterday, the
    universe changed, or a price is missing. Cash: zeros.
    """
    n = len(universe)
    if kind == "cash" or n == 0:
        return np.zeros(n)
    equal = np.full(n, 1.0 / n)
    if not previous or set(previous) != set(universe) or previous_prices is None:
        return equal
    w0 = np.array([previous[t] for t in universe], dtype=float)
    p0 = np.array([previous_prices.get(t, np.nan) for t in universe], dtype=float)
    p1 = np.array([prices.get(t, np.nan) for t in universe], dtype=float)
    grown = w0 * p1 / p0
    if not np.all(np.isfinite(grown)) or grown.sum() <= 0:
        return equal
    return grown / grown.sum()


def benchmark_weights(
    ctx: CycleContext, view: MarketView, universe: Sequence[str], prices: Mapping[str, float]
) -> np.ndarray:
    """This session's benchmark weights over `universe` (stored in `benchmark_weights`,
    with the session's benchmark and overlays in `portfolio_setup`)."""
    kind = benchmark_kind(ctx.config)
    prev = ctx.con.execute(
        "SELECT as_of, ticker, weight FROM benchmark_weights WHERE account = ? AND as_of = "
        "(SELECT max(as_of) FROM benchmark_weights WHERE account = ? AND as_of < ?)",
        [ctx.account, ctx.account, ctx.session],
    ).fetchall()
    previous = {t: float(w) for _d, t, w in prev}
    previous_prices = closes_on(view, prev[0][0]) if prev else None
    w = drift_weights(list(universe), prices, kind, previous, previous_prices)
    ctx.con.execute(
        "INSERT OR REPLACE INTO portfolio_setup VALUES (?, ?, ?, ?)",
        [ctx.account, ctx.session, kind, ",".join(overlays_on(ctx.config))],
    )
    ctx.con.execute("DELETE FROM benchmark_weights WHERE account = ? AND as_of = ?", [ctx.account, ctx.session])
    append(
        ctx.con,
        "benchmark_weights",
        pd.DataFrame({"account": ctx.account, "as_of": ctx.session, "ticker": list(universe), "weight": w}),
    )
    return w


def closes_on(view: MarketView, day: object) -> dict[str, float] | None:
    """Each ticker's last close on or before `day` in the view (None if `day` precedes it)."""
    day = pd.Timestamp(day).date()
    rows = [i for i, d in enumerate(view.dates) if pd.Timestamp(d).date() <= day]
    if not rows:
        return None
    last = pd.DataFrame(view.close[: rows[-1] + 1]).ffill().to_numpy()[-1]
    return {t: float(last[j]) for j, t in enumerate(view.tickers) if np.isfinite(last[j])}
