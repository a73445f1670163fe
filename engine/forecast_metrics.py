"""Point, interval and probability scores of forecasts against what happened.

Owns the forecast metrics of the validation report and of `model_scores`: MAE,
RMSE, MASE, sMAPE, directional accuracy, interval coverage and the log loss of
P(up), and the two every screen quotes, each defined once here: `skill_score`
(1 - MSE/MSE_naive) and the directional hit (`hit_flags`, `hit_rate`: a forecast
or an actual of exactly 0 is a tie, neither hit nor miss, and is left out). Every
function takes aligned arrays (or Series) of actuals and forecasts, drops the
positions where any input is NaN, and returns a float — NaN when nothing is left
to score. `score_forecasts` computes them all at once.

sMAPE follows utilsforecast: mean of |y - ŷ| / (|y| + |ŷ|), in [0, 1], with 0/0
terms counted as 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import UsageError


def _paired(*arrays: Any) -> list[np.ndarray]:
    """The inputs as equal-length float arrays with every NaN position removed."""
    out = [np.asarray(a, dtype=float).ravel() for a in arrays]
    n = out[0].size
    if any(a.size != n for a in out):
        raise UsageError(
            "forecast metric inputs differ in length: " + ", ".join(str(a.size) for a in out),
            hint="align actuals and forecasts on the same targets first",
        )
    keep = np.ones(n, dtype=bool)
    for a in out:
        keep &= ~np.isnan(a)
    return [a[keep] for a in out]


def mae(y: Any, yhat: Any) -> float:
    """Mean absolute error."""
    y, yhat = _paired(y, yhat)
    return float(np.mean(np.abs(y - yhat))) if y.size else np.nan


def rmse(y: Any, yhat: Any) -> float:
    """Root mean squared error."""
    y, yhat = _paired(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2))) if y.size else np.nan


def mase(y: Any, yhat: Any, y_train: Any, m: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006).

    MAE of the forecasts divided by the in-sample MAE of the seasonal naive
    forecast with period `m` on `y_train` (NaN steps of `y_train` skipped).
    inf when the training series is flat at lag m and the forecasts err.
    """
    if m < 1:
        raise UsageError(f"MASE season length m must be ≥ 1, got {m}")
    train = np.asarray(y_train, dtype=float).ravel()
    steps = np.abs(train[m:] - train[:-m]) if train.size > m else np.array([])
    steps = steps[~np.isnan(steps)]
    err = mae(y, yhat)
    if steps.size == 0 or np.isnan(err):
        return np.nan
    scale = float(np.mean(steps))
    if scale == 0:
        return 0.0 if err == 0 else np.inf
    return err / scale


def smape(y: Any, yhat: Any) -> float:
    """Symmetric MAPE in [0, 1]: mean |y - ŷ| / (|y| + |ŷ|), 0/0 counted as 0."""
    y, yhat = _paired(y, yhat)
    if not y.size:
        return np.nan
    denom = np.abs(y) + np.abs(yhat)
    ratio = np.divide(np.abs(y - yhat), denom, out=np.zeros_like(denom), where=denom != 0)
    return float(np.mean(ratio))


def skill_score(sse: Any, naive_sse: Any) -> Any:
    """Skill against the naive random walk: 1 - MSE/MSE_naive.

    Pass squared-error sums (or means) over the *same* rows; the ratio is the same.
    NaN where the naive error is 0 or missing. Scalars give a float, arrays an array.
    The SQL twin over `model_scores` is `engine.store.read_model.SKILL_SQL`.
    """
    sse, naive = np.asarray(sse, dtype=float), np.asarray(naive_sse, dtype=float)
    with np.errstate(all="ignore"):
        out = np.where(naive > 0, 1.0 - sse / np.where(naive > 0, naive, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def hit_flags(actual: Any, mean: Any) -> np.ndarray:
    """1.0 where the forecast's sign matches the actual's, 0.0 where not, NaN for a tie
    (either is exactly 0) or a missing value: what `model_scores.hit` stores."""
    a, m = np.asarray(actual, dtype=float), np.asarray(mean, dtype=float)
    call = (a != 0) & (m != 0) & np.isfinite(a) & np.isfinite(m)
    return np.where(call, (np.sign(a) == np.sign(m)).astype(float), np.nan)


def hit_rate(actual: Any, mean: Any) -> tuple[float, int]:
    """(share of directional calls that were right, number of calls); ties left out."""
    flags = hit_flags(actual, mean)
    calls = flags[~np.isnan(flags)]
    return (float(calls.mean()) if calls.size else np.nan), int(calls.size)


def directional_accuracy(y: Any, yhat: Any, y_prev: Any | None = None) -> float:
    """Share of forecasts whose sign matches the actual's, ties (a 0 on either side) left out.

    Pass `y_prev` (the last known value) when `y` and `yhat` are levels: the
    directions are then y - y_prev and ŷ - y_prev. For returns leave it None.
    """
    if y_prev is None:
        y, yhat = _paired(y, yhat)
    else:
        y, yhat, prev = _paired(y, yhat, y_prev)
        y, yhat = y - prev, yhat - prev
    return hit_rate(y, yhat)[0]


def interval_coverage(y: Any, lower: Any, upper: Any) -> float:
    """Share of actuals inside their [lower, upper] interval (bounds included)."""
    y, lo, hi = _paired(y, lower, upper)
    return float(np.mean((lo <= y) & (y <= hi))) if y.size else np.nan


def log_loss(p_up: Any, up: Any, eps: float = 1e-15) -> float:
    """Binary cross-entropy of P(up) against the outcome (1/True = up), p clipped to [eps, 1-eps]."""
    p, o = _paired(p_up, up)
    if not p.size:
        return np.nan
    if np.any((o != 0) & (o != 1)):
        raise UsageError("log_loss outcomes must be 0/1 (or booleans)")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(o * np.log(p) + (1.0 - o) * np.log1p(-p)))


def score_forecasts(
    y: Any,
    mean: Any,
    lower: Any | None = None,
    upper: Any | None = None,
    prob_up: Any | None = None,
    y_train: Any | None = None,
    m: int = 1,
) -> dict[str, float]:
    """All forecast metrics for one model: mae, rmse, smape, directional_accuracy,
    and — when their inputs are given — mase, coverage and log_loss (NaN otherwise).

    `y` and `mean` are returns (or changes), so the direction is their sign.
    """
    y_arr = np.asarray(y, dtype=float)
    scores = {
        "n": float(np.sum(~np.isnan(y_arr) & ~np.isnan(np.asarray(mean, dtype=float)))),
        "mae": mae(y, mean),
        "rmse": rmse(y, mean),
        "smape": smape(y, mean),
        "directional_accuracy": directional_accuracy(y, mean),
        "mase": mase(y, mean, y_train, m) if y_train is not None else np.nan,
        "coverage": interval_coverage(y, lower, upper) if lower is not None and upper is not None else np.nan,
        "log_loss": np.nan,
    }
    if prob_up is not None:
        up = np.where(np.isnan(y_arr), np.nan, (y_arr > 0).astype(float))
        scores["log_loss"] = log_loss(prob_up, up)
    return scores
