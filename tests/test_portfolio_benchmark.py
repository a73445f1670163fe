"""Benchmark-first portfolio: drifting equal-weight buy-and-hold, cost-aware bands, the
turnover budget, and the benchmark-relative report checked against hand computation."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.portfolio.benchmark import drift_weights
from engine.portfolio.report import ANNUAL, SURVIVORSHIP, benchmark_report
from engine.portfolio.sizing import RebalanceLeg, fit_turnover_budget, rebalance_legs
from engine.store import Store, append
from tui.headless import benchmark_lines

# --- the benchmark kernel -------------------------------------------------------------


def test_equal_weight_benchmark_drifts_like_buy_and_hold_and_resets_on_a_new_universe() -> None:
    uni = ["A", "B"]
    first = drift_weights(uni, {"A": 10.0, "B": 20.0}, "equal_weight")
    np.testing.assert_allclose(first, [0.5, 0.5])
    # A doubles, B is flat: buy-and-hold holds 2/3 in A (never rebalanced back to 1/2).
    w = drift_weights(uni, {"A": 20.0, "B": 20.0}, "equal_weight", dict(zip(uni, first)), {"A": 10.0, "B": 20.0})
    np.testing.assert_allclose(w, [2 / 3, 1 / 3])
    w2 = drift_weights(uni, {"A": 20.0, "B": 10.0}, "equal_weight", dict(zip(uni, w)), {"A": 20.0, "B": 20.0})
    np.testing.assert_allclose(w2, [0.8, 0.2])  # value 2 x 1 vs 0.5: the weights of a held book
    grown = drift_weights(
        ["A", "B", "C"], {"A": 20.0, "B": 10.0, "C": 5.0}, "equal_weight", dict(zip(uni, w2)), {"A": 20.0, "B": 10.0}
    )
    np.testing.assert_allclose(grown, [1 / 3] * 3)  # the universe changed: reset to equal
    assert not drift_weights(uni, {"A": 1.0, "B": 1.0}, "cash").any()


# --- bands, the cost-aware rule and the turnover budget --------------------------------


def test_a_leg_opening_a_deviation_must_earn_its_round_trip() -> None:
    px, equity = np.full(3, 100.0), 100_000.0
    base = np.array([0.30, 0.30, 0.30])
    cur = np.array([300, 300, 300])
    tgt = np.array([350, 300, 305])  # +5% on name 0 (a tilt), +0.5% on name 2 (inside the band)
    legs = rebalance_legs(
        cur,
        tgt,
        px,
        equity,
        np.array([0.0035, 0.0, 0.0]),
        drift_threshold=0.01,
        cost_bps=20.0,
        tracking_value_bps=50.0,
        drift_relative=0.25,
        base_weights=base,
    )
    assert legs == []  # edge 35 bp < round trip 40 bp; name 2 inside the band
    legs = rebalance_legs(
        cur,
        tgt,
        px,
        equity,
        np.array([0.0045, 0.0, 0.0]),
        drift_threshold=0.01,
        cost_bps=20.0,
        tracking_value_bps=50.0,
        drift_relative=0.25,
        base_weights=base,
    )
    assert [(leg.index, leg.qty) for leg in legs] == [(0, 50)] and legs[0].cost == pytest.approx(20.0)
    # Back toward the base: tracking value (50 bp) pays for one way (20 bp) with no edge at all.
    back = rebalance_legs(
        np.array([350, 300, 300]),
        np.array([300, 300, 300]),
        px,
        equity,
        np.zeros(3),
        drift_threshold=0.01,
        cost_bps=20.0,
        tracking_value_bps=50.0,
        base_weights=base,
    )
    assert [(leg.index, leg.qty) for leg in back] == [(0, -50)] and back[0].cost == pytest.approx(10.0)


def test_turnover_budget_keeps_the_best_legs_and_cuts_the_first_that_does_not_fit() -> None:
    px = np.array([100.0, 100.0, 100.0, 50.0])
    legs = [
        RebalanceLeg(0, 100, 0.1, benefit=50.0, cost=20.0, reason="a"),  # 30 / $10,000: 3 bp
        RebalanceLeg(1, -100, -0.1, benefit=90.0, cost=20.0, reason="b"),  # 70 / $10,000: 7 bp
        RebalanceLeg(2, 40, 0.04, benefit=30.0, cost=8.0, reason="c"),  # 22 / $4,000: 5.5 bp
        RebalanceLeg(3, -300, -0.15, benefit=0.0, cost=30.0, reason="exit"),
    ]
    kept = fit_turnover_budget(legs, px, budget_left=6_000.0, exempt=np.array([False, False, False, True]))
    got = {leg.index: leg.qty for leg in kept}
    # b first: 5,000 one-way; then c: 2,000 does not fit in the 1,000 left -> 20 shares; a waits.
    assert got == {1: -100, 2: 20, 3: -300}
    assert "turnover budget" in next(leg.reason for leg in kept if leg.index == 2)
    one_way = sum(0.5 * abs(leg.qty) * px[leg.index] for leg in kept if leg.index != 3)
    assert one_way <= 6_000.0


# --- the report against a hand computation ---------------------------------------------

DAYS = [d.date() for d in pd.bdate_range("2016-01-04", periods=26)]


def _seeded_store(tmp_path: Path) -> tuple[Store, dict[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    closes = {
        "AAA": 50 * np.cumprod(1 + rng.normal(0.001, 0.01, len(DAYS))),
        "BBB": 80 * np.cumprod(1 + rng.normal(0.0, 0.015, len(DAYS))),
    }
    store = Store.open(tmp_path / "r.duckdb")
    append(
        store.con,
        "bars",
        pd.DataFrame(
            [
                {"ticker": t, "date": d, "open": c, "high": c, "low": c, "close": c, "volume": 1000, "source": "sample"}
                for t, cs in closes.items()
                for d, c in zip(DAYS, cs)
            ]
        ),
    )
    equity = 1e6 * np.cumprod(1 + np.r_[0.0, rng.normal(0.0005, 0.008, len(DAYS) - 1)])
    append(
        store.con,
        "equity",
        pd.DataFrame(
            {
                "account": "paper",
                "as_of": DAYS,
                "cash": 0.0,
                "equity": equity,
                "gross": 1.0,
                "net": 1.0,
                "drawdown": 0.0,
                "daily_return": 0.0,
            }
        ),
    )
    # Weights held from each close: benchmark 50/50, core = benchmark, base 0.98 x core, tilt +0.05 on AAA.
    sig = [
        {
            "account": "paper",
            "as_of": d,
            "ticker": t,
            "core_weight": 0.5,
            "base_weight": 0.49,
            "target_weight": 0.49 + (0.05 if t == "AAA" else 0.0),
            "tilt": 0.05 if t == "AAA" else 0.0,
        }
        for d in DAYS
        for t in closes
    ]
    append(store.con, "signals", pd.DataFrame(sig))
    append(
        store.con,
        "benchmark_weights",
        pd.DataFrame([{"account": "paper", "as_of": d, "ticker": t, "weight": 0.5} for d in DAYS for t in closes]),
    )
    append(
        store.con,
        "orders",
        pd.DataFrame(
            [
                {
                    "order_id": "o1",
                    "account": "paper",
                    "as_of": DAYS[0],
                    "ticker": "AAA",
                    "side": "BUY",
                    "qty": 100,
                    "intent": "fund",
                    "status": "filled",
                },
                {
                    "order_id": "o2",
                    "account": "paper",
                    "as_of": DAYS[9],
                    "ticker": "BBB",
                    "side": "SELL",
                    "qty": 40,
                    "intent": "rebalance",
                    "status": "filled",
                },
            ]
        ),
    )
    append(
        store.con,
        "fills",
        pd.DataFrame(
            [
                {
                    "fill_id": "f1",
                    "order_id": "o1",
                    "account": "paper",
                    "date": DAYS[1],
                    "ticker": "AAA",
                    "side": "BUY",
                    "qty": 100,
                    "price": 50.0,
                    "commission": 5.0,
                    "slippage": 5.0,
                },
                {
                    "fill_id": "f2",
                    "order_id": "o2",
                    "account": "paper",
                    "date": DAYS[10],
                    "ticker": "BBB",
                    "side": "SELL",
                    "qty": 40,
                    "price": 80.0,
                    "commission": 3.2,
                    "slippage": 3.2,
                },
            ]
        ),
    )
    return store, {**closes, "equity": equity}


def test_report_figures_match_a_hand_computation(tmp_path: Path) -> None:
    store, d = _seeded_store(tmp_path)
    rep = benchmark_report(store.con, "paper")
    a, b, eq = d["AAA"], d["BBB"], d["equity"]
    ra, rb = a[1:] / a[:-1] - 1, b[1:] / b[:-1] - 1
    bench_value = (a / a[0] + b / b[0]) / 2
    r_b = bench_value[1:] / bench_value[:-1] - 1
    r_s = eq[1:] / eq[:-1] - 1
    active = r_s - r_b
    n = len(active)
    assert rep["returns"] == n == 25 and rep["sessions"] == 26 and rep["withheld"] is None
    assert rep["strategy_total_return"] == pytest.approx(eq[-1] / eq[0] - 1, abs=1e-6)
    assert rep["benchmark_total_return"] == pytest.approx(bench_value[-1] - 1, abs=1e-6)
    assert rep["active_return"] == pytest.approx(active.mean() * 252, abs=1e-6)
    te = active.std(ddof=1) * math.sqrt(252)
    assert rep["tracking_error"] == pytest.approx(te, abs=1e-6)
    assert rep["information_ratio"] == pytest.approx(active.mean() * 252 / te, abs=1e-5)
    assert rep["ir_tstat"] == pytest.approx(active.mean() / active.std(ddof=1) * math.sqrt(n), abs=1e-3)
    # Attribution: base = a fixed 50/50 core against drifting buy-and-hold; overlay = (0.49 - 0.5)
    # on both names; tilts = +0.05 on AAA.
    att = rep["attribution"]
    assert att["base"] == pytest.approx((0.5 * ra + 0.5 * rb - r_b).sum() * ANNUAL / n, abs=1e-6)
    assert att["overlays"] == pytest.approx(((-0.01 * ra - 0.01 * rb).sum()) * ANNUAL / n, abs=1e-6)
    assert att["tilts"] == pytest.approx((0.05 * ra).sum() * ANNUAL / n, abs=1e-6)
    assert att["caps"] == pytest.approx(0.0, abs=1e-9)  # target = base + tilt: no cap bound
    costs = np.zeros(n)
    costs[0], costs[9] = 10.0 / eq[0], 6.4 / eq[9]  # fills on DAYS[1] and DAYS[10], over the prior equity
    assert att["costs"] == pytest.approx(-costs.sum() * ANNUAL / n, abs=1e-6)
    assert sum(att.values()) == pytest.approx(rep["active_return"], abs=1e-5)  # parts add up exactly
    assert rep["costs_paid"] == pytest.approx(16.4)
    assert rep["turnover"] == pytest.approx(0.5 * (5000 + 3200) / eq.mean() * ANNUAL / n, abs=1e-4)
    assert rep["turnover_ex_funding"] == pytest.approx(0.5 * 3200 / eq.mean() * ANNUAL / n, abs=1e-4)
    assert rep["cost_drag"] == pytest.approx(16.4 / eq.mean() * ANNUAL / n, abs=1e-4)
    assert 0.0 <= rep["psr_vs_benchmark"] <= 1.0
    assert rep["data_note"] == SURVIVORSHIP
    net_positive = att["tilts"] + att["costs"] > 0
    assert "validated tilts (on 26 sessions)" in rep["verdict"]
    assert ("did NOT beat the benchmark after costs" in rep["verdict"]) is not net_positive
    store.close()


def test_report_withholds_ratios_on_a_short_window_and_describes_only_that_window(tmp_path: Path) -> None:
    store, d = _seeded_store(tmp_path)
    rep = benchmark_report(store.con, "paper", first=DAYS[20], last=DAYS[24])
    assert rep["first_session"] == DAYS[20].isoformat() and rep["sessions"] == 5 and rep["returns"] == 5
    assert "need at least 20" in rep["withheld"] and "information_ratio" not in rep
    eq = d["equity"]  # anchored on the session before the window
    assert rep["strategy_total_return"] == pytest.approx(eq[24] / eq[19] - 1, abs=1e-6)
    store.close()


def test_human_summary_shows_the_benchmark_beside_the_strategy(tmp_path: Path) -> None:
    store, _ = _seeded_store(tmp_path)
    lines = benchmark_lines(benchmark_report(store.con, "paper"))
    text = "\n".join(lines)
    assert lines[0].startswith("strategy ") and " vs equal-weight buy-and-hold " in lines[0]
    for needle in (
        "active ",
        "tracking error",
        "IR ",
        "PSR vs the benchmark",
        "tilts ",
        "costs ",
        "turnover ",
        "costs paid $16.40",
        "overlays on: none",
        "Survivorship bias",
    ):
        assert needle in text, needle
    assert any(line.startswith("The strategy ") for line in lines)  # the plain verdict
    store.close()


def test_cash_benchmark_measures_against_zero(tmp_path: Path) -> None:
    store, d = _seeded_store(tmp_path)
    rep = benchmark_report(store.con, "paper", benchmark="cash")
    eq = d["equity"]
    assert rep["benchmark"] == "cash" and rep["benchmark_total_return"] == 0.0
    assert rep["active_return"] == pytest.approx((eq[1:] / eq[:-1] - 1).mean() * 252, abs=1e-6)
    store.close()


def test_days_are_sessions() -> None:
    assert DAYS[0] == dt.date(2016, 1, 4) and len(set(DAYS)) == 26


def test_unknown_benchmark_or_overlay_is_a_config_error() -> None:
    import engine.portfolio.settings  # noqa: F401 - registers the checks
    from engine.config import load_config
    from engine.errors import ConfigError

    for key, value in (
        ("portfolio.benchmark", "spy"),
        ("portfolio.overlays", ["momentum"]),
        ("portfolio.turnover_budget", -1.0),
    ):
        with pytest.raises(ConfigError, match=key):
            load_config(env={}, overrides={key: value})
