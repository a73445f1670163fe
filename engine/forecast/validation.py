"""Honest validation: walk-forward cross-validation and purged k-fold / combinatorial purged CV.

Vocabulary follows statsforecast: horizon `h`, `n_windows`, `step_size`,
`refit` (every k windows; False: fit once), and a `cutoff` column on every
out-of-sample row (the last session the model saw). Purged CV (López de Prado)
drops training rows whose h-session label span overlaps the label span of a test
block — on BOTH sides of the block — and then an `embargo` of further rows after
the purged zone (`purged_train_mask`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import UsageError
from engine.forecast.base import Panel
from engine.forecast.registry import create
from engine.forecast_metrics import hit_rate, skill_score

CV_COLUMNS = ["cutoff", "ticker", "model", "horizon", "mean", "lower", "upper", "prob_up", "vol", "actual"]


def walk_forward(
    panel: Panel,
    model: str,
    *,
    h: int | Sequence[int] = (1, 5, 21),
    n_windows: int = 20,
    step_size: int = 5,
    refit: int | bool = 4,
    window: str = "expanding",
    window_size: int = 1000,
    predict_window: int = 320,
    level: float = 0.9,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Out-of-sample forecasts of `model` at `n_windows` cutoffs, `step_size` sessions apart.

    The last cutoff leaves the longest horizon's target inside the panel. At each
    cutoff the model sees rows ≤ cutoff only: it is refitted every `refit`
    windows (expanding from the first row, or the last `window_size` rows when
    rolling) and otherwise updated with the new sessions.
    """
    horizons = [h] if isinstance(h, int) else list(h)
    if window not in ("expanding", "rolling"):
        raise UsageError(f"window must be 'expanding' or 'rolling', got {window!r}")
    T, H = panel.n_sessions, max(horizons)
    last = T - 1 - H
    cutoffs = [last - step_size * (n_windows - 1 - i) for i in range(n_windows)]
    cutoffs = [c for c in cutoffs if c >= 1]
    if not cutoffs:
        raise UsageError(
            f"not enough sessions ({T}) for {n_windows} windows of step {step_size} and h={H}",
            hint="use fewer windows, a smaller step or more history",
        )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _walk_forward(
            panel, model, horizons, cutoffs, refit, window, window_size, predict_window, level, params, seed
        )


def _walk_forward(
    panel: Panel,
    model: str,
    horizons: list[int],
    cutoffs: list[int],
    refit: int | bool,
    window: str,
    window_size: int,
    predict_window: int,
    level: float,
    params: Mapping[str, Any] | None,
    seed: int,
) -> pd.DataFrame:
    every = 0 if refit is False else (1 if refit is True else int(refit))
    lc = np.log(panel.close)
    f = create(model, params, seed=seed)
    rows = []
    for i, c in enumerate(cutoffs):
        if i == 0 or (every and i % every == 0):
            start = 0 if window == "expanding" else max(0, c + 1 - window_size)
            f.fit(panel.rows(c + 1, start), horizons)
        view = panel.rows(c + 1, max(0, c + 1 - predict_window))
        f.update(view)
        out = f.predict(view, horizons, level)
        if out.empty:
            continue
        col = {t: j for j, t in enumerate(panel.tickers)}
        j = out["ticker"].map(col).to_numpy()
        hz = out["horizon"].to_numpy()
        actual = lc[c + hz, j] - lc[c, j]
        rows.append(out.assign(cutoff=pd.Timestamp(panel.dates[c]).date(), model=model, actual=actual))
    if not rows:
        return pd.DataFrame(columns=CV_COLUMNS)
    return pd.concat(rows, ignore_index=True)[CV_COLUMNS]


def purged_kfold(
    n_samples: int, n_folds: int = 5, h: int = 1, embargo: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices of k contiguous folds, purged of target overlap and embargoed."""
    for train, test, _ in combinatorial_purged_cv(n_samples, n_folds, 1, h, embargo):
        yield train, test


def purged_train_mask(n_samples: int, h: int, blocks: Sequence[tuple[int, int]], embargo: int = 0) -> np.ndarray:
    """Rows usable for training around test blocks [a, b) of h-session targets.

    Row t's label is the return from t to t + h, so it spans [t, t + h]; a test
    block's labels span [a, b - 1 + h]. A training row is kept only if its target
    is inside the sample (t + h ≤ n - 1), it is not a test row, its label span
    misses every test block's label span (purge, before AND after the block:
    t + h < a or t > b - 1 + h), and it is not among the `embargo` rows right
    after the purged zone (t ≥ b + h + embargo).
    """
    t = np.arange(n_samples)
    ok = t + h <= n_samples - 1
    for a, b in blocks:
        overlaps = (t + h >= a) & (t <= b - 1 + h)
        embargoed = (t > b - 1 + h) & (t < b + h + embargo)
        ok &= ~overlaps & ~embargoed
    return ok


def combinatorial_purged_cv(
    n_samples: int, n_folds: int = 6, n_test_folds: int = 2, h: int = 1, embargo: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray, tuple[int, ...]]]:
    """CPCV: every choice of `n_test_folds` of `n_folds` contiguous groups as the test set.

    Yields (train, test, test_groups), training rows from `purged_train_mask`:
    no training label overlaps a test label on either side of any test block, and
    `embargo` rows after each purged zone are dropped as well.
    """
    if not 1 <= n_test_folds < n_folds <= n_samples:
        raise UsageError(f"need 1 ≤ n_test_folds < n_folds ≤ samples, got {n_test_folds}, {n_folds}, {n_samples}")
    if h < 1 or embargo < 0:
        raise UsageError(f"need h ≥ 1 and embargo ≥ 0, got h={h}, embargo={embargo}")
    bounds = np.linspace(0, n_samples, n_folds + 1).astype(int)
    for groups in itertools.combinations(range(n_folds), n_test_folds):
        blocks = [(int(bounds[g]), int(bounds[g + 1])) for g in groups]
        test = np.zeros(n_samples, dtype=bool)
        for a, b in blocks:
            test[a:b] = True
        ok = purged_train_mask(n_samples, h, blocks, embargo) & ~test
        yield np.nonzero(ok)[0], np.nonzero(test)[0], groups


def purged_cv_lightgbm(
    panel: Panel,
    h: int,
    splits: Iterator[tuple[np.ndarray, np.ndarray, Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_folds: int = 6,
    n_test_folds: int = 2,
    embargo: int = 5,
) -> pd.DataFrame:
    """CPCV of the pooled LightGBM feature model: per split, OOS MSE against naive (zero) and
    drift (the training rows' mean h-session return) forecasts, with the purge and embargo
    of `combinatorial_purged_cv` (test rows are the sessions after the feature warm-up)."""
    import lightgbm as lgb

    from engine.features import FEATURE_WARMUP, features_of, forward_returns
    from engine.forecast.models.lgbm import LightGBMForecaster, _rows

    fs = features_of(panel)
    y = forward_returns(panel, h)
    lo = FEATURE_WARMUP
    n = panel.n_sessions - lo
    gen = splits or combinatorial_purged_cv(n, n_folds, n_test_folds, h, embargo)
    est = LightGBMForecaster(params, seed=seed)
    out = []
    for train, test, groups in gen:
        Xtr, Ytr = _rows(fs.values, y, train + lo)
        Xte, Yte = _rows(fs.values, y, test + lo)
        if len(Ytr) < 200 or len(Yte) == 0:
            continue
        booster = lgb.train(
            est._lgb_params(), lgb.Dataset(Xtr, Ytr), num_boost_round=int(est.params.get("n_estimators", 150))
        )
        pred = booster.predict(Xte, num_threads=est._lgb_params()["num_threads"])
        mse, mse0 = float(np.mean((Yte - pred) ** 2)), float(np.mean(Yte**2))
        mse_drift = float(np.mean((Yte - float(np.mean(Ytr))) ** 2))
        out.append(
            {
                "horizon": int(h),
                "test_groups": str(groups),
                "n_train": len(Ytr),
                "n_test": len(Yte),
                "mse": mse,
                "naive_mse": mse0,
                "drift_mse": mse_drift,
                "skill": skill_score(mse, mse0),
                "skill_vs_drift": skill_score(mse, mse_drift),
                "hit_rate": hit_rate(Yte, pred)[0],
            }
        )
    return pd.DataFrame(out)
