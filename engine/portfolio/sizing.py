"""Sizing and construction: fractional Kelly, vol targeting, correlation-aware
reduction, caps, whole shares, the band/cost rebalance rule and the turnover budget.

All functions are pure (numpy in, numpy out). The default strategy is
`target = clip(exposure x (benchmark base + validated tilts))`; a tilt is
`kelly_fraction x Kelly(confidence, payoff) x vol-target scale`, reduced when
tilts pile onto correlated names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def kelly(p: float, payoff: float) -> float:
    """Full-Kelly bet fraction f* = p - (1 - p) / b, floored at 0."""
    if not (math.isfinite(p) and math.isfinite(payoff)) or payoff <= 0:
        return 0.0
    return max(0.0, p - (1.0 - p) / payoff)


def payoff_ratio(mean: float, lower: float, upper: float, action: str) -> float:
    """Win/loss ratio from the forecast interval: distance to the favourable bound over
    distance to the adverse one, measured from zero (a flat outcome)."""
    vals = (mean, lower, upper)
    if not all(math.isfinite(v) for v in vals):
        return 1.0
    up, down = max(upper, 1e-6), max(-lower, 1e-6)
    return up / down if action != "SELL" else down / up


def annualise_vol(vol_h: float, horizon: int) -> float:
    """h-session log-return std -> annualised (252 sessions)."""
    if not math.isfinite(vol_h) or vol_h <= 0:
        return float("nan")
    return vol_h * math.sqrt(252.0 / max(int(horizon), 1))


def vol_target_scale(vol_ann: float, target_vol: float, max_scale: float = 2.0) -> float:
    """target_vol / forecast vol, capped; NaN vol gives 1."""
    if not math.isfinite(vol_ann) or vol_ann <= 0:
        return 1.0
    return float(min(target_vol / vol_ann, max_scale))


def signal_tilt(
    action: str,
    confidence: float,
    payoff: float,
    vol_ann: float,
    *,
    kelly_fraction: float,
    target_vol: float,
    max_tilt: float,
    max_vol_scale: float = 2.0,
) -> float:
    """Signed tilt weight for a signal (0 for HOLD)."""
    if action not in ("BUY", "SELL"):
        return 0.0
    size = kelly_fraction * kelly(confidence, payoff)
    size *= vol_target_scale(vol_ann, target_vol, max_vol_scale)
    size = min(size, max_tilt)
    return size if action == "BUY" else -size


def correlation_reduction(tilts: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """Shrinks same-direction tilts on correlated names.

    Each tilt i is divided by 1 + sum_j max(rho_ij, 0) * |t_j| / |t_i| over the other
    tilts j of the same sign, capped so no tilt grows; n perfectly correlated equal
    tilts then behave like one tilt split n ways.
    """
    t = np.asarray(tilts, dtype=float)
    out = t.copy()
    for i in np.flatnonzero(t):
        same = (np.sign(t) == np.sign(t[i])) & (np.arange(t.size) != i)
        if not same.any():
            continue
        rho = np.clip(np.nan_to_num(corr[i, same]), 0.0, None)
        crowd = float(rho @ np.abs(t[same])) / abs(t[i])
        out[i] = t[i] / (1.0 + crowd)
    return out


def apply_caps(weights: np.ndarray, *, max_position: float, max_gross: float, allow_short: bool = False) -> np.ndarray:
    """Clips each weight to the position cap (and >= 0 long-only), then scales the whole
    vector down if gross exposure exceeds the cap."""
    w = np.asarray(weights, dtype=float)
    lo = -max_position if allow_short else 0.0
    w = np.clip(w, lo, max_position)
    gross = np.abs(w).sum()
    if gross > max_gross > 0:
        w = w * (max_gross / gross)
    return w


def target_shares(weights: np.ndarray, equity: float, prices: np.ndarray) -> np.ndarray:
    """Whole shares toward target weights (truncated toward zero, never over target)."""
    w = np.asarray(weights, dtype=float)
    p = np.asarray(prices, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(p > 0, np.trunc(w * equity / p), 0.0)
    return q.astype(np.int64)


@dataclass(frozen=True)
class RebalanceLeg:
    """A proposed trade for one ticker and why it passed the rebalance rule."""

    index: int
    qty: int  # signed: + buy, - sell
    drift: float  # target weight - current weight
    benefit: float  # expected value of the trade in currency
    cost: float  # expected cost in currency
    reason: str


def rebalance_legs(
    current_qty: np.ndarray,
    target_qty: np.ndarray,
    prices: np.ndarray,
    equity: float,
    edges: np.ndarray,
    *,
    drift_threshold: float,
    cost_bps: float,
    tracking_value_bps: float,
    drift_relative: float = 0.0,
    force: np.ndarray | None = None,
    base_weights: np.ndarray | None = None,
) -> list[RebalanceLeg]:
    """Trades only where |drift| > threshold (the no-trade band) and expected benefit > cost.

    The threshold is `drift_threshold` in weight, or `drift_relative` x the larger of
    the current and target weights when that is smaller (so a 500-name book with
    0.2% positions still rebalances when a name is 25% off its target).

    Expected benefit of moving |dw| of equity to target is |dw| x equity x (edge +
    tracking value), where `edge` is a validated signal's |expected return| when the
    trade goes its way (else 0) and the tracking value (bps) prices closing a
    deviation from the base. Cost is one-way slippage + commission. With
    `base_weights` the rule is cost-aware both ways: a leg that widens the name's
    deviation from its base earns no tracking value and must cover the round trip
    (2 x one-way: the deviation is unwound later). `force` marks legs exempt from
    both tests (flatten, or a target of zero for a halted or dropped name).
    """
    cur = np.asarray(current_qty, dtype=np.int64)
    tgt = np.asarray(target_qty, dtype=np.int64)
    px = np.asarray(prices, dtype=float)
    legs: list[RebalanceLeg] = []
    if equity <= 0:
        return legs
    for i in range(cur.size):
        dq = int(tgt[i] - cur[i])
        if dq == 0 or not px[i] > 0:
            continue
        dw = dq * px[i] / equity
        notional = abs(dq) * px[i]
        cost = notional * cost_bps / 1e4
        edge = float(edges[i]) if np.sign(edges[i]) == np.sign(dq) else 0.0
        benefit = notional * (abs(edge) + tracking_value_bps / 1e4)
        if base_weights is not None:
            before = cur[i] * px[i] / equity - base_weights[i]
            if abs(before + dw) > abs(before) + 1e-12:  # opens a deviation: pays the round trip
                cost, benefit = 2.0 * cost, notional * abs(edge)
        if force is not None and force[i]:
            legs.append(RebalanceLeg(i, dq, dw, benefit, cost, "forced"))
            continue
        thr = drift_threshold
        if drift_relative > 0:
            thr = min(thr, drift_relative * max(abs(cur[i]), abs(tgt[i])) * px[i] / equity)
        if abs(dw) <= thr:
            continue
        if benefit <= cost:
            continue
        legs.append(
            RebalanceLeg(
                i, dq, dw, benefit, cost, f"drift {dw:+.2%} > {thr:.2%}, benefit {benefit:.2f} > cost {cost:.2f}"
            )
        )
    return legs


def one_way_notional(legs: list[RebalanceLeg], prices: np.ndarray) -> float:
    """Half the traded notional of `legs` (one-way turnover in currency)."""
    return 0.5 * float(sum(abs(leg.qty) * prices[leg.index] for leg in legs))


def fit_turnover_budget(
    legs: list[RebalanceLeg], prices: np.ndarray, budget_left: float, exempt: np.ndarray | None = None
) -> list[RebalanceLeg]:
    """Keeps the legs worth most per dollar traded within `budget_left` (one-way currency).

    Exempt legs (forced exits, funding) always pass and do not count; the others are
    taken in order of (benefit - cost) / notional; the first that does not fit is cut
    to whole shares that do, and the rest wait for budget to accrue.
    """
    free = [leg for leg in legs if exempt is not None and exempt[leg.index]]
    rest = [leg for leg in legs if not (exempt is not None and exempt[leg.index])]
    rest.sort(key=lambda leg: -(leg.benefit - leg.cost) / max(abs(leg.qty) * prices[leg.index], 1e-9))
    left = max(float(budget_left), 0.0)
    kept = list(free)
    for leg in rest:
        one_way = 0.5 * abs(leg.qty) * prices[leg.index]
        if one_way <= left:
            kept.append(leg)
            left -= one_way
            continue
        q = int(np.floor(2.0 * left / prices[leg.index])) if prices[leg.index] > 0 else 0
        if q > 0:
            kept.append(
                RebalanceLeg(
                    leg.index,
                    int(np.sign(leg.qty)) * q,
                    leg.drift,
                    leg.benefit,
                    leg.cost,
                    f"{leg.reason}; cut to {q} of {abs(leg.qty)} shares by the turnover budget",
                )
            )
        break
    return sorted(kept, key=lambda leg: leg.index)
