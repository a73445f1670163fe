"""Ensemble: weights from recent out-of-sample skill against naive, and the combined forecast.

Skill is 1 - MSE(model) / MSE(naive) over the last `window` scored sessions,
pooled across tickers. A model with enough scores and skill ≤ 0 is demoted
(weight 0, with a reason); the others share the weight in proportion to skill.
While a model has too few scores it gets an equal share ("warming up"). With
no model beating naive, the ensemble is naive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from engine.forecast_metrics import skill_score

WEIGHT_COLUMNS = ["model", "horizon", "weight", "skill", "dm_stat", "dm_pvalue", "n_scored", "demoted", "reason"]


def _dm(mse_model: np.ndarray, mse_naive: np.ndarray, h: int) -> tuple[float, float]:
    """DM test on per-session cross-sectional MSEs (errors passed as their RMS)."""
    if len(mse_model) < 5:
        return float("nan"), float("nan")
    from engine.significance import diebold_mariano

    res = diebold_mariano(
        np.sqrt(mse_model), np.sqrt(mse_naive), h=h, loss="se", harvey_correction=True, alternative="less"
    )
    return float(res.stat), float(res.pvalue)


def _weighted_reason(skill: float, p: float, alpha: float) -> str:
    """Only a significant DM test earns the word "skill" (issue: skill is what the test says)."""
    if np.isfinite(p) and p < alpha:
        return f"skilled: MSE {skill:.2%} below naive, significant (DM p={p:.2f})"
    shown = f"{p:.2f}" if np.isfinite(p) else "n/a"
    return f"weighted: MSE {skill:.2%} below naive, not significant yet (DM p={shown})"


_EMPTY_GROUP = (np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))


def _groups(daily: pd.DataFrame) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(model, horizon) -> its sse, naive_sse and n in forecast_as_of order (numpy, one pass)."""
    if not len(daily):
        return {}
    model = daily["model"].to_numpy(dtype=object)
    horizon = daily["horizon"].to_numpy(dtype=np.int64)
    asof = daily["forecast_as_of"].to_numpy()
    sse = daily["sse"].to_numpy(dtype=float)
    nsse = daily["naive_sse"].to_numpy(dtype=float)
    n = daily["n"].to_numpy()
    out = {}
    for key in dict.fromkeys(zip(model, horizon)):
        idx = np.flatnonzero((model == key[0]) & (horizon == key[1]))
        idx = idx[np.argsort(asof[idx], kind="stable")]
        out[(str(key[0]), int(key[1]))] = (sse[idx], nsse[idx], n[idx])
    return out


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
    groups = _groups(daily)
    for h in horizons:
        part: list[dict] = []
        for m in members:
            d_sse, d_nsse, d_n = groups.get((m, int(h)), _EMPTY_GROUP)
            n_sessions = len(d_sse)
            sse, nsse = float(np.nansum(d_sse)), float(np.nansum(d_nsse))
            skill = skill_score(sse, nsse)
            stat, p = _dm(d_sse / d_n, d_nsse / d_n, h)
            n_scored = int(d_n.sum())
            if n_sessions < min_scored:
                demoted, raw, reason = False, None, f"warming up: {n_sessions} of {min_scored} scored sessions"
            elif not np.isfinite(skill) or skill <= 0:
                demoted, raw = True, 0.0
                reason = (
                    f"demoted: MSE {-skill:.1%} worse than naive over {n_sessions} sessions"
                    if np.isfinite(skill)
                    else "demoted: no usable scores"
                )
            elif require_significance and not (np.isfinite(p) and p < alpha):
                demoted, raw = True, 0.0
                reason = f"demoted: skill {skill:.2%} not significant (DM p={p:.2f})"
            else:
                demoted, raw, reason = False, skill, _weighted_reason(skill, p, alpha)
            part.append(
                dict(
                    model=m,
                    skill=skill,
                    dm_stat=stat,
                    dm_pvalue=p,
                    n_scored=n_scored,
                    demoted=demoted,
                    raw=raw,
                    reason=reason,
                )
            )
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
        rows.append(
            dict(
                model="naive",
                horizon=int(h),
                weight=naive_w,
                skill=0.0,
                dm_stat=float("nan"),
                dm_pvalue=float("nan"),
                n_scored=0,
                demoted=False,
                reason="baseline carries the ensemble" if naive_w == 1.0 else "baseline",
            )
        )
    return pd.DataFrame(rows, columns=WEIGHT_COLUMNS)


def combine(forecasts: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Weighted linear pool of the models' forecasts: one `ensemble` row per ticker × horizon.

    Weights are renormalised over the models that forecast each ticker; the
    drivers of the heaviest model that has drivers are carried along.
    """
    wmap = {(m, int(h)): float(w) for m, h, w in zip(weights["model"], weights["horizon"], weights["weight"])}
    w = np.array([wmap.get((m, int(h)), 0.0) for m, h in zip(forecasts["model"], forecasts["horizon"])])
    keep = w > 0
    if not keep.any():
        return forecasts.iloc[0:0]
    df = forecasts[keep]
    w = w[keep]
    key = pd.MultiIndex.from_arrays([df["ticker"].to_numpy(), df["horizon"].to_numpy()])
    codes, uniq = pd.factorize(key, sort=True)
    total = np.bincount(codes, weights=w)
    wn = w / total[codes]
    out = pd.DataFrame({"ticker": uniq.get_level_values(0).to_numpy(), "horizon": uniq.get_level_values(1).to_numpy()})
    for c in ("mean", "lower", "upper", "prob_up", "vol"):
        out[c] = np.bincount(codes, weights=wn * df[c].to_numpy(dtype=float), minlength=len(uniq))
    level = np.empty(len(uniq))
    level[codes] = df["level"].to_numpy(dtype=float)
    out["level"] = level
    drivers = df["drivers"].to_numpy(dtype=object)
    best = np.full(len(uniq), -1.0)
    carried = np.full(len(uniq), None, dtype=object)
    for c, weight, d in zip(codes, wn, drivers):
        if isinstance(d, str) and weight > best[c]:
            best[c], carried[c] = weight, d
    out["drivers"] = pd.Series(carried, dtype=object)
    out["model"] = "ensemble"
    return out
