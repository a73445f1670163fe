"""The per-model rows of `pmax validate`: every model beside naive, scored out of sample.

From scored forecasts (stored `model_scores` joined to their `forecasts`, or a
walk-forward run shaped the same way), per model and horizon:

* `n` — forecast origins (sessions), the unit the Diebold–Mariano test uses (it
  runs on the per-session cross-sectional MSE); `n_rows` — ticker-rows scored;
* MAE, RMSE, MASE, sMAPE, log loss, skill = 1 - MSE/MSE(naive), and the one
  Diebold–Mariano test of `engine.significance` ("model better", one-sided);
* directional accuracy over the forecasts that make a call (a forecast of exactly
  0 is a tie and is not counted; `zero_share` says how many there were);
* Ljung–Box per ticker on non-overlapping errors (every ceil(h/step)-th origin, so the
  MA(h-1) overlap of h-step errors is not mistaken for misspecification): the
  median p-value and the share of tickers rejecting at 5%; Jarque–Bera likewise;
* `status`, from this row's own skill and p-value: "skilled" (skill > 0 and
  p < alpha), "not significant", "worse than naive", or "baseline" for naive.

Interval calibration lives in `engine.forecast.calibration`; the report's
orchestration in `engine.validation_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.forecast_metrics import hit_rate, score_forecasts, skill_score

REPORT_COLUMNS = [
    "model",
    "horizon",
    "n",
    "n_rows",
    "mae",
    "rmse",
    "mase",
    "smape",
    "directional_accuracy",
    "directional_n",
    "zero_share",
    "coverage",
    "log_loss",
    "naive_rmse",
    "skill",
    "dm_stat",
    "dm_pvalue",
    "status",
    "ljung_box_median_p",
    "ljung_box_reject_share",
    "ljung_box_tickers",
    "jarque_bera_median_p",
    "weight",
    "weight_skill",
    "weight_pvalue",
    "demoted",
    "reason",
]
LB_ALPHA = 0.05


def status_of(model: str, skill: float, pvalue: float, alpha: float) -> str:
    """The row's verdict from its own skill and DM p-value (same rows, same window)."""
    if model == "naive":
        return "baseline"
    if not np.isfinite(skill):
        return "no scores"
    if skill <= 0:
        return "worse than naive"
    return "skilled" if np.isfinite(pvalue) and pvalue < alpha else "not significant"


def directional(actual: np.ndarray, mean: np.ndarray) -> tuple[float, int, float]:
    """(accuracy over calls, number of calls, share of zero forecasts).

    A forecast of exactly 0 makes no call (a tie) and an actual of exactly 0 cannot
    be called: both are left out rather than counted as hits or misses.
    """
    ok = np.isfinite(actual) & np.isfinite(mean)
    a, m = actual[ok], mean[ok]
    if not m.size:
        return np.nan, 0, np.nan
    acc, n = hit_rate(a, m)
    return acc, n, float(np.mean(m == 0))


def per_ticker_tests(g: pd.DataFrame, h: int) -> tuple[float, float, int, float]:
    """Median Ljung–Box p, share rejecting at 5%, tickers tested, median Jarque–Bera p.

    Each ticker's errors, ordered by origin and thinned to every h-th origin (no
    overlap), with lags = min(10, n // 5); tickers with fewer than 20 errors are skipped.
    """
    from engine.significance import jarque_bera, ljung_box

    lb, jb = [], []
    for _, t in g.sort_values("forecast_as_of").groupby("ticker", sort=False):
        resid = (t["actual"] - t["mean"]).to_numpy(dtype=float)[:: max(1, int(h))]
        resid = resid[np.isfinite(resid)]
        if len(resid) < 20:
            continue
        p = ljung_box(resid, lags=min(10, len(resid) // 5)).pvalue
        if np.isfinite(p):
            lb.append(p)
        q = jarque_bera(resid).pvalue
        if np.isfinite(q):
            jb.append(q)
    if not lb:
        return np.nan, np.nan, 0, float(np.median(jb)) if jb else np.nan
    arr = np.array(lb)
    return float(np.median(arr)), float(np.mean(arr < LB_ALPHA)), len(lb), float(np.median(jb)) if jb else np.nan


def report_from_scores(
    scores: pd.DataFrame, weights: pd.DataFrame | None = None, alpha: float = 0.10, step: int = 1
) -> pd.DataFrame:
    """Report rows from scored forecasts (columns of `model_scores`; `covered` optional).

    `scores` needs model, horizon, ticker, forecast_as_of, actual, mean and prob_up.
    `weights` (latest `model_weights`) adds the ensemble's current weight with the
    skill and p-value of *its* window (weight_skill, weight_pvalue) and reason.
    `step`: sessions between consecutive forecast origins (1 for stored daily scores,
    the walk-forward's step_size otherwise); h-step errors overlap ceil(h / step)
    origins, the overlap the DM test is told and the per-ticker Ljung–Box thins by.
    """
    from engine.significance import diebold_mariano

    rows: list[dict[str, Any]] = []
    naive = scores[scores["model"] == "naive"]
    key = ["forecast_as_of", "ticker"]
    for (model, h), g in scores.groupby(["model", "horizon"], sort=True):
        h = int(h)
        m = score_forecasts(g["actual"], g["mean"], prob_up=g["prob_up"])
        cov = float(g["covered"].astype(float).mean()) if "covered" in g else np.nan
        scale = float(np.nanmean(np.abs(g["actual"])))  # MASE vs the random walk's own errors
        mase = m["mae"] / scale if scale > 0 else np.nan
        nv = naive[naive["horizon"] == h]
        both = g[key + ["actual", "mean"]].merge(nv[key + ["mean"]], on=key, suffixes=("", "_naive"))
        e_m, e_n = both["actual"] - both["mean"], both["actual"] - both["mean_naive"]
        daily = pd.DataFrame({"d": both["forecast_as_of"], "m": e_m**2, "n": e_n**2}).groupby("d").mean()
        overlap = max(1, -(-h // max(1, int(step))))
        dm = (
            diebold_mariano(
                np.sqrt(daily["m"]),
                np.sqrt(daily["n"]),
                h=overlap,
                loss="se",
                harvey_correction=True,
                alternative="less",
            )
            if len(daily) > 2
            else None
        )
        skill = skill_score(float(np.mean(e_m**2)), float(np.mean(e_n**2))) if len(e_n) else np.nan
        p = dm.pvalue if dm else np.nan
        acc, n_calls, zero = directional(g["actual"].to_numpy(float), g["mean"].to_numpy(float))
        lb_med, lb_share, lb_n, jb_med = per_ticker_tests(g, overlap)
        rows.append(
            {
                "model": model,
                "horizon": h,
                "n": len(daily),
                "n_rows": int(m["n"]),
                "mae": m["mae"],
                "rmse": m["rmse"],
                "mase": mase,
                "smape": m["smape"],
                "directional_accuracy": acc,
                "directional_n": n_calls,
                "zero_share": zero,
                "coverage": cov,
                "log_loss": m["log_loss"],
                "naive_rmse": float(np.sqrt(np.mean(e_n**2))) if len(e_n) else np.nan,
                "skill": skill,
                "dm_stat": dm.stat if dm else np.nan,
                "dm_pvalue": p,
                "status": status_of(str(model), skill, p, alpha),
                "ljung_box_median_p": lb_med,
                "ljung_box_reject_share": lb_share,
                "ljung_box_tickers": lb_n,
                "jarque_bera_median_p": jb_med,
            }
        )
    own = [c for c in REPORT_COLUMNS if c not in ("weight", "weight_skill", "weight_pvalue", "demoted", "reason")]
    out = pd.DataFrame(rows, columns=own)
    if weights is not None and not weights.empty:
        w = weights[["model", "horizon", "weight", "skill", "dm_pvalue", "demoted", "reason"]].rename(
            columns={"skill": "weight_skill", "dm_pvalue": "weight_pvalue"}
        )
        out = out.merge(w, on=["model", "horizon"], how="left")
    else:
        out = out.assign(weight=np.nan, weight_skill=np.nan, weight_pvalue=np.nan, demoted=pd.NA, reason=None)
    return out[REPORT_COLUMNS]


def stored_scores(con: Any, account: str, tickers: Sequence[str] | None = None) -> pd.DataFrame:
    """`model_scores` joined to each forecast's interval, level and vol (for calibration)."""
    sql = (
        "SELECT s.*, f.lower, f.upper, f.level, f.vol FROM model_scores s LEFT JOIN forecasts f "
        "ON f.account = s.account AND f.as_of = s.forecast_as_of AND f.ticker = s.ticker "
        "AND f.model = s.model AND f.horizon = s.horizon WHERE s.account = ?"
    )
    params: list[Any] = [account]
    if tickers:
        sql += " AND list_contains(?, s.ticker)"
        params.append(list(tickers))
    return con.execute(sql, params).df()


def latest_weights(con: Any, account: str) -> pd.DataFrame:
    return con.execute(
        "SELECT * FROM model_weights WHERE account = ? AND as_of = "
        "(SELECT max(as_of) FROM model_weights WHERE account = ?)",
        [account, account],
    ).df()


def walk_forward_scores(
    panel: Any,
    models: Sequence[str],
    horizons: Sequence[int],
    *,
    n_windows: int,
    step_size: int,
    refit: int,
    window: str,
    params: dict[str, dict],
    seed: int,
    level: float,
) -> pd.DataFrame:
    """Walk-forward OOS rows of every model, shaped like `stored_scores` for `report_from_scores`."""
    from engine.forecast.validation import walk_forward

    frames = []
    for m in dict.fromkeys(["naive", *models]):
        cv = walk_forward(
            panel,
            m,
            h=list(horizons),
            n_windows=n_windows,
            step_size=step_size,
            refit=refit,
            window=window,
            params=params.get(m),
            seed=seed,
            level=level,
        )
        frames.append(cv)
    df = pd.concat(frames, ignore_index=True)
    df = df.rename(columns={"cutoff": "forecast_as_of"})
    df["covered"] = (df["lower"] <= df["actual"]) & (df["actual"] <= df["upper"])
    df["level"] = float(level)
    return df
