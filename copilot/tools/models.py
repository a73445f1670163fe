"""Grounding tools over what the models said: signals (with validation layers and
SHAP drivers), forecasts with intervals and skill, the walk-forward report built
from scored forecasts, and the ensemble's model weights and demotions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from copilot.tools.base import cite, clamp_limit, norm_ticker, parse_json, result, select
from copilot.types import ToolResult
from engine.store.read_model import latest_forecasts, scores_by_model

if TYPE_CHECKING:
    from engine.store.connection import Queryable

_SIGNAL_COLS = (
    "as_of",
    "ticker",
    "action",
    "confidence",
    "expected_return",
    "horizon",
    "prob_up",
    "validated",
    "target_weight",
    "reason",
)


def latest_signal(con: Queryable, account: str, ticker: str | None = None, limit: int = 10) -> ToolResult:
    """Latest signal for one ticker (layers + drivers), or the latest session's top signals."""
    tk = norm_ticker(ticker)
    cols = ", ".join(_SIGNAL_COLS)
    if tk:
        _names, rows = select(
            con,
            f"SELECT {cols}, layers, drivers FROM signals WHERE account = ? AND ticker = ? ORDER BY as_of DESC LIMIT 1",
            [account, tk],
        )
        if not rows:
            return result(
                "latest_signal",
                f"Latest signal for {tk}",
                list(_SIGNAL_COLS),
                [],
                [],
                note=f"No signal is stored for {tk} yet (account {account}). "
                "Signals appear after the loop has run forecast and signal stages.",
                args={"ticker": tk},
            )
        row = rows[0]
        as_of = row[0]
        citation = cite("signals", as_of, account=account, ticker=tk)
        children = (_layers(row[len(_SIGNAL_COLS)], citation), _drivers(row[len(_SIGNAL_COLS) + 1], citation))
        return result(
            "latest_signal",
            f"Latest signal for {tk}",
            list(_SIGNAL_COLS),
            [row[: len(_SIGNAL_COLS)]],
            [citation],
            data_text=("reason",),
            args={"ticker": tk},
            children=tuple(c for c in children if c is not None),
        )
    n = clamp_limit(limit, 10)
    _names, rows = select(
        con,
        f"SELECT {cols} FROM signals WHERE account = ? AND as_of = "
        "(SELECT max(as_of) FROM signals WHERE account = ?) "
        "ORDER BY confidence DESC NULLS LAST, ticker LIMIT ?",
        [account, account, n],
    )
    if not rows:
        return result(
            "latest_signal",
            "Latest signals",
            list(_SIGNAL_COLS),
            [],
            [],
            note=f"No signals are stored yet (account {account}).",
        )
    as_of = rows[0][0]
    citation = cite("signals", as_of, account=account)
    return result(
        "latest_signal",
        f"Latest signals ({as_of}), by confidence",
        list(_SIGNAL_COLS),
        rows,
        [citation],
        data_text=("reason",),
        args={"limit": n},
    )


def _layers(text: Any, citation: Any) -> ToolResult | None:
    payload = parse_json(text)
    if not isinstance(payload, list) or not payload:
        return None
    rows = [(str(p.get("layer", "")), p.get("passed"), p.get("reason")) for p in payload if isinstance(p, dict)]
    return result(
        "latest_signal", "Validation layers", ["layer", "passed", "reason"], rows, [citation], data_text=("reason",)
    )


def _drivers(text: Any, citation: Any) -> ToolResult | None:
    payload = parse_json(text)
    if isinstance(payload, dict):  # {feature: shap}
        payload = [{"feature": k, "shap": v} for k, v in payload.items()]
    if not isinstance(payload, list) or not payload:
        return None
    rows = [(str(p.get("feature", "")), p.get("value"), p.get("shap")) for p in payload if isinstance(p, dict)]
    rows.sort(key=lambda r: -abs(r[2]) if isinstance(r[2], (int, float)) else 0.0)
    return result("latest_signal", "SHAP drivers", ["feature", "value", "shap"], rows[:10], [citation])


_FC_COLS = (
    "as_of",
    "ticker",
    "model",
    "horizon",
    "mean",
    "lower",
    "upper",
    "level",
    "prob_up",
    "vol",
    "target_date",
    "skill",
    "weight",
)


def forecasts(
    con: Queryable, account: str, ticker: str | None = None, model: str | None = None, horizon: int | None = None
) -> ToolResult:
    """The latest forecasts for a ticker, one row per model and horizon, with skill."""
    tk = norm_ticker(ticker)
    if not tk:
        return result(
            "forecasts",
            "Forecasts",
            list(_FC_COLS),
            [],
            [],
            note="Name a ticker to see its forecasts (e.g. 'forecasts for AAPL').",
        )
    names, got = select(
        con,
        *latest_forecasts(
            account, tk, model=str(model).lower() if model else None, horizon=None if horizon is None else int(horizon)
        ),
    )
    idx = [names.index(c) for c in (*_FC_COLS, "weights_as_of")]
    rows = [tuple(r[i] for i in idx) for r in got]
    if not rows:
        return result(
            "forecasts",
            f"Forecasts for {tk}",
            list(_FC_COLS),
            [],
            [],
            note=f"No forecasts are stored for {tk} yet (account {account}).",
            args={"ticker": tk},
        )
    as_of = rows[0][0]
    cites = [cite("forecasts", as_of, account=account, ticker=tk)]
    w_dates = sorted({r[13] for r in rows if r[13] is not None})
    if w_dates:
        cites.append(cite("model_weights", w_dates[-1], account=account))
    return result(
        "forecasts",
        f"Forecasts for {tk} (as of {as_of}; mean = forward log return)",
        list(_FC_COLS),
        [r[:13] for r in rows],
        cites,
        args={"ticker": tk, "model": model, "horizon": horizon},
    )


_WF_COLS = (
    "model",
    "horizon",
    "n_scored",
    "rmse",
    "naive_rmse",
    "skill",
    "hit_rate",
    "coverage",
    "first_as_of",
    "last_as_of",
)


def walk_forward(con: Queryable, account: str, ticker: str | None = None, model: str | None = None) -> ToolResult:
    """Out-of-sample report from scored forecasts: RMSE vs naive, skill, hit rate, coverage."""
    tk = norm_ticker(ticker)
    names, got = select(con, *scores_by_model(account, ticker=tk, model=str(model).lower() if model else None))
    idx = [names.index(c) for c in _WF_COLS]
    rows = [tuple(r[i] for i in idx) for r in got]
    scope = f" for {tk}" if tk else ""
    if not rows:
        return result(
            "walk_forward",
            f"Walk-forward report{scope}",
            list(_WF_COLS),
            [],
            [],
            note="No forecasts have matured and been scored yet.",
            args={"ticker": tk, "model": model},
        )
    last = max(r[9] for r in rows)
    citation = cite("model_scores", last, account=account, ticker=tk, model=model, scored="out-of-sample")
    return result(
        "walk_forward",
        f"Walk-forward report{scope} (out-of-sample, scored forecasts)",
        list(_WF_COLS),
        rows,
        [citation],
        args={"ticker": tk, "model": model},
    )


_W_COLS = ("as_of", "model", "horizon", "weight", "skill", "dm_stat", "dm_pvalue", "n_scored", "demoted", "reason")


def model_weights(con: Queryable, account: str, model: str | None = None) -> ToolResult:
    """The ensemble's latest weights per model, with skill, DM test and demotions."""
    where, args = ["account = ?"], [account]
    if model:
        where.append("model = ?")
        args.append(str(model).lower())
    cond = " AND ".join(where)
    sql = (
        f"SELECT {', '.join(_W_COLS)} FROM model_weights WHERE {cond} AND as_of = "
        f"(SELECT max(as_of) FROM model_weights WHERE {cond}) ORDER BY horizon, weight DESC"
    )
    _, rows = select(con, sql, args + args)
    if not rows:
        return result(
            "model_weights",
            "Model weights",
            list(_W_COLS),
            [],
            [],
            note="No model weights are stored yet (they follow the first scored forecasts).",
        )
    as_of = rows[0][0]
    return result(
        "model_weights",
        f"Ensemble model weights (as of {as_of})",
        list(_W_COLS),
        rows,
        [cite("model_weights", as_of, account=account)],
        data_text=("reason",),
        args={"model": model},
    )
