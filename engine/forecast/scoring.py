"""Scoring of matured forecasts: what happened against what each model said.

A forecast made at session o for horizon h matures at the h-th session after o;
its `actual` is the realised log return over those sessions. Rows go to
`model_scores`; `naive_error` is the random walk's error (its mean is 0). `hit`
is NULL when the forecast or the actual is exactly 0: a tie makes no directional
call and is neither a hit nor a miss.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from engine.forecast_metrics import hit_flags

SCORE_COLUMNS = [
    "account",
    "as_of",
    "forecast_as_of",
    "ticker",
    "model",
    "horizon",
    "actual",
    "mean",
    "error",
    "naive_error",
    "covered",
    "hit",
    "prob_up",
]


def score_rows(forecasts: pd.DataFrame, actual: pd.Series, account: str, session: dt.date) -> pd.DataFrame:
    """Score forecasts (one origin, any horizon) against realised returns by ticker."""
    if forecasts.empty:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    df = forecasts.assign(actual=forecasts["ticker"].map(actual).astype(float))
    df = df[np.isfinite(df["actual"]) & np.isfinite(df["mean"])]
    a, m = df["actual"].to_numpy(), df["mean"].to_numpy()
    hit = hit_flags(a, m)
    out = pd.DataFrame(
        {
            "account": account,
            "as_of": session,
            "forecast_as_of": df["as_of"].to_numpy(),
            "ticker": df["ticker"].to_numpy(),
            "model": df["model"].to_numpy(),
            "horizon": df["horizon"].to_numpy().astype(np.int64),
            "actual": a,
            "mean": m,
            "error": a - m,
            "naive_error": a,
            "covered": (df["lower"].to_numpy() <= a) & (a <= df["upper"].to_numpy()),
            "hit": pd.array(np.where(np.isnan(hit), None, hit == 1.0), dtype="boolean"),
            "prob_up": df["prob_up"].to_numpy(),
        },
        columns=SCORE_COLUMNS,
    )
    return out


DAILY_SQL = """
SELECT model, horizon, forecast_as_of, fsum(error * error ORDER BY ticker) AS sse,
       fsum(naive_error * naive_error ORDER BY ticker) AS naive_sse, count(*) AS n
FROM model_scores
WHERE account = ? AND as_of <= ? AND as_of >= ?
GROUP BY model, horizon, forecast_as_of
ORDER BY model, horizon, forecast_as_of
"""
# ordered, compensated sums: DuckDB's parallel SUM is not bit-reproducible run to run
