"""Checks on the [signals], [portfolio], [broker] and [risk] settings.

The checks are registered with `engine.config.validator`, so they run when a config
loads once this module is imported; the portfolio stages also call
`check_portfolio_config` on their first cycle, so a bad value is a `ConfigError`
naming the key either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.config import validator
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.config import Config


def _fraction(lo: float = 0.0, hi: float = 1.0, open_lo: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = (v > lo if open_lo else v >= lo) and v <= hi
        return None if ok else f"must lie in {'(' if open_lo else '['}{lo}, {hi}], got {v!r}"

    return check


def _positive(v: Any) -> str | None:
    return None if v > 0 else f"must be positive, got {v!r}"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else f"must be zero or more, got {v!r}"


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in allowed else f"must be one of {', '.join(allowed)}, got {v!r}"

    return check


def _subset_of(*allowed: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        bad = [x for x in (v or []) if str(x).lower() not in allowed]
        return None if not bad else f"may only list {', '.join(allowed)}, got {bad[0]!r}"

    return check


CHECKS: dict[str, Callable[[Any], str | None]] = {
    "signals.horizon": _positive,
    "signals.prob_band": _fraction(0.0, 0.5),
    "signals.dm_alpha": _fraction(0.0, 1.0, open_lo=True),
    "signals.min_scored": _non_negative,
    "signals.score_window": _positive,
    "signals.max_corr_to_book": _fraction(-1.0, 1.0),
    "signals.cost_multiple": _non_negative,
    "portfolio.initial_cash": _positive,
    "portfolio.lookback": _positive,
    "portfolio.cash_buffer": _fraction(0.0, 0.5),
    "portfolio.kelly_fraction": _fraction(0.0, 1.0),
    "portfolio.max_tilt": _fraction(0.0, 1.0),
    "portfolio.target_vol": _positive,
    "portfolio.max_position": _fraction(0.0, 1.0, open_lo=True),
    "portfolio.max_gross": _positive,
    "portfolio.drift_threshold": _fraction(0.0, 1.0),
    "portfolio.drift_relative": _fraction(0.0, 1.0),
    "portfolio.order_type": _one_of("market", "limit"),
    "portfolio.benchmark": _one_of("equal_weight", "cash"),
    "portfolio.overlays": _subset_of("hrp", "regime"),
    "portfolio.turnover_budget": _non_negative,
    "broker.slippage_bps": _non_negative,
    "broker.commission_bps": _non_negative,
    "broker.max_bar_participation": _fraction(0.0, 1.0, open_lo=True),
    "risk.daily_loss_halt": _fraction(0.0, 1.0, open_lo=True),
    "risk.drawdown_halve": _fraction(0.0, 1.0, open_lo=True),
    "risk.drawdown_flatten": _fraction(0.0, 1.0, open_lo=True),
    "risk.drawdown_basis": _one_of("benchmark", "absolute"),
    "risk.flatten_cooldown": _non_negative,
    "risk.market_shock": _fraction(0.0, 1.0, open_lo=True),
    "risk.max_trades_per_session": _positive,
    "risk.max_participation": _fraction(0.0, 1.0, open_lo=True),
    "risk.cash_cushion_bps": _non_negative,
    "risk.mc_paths": _non_negative,
    "risk.mc_method": _one_of("t", "bootstrap"),
    "risk.mc_every": _positive,
}

for _key, _check in CHECKS.items():
    validator(_key)(_check)


def check_portfolio_config(cfg: Config) -> None:
    """Raise ConfigError for the first bad setting of the trading sections."""
    for key, check in CHECKS.items():
        value = cfg.get(key)
        if value is None:
            continue
        problem = check(value)
        if problem:
            raise ConfigError(f"{key} {problem}", "fix it in your config file or environment")
    if cfg.get("risk.drawdown_halve") > cfg.get("risk.drawdown_flatten"):
        raise ConfigError(
            "risk.drawdown_halve must not exceed risk.drawdown_flatten",
            "the halving stop comes before the flattening one",
        )
