"""Kill switches, evaluated at each session's close before new orders are decided.

- daily loss >= `daily_loss` of equity: new buys halted for the session;
- drawdown >= `dd_halve`: halve; >= `dd_flatten`: flatten, then `flatten_cooldown`
  sessions before re-arming with the peak reset. The drawdown's `basis`:
  "benchmark" measures it on relative wealth (equity / the declared benchmark's value),
  so a book that merely holds its benchmark in a falling market never trips it; halve
  then halves the active tilts (targets move halfway back to the benchmark weights) and
  flatten holds the benchmark weights (`active_scale` 0.5 / 0). "absolute" measures it
  on equity: halve scales exposure by 0.5, flatten sells everything;
- universe median session return <= -`market_shock`: new buys halted;
- a stale, quarantined or missing bar: trading in that ticker halted.

The state carried between sessions (peak and cooldown) is stored in the `risk`
row (ks_peak, ks_cooldown; migration 30), so a resumed run rebuilds it exactly. Under
the benchmark basis the stored peak is the relative-wealth peak expressed in today's
dollars: each session it grows by the benchmark's return (from the stored benchmark
weights and closes), so equity / peak - 1 is exactly relative wealth's drawdown from
its high-water mark. With a zero benchmark return (cash) the two bases coincide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import Config


@dataclass(frozen=True)
class KillSwitchLimits:
    """The `[risk]` kill-switch settings (no defaults here: config/default.toml holds them)."""

    daily_loss: float
    dd_halve: float
    dd_flatten: float
    market_shock: float
    flatten_cooldown: int
    basis: str  # drawdown measured on: "absolute" equity | "benchmark" relative wealth

    @classmethod
    def from_config(cls, config: Config) -> KillSwitchLimits:
        r = config.risk
        return cls(
            daily_loss=r.daily_loss_halt,
            dd_halve=r.drawdown_halve,
            dd_flatten=r.drawdown_flatten,
            market_shock=r.market_shock,
            flatten_cooldown=r.flatten_cooldown,
            basis=r.drawdown_basis,
        )


@dataclass(frozen=True)
class KillSwitchState:
    """Carried across sessions: the high-water mark and remaining flat sessions."""

    peak: float
    cooldown: int = 0


@dataclass(frozen=True)
class Breach:
    """One limit that tripped this session."""

    limit: str  # daily_loss | drawdown_halve | drawdown_flatten | market_shock | cooldown | ticker
    value: float
    threshold: float
    action: str  # halt_buys | halve_exposure | flatten | halve_tilts | to_benchmark | halt_ticker
    detail: str


@dataclass
class KillSwitchDecision:
    halt_buys: bool = False
    flatten: bool = False
    exposure_scale: float = 1.0  # absolute basis: scales the whole book
    active_scale: float = 1.0  # benchmark basis: scales targets - benchmark weights
    ticker_halts: dict[str, str] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    drawdown: float = 0.0  # from the kill-switch peak (negative fraction)
    state: KillSwitchState = KillSwitchState(peak=0.0)

    @property
    def halted(self) -> bool:
        """Portfolio-level halt (buys halted, flattening or flat in cooldown)."""
        return self.halt_buys or self.flatten or self.active_scale <= 0.0

    @property
    def reason(self) -> str | None:
        parts = [b.detail for b in self.breaches]
        return "; ".join(parts) if parts else None

    @property
    def halt_buys_reason(self) -> str | None:
        parts = [b.detail for b in self.breaches if b.action in ("halt_buys", "flatten")]
        return "; ".join(parts) if parts else None


def evaluate_killswitches(
    equity: float,
    prev_equity: float | None,
    prev: KillSwitchState,
    universe_median_return: float,
    ticker_flags: dict[str, str],
    lim: KillSwitchLimits,
    benchmark_return: float = 0.0,
) -> KillSwitchDecision:
    """Pure evaluation of every switch at one session's close.

    Args:
        equity: marked equity at this close.
        prev_equity: the previous session's equity (None on the first session).
        prev: state stored with the previous session.
        universe_median_return: median simple return of the universe this session.
        ticker_flags: ticker -> why its data is unusable (stale / quarantined / missing).
        benchmark_return: the declared benchmark's return this session (used by the
            "benchmark" basis only; 0 on the first session).
    """
    d = KillSwitchDecision()
    relative = lim.basis == "benchmark"
    if prev.cooldown > 0:
        left = prev.cooldown - 1
        _full_stop(
            d,
            relative,
            Breach("cooldown", float(left), float(lim.flatten_cooldown), "", ""),
            f"held at the benchmark after the active drawdown stop: {left} sessions of cooldown left",
            f"flat after drawdown stop: {left} sessions of cooldown left",
        )
        d.state = KillSwitchState(peak=equity, cooldown=left)
    else:
        grow = benchmark_return if relative and math.isfinite(benchmark_return) else 0.0
        peak = max(prev.peak * (1.0 + grow), equity) if prev.peak > 0 else equity
        dd = equity / peak - 1.0 if peak > 0 else 0.0
        d.drawdown = dd
        what = f"active drawdown {dd:.1%} vs the benchmark" if relative else f"absolute drawdown {dd:.1%}"
        cooldown = 0
        if dd <= -lim.dd_flatten:
            cooldown = lim.flatten_cooldown
            _full_stop(
                d,
                relative,
                Breach("drawdown_flatten", dd, -lim.dd_flatten, "", ""),
                f"{what} <= -{lim.dd_flatten:.0%}: back to the benchmark weights",
                f"{what} <= -{lim.dd_flatten:.0%}: flatten",
            )
        elif dd <= -lim.dd_halve:
            if relative:
                d.active_scale = 0.5
                d.breaches.append(
                    Breach(
                        "drawdown_halve",
                        dd,
                        -lim.dd_halve,
                        "halve_tilts",
                        f"{what} <= -{lim.dd_halve:.0%}: active tilts halved",
                    )
                )
            else:
                d.exposure_scale = 0.5
                d.breaches.append(
                    Breach(
                        "drawdown_halve",
                        dd,
                        -lim.dd_halve,
                        "halve_exposure",
                        f"{what} <= -{lim.dd_halve:.0%}: exposure halved",
                    )
                )
        d.state = KillSwitchState(peak=peak, cooldown=cooldown)
    if prev_equity and prev_equity > 0:
        r = equity / prev_equity - 1.0
        if r <= -lim.daily_loss:
            d.halt_buys = True
            d.breaches.append(
                Breach(
                    "daily_loss",
                    r,
                    -lim.daily_loss,
                    "halt_buys",
                    f"daily loss {r:.2%} <= -{lim.daily_loss:.0%}: buys halted",
                )
            )
    if math.isfinite(universe_median_return) and universe_median_return <= -lim.market_shock:
        d.halt_buys = True
        d.breaches.append(
            Breach(
                "market_shock",
                universe_median_return,
                -lim.market_shock,
                "halt_buys",
                f"universe median return {universe_median_return:.1%} <= -{lim.market_shock:.0%}: buys halted",
            )
        )
    for t in sorted(ticker_flags):
        d.ticker_halts[t] = ticker_flags[t]
        d.breaches.append(Breach("ticker", float("nan"), float("nan"), "halt_ticker", f"{t} halted: {ticker_flags[t]}"))
    return d


def _full_stop(
    d: KillSwitchDecision, relative: bool, breach: Breach, relative_reason: str, absolute_reason: str
) -> None:
    """The drawdown stop's full response, recorded as `breach` with its action and reason:
    measured against the benchmark, back to the benchmark weights; absolute, flat with
    buys halted."""
    if relative:
        d.active_scale = 0.0
        d.breaches.append(replace(breach, action="to_benchmark", detail=relative_reason))
    else:
        d.flatten = True
        d.halt_buys = True
        d.exposure_scale = 0.0
        d.breaches.append(replace(breach, action="flatten", detail=absolute_reason))


def toward_benchmark(
    target: list[float] | tuple[float, ...], benchmark: list[float] | tuple[float, ...], active_scale: float
) -> list[float]:
    """Targets moved toward the benchmark weights: benchmark + active_scale x (target - benchmark)."""
    if active_scale >= 1.0:
        return [float(x) for x in target]
    s = max(active_scale, 0.0)
    return [float(b + s * (t - b)) for t, b in zip(target, benchmark)]
