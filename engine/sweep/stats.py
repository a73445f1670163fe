"""How much to believe a sweep's winner: the deflated Sharpe ratio and the PBO.

* `deflated_best` — the deflated Sharpe ratio (Bailey & López de Prado 2014) of
  the best trial, with the number of trials and the variance of their per-session
  Sharpe ratios taken from the ledger (`engine.sharpe_stats` does the statistics).
* `pbo_cscv` — the probability of backtest overfitting by combinatorially
  symmetric cross-validation (Bailey, Borwein, López de Prado & Zhu 2015): cut the
  T×N matrix of the trials' returns into S equal blocks of sessions; for every
  half of the blocks, pick the trial with the best in-sample Sharpe and find its
  relative rank ω among all trials on the other half; PBO is the share of splits
  where the logit λ = ln(ω / (1 - ω)) is ≤ 0 (the in-sample winner lands at or
  below the out-of-sample median).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.sharpe_stats import deflated_sharpe_ratio, expected_max_sharpe


@dataclass(frozen=True)
class PBOResult:
    """The PBO and what it was computed from."""

    pbo: float
    blocks: int
    combinations: int
    sessions: int
    trials: int
    logits: tuple[float, ...]


def block_count(sessions: int, wanted: int) -> int:
    """The largest even S ≤ `wanted` that leaves each block at least two sessions (0 if none)."""
    s = min(wanted, sessions // 2)
    s -= s % 2
    return s if s >= 2 else 0


def _sharpe_from_sums(total: np.ndarray, total_sq: np.ndarray, n: int) -> np.ndarray:
    """Per-column mean / sample std from sums over n rows; a constant column scores 0 or ±inf."""
    mean = total / n
    var = np.maximum(total_sq - n * mean * mean, 0.0) / (n - 1)
    std = np.sqrt(var)
    flat = std <= 1e-12 * np.maximum(np.abs(mean), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(flat, np.sign(mean) * np.inf, mean / np.where(flat, 1.0, std))
    return np.nan_to_num(out, nan=0.0, posinf=np.inf, neginf=-np.inf)


def pbo_cscv(returns: np.ndarray, blocks: int = 16) -> PBOResult | None:
    """PBO of choosing the best-Sharpe column of `returns` (sessions × trials).

    The earliest T mod S sessions are dropped so the S blocks are equal. Ranks are
    1 (worst) … N (best) out of sample, ties sharing their average rank; ω = rank / (N + 1).

    Returns:
        None when there are fewer than two trials or too few sessions for two blocks.
    """
    matrix = np.asarray(returns, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        return None
    s = block_count(matrix.shape[0], blocks)
    if s == 0:
        return None
    size = matrix.shape[0] // s
    matrix = matrix[matrix.shape[0] - size * s :]
    # Each block's column sums and sums of squares: a half's Sharpe comes from S/2 of them.
    blocks_3d = matrix.reshape(s, size, matrix.shape[1])
    sums, sums_sq = blocks_3d.sum(axis=1), (blocks_3d * blocks_3d).sum(axis=1)
    all_sum, all_sq = sums.sum(axis=0), sums_sq.sum(axis=0)
    n, half = matrix.shape[1], size * (s // 2)
    logits = []
    for chosen in itertools.combinations(range(s), s // 2):
        pick = list(chosen)
        is_sum, is_sq = sums[pick].sum(axis=0), sums_sq[pick].sum(axis=0)
        in_sample = _sharpe_from_sums(is_sum, is_sq, half)
        out_sample = _sharpe_from_sums(all_sum - is_sum, all_sq - is_sq, half)
        best = int(np.argmax(in_sample))
        below = float(np.sum(out_sample < out_sample[best]))
        ties = float(np.sum(out_sample == out_sample[best]))
        rank = below + (ties + 1.0) / 2.0
        omega = rank / (n + 1.0)
        logits.append(math.log(omega / (1.0 - omega)))
    pbo = float(np.mean(np.asarray(logits) <= 0.0))
    return PBOResult(pbo, s, len(logits), size * s, n, tuple(logits))


@dataclass(frozen=True)
class DeflatedBest:
    """The best trial's deflated Sharpe and the ledger figures behind it."""

    deflated_sharpe: float | None
    n_trials: int
    sharpe_variance: float
    expected_max_sharpe: float


def deflated_best(best_returns: Any, ledger_sharpes: Sequence[float | None]) -> DeflatedBest:
    """DSR of `best_returns` against the best of the ledger's trials by luck.

    Args:
        best_returns: the best trial's daily returns.
        ledger_sharpes: per-session Sharpe ratios of every distinct configuration
            in the ledger for the same data and period (the best included).
            Their sample variance (ddof=1; 0 with a single trial) is V.
    """
    sharpes = [s for s in ledger_sharpes if s is not None and math.isfinite(s)]
    n = max(len(sharpes), 1)
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    dsr = float(deflated_sharpe_ratio(best_returns, n, variance))
    return DeflatedBest(dsr if math.isfinite(dsr) else None, n, variance, expected_max_sharpe(n, variance))
