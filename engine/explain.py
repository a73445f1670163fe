"""SHAP explanations for tree models, and their plain-language rendering.

`tree_shap` wraps shap's TreeExplainer (LightGBM's own TreeSHAP via
`pred_contrib` when `backend="lightgbm"`: the same algorithm, no shap import).
`top_drivers` picks a prediction's largest contributions; `render_drivers` turns
the stored JSON into a line the TUI and the copilot can show, e.g.
"21-day momentum +4.2% (+0.31%)".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

_LABELS: dict[str, tuple[str, str]] = {
    # feature: (label, unit) — unit "%" renders the value as a percentage
    "mom_5": ("5-day momentum", "%"), "mom_21": ("21-day momentum", "%"),
    "mom_63": ("3-month momentum", "%"), "mom_126": ("6-month momentum", "%"),
    "ret_1": ("yesterday's return", "%"), "rsi_14": ("RSI(14)", "x100"),
    "macd": ("MACD / price", "%"), "macd_hist": ("MACD histogram / price", "%"),
    "bb_pos_20": ("Bollinger position", ""), "atr_14": ("ATR / price", "%"),
    "rv_21": ("21-day volatility", "%"), "rv_63": ("3-month volatility", "%"),
    "garch_vol": ("GARCH volatility", "%"), "vol_ratio": ("volatility ratio 10/63", ""),
    "volume_z": ("volume z-score", ""), "hurst_126": ("Hurst exponent", ""),
    "vr_5": ("variance ratio (5)", ""), "dist_ma_50": ("distance from 50-day MA", "%"),
    "dist_ma_200": ("distance from 200-day MA", "%"), "dow": ("day of week", "dow"),
}
_DOW = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def tree_shap(model: Any, X: np.ndarray, backend: str = "shap", explainer: Any = None) -> tuple[np.ndarray, Any]:
    """SHAP values (n, F) of a LightGBM booster on X, and the explainer to reuse."""
    if backend == "lightgbm":
        contrib = model.predict(X, pred_contrib=True)
        return np.asarray(contrib)[:, :-1], None
    if explainer is None:
        import shap

        explainer = shap.TreeExplainer(model)
    values = explainer.shap_values(X, check_additivity=False)
    return np.asarray(values, dtype=float), explainer


def top_drivers(names: Sequence[str], x: np.ndarray, shap_row: np.ndarray, k: int = 5) -> list[tuple[str, float, float]]:
    """The k features with the largest |SHAP| of one prediction: (feature, value, shap)."""
    order = np.argsort(-np.abs(shap_row), kind="stable")[:k]
    return [(names[i], float(x[i]), float(shap_row[i])) for i in order]


def _value_text(feature: str, value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    unit = _LABELS.get(feature, ("", ""))[1]
    if unit == "%":
        return f"{value * 100:+.1f}%"
    if unit == "x100":
        return f"{value * 100:.0f}"
    if unit == "dow":
        return _DOW[int(value) % 7]
    return f"{value:+.2f}"


def render_drivers(drivers: str | Sequence[dict[str, Any]] | None, k: int = 3) -> str:
    """Plain-language line for stored drivers JSON: "21-day momentum +4.2% (+0.31%), …".

    The parenthesis is the feature's SHAP contribution to the forecast log return.
    """
    if not drivers:
        return "no drivers recorded"
    items = json.loads(drivers) if isinstance(drivers, str) else list(drivers)
    parts = []
    for d in items[:k]:
        label = _LABELS.get(d["feature"], (d["feature"], ""))[0]
        s = d.get("shap")
        push = "n/a" if s is None else f"{s * 100:+.2f}%"
        parts.append(f"{label} {_value_text(d['feature'], d.get('value'))} ({push})")
    return ", ".join(parts)
