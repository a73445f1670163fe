"""Benchmark engine.metrics / engine.significance on the 505-ticker daily file.

Times the full empyrical-convention metric set per ticker (engine.metrics vs
empyrical), the same metrics vectorised over a 505-column DataFrame, the
Diebold–Mariano test per ticker, PSR/DSR and the bootstrap Sharpe interval, and
reports the largest disagreement with empyrical over all tickers.

    .venv/bin/python bench/bench_metrics.py [--data PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "us_equities_daily.parquet"

UNARY = [
    "cum_returns_final",
    "max_drawdown",
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "downside_risk",
    "calmar_ratio",
    "omega_ratio",
    "value_at_risk",
    "conditional_value_at_risk",
    "tail_ratio",
    "stability_of_timeseries",
]
BINARY = ["alpha", "beta"]


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import empyrical

    from engine import metrics, sharpe_stats
    from engine.significance import diebold_mariano

    bars = pd.read_parquet(args.data, columns=["date", "ticker", "close"])
    close = bars.pivot(index="date", columns="ticker", values="close").sort_index()
    rets = close.pct_change().iloc[1:]
    market = rets.mean(axis=1)
    cols = [rets[c] for c in rets.columns]
    print(f"data: {rets.shape[1]} tickers x {rets.shape[0]} sessions; {int(rets.isna().sum().sum())} NaN returns")

    def per_ticker(mod: object) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for name in UNARY:
            fn = getattr(mod, name)
            out[name] = [float(np.asarray(fn(s))) for s in cols]
        for name in BINARY:
            fn = getattr(mod, name)
            out[name] = [float(fn(s, market)) for s in cols]
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = per_ticker(metrics), per_ticker(empyrical)
        t_ours = best_of(lambda: per_ticker(metrics), args.repeat)
        t_theirs = best_of(lambda: per_ticker(empyrical), args.repeat)
    n_calls = len(cols) * (len(UNARY) + len(BINARY))
    print(f"per-ticker metric set ({n_calls} calls): engine.metrics {t_ours:.2f} s, empyrical {t_theirs:.2f} s")
    worst = 0.0
    for name in ours:
        a, b = np.array(ours[name]), np.array(theirs[name])
        both = np.isfinite(a) & np.isfinite(b)
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        rel = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-12)
        worst = max(worst, float(rel.max(initial=0.0)))
    print(f"largest relative difference vs empyrical over all tickers and metrics: {worst:.2e}")

    frame_fns = [
        "cum_returns_final",
        "max_drawdown",
        "annual_return",
        "annual_volatility",
        "sharpe_ratio",
        "sortino_ratio",
        "downside_risk",
    ]
    t_frame = best_of(lambda: [getattr(metrics, n)(rets) for n in frame_fns], args.repeat)
    print(f"vectorised over the 505-column DataFrame ({len(frame_fns)} metrics): {t_frame * 1e3:.1f} ms")

    rng = np.random.default_rng(0)
    errors = rng.normal(0, 0.01, (250, len(cols)))
    naive = errors * 1.05 + rng.normal(0, 0.002, errors.shape)
    t_dm = best_of(lambda: [diebold_mariano(errors[:, j], naive[:, j], h=5) for j in range(len(cols))], args.repeat)
    print(f"Diebold-Mariano (h=5, n=250) for {len(cols)} tickers: {t_dm * 1e3:.1f} ms")

    r0 = rets.iloc[:, 0].to_numpy()
    t_psr = best_of(lambda: [sharpe_stats.probabilistic_sharpe_ratio(s) for s in cols], args.repeat)
    print(f"PSR for {len(cols)} tickers: {t_psr * 1e3:.1f} ms")
    t_boot = best_of(lambda: sharpe_stats.sharpe_bootstrap_ci(r0, n_boot=2000, rng=1), args.repeat)
    t_block = best_of(lambda: sharpe_stats.sharpe_bootstrap_ci(r0, n_boot=2000, rng=1, block=10), args.repeat)
    print(f"bootstrap Sharpe CI (n={len(r0)}, 2000 reps): iid {t_boot * 1e3:.1f} ms, block=10 {t_block * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
