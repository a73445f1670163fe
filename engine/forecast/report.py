"""The validation report behind `pmax validate`: every model beside naive, with DM p-values.

From stored `model_scores` (what the loop scored as forecasts matured) when there
are any, else from a walk-forward run on the stored bars. Per model and horizon:
MAE, RMSE, MASE, sMAPE, directional accuracy, interval coverage, log loss, skill
vs naive, Diebold–Mariano p-value (HLN-corrected, "model better"), Ljung–Box and
Jarque–Bera p-values of the errors, and the ensemble's current weight/demotion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.forecast_metrics import score_forecasts

REPORT_COLUMNS = ["model", "horizon", "n", "mae", "rmse", "mase", "smape", "directional_accuracy", "coverage",
                  "log_loss", "naive_rmse", "skill", "dm_stat", "dm_pvalue", "ljung_box_p", "jarque_bera_p",
                  "weight", "demoted", "reason"]


def report_from_scores(scores: pd.DataFrame, weights: pd.DataFrame | None = None) -> pd.DataFrame:
    """Report rows from scored forecasts (columns of `model_scores` plus lower/upper if known).

    `scores` needs model, horizon, ticker, forecast_as_of, actual, mean, prob_up and
    covered (or lower/upper).
    """
    from engine.significance import diebold_mariano, jarque_bera, ljung_box

    rows: list[dict[str, Any]] = []
    naive = scores[scores["model"] == "naive"]
    for (model, h), g in scores.groupby(["model", "horizon"], sort=True):
        m = score_forecasts(g["actual"], g["mean"], prob_up=g["prob_up"])
        cov = float(g["covered"].astype(float).mean()) if "covered" in g else np.nan
        scale = float(np.nanmean(np.abs(g["actual"])))  # MASE vs the random walk's own errors
        mase = m["mae"] / scale if scale > 0 else np.nan
        nv = naive[naive["horizon"] == h]
        key = ["forecast_as_of", "ticker"]
        both = g[key + ["actual", "mean"]].merge(nv[key + ["mean"]], on=key, suffixes=("", "_naive"))
        e_m, e_n = both["actual"] - both["mean"], both["actual"] - both["mean_naive"]
        daily = pd.DataFrame({"d": both["forecast_as_of"], "m": e_m**2, "n": e_n**2}).groupby("d").mean()
        dm = diebold_mariano(np.sqrt(daily["m"]), np.sqrt(daily["n"]), h=int(h), loss="se",
                             harvey_correction=True, alternative="less") if len(daily) > 2 else None
        resid = (g["actual"] - g["mean"]).to_numpy()
        lb = ljung_box(resid, lags=min(10, max(1, len(resid) // 5))) if len(resid) > 20 else None
        jb = jarque_bera(resid) if len(resid) > 20 else None
        naive_rmse = float(np.sqrt(np.mean(e_n**2))) if len(e_n) else np.nan
        rows.append({
            "model": model, "horizon": int(h), "n": int(m["n"]), "mae": m["mae"], "rmse": m["rmse"],
            "mase": mase, "smape": m["smape"], "directional_accuracy": m["directional_accuracy"],
            "coverage": cov, "log_loss": m["log_loss"], "naive_rmse": naive_rmse,
            "skill": 1.0 - float(np.mean(e_m**2)) / float(np.mean(e_n**2)) if len(e_n) and np.mean(e_n**2) > 0 else np.nan,
            "dm_stat": dm.stat if dm else np.nan, "dm_pvalue": dm.pvalue if dm else np.nan,
            "ljung_box_p": lb.pvalue if lb else np.nan, "jarque_bera_p": jb.pvalue if jb else np.nan,
        })
    out = pd.DataFrame(rows, columns=[c for c in REPORT_COLUMNS if c not in ("weight", "demoted", "reason")])
    if weights is not None and not weights.empty:
        out = out.merge(weights[["model", "horizon", "weight", "demoted", "reason"]], on=["model", "horizon"], how="left")
    else:
        out = out.assign(weight=np.nan, demoted=pd.NA, reason=None)
    return out[REPORT_COLUMNS]


def stored_scores(con: Any, account: str, tickers: Sequence[str] | None = None) -> pd.DataFrame:
    sql = "SELECT * FROM model_scores WHERE account = ?"
    params: list[Any] = [account]
    if tickers:
        sql += " AND list_contains(?, ticker)"
        params.append(list(tickers))
    return con.execute(sql, params).df()


def latest_weights(con: Any, account: str) -> pd.DataFrame:
    return con.execute(
        "SELECT * FROM model_weights WHERE account = ? AND as_of = "
        "(SELECT max(as_of) FROM model_weights WHERE account = ?)", [account, account]).df()


def walk_forward_scores(panel: Any, models: Sequence[str], horizons: Sequence[int], *, n_windows: int,
                        step_size: int, refit: int, window: str, params: dict[str, dict], seed: int,
                        level: float) -> pd.DataFrame:
    """Walk-forward OOS rows of every model, shaped like `model_scores` for `report_from_scores`."""
    from engine.forecast.validation import walk_forward

    frames = []
    for m in dict.fromkeys(["naive", *models]):
        cv = walk_forward(panel, m, h=list(horizons), n_windows=n_windows, step_size=step_size, refit=refit,
                          window=window, params=params.get(m), seed=seed, level=level)
        frames.append(cv)
    df = pd.concat(frames, ignore_index=True)
    df = df.rename(columns={"cutoff": "forecast_as_of"})
    df["covered"] = (df["lower"] <= df["actual"]) & (df["actual"] <= df["upper"])
    return df
