"""The plain-language reading of a signal: what the numbers in its row say, in words.

Pure functions from a signal row (as loaded by `queries.load_signals`) to text; no
numbers are invented, every figure comes from the row.
"""

from __future__ import annotations

import math
from typing import Any

from tui.panes.views import parse_json_list
from tui.widgets.text import mark


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


LAYER_CODES = {"statistical": "S", "regime": "R", "size": "Z", "correlation": "C", "cost": "$"}
"""One character per validation layer, so the Signals table's Layers column fits in 40 columns."""


def layers_summary(layers_json: Any) -> str:
    """ "✓" when every validation layer passed, else "✗ S$": ✗ and the failing layers' codes."""
    layers = parse_json_list(layers_json)
    if not layers:
        return "—"
    failed = [str(layer.get("layer", "?")) for layer in layers if not layer.get("passed")]
    if not failed:
        return mark(True)
    return f"{mark(False)} " + "".join(LAYER_CODES.get(name, name[:1].upper()) for name in failed)


def reading(row: dict[str, Any]) -> str:
    """A few sentences explaining one signal from its stored fields."""
    ticker = row.get("ticker", "?")
    action = row.get("action") or "HOLD"
    conf = _num(row.get("confidence"))
    exp = _num(row.get("expected_return"))
    horizon = row.get("horizon")
    prob = _num(row.get("prob_up"))
    parts = [f"{ticker}: {action}" + (f" with {conf:.0%} confidence" if conf is not None else "") + "."]
    if exp is not None:
        span = f" over the next {int(horizon)} sessions" if horizon is not None and not _isnan(horizon) else ""
        parts.append(
            f"The ensemble expects {'a gain' if exp >= 0 else 'a loss'} of {abs(exp):.2%}{span}"
            + (f", with a {prob:.0%} chance the price ends higher." if prob is not None else ".")
        )
    drivers = sorted(parse_json_list(row.get("drivers")), key=lambda d: -abs(_num(d.get("shap")) or 0.0))
    ups = [d for d in drivers if (_num(d.get("shap")) or 0.0) > 0][:2]
    downs = [d for d in drivers if (_num(d.get("shap")) or 0.0) < 0][:2]
    if ups:
        parts.append("Pushing the forecast up: " + ", ".join(_driver(d) for d in ups) + ".")
    if downs:
        parts.append("Pulling it down: " + ", ".join(_driver(d) for d in downs) + ".")
    layers = parse_json_list(row.get("layers"))
    failed = [d for d in layers if not d.get("passed")]
    if layers and not failed:
        parts.append(f"It passed all {len(layers)} validation layers.")
    for layer in failed:
        reason = layer.get("reason") or "no reason recorded"
        parts.append(f"It failed the {layer.get('layer', '?')} check: {reason}.")
    if row.get("reason"):
        parts.append(f"Note: {row['reason']}.")
    return " ".join(parts)


def _driver(d: dict[str, Any]) -> str:
    value = d.get("value")
    shown = f" = {_num(value):.3g}" if _num(value) is not None else ""
    return f"{d.get('feature', '?')}{shown} ({_num(d.get('shap')):+.4f})"


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
