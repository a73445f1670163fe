"""`pmax validate`'s report, built in the engine; the CLI only formats it.

`build_report` reads the store and returns one plain dict (JSON-ready):

* `rows` — per model and horizon, from `engine.forecast.report` (scores, skill,
  the one Diebold–Mariano test, per-ticker Ljung–Box, status from the row's
  own skill and p-value, and the ensemble's current weight from its own window);
* `coverage` and `coverage_flags` — 80/90/95% interval calibration with binomial
  tests (`engine.forecast.calibration`);
* `var_backtest` — Kupiec and Christoffersen tests of the stored VaR against the
  next session's realised return (`engine.var_backtest`; stored runs only);
* `cpcv` — with `cv="cpcv"`: combinatorial purged CV of the pooled LightGBM model
  per horizon against naive and drift;
* `weights_rule` — exactly how the ensemble's weights are set, from the config.

Source: stored `model_scores` when there are any (else, or with
`force_walk_forward`, a walk-forward run on the stored bars).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.forecast_metrics import skill_score

if TYPE_CHECKING:
    from engine.config import Config
    from engine.store.connection import Queryable

CV_CHOICES = ("walk-forward", "cpcv")
MIN_SESSIONS = 300


def weights_rule(config: Config, source: str) -> str:
    """One sentence per rule compute_weights applies, with this config's numbers."""
    if source != "model_scores":
        return (
            "walk-forward run: no ensemble weights here (they are set session by session "
            "during `pmax --run` and stored in model_weights)."
        )
    fc = config.forecast
    sig = (
        "only models whose DM p-value vs naive is below 0.10 get weight"
        if fc.require_significance
        else "significance is NOT required (forecast.require_significance = false): a model with "
        "positive skill carries weight whatever its DM p-value"
    )
    return (
        f"ensemble weights (latest model_weights row): per horizon, each model's skill "
        f"1 - MSE/MSE(naive) over the forecasts scored in the last {fc.weight_window} sessions; "
        f"a model with fewer than {fc.min_scored} scored sessions is warming up (while no model "
        f"is trusted, warming models share the weight equally with naive); skill <= 0 means weight 0 "
        f"(demoted); the others share the weight in proportion to their skill; {sig}. "
        f"The weight's own skill and p-value (that window) are shown beside the row's full-history ones."
    )


def _walk_forward(con: Queryable, config: Config, tickers: Sequence[str] | None) -> pd.DataFrame | None:
    from engine.forecast.report import walk_forward_scores
    from engine.stages.forecast import model_params

    panel = _panel(con, tickers)
    if panel.n_sessions < MIN_SESSIONS:
        return None
    v, fc = config.validation, config.forecast
    return walk_forward_scores(
        panel,
        list(v.models),
        fc.horizons,
        n_windows=v.n_windows,
        step_size=v.step_size,
        refit=max(1, v.refit_every // max(1, v.step_size)),
        window=v.window,
        params={m: model_params(config, m) for m in v.models},
        seed=config.app.seed,
        level=fc.level,
    )


def _panel(con: Queryable, tickers: Sequence[str] | None) -> Any:
    from engine.panel import Panel

    bars = con.execute("SELECT date, ticker, open, high, low, close, volume FROM bars WHERE NOT quarantined").df()
    if tickers:
        bars = bars[bars["ticker"].isin(list(tickers))]
    return Panel.from_long(bars)


def _cpcv(con: Queryable, config: Config, tickers: Sequence[str] | None) -> list[dict]:
    """Purged CPCV of LightGBM per horizon (the one model fitted on row sets, not on a sequence)."""
    from engine.forecast.validation import purged_cv_lightgbm
    from engine.stages.forecast import model_params

    panel = _panel(con, tickers)
    if panel.n_sessions < MIN_SESSIONS:
        return []
    v = config.validation
    frames = [
        purged_cv_lightgbm(
            panel,
            int(h),
            params=model_params(config, "lightgbm"),
            seed=config.app.seed,
            n_folds=v.n_folds,
            n_test_folds=v.n_test_folds,
            embargo=v.embargo,
        )
        for h in config.forecast.horizons
    ]
    df = (
        pd.concat([f for f in frames if not f.empty], ignore_index=True)
        if any(not f.empty for f in frames)
        else pd.DataFrame()
    )
    return _records(df)


def _records(df: pd.DataFrame) -> list[dict]:
    return df.astype(object).where(pd.notna(df), None).to_dict(orient="records") if len(df) else []


def _cpcv_summary(splits: list[dict]) -> list[dict]:
    if not splits:
        return []
    df = pd.DataFrame(splits)
    out = []
    for h, g in df.groupby("horizon"):
        out.append(
            {
                "horizon": int(h),
                "splits": int(len(g)),
                "pooled_skill": skill_score(g["mse"].sum(), g["naive_mse"].sum()),
                "pooled_skill_vs_drift": skill_score(g["mse"].sum(), g["drift_mse"].sum()),
                "share_of_splits_beating_naive": float(np.mean(g["skill"] > 0)),
                "share_of_splits_beating_drift": float(np.mean(g["skill_vs_drift"] > 0)),
            }
        )
    return out


def build_report(
    con: Queryable,
    config: Config,
    tickers: Sequence[str] | None = None,
    *,
    force_walk_forward: bool = False,
    cv: str = "walk-forward",
) -> dict[str, Any]:
    """The whole validation report as a JSON-ready dict (`rows` empty: nothing to validate)."""
    from engine.forecast.calibration import FLAG_GAP, FLAG_P, coverage_table
    from engine.forecast.report import latest_weights, report_from_scores, stored_scores
    from engine.var_backtest import backtest, var_pairs

    account = config.app.account
    alpha = config.signals.dm_alpha
    scores = stored_scores(con, account, tickers)
    weights: pd.DataFrame | None = latest_weights(con, account)
    source = "model_scores"
    if scores.empty or force_walk_forward:
        scores = _walk_forward(con, config, tickers)
        weights, source = None, "walk_forward"
        if scores is None:
            return {"source": "none", "account": account, "rows": []}
    step = 1 if source == "model_scores" else config.validation.step_size
    report = report_from_scores(scores, weights, alpha=alpha, step=step)
    rows = _records(report)
    cover = coverage_table(scores, default_level=config.forecast.level)
    var = backtest(var_pairs(con, account)) if source == "model_scores" and not tickers else pd.DataFrame()
    splits = _cpcv(con, config, tickers) if cv == "cpcv" else []
    as_of = None if weights is None or weights.empty else str(weights["as_of"].iloc[0])
    return {
        "source": source,
        "account": account,
        "alpha": alpha,
        "weights_as_of": as_of,
        "rows": rows,
        "trusted": sorted({r["model"] for r in rows if (r.get("weight") or 0) > 0 and r["model"] != "naive"}),
        "demoted": sorted({f"{r['model']}@h{r['horizon']}" for r in rows if r.get("demoted") is True}),
        "weights_rule": weights_rule(config, source),
        "origin_step": step,
        "units": {
            "n": "forecast origins (sessions): the DM test's sample size; its overlap is ceil(h / origin_step)",
            "n_rows": "ticker-rows scored",
            "directional_accuracy": "share of sign calls right, forecasts of exactly 0 (ties) left out",
            "ljung_box": "per ticker, errors thinned to non-overlapping origins, lags min(10, n/5); "
            "median p and share of tickers with p < 0.05",
        },
        "coverage": _records(cover),
        "coverage_flags": [
            f"{r.model}@h{r.horizon} {r.level:.0%} ({r.interval}): {r.rate:.1%} covered"
            for r in cover.itertuples()
            if r.flag
        ],
        "coverage_rule": f"flagged when |coverage - nominal| >= {FLAG_GAP:.0%} and the binomial p < {FLAG_P}",
        "var_backtest": _records(var),
        "cv": cv,
        "cpcv": _cpcv_summary(splits),
        "cpcv_splits": splits,
    }
