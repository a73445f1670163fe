"""SHAP explanations for tree models.

`tree_shap` wraps shap's TreeExplainer (LightGBM's own TreeSHAP via
`pred_contrib` when `backend="lightgbm"`: the same algorithm, no shap import).
`top_drivers` picks a prediction's largest contributions (stored as JSON with the
forecast; the TUI charts them and the copilot lists them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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


def top_drivers(
    names: Sequence[str], x: np.ndarray, shap_row: np.ndarray, k: int = 5
) -> list[tuple[str, float, float]]:
    """The k features with the largest |SHAP| of one prediction: (feature, value, shap)."""
    order = np.argsort(-np.abs(shap_row), kind="stable")[:k]
    return [(names[i], float(x[i]), float(shap_row[i])) for i in order]
