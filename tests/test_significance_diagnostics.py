"""Ljung–Box and Jarque–Bera wrappers: textbook formulas, plain floats, NaN handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine import significance
from engine.significance import StatResult, jarque_bera, ljung_box


def _ljung_box_reference(x: list[float], lags: int) -> tuple[float, float]:
    """Q = n(n+2) Σ ρ_k² / (n-k), ρ_k the sample autocorrelation, χ²(lags)."""
    n = len(x)
    mean = sum(x) / n
    denom = sum((v - mean) ** 2 for v in x)
    q = 0.0
    for k in range(1, lags + 1):
        rho = sum((x[t] - mean) * (x[t - k] - mean) for t in range(k, n)) / denom
        q += rho * rho / (n - k)
    q *= n * (n + 2)
    return q, float(stats.chi2.sf(q, lags))


def _jarque_bera_reference(x: list[float]) -> tuple[float, float]:
    """JB = n/6 (S² + (K-3)²/4) with the biased sample skewness S and kurtosis K, χ²(2)."""
    n = len(x)
    mean = sum(x) / n
    m2 = sum((v - mean) ** 2 for v in x) / n
    s = sum((v - mean) ** 3 for v in x) / n / m2**1.5
    k = sum((v - mean) ** 4 for v in x) / n / m2**2
    jb = n / 6 * (s * s + (k - 3) ** 2 / 4)
    return jb, math.exp(-jb / 2)  # the χ²(2) survival function


@pytest.mark.parametrize("lags", [1, 5, 10])
def test_ljung_box_matches_formula(lags: int) -> None:
    x = np.random.default_rng(lags).normal(0, 1, 200)
    res = ljung_box(x, lags)
    assert isinstance(res, StatResult)
    assert type(res.stat) is float and type(res.pvalue) is float
    q, p = _ljung_box_reference(list(x), lags)
    assert res.stat == pytest.approx(q, rel=1e-10)
    assert res.pvalue == pytest.approx(p, rel=1e-8)


def test_ljung_box_detects_autocorrelation_and_skips_nan() -> None:
    rng = np.random.default_rng(0)
    eps = rng.normal(0, 1, 400)
    ar = np.empty_like(eps)
    ar[0] = eps[0]
    for t in range(1, len(eps)):
        ar[t] = 0.5 * ar[t - 1] + eps[t]
    assert ljung_box(ar, 10).pvalue < 1e-6
    assert ljung_box(eps, 10).pvalue > 0.01
    holes = np.insert(eps, [5, 100], np.nan)
    assert ljung_box(holes, 10) == ljung_box(eps, 10)
    assert all(np.isnan(ljung_box(np.ones(50), 5)))
    assert all(np.isnan(ljung_box(eps[:5], 10)))


def test_jarque_bera_matches_formula() -> None:
    x = np.random.default_rng(3).standard_t(5, 300)
    res = jarque_bera(x)
    jb, p = _jarque_bera_reference(list(x))
    assert res.stat == pytest.approx(jb, rel=1e-10)
    assert res.pvalue == pytest.approx(p, rel=1e-8, abs=1e-300)
    assert type(res.stat) is float


def test_jarque_bera_tells_normal_from_fat_tails() -> None:
    rng = np.random.default_rng(5)
    assert jarque_bera(rng.normal(0, 1, 1000)).pvalue > 0.01
    assert jarque_bera(rng.standard_t(3, 1000)).pvalue < 1e-6
    x = rng.normal(0, 1, 100)
    assert jarque_bera(np.append(x, [np.nan, np.inf])) == jarque_bera(x)
    assert all(np.isnan(jarque_bera([1.0, 1.0, 1.0, 1.0])))


def test_significance_imports_no_statsmodels_at_module_level() -> None:
    import subprocess
    import sys

    code = (
        "import sys, engine.significance, engine.metrics, engine.forecast_metrics; "
        "print(any(m.startswith('statsmodels') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert significance.probabilistic_sharpe_ratio is not None
