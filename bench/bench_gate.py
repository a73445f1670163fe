"""The signal gate's statistics: false positives on null data, and what passes on a replay.

Usage:
    .venv/bin/python bench/bench_gate.py [--reps 1000] [--db REPLAY.duckdb]

1. Null simulation: 20 tickers, overlapping 5-session errors; the ensemble is exactly
   as accurate as naive and drift is naive plus a tiny constant (both baselines bind,
   as on real data). Reports, per score-window length n, the share of sessions in
   which ANY ticker passes the statistical layer (Benjamini–Hochberg at α = 0.10: under
   this complete null that is the false-discovery rate) and each ticker's unadjusted
   rejection rate.
2. With `--db` (a finished `pmax --run` database): recomputes the gate for every
   session from the stored `model_scores` (h = 5, last 120 scores, min 30) and counts
   the ticker-sessions that pass, beside what each ingredient alone would pass.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import collections  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.portfolio.signal_layers import layer_statistical, statistical_gate  # noqa: E402
from engine.significance import benjamini_hochberg, diebold_mariano  # noqa: E402

H, ALPHA, TICKERS, WINDOW, MIN_SCORED = 5, 0.10, 20, 120, 30


def _overlapping(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.convolve(rng.normal(0.0, 1.0, n + H - 1), np.ones(H), "valid")[:n]


def null_rates(reps: int) -> None:
    print(f"null data: {TICKERS} tickers, h={H}, {reps} sessions per n; nominal FDR {ALPHA:.0%}")
    for n in (30, 60, 120):
        rng = np.random.default_rng(99 + n)
        any_pass = raw = 0
        for _ in range(reps):
            series = {}
            for j in range(TICKERS):
                naive = _overlapping(rng, n)
                series[f"T{j}"] = (_overlapping(rng, n), naive, naive + 0.05, np.zeros(n, bool))
            gate = statistical_gate(series, H, MIN_SCORED)
            any_pass += any(
                layer_statistical(g.n_scored, g.stat, g.qvalue, alpha=ALPHA, min_scored=MIN_SCORED).passed
                for g in gate.values()
            )
            raw += sum(g.pvalue < ALPHA for g in gate.values())
        print(
            f"  n={n:>3}: P(any ticker passes) = {any_pass / reps:.3f}; "
            f"unadjusted per-ticker rejection = {raw / (reps * TICKERS):.4f}"
        )


def replay_passes(db: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    sessions = [r[0] for r in con.execute("SELECT DISTINCT as_of FROM signals ORDER BY 1").fetchall()]
    count: collections.Counter = collections.Counter()
    for s in sessions:
        got = con.execute(
            "SELECT e.ticker, e.error, e.naive_error, d.error AS drift_error FROM model_scores e "
            "LEFT JOIN model_scores d ON d.account = e.account AND d.model = 'drift' AND d.horizon = e.horizon "
            "AND d.ticker = e.ticker AND d.forecast_as_of = e.forecast_as_of WHERE e.model = 'ensemble' "
            "AND e.horizon = ? AND e.as_of <= ? QUALIFY row_number() OVER (PARTITION BY e.account, e.ticker "
            "ORDER BY e.forecast_as_of DESC) <= ? ORDER BY e.ticker, e.forecast_as_of",
            [H, s, WINDOW],
        ).df()
        series = {
            t: (
                g["error"].to_numpy(float),
                g["naive_error"].to_numpy(float),
                g["drift_error"].to_numpy(float),
                np.zeros(len(g), bool),
            )
            for t, g in got.groupby("ticker")
        }
        gate = statistical_gate(series, H, MIN_SCORED)
        count["passes"] += sum(
            layer_statistical(g.n_scored, g.stat, g.qvalue, alpha=ALPHA, min_scored=MIN_SCORED).passed
            for g in gate.values()
        )
        p_naive = []
        for e, nv, dr, _ in series.values():
            if len(e) < MIN_SCORED:
                continue
            count["tested"] += 1
            a = diebold_mariano(e, nv, h=H, alternative="less").pvalue
            b = diebold_mariano(e, dr, h=H, alternative="less").pvalue
            count["p<.10 vs naive"] += a < ALPHA
            count["p<.10 vs drift"] += b < ALPHA
            count["p<.10 vs both"] += max(a, b) < ALPHA
            p_naive.append(a)
        count["BH vs naive only"] += int(np.sum(benjamini_hochberg(p_naive) < ALPHA)) if p_naive else 0
    print(
        f"replay {db} ({len(sessions)} sessions): ticker-sessions tested {count['tested']}; "
        f"gate passes {count['passes']}"
    )
    print(
        "  unadjusted p < 0.10 — vs naive {}, vs drift {}, vs both {}; BH vs naive only {}".format(
            count["p<.10 vs naive"], count["p<.10 vs drift"], count["p<.10 vs both"], count["BH vs naive only"]
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--db", type=Path, default=None)
    args = ap.parse_args()
    null_rates(args.reps)
    if args.db:
        replay_passes(args.db)


if __name__ == "__main__":
    main()
