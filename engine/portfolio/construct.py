"""Portfolio construction: the base, signals with their layers, tilts, caps.

`construct` is the default strategy as one pure function: the base across the
watchlist (the benchmark's drifted weights; HRP's with that overlay on), scaled by the
kill switches' exposure (and the regime's, with that overlay on), tilted only by
validated signals (fractional Kelly x vol target, reduced when tilts crowd into
correlated names), then capped per position and on gross exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.portfolio.regime import RegimeState
from engine.portfolio.signal_layers import (
    Signal,
    calibrate_confidence,
    decide_action,
    layer_correlation,
    layer_cost,
    layer_regime,
    layer_size,
    layer_statistical,
    weighted_corr_to_book,
)
from engine.portfolio.sizing import annualise_vol, apply_caps, correlation_reduction, payoff_ratio, signal_tilt

if TYPE_CHECKING:
    from engine.config import Config


@dataclass(frozen=True)
class StrategyParams:
    """The [signals], [portfolio] and [broker] settings construction needs.

    No defaults here: values come from the loaded config (`from_config`), whose
    defaults live in config/default.toml.
    """

    horizon: int
    prob_band: float
    allow_short: bool
    confidence_prior: float
    min_scored: int
    dm_alpha: float
    max_corr_to_book: float
    cost_multiple: float
    round_trip_bps: float
    cash_buffer: float
    kelly_fraction: float
    max_tilt: float
    target_vol: float
    max_vol_scale: float
    max_position: float
    max_gross: float

    @classmethod
    def from_config(cls, cfg: Config) -> StrategyParams:
        s, p, b = cfg.signals, cfg.portfolio, cfg.broker
        return cls(
            horizon=s.horizon,
            prob_band=s.prob_band,
            allow_short=s.allow_short,
            confidence_prior=s.confidence_prior,
            min_scored=s.min_scored,
            dm_alpha=s.dm_alpha,
            max_corr_to_book=s.max_corr_to_book,
            cost_multiple=s.cost_multiple,
            round_trip_bps=2.0 * (b.slippage_bps + b.commission_bps),
            cash_buffer=p.cash_buffer,
            kelly_fraction=p.kelly_fraction,
            max_tilt=p.max_tilt,
            target_vol=p.target_vol,
            max_vol_scale=p.max_vol_scale,
            max_position=p.max_position,
            max_gross=p.max_gross,
        )


@dataclass(frozen=True)
class TickerScore:
    """Out-of-sample record of the ensemble on one ticker."""

    n_scored: int = 0
    hits: int = 0
    dm_stat: float = float("nan")
    dm_pvalue: float = 1.0
    n_calls: int = 0  # scored forecasts that made a directional call (ties left out)


def construct(
    tickers: list[str],
    base: np.ndarray,
    forecasts: dict[str, dict[str, Any]],
    scores: dict[str, TickerScore],
    regime: RegimeState,
    exposure: float,
    current_w: np.ndarray,
    corr: np.ndarray,
    prices: np.ndarray,
    vol_ann: np.ndarray,
    equity: float,
    params: StrategyParams,
    demoted: bool = False,
) -> tuple[list[Signal], np.ndarray]:
    """Signals (one per ticker) and the capped target weights (N,).

    Args:
        base: the core weights over the tradable names: the benchmark's (summing to at
            most 1; zeros for a cash benchmark) or HRP's (summing to 1).
        forecasts: ticker -> ensemble row (mean, lower, upper, prob_up, drivers).
        exposure: kill-switch scale (x regime scale with that overlay on).
        vol_ann: annualised forecast vol per ticker (GARCH; NaN: unknown).
    """
    n = len(tickers)
    scale = exposure * (1.0 - params.cash_buffer)
    base_w = np.asarray(base, dtype=float) * scale
    signals: list[Signal] = []
    tilts = np.zeros(n)
    for i, t in enumerate(tickers):
        f = forecasts.get(t)
        if f is None:
            sig = Signal(
                t,
                "HOLD",
                0.5,
                float("nan"),
                params.horizon,
                float("nan"),
                reason="no ensemble forecast: base weight only",
            )
            signals.append(sig)
            continue
        mean, pu = float(f.get("mean", math.nan)), float(f.get("prob_up", math.nan))
        action = decide_action(mean, pu, params.prob_band, params.allow_short)
        sc = scores.get(t, TickerScore())
        conf = calibrate_confidence(pu, action, sc.hits, sc.n_calls, params.confidence_prior)
        b = payoff_ratio(mean, float(f.get("lower", math.nan)), float(f.get("upper", math.nan)), action)
        raw = (
            signal_tilt(
                action,
                conf,
                b,
                float(vol_ann[i]),
                kelly_fraction=params.kelly_fraction,
                target_vol=params.target_vol,
                max_tilt=params.max_tilt,
                max_vol_scale=params.max_vol_scale,
            )
            * scale
        )
        if action == "SELL" and not params.allow_short:
            raw = max(raw, -base_w[i])  # long-only: at most remove the base
        layers = [
            layer_statistical(
                sc.n_scored,
                sc.dm_stat,
                sc.dm_pvalue,
                alpha=params.dm_alpha,
                min_scored=params.min_scored,
                demoted=demoted,
            ),
            layer_regime(action, regime.regime),
            layer_size(
                action,
                base_w[i],
                raw,
                float(prices[i]),
                equity,
                max_position=params.max_position,
                allow_short=params.allow_short,
            ),
            layer_correlation(action, weighted_corr_to_book(corr, i, current_w), max_corr=params.max_corr_to_book),
            layer_cost(mean, params.round_trip_bps, multiple=params.cost_multiple),
        ]
        sig = Signal(t, action, conf, mean, params.horizon, pu, layers, f.get("drivers"))
        if sig.validated and action != "HOLD":
            tilts[i] = raw
            sig.reason = f"validated {action}: Kelly tilt {raw:+.2%}"
        elif action == "HOLD":
            sig.reason = "no directional call: base weight only"
        else:
            sig.reason = f"{action} not validated ({', '.join(sig.failed_layers())}): base weight only"
        signals.append(sig)
    tilts = correlation_reduction(tilts, corr)
    target = apply_caps(
        base_w + tilts,
        max_position=params.max_position,
        max_gross=params.max_gross * max(exposure, 0.0),
        allow_short=params.allow_short,
    )
    for i, sig in enumerate(signals):
        sig.base_weight = float(base_w[i])
        sig.tilt = float(tilts[i])
        sig.target_weight = float(target[i])
    return signals, target


def forecast_vols(garch: dict[str, float], realised: np.ndarray, tickers: list[str], horizon: int) -> np.ndarray:
    """Annualised vol per ticker: GARCH's h-session forecast, else realised."""
    out = np.asarray(realised, dtype=float).copy()
    for i, t in enumerate(tickers):
        v = garch.get(t)
        if v is not None and math.isfinite(v) and v > 0:
            out[i] = annualise_vol(v, horizon)
    return out
