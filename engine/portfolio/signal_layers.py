"""Signals: direction, calibrated confidence and the five validation layers.

A signal turns one ticker's ensemble forecast into BUY / SELL / HOLD with a
confidence, then passes five layers, each storing a verdict and a reason:

1. statistical: the ensemble beats the stronger of `naive` and `drift` on this
   ticker out of sample (the one Diebold–Mariano test of `engine.significance`,
   with Benjamini–Hochberg false-discovery-rate control across the tickers tested
   that session — see `statistical_gate`);
2. regime: the call agrees with the detected market regime;
3. size: the tilted position fits the limits;
4. correlation: it does not pile onto correlated holdings;
5. cost: the expected edge exceeds round-trip costs.

Only a signal that passes every layer (`validated`) gets a tilt; a failed layer
means no tilt, never a forced trade. Everything here is pure; the `signals` stage
gathers the inputs from the store.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

LAYERS = ("statistical", "regime", "size", "correlation", "cost")


@dataclass(frozen=True)
class LayerVerdict:
    """One validation layer's outcome."""

    layer: str
    passed: bool
    reason: str


@dataclass
class Signal:
    """One ticker's signal at one session (mirrors the `signals` table)."""

    ticker: str
    action: str  # BUY | SELL | HOLD
    confidence: float
    expected_return: float  # forecast h-session log return
    horizon: int
    prob_up: float
    layers: list[LayerVerdict] = field(default_factory=list)
    drivers: str | None = None  # JSON text from the forecast row
    base_weight: float = 0.0
    tilt: float = 0.0
    target_weight: float = 0.0
    reason: str = ""

    @property
    def validated(self) -> bool:
        return bool(self.layers) and all(v.passed for v in self.layers)

    def layers_json(self) -> str:
        return json.dumps([{"layer": v.layer, "passed": v.passed, "reason": v.reason} for v in self.layers])

    def failed_layers(self) -> list[str]:
        return [v.layer for v in self.layers if not v.passed]


def decide_action(
    mean: float, prob_up: float, band: float = 0.02, allow_short: bool = False, holding: bool = False
) -> str:
    """BUY when P(up) clears 0.5 + band and the mean is positive; SELL in the mirror
    case (long-only: only meaningful when something is held or the base is positive,
    the sizing clamps it at zero); HOLD otherwise."""
    if not (math.isfinite(mean) and math.isfinite(prob_up)):
        return "HOLD"
    if prob_up >= 0.5 + band and mean > 0:
        return "BUY"
    if prob_up <= 0.5 - band and mean < 0:
        return "SELL"
    return "HOLD"


def calibrate_confidence(prob_up: float, action: str, hits: int, n_calls: int, prior_strength: float = 20.0) -> float:
    """Probability that the call is right.

    The model's own probability for the call (P(up) for BUY, 1 - P(up) for SELL) is a
    prior worth `prior_strength` observations; the recent out-of-sample hit rate of
    this ticker's ensemble (`hits` of `n_calls` directional calls; ties, a forecast or
    an actual of exactly 0, are neither) is the evidence. The posterior mean
    tends to the empirical hit rate as scored forecasts accumulate, which is what
    calibrated means here.
    """
    if not math.isfinite(prob_up):
        return 0.5
    p_call = prob_up if action != "SELL" else 1.0 - prob_up
    if action == "HOLD":
        p_call = max(prob_up, 1.0 - prob_up)
    n = max(int(n_calls), 0)
    conf = (prior_strength * p_call + float(hits)) / (prior_strength + n)
    return float(min(max(conf, 0.0), 1.0))


@dataclass(frozen=True)
class GateTest:
    """One ticker's statistical-gate test at one session.

    `stat`/`pvalue`: one-sided Diebold–Mariano (model's loss lower) against the
    binding baseline — the stronger of naive and drift, i.e. the one whose test
    gives the larger p-value (intersection–union: the ensemble must beat both).
    `qvalue`: Benjamini–Hochberg adjusted p-value across the tickers tested that
    session (NaN when not tested: too few scores, or the test undefined).
    """

    n_scored: int
    hits: int
    stat: float
    pvalue: float
    qvalue: float
    baseline: str
    n_calls: int  # forecasts that made a directional call (`hits` is out of these)


def statistical_gate(
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], horizon: int, min_scored: int
) -> dict[str, GateTest]:
    """The statistical layer's test for every ticker of one session.

    Args:
        series: ticker -> (model errors, naive errors, drift errors, hits), aligned
            on the same matured forecasts (oldest first; drift NaN where unscored;
            a hit is 1/0, or NaN for a tie, as `engine.forecast_metrics.hit_flags`).
        horizon: forecast horizon h (sessions), the DM test's overlap.
        min_scored: tickers with fewer scored forecasts are not tested and do not
            count in the family.

    Each ticker is tested against naive and, where drift has at least `min_scored`
    scores on the same targets, against drift; its p-value is the larger of the two
    (intersection–union test: valid at level α without adjustment). The family of
    tickers tested this session is then controlled with Benjamini–Hochberg: a
    ticker passes when its q-value is below the gate's α.
    """
    from engine.significance import benjamini_hochberg, diebold_mariano

    raw: dict[str, tuple[int, int, float, float, str]] = {}
    calls: dict[str, int] = {}
    for ticker, (err, naive, drift, hit) in series.items():
        n = int(np.isfinite(np.asarray(err, dtype=float)).sum())
        flags = np.asarray(hit, dtype=float)
        hits, calls[ticker] = int(np.nansum(flags)), int(np.isfinite(flags).sum())
        if n < min_scored:
            raw[ticker] = (n, hits, float("nan"), float("nan"), "")
            continue
        tests = [("naive", diebold_mariano(err, naive, h=horizon, alternative="less"))]
        if np.count_nonzero(np.isfinite(drift) & np.isfinite(err)) >= min_scored:
            tests.append(("drift", diebold_mariano(err, drift, h=horizon, alternative="less")))
        if any(not math.isfinite(t.pvalue) for _, t in tests):
            raw[ticker] = (n, hits, float("nan"), float("nan"), "")
            continue
        name, worst = max(tests, key=lambda t: t[1].pvalue)
        raw[ticker] = (n, hits, worst.stat, worst.pvalue, name)
    names = list(raw)
    q = benjamini_hochberg([raw[t][3] for t in names])
    return {
        t: GateTest(raw[t][0], raw[t][1], raw[t][2], raw[t][3], float(qt), raw[t][4], calls[t])
        for t, qt in zip(names, q)
    }


def layer_statistical(
    n_scored: int, stat: float, p_value: float, *, alpha: float, min_scored: int, demoted: bool = False
) -> LayerVerdict:
    """Layer 1: the ensemble beats naive and drift on this ticker, significantly.

    `stat` is the DM statistic against the stronger baseline and `p_value` the
    Benjamini–Hochberg q-value from `statistical_gate`; the layer passes when
    q < alpha (the BH procedure at false-discovery rate alpha).
    """
    if demoted:
        return LayerVerdict("statistical", False, "ensemble demoted: not beating the baseline")
    if n_scored < min_scored:
        return LayerVerdict("statistical", False, f"only {n_scored} scored forecasts (< {min_scored})")
    if not math.isfinite(stat) or not math.isfinite(p_value):
        return LayerVerdict("statistical", False, "DM test undefined: not enough data")
    if not (stat < 0 and p_value < alpha):
        return LayerVerdict(
            "statistical", False, f"does not beat naive and drift (DM {stat:.2f}, BH q={p_value:.3f} >= {alpha})"
        )
    return LayerVerdict("statistical", True, f"beats naive and drift (DM {stat:.2f}, BH q={p_value:.3f})")


_REGIME_AGREES = {
    "BUY": {"bull", "sideways"},
    "SELL": {"bear", "crisis", "sideways"},
    "HOLD": {"bull", "bear", "sideways", "crisis"},
}


def layer_regime(action: str, regime: str) -> LayerVerdict:
    """Layer 2: buys agree with bull/sideways markets, sells with bear/crisis/sideways."""
    ok = regime in _REGIME_AGREES.get(action, set())
    verb = "agrees with" if ok else "fights"
    return LayerVerdict("regime", ok, f"{action} {verb} the {regime} regime")


def layer_size(
    action: str,
    base: float,
    tilt: float,
    price: float,
    equity: float,
    *,
    max_position: float,
    allow_short: bool = False,
) -> LayerVerdict:
    """Layer 3: the tilted weight stays within the position cap and buys at least a share."""
    if action == "HOLD":
        return LayerVerdict("size", True, "no position change")
    target = base + tilt
    if not allow_short and target < -1e-12:
        return LayerVerdict("size", False, "long-only: target would be short")
    if abs(target) > max_position + 1e-12:
        return LayerVerdict("size", False, f"target {target:.1%} exceeds max position {max_position:.1%}")
    if abs(tilt) * equity < price:
        return LayerVerdict("size", False, f"tilt {tilt:.2%} is less than one share")
    return LayerVerdict("size", True, f"target {target:.1%} within {max_position:.0%} cap")


def layer_correlation(action: str, corr_to_book: float, *, max_corr: float) -> LayerVerdict:
    """Layer 4: a buy must not pile onto holdings it is highly correlated with."""
    if action != "BUY":
        return LayerVerdict("correlation", True, "does not add exposure")
    if not math.isfinite(corr_to_book):
        return LayerVerdict("correlation", True, "no holdings to correlate with")
    if corr_to_book > max_corr:
        return LayerVerdict("correlation", False, f"correlation with holdings {corr_to_book:.2f} > {max_corr:.2f}")
    return LayerVerdict("correlation", True, f"correlation with holdings {corr_to_book:.2f} <= {max_corr:.2f}")


def layer_cost(expected_return: float, round_trip_bps: float, *, multiple: float) -> LayerVerdict:
    """Layer 5: |expected log return| must exceed `multiple` x round-trip costs."""
    hurdle = multiple * round_trip_bps / 1e4
    edge = abs(expected_return) if math.isfinite(expected_return) else 0.0
    if edge <= hurdle:
        return LayerVerdict("cost", False, f"edge {edge:.2%} <= costs {hurdle:.2%}")
    return LayerVerdict("cost", True, f"edge {edge:.2%} > costs {hurdle:.2%}")


def weighted_corr_to_book(corr: np.ndarray, i: int, weights: np.ndarray) -> float:
    """Holding-weighted mean correlation of asset i with the other held assets."""
    w = np.abs(np.asarray(weights, dtype=float)).copy()
    w[i] = 0.0
    tot = w.sum()
    if tot <= 0:
        return float("nan")
    return float(np.nan_to_num(corr[i]) @ w / tot)
