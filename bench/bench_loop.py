"""Full-loop replay benchmark: forecasts, signals, fills, risk, all persisted.

Runs the default stage list (or --no-forecast: the trading stages only) over a
replay window on a fresh temporary DuckDB file, reports sessions per second
(the warm-up cycle, which fits every model on the history, is timed apart), the
seconds per stage, and checks that the vectorised research backtest of the same
decisions reproduces the paper broker's equity curve.

    .venv/bin/python bench/bench_loop.py                       # 20-ticker sample
    .venv/bin/python bench/bench_loop.py --sessions 120
    .venv/bin/python bench/bench_loop.py --data /work/shared/data/us_equities_daily.parquet --sessions 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="", help="bars file (default: the bundled 20-ticker sample)")
    ap.add_argument("--start", default="2017-01-03", help="first replayed session")
    ap.add_argument("--sessions", type=int, default=60, help="sessions to replay (after the warm-up one)")
    ap.add_argument("--no-forecast", action="store_true", help="trading stages only (no forecast stage)")
    ap.add_argument("--models", default="", help="comma list overriding forecast.models")
    ap.add_argument("--mc-paths", type=int, default=None, help="override risk.mc_paths")
    args = ap.parse_args()

    from engine.config import load_config
    from engine.loop import Engine
    from engine.portfolio.backtest import orders_matrix, vector_backtest
    from engine.portfolio.summary import run_summary
    from engine.runtime import build_feed
    from engine.stages import default_stages
    from engine.store import Store

    overrides: dict[str, object] = {"replay.start": dt.date.fromisoformat(args.start)}
    if args.data:
        overrides["replay.data"] = args.data
    if args.models:
        overrides["forecast.models"] = args.models.split(",")
    if args.mc_paths is not None:
        overrides["risk.mc_paths"] = args.mc_paths
    cfg = load_config(overrides=overrides)  # PMAX_… variables apply (e.g. PMAX_FORECAST__MODELS)
    stages = [s for s in default_stages(cfg) if not (args.no_forecast and s.name == "forecast")]
    timings: dict[str, float] = {s.name: 0.0 for s in stages}
    for s in stages:
        inner = s.run

        def timed(ctx, inner=inner, name=s.name):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            inner(ctx)
            timings[name] += time.perf_counter() - t0

        s.run = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.duckdb")
        feed = build_feed(cfg, store)
        n_tickers = len(feed.tickers)
        engine = Engine(store, cfg, feed, stages=stages)
        t0 = time.perf_counter()
        asyncio.run(engine.run(cycles=1))
        warm = time.perf_counter() - t0
        timings = dict.fromkeys(timings, 0.0)
        t0 = time.perf_counter()
        done = asyncio.run(engine.run(cycles=args.sessions))
        elapsed = time.perf_counter() - t0
        n = done.sessions_run
        summary = run_summary(store.con, engine.account)
        sessions, _tickers, decided, op, cl = orders_matrix(store.con, engine.account)
        broker_eq = np.array([r[0] for r in store.con.execute(
            "SELECT equity FROM equity WHERE account = ? ORDER BY as_of", [engine.account]).fetchall()])
        res = vector_backtest(decided, op, cl, float(cfg.portfolio.initial_cash),
                              float(cfg.broker.slippage_bps), float(cfg.broker.commission_bps))
        # Sessions from the first fill that differs from its decision (partial, cancelled,
        # rejected at the fill) on cannot match a backtest that assumes every order fills.
        first_off = store.con.execute(
            "SELECT min(updated_session), count(*) FROM orders WHERE account = ? "
            "AND (status IN ('partially_filled', 'cancelled') OR (status = 'rejected' AND updated_session > as_of))",
            [engine.account]).fetchall()[0]
        store.close()
    diff = float(np.max(np.abs(res.equity - broker_eq))) if len(broker_eq) else float("nan")
    upto = sessions.index(first_off[0]) if first_off[0] in sessions else len(sessions)
    diff_clean = float(np.max(np.abs(res.equity[:upto] - broker_eq[:upto]))) if upto else float("nan")
    print(f"tickers            {n_tickers}")
    print(f"stages             {', '.join(timings)}")
    print(f"warm-up cycle      {warm:.2f} s")
    print(f"sessions           {n} ({sessions[1] if len(sessions) > 1 else '-'} .. {sessions[-1]})")
    print(f"replay             {elapsed:.2f} s -> {n / elapsed:.2f} sessions/s, {elapsed / max(n, 1):.3f} s/session")
    for name, secs in timings.items():
        print(f"  {name:<16} {secs / max(n, 1) * 1e3:8.1f} ms/session")
    print(f"final equity       {summary['final_equity']:,.2f}  sharpe {summary['sharpe']}  "
          f"max dd {summary['max_drawdown']}  fills {summary['trade_count']}")
    print(f"vector backtest    max |equity diff| vs broker = {diff:.4f} over all {len(sessions)} sessions; "
          f"{first_off[1]} orders not filled as decided (first on {first_off[0]})")
    print(f"                   before that: {upto} sessions, max |diff| = {diff_clean:.6f} "
          f"({'match to the cent' if diff_clean < 0.005 else 'MISMATCH'})")


if __name__ == "__main__":
    main()
