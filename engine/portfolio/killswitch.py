"""Kill switches, evaluated at each session's close before new orders are decided.

- daily loss >= `daily_loss` of equity: new buys halted for the session;
- drawdown >= `dd_halve`: exposure halved; >= `dd_flatten`: everything sold, then
  `flatten_cooldown` sessions flat before re-arming with the peak reset;
- universe median session return <= -`market_shock`: new buys halted;
- a stale, quarantined or missing bar: trading in that ticker halted.

The state carried between sessions (peak and cooldown) is stored in the `risk`
row (ks_peak, ks_cooldown; migration 30), so a resumed run rebuilds it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class KillSwitchLimits:
    daily_loss: float = 0.02
    dd_halve: float = 0.10
    dd_flatten: float = 0.15
    market_shock: float = 0.07
    flatten_cooldown: int = 20


@dataclass(frozen=True)
class KillSwitchState:
    """Carried across sessions: the high-water mark and remaining flat sessions."""

    peak: float
    cooldown: int = 0


@dataclass(frozen=True)
class Breach:
    """One limit that tripped this session."""

    limit: str          # daily_loss | drawdown_halve | drawdown_flatten | market_shock | cooldown | ticker
    value: float
    threshold: float
    action: str         # halt_buys | halve_exposure | flatten | halt_ticker
    detail: str


@dataclass
class KillSwitchDecision:
    halt_buys: bool = False
    flatten: bool = False
    exposure_scale: float = 1.0
    ticker_halts: dict[str, str] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    drawdown: float = 0.0                 # from the kill-switch peak (negative fraction)
    state: KillSwitchState = KillSwitchState(peak=0.0)

    @property
    def halted(self) -> bool:
        """Portfolio-level halt (buys halted, flattening or flat in cooldown)."""
        return self.halt_buys or self.flatten

    @property
    def reason(self) -> str | None:
        parts = [b.detail for b in self.breaches]
        return "; ".join(parts) if parts else None

    @property
    def halt_buys_reason(self) -> str | None:
        parts = [b.detail for b in self.breaches if b.action in ("halt_buys", "flatten")]
        return "; ".join(parts) if parts else None


def evaluate_killswitches(equity: float, prev_equity: float | None, prev: KillSwitchState,
                          universe_median_return: float, ticker_flags: dict[str, str],
                          lim: KillSwitchLimits) -> KillSwitchDecision:
    """Pure evaluation of every switch at one session's close.

    Args:
        equity: marked equity at this close.
        prev_equity: the previous session's equity (None on the first session).
        prev: state stored with the previous session.
        universe_median_return: median simple return of the universe this session.
        ticker_flags: ticker -> why its data is unusable (stale / quarantined / missing).
    """
    d = KillSwitchDecision()
    if prev.cooldown > 0:
        left = prev.cooldown - 1
        d.flatten = True
        d.halt_buys = True
        d.exposure_scale = 0.0
        d.breaches.append(Breach("cooldown", float(left), float(lim.flatten_cooldown), "flatten",
                                 f"flat after drawdown stop: {left} sessions of cooldown left"))
        d.state = KillSwitchState(peak=equity, cooldown=left)
    else:
        peak = max(prev.peak, equity) if prev.peak > 0 else equity
        dd = equity / peak - 1.0 if peak > 0 else 0.0
        d.drawdown = dd
        cooldown = 0
        if dd <= -lim.dd_flatten:
            d.flatten = True
            d.halt_buys = True
            d.exposure_scale = 0.0
            cooldown = lim.flatten_cooldown
            d.breaches.append(Breach("drawdown_flatten", dd, -lim.dd_flatten, "flatten",
                                     f"drawdown {dd:.1%} <= -{lim.dd_flatten:.0%}: flatten"))
        elif dd <= -lim.dd_halve:
            d.exposure_scale = 0.5
            d.breaches.append(Breach("drawdown_halve", dd, -lim.dd_halve, "halve_exposure",
                                     f"drawdown {dd:.1%} <= -{lim.dd_halve:.0%}: exposure halved"))
        d.state = KillSwitchState(peak=peak, cooldown=cooldown)
    if prev_equity and prev_equity > 0:
        r = equity / prev_equity - 1.0
        if r <= -lim.daily_loss:
            d.halt_buys = True
            d.breaches.append(Breach("daily_loss", r, -lim.daily_loss, "halt_buys",
                                     f"daily loss {r:.2%} <= -{lim.daily_loss:.0%}: buys halted"))
    if math.isfinite(universe_median_return) and universe_median_return <= -lim.market_shock:
        d.halt_buys = True
        d.breaches.append(Breach("market_shock", universe_median_return, -lim.market_shock,
                                 "halt_buys", f"universe median return {universe_median_return:.1%} "
                                              f"<= -{lim.market_shock:.0%}: buys halted"))
    for t in sorted(ticker_flags):
        d.ticker_halts[t] = ticker_flags[t]
        d.breaches.append(Breach("ticker", float("nan"), float("nan"), "halt_ticker",
                                 f"{t} halted: {ticker_flags[t]}"))
    return d
