"""Diebold–Mariano test: hand-worked examples, slow loop references (EWC and truncated/HLN),
size in the tail Benjamini–Hochberg uses, and power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.errors import UsageError
from engine.significance import (
    Alternative,
    DMResult,
    benjamini_hochberg,
    diebold_mariano,
    ewc_bandwidth,
    ewc_long_run_variance,
    long_run_variance,
)


def _dm_reference(
    e1: list[float], e2: list[float], h: int, loss: str, hln: bool, alternative: str
) -> tuple[float, float, int]:
    """Diebold & Mariano (1995) with Harvey, Leybourne & Newbold (1997), written as loops."""
    d = []
    for a, b in zip(e1, e2):
        if math.isnan(a) or math.isnan(b):
            continue
        d.append((a * a - b * b) if loss == "se" else (abs(a) - abs(b)))
    n = len(d)
    mean = sum(d) / n
    gammas = []
    for k in range(h):
        total = 0.0
        for t in range(k, n):
            total += (d[t] - mean) * (d[t - k] - mean)
        gammas.append(total / n)
    lrv = gammas[0] + 2 * sum(gammas[1:])
    if lrv <= 0:
        return math.nan, math.nan, n
    stat = mean / math.sqrt(lrv / n)
    if hln:
        stat *= math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    dist = stats.t(n - 1) if hln else stats.norm()
    p = {"less": dist.cdf(stat), "greater": dist.sf(stat), "two-sided": 2 * dist.sf(abs(stat))}[alternative]
    return stat, float(p), n


def test_hand_worked_example() -> None:
    """|e_model| = 0, |e_baseline| = 1..5, absolute loss: d = -1..-5, mean -3, γ0 = 2,
    DM = -3 / sqrt(2/5); HLN scales by sqrt((5+1-2)/5) → -3/sqrt(0.5) = -3·sqrt(2)."""
    res = diebold_mariano(
        [0.0] * 5, [1.0, -2.0, 3.0, -4.0, 5.0], h=1, loss="ae", alternative="less", variance="truncated"
    )
    assert isinstance(res, DMResult)
    assert res.n == 5
    assert res.stat == pytest.approx(-3 * math.sqrt(2), rel=1e-12)
    assert res.pvalue == pytest.approx(stats.t(4).cdf(-3 * math.sqrt(2)), rel=1e-12)
    assert res.pvalue == pytest.approx(0.00662, abs=5e-5)  # t(4) table value
    plain = diebold_mariano(
        [0.0] * 5, [1.0, -2.0, 3.0, -4.0, 5.0], loss="ae", harvey_correction=False, variance="truncated"
    )
    assert plain.stat == pytest.approx(-3 / math.sqrt(0.4), rel=1e-12)
    assert plain.pvalue == pytest.approx(2 * stats.norm.sf(3 / math.sqrt(0.4)), rel=1e-12)


@pytest.mark.parametrize("h", [1, 2, 5, 21])
@pytest.mark.parametrize("loss", ["se", "ae"])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize("hln", [True, False])
def test_matches_slow_loop(h: int, loss: str, alternative: Alternative, hln: bool) -> None:
    rng = np.random.default_rng(h * 7 + len(loss))
    n = 160
    shocks = rng.normal(0, 1, (n + h, 2))
    # overlapping h-step errors: MA(h-1) of the shocks
    e1 = np.array([shocks[t : t + h, 0].sum() for t in range(n)]) * 0.9
    e2 = np.array([shocks[t : t + h, 1].sum() for t in range(n)])
    e1[[4, 40]] = np.nan
    e2[77] = np.nan
    got = diebold_mariano(e1, e2, h=h, loss=loss, harvey_correction=hln, alternative=alternative, variance="truncated")
    stat, p, count = _dm_reference(list(e1), list(e2), h, loss, hln, alternative)
    assert got.n == count == n - 3
    assert math.isfinite(stat)
    assert got.stat == pytest.approx(stat, rel=1e-10)
    assert got.pvalue == pytest.approx(p, rel=1e-9, abs=1e-15)


def test_ewc_matches_a_slow_loop_and_t_with_b_degrees_of_freedom() -> None:
    rng = np.random.default_rng(11)
    e1, e2 = rng.normal(0, 0.9, 64), rng.normal(0, 1.0, 64)
    d = [a * a - b * b for a, b in zip(e1, e2)]
    n, B = 64, 6  # floor(0.4 * 64^(2/3)) = 6
    lam = [
        math.sqrt(2 / n) * sum(math.cos(math.pi * j * (t + 0.5) / n) * d[t] for t in range(n)) for j in range(1, B + 1)
    ]
    stat = (sum(d) / n) / math.sqrt(sum(x * x for x in lam) / B / n)
    got = diebold_mariano(e1, e2, h=5, alternative="less")
    assert ewc_bandwidth(64) == 6 and ewc_bandwidth(10) == 2 and ewc_bandwidth(125) == 10
    assert got.stat == pytest.approx(stat, rel=1e-10)
    assert got.pvalue == pytest.approx(stats.t(B).cdf(stat), rel=1e-10)
    assert ewc_long_run_variance(np.full(10, 3.0), 2) == pytest.approx(0.0, abs=1e-20)  # the mean drops out


def test_ewc_size_holds_in_the_tail_benjamini_hochberg_uses() -> None:
    """Null draws of overlapping 5-step squared-error differentials, n = 30 (the gate's
    minimum): at 0.5% (= 10% / 20 tickers) the default test rejects about 0.5%, where the
    HLN test rejects about 2% — the reason EWC is the default."""
    rng = np.random.default_rng(2024)
    reps, n, h = 4000, 30, 5
    ewc = hln = 0
    for _ in range(reps):
        e1 = np.convolve(rng.normal(0, 1, n + h - 1), np.ones(h), "valid")
        e2 = np.convolve(rng.normal(0, 1, n + h - 1), np.ones(h), "valid")
        ewc += diebold_mariano(e1, e2, h=h, alternative="less").pvalue < 0.005
        p = diebold_mariano(e1, e2, h=h, alternative="less", variance="truncated").pvalue
        hln += bool(np.isfinite(p) and p < 0.005)
    se = math.sqrt(0.005 * 0.995 / reps)
    assert ewc / reps <= 0.005 + 2.5 * se
    assert hln / reps > ewc / reps


def test_symmetry_and_one_sided_complement() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 100), rng.normal(0, 1.2, 100)
    ab, ba = diebold_mariano(a, b), diebold_mariano(b, a)
    assert ab.stat == pytest.approx(-ba.stat)
    assert ab.pvalue == pytest.approx(ba.pvalue)
    less = diebold_mariano(a, b, alternative="less").pvalue
    greater = diebold_mariano(a, b, alternative="greater").pvalue
    assert less + greater == pytest.approx(1.0)
    assert ab.pvalue == pytest.approx(2 * min(less, greater))


def test_identical_and_degenerate_inputs() -> None:
    e = np.random.default_rng(1).normal(0, 1, 50)
    same = diebold_mariano(e, e)
    assert (same.stat, same.pvalue, same.n) == (0.0, 1.0, 50)
    short = diebold_mariano([1.0, np.nan], [2.0, 3.0])
    assert short.n == 1 and np.isnan(short.stat) and np.isnan(short.pvalue)
    better_everywhere = diebold_mariano(np.full(30, 0.5), np.full(30, 1.0), alternative="less")
    assert better_everywhere.stat == -np.inf and better_everywhere.pvalue == 0.0


@pytest.mark.parametrize("kwargs", [{"loss": "mape"}, {"h": 0}, {"alternative": "smaller"}])
def test_bad_arguments_are_usage_errors(kwargs: dict) -> None:
    with pytest.raises(UsageError):
        diebold_mariano(np.ones(10), np.arange(10.0), **kwargs)
    with pytest.raises(UsageError):
        diebold_mariano(np.ones(10), np.ones(9))


def test_a_negative_long_run_variance_is_not_enough_data_not_gamma0() -> None:
    d = np.array([1.0, -1.0] * 10)  # lag-1 autocovariance ≈ -γ0: the truncated sum goes negative
    assert np.isnan(long_run_variance(d, 1))
    assert long_run_variance(d, 0) == pytest.approx(float(np.mean(d**2)))
    res = diebold_mariano(np.abs(d) + (d > 0), np.abs(d), h=2, loss="ae", alternative="less", variance="truncated")
    assert np.isnan(res.stat) and np.isnan(res.pvalue) and "not enough data" in res.undefined


def test_benjamini_hochberg_matches_statsmodels_and_skips_nan() -> None:
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, 0.9, 0.041])
    want = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(p), want, rtol=1e-12)
    q = benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(q[1]) and q[0] == pytest.approx(0.02) and q[2] == pytest.approx(0.02)
    assert np.isnan(benjamini_hochberg([np.nan])).all()


@pytest.mark.parametrize("h", [1, 5])
def test_size_under_equal_accuracy(h: int) -> None:
    """Two equally good forecasters: the 5% test rejects about 5% of the time."""
    rng = np.random.default_rng(42 + h)
    reps, n = 600, 120
    rejections = 0
    for _ in range(reps):
        shocks = rng.normal(0, 1, (n + h, 2))
        kernel = np.ones(h)
        e1 = np.convolve(shocks[:, 0], kernel, "valid")[:n]
        e2 = np.convolve(shocks[:, 1], kernel, "valid")[:n]
        rejections += diebold_mariano(e1, e2, h=h).pvalue < 0.05
    assert 0.02 <= rejections / reps <= 0.10


def test_power_when_the_model_is_better() -> None:
    rng = np.random.default_rng(7)
    reps, wins = 200, 0
    for _ in range(reps):
        wins += diebold_mariano(rng.normal(0, 0.8, 250), rng.normal(0, 1.0, 250), alternative="less").pvalue < 0.05
    assert wins / reps > 0.8
