"""The drawdown kill switch's basis: relative to the declared benchmark (default) or absolute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_killswitch_crash import TICKERS, _run

from engine.config import load_config
from engine.errors import ConfigError
from engine.portfolio.killswitch import KillSwitchLimits, KillSwitchState, evaluate_killswitches, toward_benchmark
from engine.portfolio.synthetic import synthetic_bars

REL = KillSwitchLimits(
    daily_loss=0.02, dd_halve=0.10, dd_flatten=0.15, market_shock=0.07, flatten_cooldown=3, basis="benchmark"
)
ABS = KillSwitchLimits(
    daily_loss=0.02, dd_halve=0.10, dd_flatten=0.15, market_shock=0.07, flatten_cooldown=3, basis="absolute"
)


def _replay(equity: list[float], bench_r: list[float], lim: KillSwitchLimits) -> list:
    """Evaluate session by session, carrying the state as the store would."""
    state, prev, out = KillSwitchState(peak=equity[0]), None, []
    for eq, rb in zip(equity, bench_r):
        d = evaluate_killswitches(eq, prev, state, 0.0, {}, lim, benchmark_return=rb)
        out.append(d)
        state, prev = d.state, eq
    return out


def test_book_equal_to_benchmark_in_a_falling_market_never_trips() -> None:
    bench_r = [0.0] + [-0.004] * 80  # the market loses ~27%, never 2% in a day
    equity = list(100.0 * np.cumprod(1.0 + np.array(bench_r)))
    rel = _replay(equity, bench_r, REL)
    assert all(not d.breaches for d in rel)
    assert max(abs(d.drawdown) for d in rel) < 1e-12
    assert all(d.active_scale == 1.0 and d.exposure_scale == 1.0 and not d.halted for d in rel)
    # The same book under the absolute basis halves, then sells everything.
    limits = {b.limit for d in _replay(equity, bench_r, ABS) for b in d.breaches}
    assert {"drawdown_halve", "drawdown_flatten"} <= limits


def test_stored_peak_gives_relative_wealths_drawdown_exactly() -> None:
    rng = np.random.default_rng(3)
    bench_r = np.concatenate([[0.0], rng.normal(0.0, 0.01, 60)])
    strat_r = np.concatenate([[0.0], bench_r[1:] + rng.normal(-0.002, 0.003, 60)])
    equity = list(1e5 * np.cumprod(1.0 + strat_r))
    rel_wealth = np.cumprod(1.0 + strat_r) / np.cumprod(1.0 + bench_r)
    expected = rel_wealth / np.maximum.accumulate(rel_wealth) - 1.0
    lim = KillSwitchLimits(
        dd_halve=0.9, dd_flatten=0.95, daily_loss=0.9, market_shock=0.07, flatten_cooldown=20, basis="benchmark"
    )
    got = [d.drawdown for d in _replay(equity, list(bench_r), lim)]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_lagging_the_benchmark_by_11pct_halves_the_tilts_only() -> None:
    # The benchmark rose 5% this session while the book fell 6.6%: 11% behind its peak.
    d = evaluate_killswitches(93.4, 100.0, KillSwitchState(100.0), 0.0, {}, REL, benchmark_return=0.05)
    assert d.drawdown == pytest.approx(93.4 / 105.0 - 1.0)
    assert [b.limit for b in d.breaches] == ["drawdown_halve", "daily_loss"]
    assert (d.active_scale, d.exposure_scale, d.flatten) == (0.5, 1.0, False)
    assert "active drawdown -11.0% vs the benchmark" in (d.reason or "") and "active tilts halved" in (d.reason or "")
    assert d.state == KillSwitchState(105.0)
    # Targets move halfway back to the benchmark weights; untilted names keep their weight.
    assert toward_benchmark([0.30, 0.10, 0.25], [0.20, 0.20, 0.25], d.active_scale) == pytest.approx([0.25, 0.15, 0.25])


def test_lagging_by_16pct_holds_the_benchmark_for_the_cooldown() -> None:
    d = evaluate_killswitches(88.0, 89.0, KillSwitchState(100.0), 0.0, {}, REL, benchmark_return=0.05)
    assert [b.limit for b in d.breaches] == ["drawdown_flatten"]
    assert (d.active_scale, d.flatten, d.halt_buys, d.exposure_scale) == (0.0, False, False, 1.0)
    assert d.halted and "back to the benchmark weights" in (d.reason or "") and "vs the benchmark" in (d.reason or "")
    assert d.state == KillSwitchState(105.0, 3)
    nxt = evaluate_killswitches(87.0, 88.0, d.state, 0.0, {}, REL, benchmark_return=-0.01)
    assert nxt.active_scale == 0.0 and not nxt.flatten and nxt.state == KillSwitchState(87.0, 2)
    assert "held at the benchmark" in (nxt.reason or "")
    assert toward_benchmark([0.30, 0.10], [0.20, 0.20], 0.0) == [0.20, 0.20]


def test_absolute_basis_ignores_the_benchmark_and_says_so() -> None:
    d = evaluate_killswitches(89.5, 90.0, KillSwitchState(100.0), 0.0, {}, ABS, benchmark_return=0.5)
    assert (d.exposure_scale, d.active_scale) == (0.5, 1.0)
    assert d.state == KillSwitchState(100.0)
    assert "absolute drawdown -10.5%" in (d.reason or "") and "exposure halved" in (d.reason or "")


def test_basis_comes_from_the_config_and_is_checked() -> None:
    assert KillSwitchLimits.from_config(load_config(env={})).basis == "benchmark"
    cfg = load_config(env={}, overrides={"risk.drawdown_basis": "absolute"})
    assert KillSwitchLimits.from_config(cfg).basis == "absolute"
    with pytest.raises(ConfigError, match=r"risk\.drawdown_basis"):
        load_config(env={}, overrides={"risk.drawdown_basis": "relative"})


def test_market_crash_against_the_benchmark_keeps_the_book_invested(tmp_path: Path) -> None:
    """The crash replay of test_killswitch_crash under the default basis: buys still halt
    on the crash days, but a book that holds its benchmark is neither halved nor sold."""
    bars = synthetic_bars(TICKERS, 130, seed=11, shocks={110: -0.08, 111: -0.05, 112: -0.12})
    dates = sorted(bars["date"].unique())
    store, events = _run(tmp_path, bars)
    limits = {e.limit for e in events if type(e).__name__ == "RiskLimitBreached"}
    assert "market_shock" in limits
    assert not limits & {"drawdown_halve", "drawdown_flatten", "cooldown"}
    sells = store.query_df("SELECT count(*) AS n FROM orders WHERE intent = 'flatten'")["n"][0]
    assert sells == 0
    held = store.query_df("SELECT count(*) AS n FROM positions WHERE as_of = ?", [dates[113]])["n"][0]
    assert held == len(TICKERS)
    store.close()
