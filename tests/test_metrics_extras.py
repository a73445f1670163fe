"""What empyrical lacks: profit factor, hit rate, PSR, DSR and the bootstrap Sharpe interval.

Checked against published numbers (Bailey & López de Prado's DSR example),
closed forms, slow obvious loops, and Monte-Carlo calibration.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine import metrics, sharpe_stats
from engine.sharpe_stats import expected_max_sharpe, psr_from_moments

# --- profit factor and hit rate -----------------------------------------------------------


def _profit_factor_loop(returns: list[float]) -> float:
    gains = losses = 0.0
    for r in returns:
        if r != r:  # NaN
            continue
        if r > 0:
            gains += r
        elif r < 0:
            losses -= r
    if losses > 0:
        return gains / losses
    return math.inf if gains > 0 else math.nan


@pytest.mark.parametrize(
    "returns, expected",
    [
        ([0.02, -0.01, 0.03, -0.04], 1.0),  # totals 0.05 / 0.05, not averages
        ([0.10, -0.01, -0.01, -0.01], 0.10 / 0.03),  # mean win / mean loss would give 10
        ([0.01, np.nan, -0.02], 0.5),
        ([0.01, 0.0, 0.02], math.inf),
        ([0.0, 0.0], math.nan),
        ([], math.nan),
        ([-0.01, -0.02], 0.0),
    ],
)
def test_profit_factor_known_values(returns: list[float], expected: float) -> None:
    np.testing.assert_allclose(sharpe_stats.profit_factor(np.array(returns, dtype=float)), expected, rtol=1e-12)


def test_profit_factor_matches_loop_on_random_series() -> None:
    rng = np.random.default_rng(11)
    for _ in range(50):
        r = rng.normal(0.0003, 0.01, rng.integers(1, 200))
        r[rng.random(r.size) < 0.1] = np.nan
        np.testing.assert_allclose(sharpe_stats.profit_factor(pd.Series(r)), _profit_factor_loop(list(r)), rtol=1e-12)


def test_hit_rate() -> None:
    assert sharpe_stats.hit_rate([0.01, -0.02, 0.0, 0.03, np.nan]) == pytest.approx(2 / 4)
    assert sharpe_stats.hit_rate([0.01, 0.02, 0.005], threshold=0.008) == pytest.approx(2 / 3)
    assert np.isnan(sharpe_stats.hit_rate([np.nan]))
    rng = np.random.default_rng(2)
    r = rng.normal(0, 1, 500)
    assert sharpe_stats.hit_rate(r) == pytest.approx(sum(1 for x in r if x > 0) / 500)


# --- probabilistic and deflated Sharpe ---------------------------------------------------


def test_dsr_matches_bailey_lopez_de_prado_numerical_example() -> None:
    """The Deflated Sharpe Ratio (2014), §4: SR 2.5 annual over 1250 days, skew -3,
    kurtosis 10, 100 trials with annualised Sharpe variance 0.5: SR0 ≈ 0.1132 per day
    and DSR ≈ 0.9004."""
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert psr_from_moments(2.5 / math.sqrt(250), 1250, -3.0, 10.0, sr0) == pytest.approx(0.9004, abs=5e-5)


def _psr_reference(r: np.ndarray, sr_star: float) -> float:
    """PSR written out with scipy's sample moments (biased skew, non-excess kurtosis)."""
    sr = statistics.mean(r) / statistics.stdev(r)
    g3 = stats.skew(r, bias=True)
    g4 = stats.kurtosis(r, fisher=False, bias=True)
    z = (sr - sr_star) * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    return float(stats.norm.cdf(z))


@pytest.mark.parametrize("seed", range(5))
def test_psr_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = 0.01 * rng.standard_t(4, 300) + 0.0008
    for sr_star in (0.0, 0.02, -0.03):
        assert sharpe_stats.probabilistic_sharpe_ratio(r, sr_star) == pytest.approx(
            _psr_reference(r, sr_star), rel=1e-10
        )


def test_psr_normal_closed_form_and_nan_handling() -> None:
    sr, n = 0.1, 500
    expected = stats.norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(1 + sr**2 / 2))
    assert psr_from_moments(sr, n, 0.0, 3.0) == pytest.approx(expected, rel=1e-12)
    r = np.random.default_rng(1).normal(0.001, 0.01, 200)
    with_nan = np.insert(r, [3, 50, 120], np.nan)
    assert sharpe_stats.probabilistic_sharpe_ratio(with_nan) == sharpe_stats.probabilistic_sharpe_ratio(r)
    assert np.isnan(sharpe_stats.probabilistic_sharpe_ratio([0.01, 0.01, 0.01]))
    assert np.isnan(sharpe_stats.probabilistic_sharpe_ratio([0.01, np.nan]))
    # a risk-free rate is the same as shifting the returns
    assert sharpe_stats.probabilistic_sharpe_ratio(r, risk_free=0.0005) == pytest.approx(
        sharpe_stats.probabilistic_sharpe_ratio(r - 0.0005), rel=1e-12
    )


def test_psr_is_calibrated_under_the_null() -> None:
    """With zero true Sharpe, P(PSR > 0.95) ≈ 5%: PSR is a p-value in disguise."""
    rng = np.random.default_rng(123)
    psr = np.array([sharpe_stats.probabilistic_sharpe_ratio(rng.normal(0, 0.01, 250)) for _ in range(1500)])
    assert 0.03 < np.mean(psr > 0.95) < 0.07
    assert 0.45 < np.mean(psr > 0.5) < 0.55


def test_dsr_deflates_with_more_trials() -> None:
    r = np.random.default_rng(9).normal(0.001, 0.01, 750)
    psr = sharpe_stats.probabilistic_sharpe_ratio(r)
    dsr = [sharpe_stats.deflated_sharpe_ratio(r, n, 0.002) for n in (1, 10, 100, 1000)]
    assert dsr[0] == pytest.approx(psr)
    assert dsr[0] > dsr[1] > dsr[2] > dsr[3]
    assert expected_max_sharpe(10, 0.0) == 0.0
    with pytest.raises(ValueError):
        expected_max_sharpe(0, 0.1)


# --- bootstrap interval -----------------------------------------------------------------


def _bootstrap_reference(r: np.ndarray, n_boot: int, alpha: float, seed: int, block: int) -> tuple[float, float]:
    """A slow loop over replications, drawing the same indices as the fast version."""
    rng = np.random.default_rng(seed)
    n = len(r)
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    sharpes = []
    for row in starts:
        sample = [r[s + j] for s in row for j in range(block)][:n]
        sharpes.append(statistics.mean(sample) / statistics.stdev(sample) * math.sqrt(252))
    low, high = np.percentile(sharpes, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


@pytest.mark.parametrize("block", [1, 5])
def test_bootstrap_ci_matches_slow_loop(block: int) -> None:
    r = np.random.default_rng(4).normal(0.0005, 0.01, 120)
    fast = sharpe_stats.sharpe_bootstrap_ci(r, n_boot=300, alpha=0.1, rng=77, block=block)
    slow = _bootstrap_reference(r, 300, 0.1, 77, block)
    np.testing.assert_allclose(fast, slow, rtol=1e-9)
    assert fast[0] < metrics.sharpe_ratio(r) < fast[1]


def test_bootstrap_ci_is_reproducible_and_seeded() -> None:
    r = pd.Series(np.random.default_rng(5).normal(0.0005, 0.01, 250))
    a = sharpe_stats.sharpe_bootstrap_ci(r, n_boot=500, rng=1)
    assert a == sharpe_stats.sharpe_bootstrap_ci(r, n_boot=500, rng=np.random.default_rng(1))
    assert a != sharpe_stats.sharpe_bootstrap_ci(r, n_boot=500, rng=2)
    wide = sharpe_stats.sharpe_bootstrap_ci(r, n_boot=500, rng=1, alpha=0.01)
    assert wide[0] < a[0] and wide[1] > a[1]
    r.iloc[[3, 7]] = np.nan
    assert all(np.isfinite(sharpe_stats.sharpe_bootstrap_ci(r, n_boot=100)))
    assert all(np.isnan(sharpe_stats.sharpe_bootstrap_ci([0.01], n_boot=100)))
    with pytest.raises(ValueError):
        sharpe_stats.sharpe_bootstrap_ci(r, alpha=1.5)


def test_bootstrap_ci_covers_the_true_sharpe() -> None:
    """95% intervals on i.i.d. normal returns contain the true Sharpe about 95% of the time."""
    rng = np.random.default_rng(2026)
    mu, sigma, n = 0.001, 0.01, 250
    true_sr = mu / sigma * math.sqrt(252)
    hits = 0
    reps = 200
    for _ in range(reps):
        lo, hi = sharpe_stats.sharpe_bootstrap_ci(rng.normal(mu, sigma, n), n_boot=400, rng=rng)
        hits += lo <= true_sr <= hi
    assert 0.88 <= hits / reps <= 0.99


def test_bootstrap_ci_on_tiny_samples_follows_the_sharpe_convention() -> None:
    """Constant resamples have an infinite Sharpe (empyrical's convention), not NaN bounds."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = sharpe_stats.sharpe_bootstrap_ci([0.01, -0.02, 0.03, 0.0, 0.01], n_boot=50, rng=0)
        assert np.isfinite(low) and high == np.inf
        assert sharpe_stats.sharpe_bootstrap_ci([0.01, 0.01, 0.01], n_boot=20) == (np.inf, np.inf)
