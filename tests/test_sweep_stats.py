"""The sweep's statistics on fixed inputs: PBO by CSCV and the ledger-deflated Sharpe.

Expected values are worked out by hand (in the comments) or by a slow, obvious
re-implementation written here from the papers, not from `engine.sweep.stats`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from engine.store import Store
from engine.sweep.ledger import TrialRecord, group_trials, record_trial, returns_matrix
from engine.sweep.stats import block_count, deflated_best, pbo_cscv

# Three trials, two blocks of two sessions (S = 2), by hand:
#   per-block Sharpe (mean / sample std), block A then block B:
#   t0: A [.01, .03] → .02/.01414 = 1.414   B [-.01, .01] → 0
#   t1: A [.00, .02] → .01/.01414 = 0.707   B [.02, .04]  → .03/.01414 = 2.121
#   t2: A [-.01, .01] → 0                    B [.00, .02]  → 0.707
# IS = A: best t0; OOS (B) ranks t0 1st of 3 from the bottom → ω = 1/4, λ = ln(1/3) < 0.
# IS = B: best t1; OOS (A) ranks t1 2nd of 3 → ω = 2/4, λ = 0 (counted: λ ≤ 0).
# PBO = 2 / 2 = 1.
HAND = np.array([[0.01, 0.00, -0.01], [0.03, 0.02, 0.01], [-0.01, 0.02, 0.00], [0.01, 0.04, 0.02]])


def test_pbo_matches_the_hand_computation() -> None:
    result = pbo_cscv(HAND, blocks=2)
    assert result is not None
    assert result.blocks == 2 and result.combinations == 2 and result.trials == 3
    assert result.logits == pytest.approx((math.log(1 / 3), 0.0))
    assert result.pbo == 1.0


def test_pbo_drops_the_earliest_sessions_to_make_equal_blocks() -> None:
    # A fifth, earliest session that would crown t2 everywhere if it were used.
    padded = np.vstack([[0.0, 0.0, 9.0], HAND])
    result = pbo_cscv(padded, blocks=2)
    assert result is not None and result.sessions == 4
    assert result.logits == pytest.approx((math.log(1 / 3), 0.0))


def test_pbo_zero_for_a_dominant_trial_and_one_for_anti_persistence() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.0, 0.01, size=(40, 1))
    dominant = np.hstack([base, base + 0.005])  # same noise, higher mean: best in every half
    result = pbo_cscv(dominant, blocks=4)
    assert result is not None and result.pbo == 0.0
    assert result.logits == pytest.approx((math.log(2.0),) * 6)  # ω = 2/3 every time
    # Two trials that swap places between the halves: the IS winner is the OOS loser.
    a = np.concatenate([base[:20, 0] + 0.01, base[20:, 0] - 0.01])
    b = np.concatenate([base[:20, 0] - 0.01, base[20:, 0] + 0.01])
    swap = pbo_cscv(np.column_stack([a, b]), blocks=2)
    assert swap is not None and swap.pbo == 1.0


def _oracle_pbo(matrix: np.ndarray, s: int) -> tuple[float, list[float]]:
    """CSCV straight from Bailey et al. (2015), one loop per step, stdlib statistics."""
    t, n = matrix.shape
    size = t // s
    rows = matrix[t - size * s :]
    blocks = [rows[i * size : (i + 1) * size] for i in range(s)]

    def sharpe(cols: list[np.ndarray], j: int) -> float:
        values = [float(x) for block in cols for x in block[:, j]]
        return statistics.mean(values) / statistics.stdev(values)

    logits = []
    for chosen in itertools.combinations(range(s), s // 2):
        train = [blocks[i] for i in chosen]
        test = [blocks[i] for i in range(s) if i not in chosen]
        is_sr = [sharpe(train, j) for j in range(n)]
        oos_sr = [sharpe(test, j) for j in range(n)]
        best = is_sr.index(max(is_sr))
        rank = 1 + sum(1 for j in range(n) if oos_sr[j] < oos_sr[best])
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return sum(1 for x in logits if x <= 0) / len(logits), logits


def test_pbo_matches_a_slow_oracle_on_random_trials() -> None:
    matrix = np.random.default_rng(11).normal(0.0005, 0.01, size=(63, 7))
    result = pbo_cscv(matrix, blocks=6)
    expected, logits = _oracle_pbo(matrix, 6)
    assert result is not None and result.combinations == 20 and result.sessions == 60
    assert result.logits == pytest.approx(tuple(logits))
    assert result.pbo == pytest.approx(expected)


def test_block_count_keeps_two_sessions_per_block() -> None:
    assert block_count(11, 16) == 4
    assert block_count(500, 16) == 16
    assert block_count(3, 16) == 0
    assert pbo_cscv(np.zeros((3, 4)), 16) is None
    assert pbo_cscv(np.zeros((40, 1)), 16) is None


def _hand_dsr(returns: list[float], sharpes: list[float]) -> float:
    """DSR by the formulas of Bailey & López de Prado (2014), with the stdlib normal."""
    z = statistics.NormalDist()
    n, v, gamma = len(sharpes), statistics.variance(sharpes), 0.5772156649015329
    sr0 = math.sqrt(v) * ((1 - gamma) * z.inv_cdf(1 - 1 / n) + gamma * z.inv_cdf(1 - 1 / (n * math.e)))
    t = len(returns)
    mean = statistics.fmean(returns)
    sr = mean / statistics.stdev(returns)
    m2 = sum((x - mean) ** 2 for x in returns) / t
    skew = sum((x - mean) ** 3 for x in returns) / t / m2**1.5
    kurt = sum((x - mean) ** 4 for x in returns) / t / m2**2
    return z.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))


def _record(
    con,
    trial_id: str,
    config_hash: str,
    sr: float,
    returns: list[float],
    fingerprint: str = "file:abc",
    last: str = "2016-01-08",
) -> None:
    dates = [dt.date(2016, 1, 4 + d) for d in range(len(returns) + 1)]
    metrics = {
        "first_session": "2016-01-04",
        "last_session": last,
        "sessions": len(returns) + 1,
        "sharpe": sr * math.sqrt(252),
        "sharpe_period": sr,
    }
    equity = pa.table(
        {"as_of": pa.array(dates, pa.date32()), "equity": [1.0] * len(dates), "daily_return": [0.0, *returns]}
    )
    record_trial(
        con,
        TrialRecord(
            trial_id, "sweep", "local", config_hash, {"k": trial_id}, {}, fingerprint, "finished", 1.0, metrics
        ),
        equity,
    )


def test_deflated_sharpe_uses_the_ledger_group(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ledger.duckdb")
    best = [0.012, -0.004, 0.009, 0.015]
    _record(store.con, "t-old", "h1", 0.99, [0.0, 0.01, -0.01, 0.0])  # same config as t1, older: not counted
    _record(store.con, "t1", "h1", 0.10, [0.001, 0.002, -0.001, 0.0])
    _record(store.con, "t2", "h2", -0.05, [-0.002, 0.001, 0.0, -0.001])
    _record(store.con, "t3", "h3", 0.30, best)
    _record(store.con, "t-other-data", "h4", 2.0, best, fingerprint="file:zzz")
    _record(store.con, "t-other-period", "h5", 2.0, best[:3], last="2016-01-07")
    group = group_trials(store.con, "file:abc", "2016-01-04", "2016-01-08")
    assert sorted(group) == [("t1", 0.10), ("t2", -0.05), ("t3", 0.30)]
    result = deflated_best(best, [sr for _id, sr in group])
    assert result.n_trials == 3
    assert result.sharpe_variance == pytest.approx(statistics.variance([0.10, -0.05, 0.30]))
    assert result.deflated_sharpe == pytest.approx(_hand_dsr(best, [0.10, -0.05, 0.30]), rel=1e-9)
    ids, matrix = returns_matrix(store.con, ["t1", "t2", "t3"])
    assert ids == ["t1", "t2", "t3"] and matrix.shape == (4, 3)
    assert matrix[:, 2].tolist() == best
    store.close()


def test_a_single_trial_is_deflated_against_zero() -> None:
    # One trial: E[max SR] = 0, so the DSR is the PSR against a zero Sharpe.
    returns = [0.01, -0.02, 0.015, 0.005, 0.0]
    result = deflated_best(returns, [0.2])
    assert result.n_trials == 1 and result.expected_max_sharpe == 0.0 and result.sharpe_variance == 0.0
    t, mean = len(returns), statistics.fmean(returns)
    sr = mean / statistics.stdev(returns)
    m2 = sum((x - mean) ** 2 for x in returns) / t
    skew = sum((x - mean) ** 3 for x in returns) / t / m2**1.5
    kurt = sum((x - mean) ** 4 for x in returns) / t / m2**2
    expected = statistics.NormalDist().cdf(sr * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))
    assert result.deflated_sharpe == pytest.approx(expected, rel=1e-9)


def test_the_verdict_says_plainly_when_the_winner_is_luck() -> None:
    from engine.sweep.driver import _verdict

    best = {"deflated_sharpe": 0.97, "n_trials": 8, "sharpe": 1.2, "baseline": {"sharpe": 0.9}}
    assert _verdict(best, 0.2, 0.95, lucky=False).startswith(
        "The best trial survives deflation: deflated Sharpe ratio 0.97 ≥ 0.95 after 8 trials"
    )
    overfit = _verdict(best, 0.62, 0.95, lucky=True)
    assert overfit.startswith("Not distinguishable from luck: its deflated Sharpe ratio 0.97 passes, but PBO 0.62")
    weak = {"deflated_sharpe": 0.31, "n_trials": 5, "sharpe": -1.77, "baseline": {"sharpe": -1.53}}
    text = _verdict(weak, 0.0, 0.95, lucky=True)
    assert text.startswith(
        "Not distinguishable from luck: the best trial's deflated Sharpe ratio is 0.31 (needs ≥ 0.95) after 5 trials"
    )
    assert "PBO 0.00" in text and "does not beat equal-weight buy-and-hold (-1.53)" in text
