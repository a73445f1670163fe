"""Ensemble: weights from recent out-of-sample skill against naive, and the combined forecast.

Skill is 1 - MSE(model) / MSE(naive) over the last `window` scored sessions,
pooled across tickers. A model with enough scores and skill ≤ 0 is demoted
(weight 0, with a reason); the others share the weight in proportion to skill.
While a model has too few scores it gets an equal share ("warming up"). With
no model beating naive, the ensemble is naive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

WEIGHT_COLUMNS = ["model", "horizon", "weight", "skill", "dm_stat", "dm_pvalue", "n_scored", "demoted", "reason"]


def _dm(mse_model: np.ndarray, mse_naive: np.ndarray, h: int) -> tuple[float, float]:
    """DM test on per-session cross-sectional MSEs (errors passed as their RMS)."""
    if len(mse_model) < 5:
        return float("nan"), float("nan")
    try:
        from engine.significance import diebold_mariano
    except ImportError:  # significance module not installed yet: no p-value, weights still work
        return float("nan"), float("nan")
    res = diebold_mariano(np.sqrt(mse_model), np.sqrt(mse_naive), h=h, loss="se",
                          harvey_correction=True, alternative="less")
    return float(res.stat), float(res.pvalue)


def compute_weights(
    daily: pd.DataFrame,
    models: Sequence[str],
    horizons: Iterable[int],
    *,
    min_scored: int = 20,
    require_significance: bool = False,
    alpha: float = 0.1,
) -> pd.DataFrame:
    """Ensemble weights per (model, horizon).

    Args:
        daily: per (model, horizon, forecast_as_of): sse, naive_sse, n (scored tickers).
        models: the models in the ensemble (naive included or not; it is added).
        min_scored: scored sessions a model needs before it can be trusted or demoted.
        require_significance: only a DM p-value below `alpha` earns weight.
    """
    rows = []
    members = [m for m in models if m not in ("naive", "ensemble")]
    for h in horizons:
        part: list[dict] = []
        for m in members:
            d = daily[(daily["model"] == m) & (daily["horizon"] == h)].sort_values("forecast_as_of")
            n_sessions = len(d)
            sse, nsse = float(d["sse"].sum()), float(d["naive_sse"].sum())
            skill = 1.0 - sse / nsse if nsse > 0 else float("nan")
            stat, p = _dm((d["sse"] / d["n"]).to_numpy(), (d["naive_sse"] / d["n"]).to_numpy(), h)
            if n_sessions < min_scored:
                part.append(dict(model=m, skill=skill, dm_stat=stat, dm_pvalue=p, n_scored=int(d["n"].sum()),
                                 demoted=False, raw=None, reason=f"warming up: {n_sessions} of {min_scored} scored sessions"))
                continue
            if not np.isfinite(skill) or skill <= 0:
                reason = (f"demoted: MSE {-skill:.1%} worse than naive over {n_sessions} sessions"
                          if np.isfinite(skill) else "demoted: no usable scores")
                part.append(dict(model=m, skill=skill, dm_stat=stat, dm_pvalue=p, n_scored=int(d["n"].sum()),
                                 demoted=True, raw=0.0, reason=reason))
                continue
            if require_significance and not (np.isfinite(p) and p < alpha):
                part.append(dict(model=m, skill=skill, dm_stat=stat, dm_pvalue=p, n_scored=int(d["n"].sum()),
                                 demoted=True, raw=0.0,
                                 reason=f"demoted: skill {skill:.2%} not significant (DM p={p:.2f})"))
                continue
            part.append(dict(model=m, skill=skill, dm_stat=stat, dm_pvalue=p, n_scored=int(d["n"].sum()),
                             demoted=False, raw=skill, reason=f"trusted: skill {skill:.2%} vs naive (DM p={p:.2f})"))
        warming = [r for r in part if r["raw"] is None]
        trusted = [r for r in part if r["raw"]]
        if warming and not trusted:
            for r in warming:
                r["weight"] = 1.0 / (len(warming) + 1)
            naive_w = 1.0 / (len(warming) + 1)
        elif trusted:
            total = sum(r["raw"] for r in trusted)
            for r in trusted:
                r["weight"] = r["raw"] / total
            naive_w = 0.0
        else:
            naive_w = 1.0
        for r in part:
            r.setdefault("weight", 0.0)
            r.pop("raw")
            rows.append(dict(r, horizon=int(h)))
        rows.append(dict(model="naive", horizon=int(h), weight=naive_w, skill=0.0, dm_stat=float("nan"),
                         dm_pvalue=float("nan"), n_scored=0, demoted=False,
                         reason="baseline carries the ensemble" if naive_w == 1.0 else "baseline"))
    return pd.DataFrame(rows, columns=WEIGHT_COLUMNS)


def combine(forecasts: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Weighted linear pool of the models' forecasts: one `ensemble` row per ticker × horizon.

    Weights are renormalised over the models that forecast each ticker; the
    drivers of the heaviest model that has drivers are carried along.
    """
    if forecasts.empty:
        return forecasts.iloc[0:0]
    w = weights[["model", "horizon", "weight"]]
    df = forecasts.merge(w, on=["model", "horizon"], how="inner")
    df = df[df["weight"] > 0]
    if df.empty:
        return forecasts.iloc[0:0]
    total = df.groupby(["ticker", "horizon"])["weight"].transform("sum")
    df = df.assign(w=df["weight"] / total)
    cols = ["mean", "lower", "upper", "prob_up", "vol"]
    for c in cols:
        df[c] = df[c] * df["w"]
    out = df.groupby(["ticker", "horizon"], sort=True)[cols].sum().reset_index()
    out["level"] = df.groupby(["ticker", "horizon"], sort=True)["level"].first().to_numpy()
    with_drivers = df[df["drivers"].notna()].sort_values(["ticker", "horizon", "w"], ascending=[True, True, False])
    drv = with_drivers.drop_duplicates(["ticker", "horizon"]).set_index(["ticker", "horizon"])["drivers"]
    out["drivers"] = [drv.get((t, h)) for t, h in zip(out["ticker"], out["horizon"])]
    out["model"] = "ensemble"
    return out


def weights_for(weights: pd.DataFrame, model: str, horizon: int) -> float:
    row = weights[(weights["model"] == model) & (weights["horizon"] == horizon)]
    return float(row["weight"].iloc[0]) if len(row) else 0.0


def as_mapping(weights: pd.DataFrame) -> Mapping[tuple[str, int], float]:
    return {(m, int(h)): float(w) for m, h, w in zip(weights["model"], weights["horizon"], weights["weight"])}
