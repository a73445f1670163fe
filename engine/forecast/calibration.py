"""Are the forecast intervals calibrated? Coverage per model, horizon and level.

For every model and horizon of a scored-forecast frame:

* the model's own stored interval (`lower`/`upper`, at its `level`, e.g. 90%);
* 80% and 95% intervals mean ± z·vol from each forecast's stored `vol` (the
  h-session log-return std every model reports; a Gaussian interval, so a model
  with fat-tailed errors shows up here as under-covering).

Each gets the share of actuals inside and a two-sided exact binomial test against
the nominal level (`engine.significance.coverage_test`). Because overlapping
h-step targets and correlated tickers make that test optimistic, a row is flagged
"far from nominal" only when the gap is at least `FLAG_GAP` (5 points) AND the
binomial p-value is below `FLAG_P` — the size of the miss, not only its p-value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.forecast.base import normal_ppf

FLAG_GAP = 0.05
FLAG_P = 0.05
GAUSSIAN_LEVELS = (0.80, 0.95)
COVERAGE_COLUMNS = ["model", "horizon", "level", "interval", "covered", "n", "rate", "gap", "pvalue", "flag"]


def _row(model: str, h: int, level: float, interval: str, inside: np.ndarray) -> dict:
    from engine.significance import coverage_test

    res = coverage_test(inside, level)
    gap = res.rate - level if res.n else np.nan
    flag = bool(res.n and abs(gap) >= FLAG_GAP and np.isfinite(res.pvalue) and res.pvalue < FLAG_P)
    return {
        "model": model,
        "horizon": int(h),
        "level": float(level),
        "interval": interval,
        "covered": res.covered,
        "n": res.n,
        "rate": res.rate,
        "gap": gap,
        "pvalue": res.pvalue,
        "flag": flag,
    }


def coverage_table(
    scores: pd.DataFrame, levels: Sequence[float] = GAUSSIAN_LEVELS, default_level: float = 0.9
) -> pd.DataFrame:
    """Coverage rows (COVERAGE_COLUMNS) per model × horizon × interval.

    `scores` needs model, horizon, actual, mean; optional lower/upper/level (the
    stored interval) and vol (for the Gaussian levels). Rows without the inputs an
    interval needs are left out of that interval's count.
    """
    rows: list[dict] = []
    for (model, h), g in scores.groupby(["model", "horizon"], sort=True):
        a, m = g["actual"].to_numpy(float), g["mean"].to_numpy(float)
        if {"lower", "upper"} <= set(g.columns):
            lo, hi = g["lower"].to_numpy(float), g["upper"].to_numpy(float)
            ok = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
            lvl = g["level"].to_numpy(float) if "level" in g else np.full(len(g), default_level)
            lvl = lvl[ok & np.isfinite(lvl)]
            level = float(np.median(lvl)) if lvl.size else default_level
            if ok.any():
                rows.append(_row(str(model), int(h), level, "stored", ((lo <= a) & (a <= hi))[ok]))
        if "vol" in g:
            v = g["vol"].to_numpy(float)
            ok = np.isfinite(a) & np.isfinite(m) & np.isfinite(v) & (v > 0)
            if ok.any():
                for level in levels:
                    z = normal_ppf(0.5 + level / 2.0)
                    rows.append(_row(str(model), int(h), float(level), "mean ± z·vol", (np.abs(a - m) <= z * v)[ok]))
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
