"""Full-loop replay benchmark: the default configuration and the floor, from one run.

Each configuration replays in its own subprocess (so each pays its own imports and
reports its own peak RSS) on a fresh temporary DuckDB file, everything persisted:

- default: the configuration as shipped (every model, Monte-Carlo VaR);
- floor:   the same loop with the models switched off (naive only) and MC off —
           the cost of the trading stages and the store alone.

Reported per configuration: the warm-up cycle (which fits every model on the
history) apart, then sessions per second over N sessions *including* the scheduled
refits, the process's CPU seconds over the replay (user + system, all threads:
much less sensitive to other jobs on a shared machine than wall time), seconds per
stage, peak RSS, and a check that the vectorised research
backtest of the same decisions reproduces the paper broker's equity curve.
BLAS/OpenMP threads are limited to 1 before numpy loads (the forecast stage runs
its models under a 1-thread limit anyway; the loop is measured on 2 shared cores).

    .venv/bin/python bench/bench_loop.py                          # both, 60 sessions, 20 tickers
    .venv/bin/python bench/bench_loop.py --configs default --sessions 120
    .venv/bin/python bench/bench_loop.py --big /work/shared/data/us_equities_daily.parquet   # + 505 tickers
    .venv/bin/python bench/bench_loop.py --data /work/shared/data/us_equities_daily.parquet --sessions 5
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Overrides that make each configuration (applied on top of config/default.toml).
CONFIGS: dict[str, dict[str, object]] = {"default": {}, "floor": {"forecast.models": ["naive"], "risk.mc_paths": 0}}


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads (less sensitive to load than wall time)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _steady(per_session: list[tuple[int, float]], cfg: Any) -> dict[str, float | int | None]:
    """Median and max wall seconds of the timed sessions that neither refit nor swap in a
    background fit (a swap session may wait for the fit)."""
    every, swap = cfg.forecast.refit_every, cfg.forecast.swap_after
    busy = {0} | ({swap % every} if swap else set())
    steady = sorted(s for i, s in per_session if i % every not in busy)
    if not steady:
        return {"n": 0, "median": None, "max": None}
    return {"n": len(steady), "median": steady[len(steady) // 2], "max": steady[-1]}


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    """Replay one configuration in this process; the measurements as a dict."""
    import numpy as np

    from engine.config import load_config
    from engine.events import CycleCompleted
    from engine.loop import Engine
    from engine.portfolio.backtest import orders_matrix, vector_backtest
    from engine.portfolio.summary import run_summary
    from engine.runtime import build_feed
    from engine.stages import default_stages
    from engine.store import Store

    overrides: dict[str, object] = {"replay.start": dt.date.fromisoformat(args.start), **CONFIGS[args.one]}
    if args.data:
        overrides["replay.data"] = args.data
    if args.models:
        overrides["forecast.models"] = args.models.split(",")
    if args.mc_paths is not None:
        overrides["risk.mc_paths"] = args.mc_paths
    cfg = load_config(overrides=overrides)  # PMAX_… variables apply (e.g. PMAX_FORECAST__MODELS)
    stages = [s for s in default_stages() if not (args.no_forecast and s.name == "forecast")]
    timings: dict[str, float] = {s.name: 0.0 for s in stages}
    for s in stages:
        inner = s.run

        def timed(ctx, inner=inner, name=s.name):
            t0 = time.perf_counter()
            inner(ctx)
            timings[name] += time.perf_counter() - t0

        s.run = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.duckdb")
        feed = build_feed(cfg, store)
        n_tickers = len(feed.universe() or [])
        engine = Engine(store, cfg, feed, stages=stages)
        t0 = time.perf_counter()
        asyncio.run(engine.run(cycles=1))
        warm = time.perf_counter() - t0
        timings = dict.fromkeys(timings, 0.0)
        per_session: list[tuple[int, float]] = []  # (session_index, wall seconds) per timed cycle

        def on_event(event: Any) -> None:
            if isinstance(event, CycleCompleted):
                per_session.append((event.session_index, event.elapsed_s))

        engine.subscribe(on_event)
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        done = asyncio.run(engine.run(cycles=args.sessions))
        # A background refit still running when the window ends is work this window
        # started: wait for it inside the timed span, or its cost would go uncounted.
        pending = (engine.state.get("forecast") or {}).get("pending") or {}
        for _day, future in pending.values():
            future.result()
        elapsed = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        n = done.sessions_run
        refits = store.con.execute(  # scheduled refit sessions among the timed ones (not the warm-up)
            "SELECT count(*) FROM cycles WHERE account = ? AND session_index % ? = 0 "
            "AND session > (SELECT min(session) FROM cycles WHERE account = ?)",
            [engine.account, cfg.forecast.refit_every, engine.account],
        ).fetchall()[0][0]
        summary = run_summary(store.con, engine.account)
        sessions, _tickers, decided, op, cl = orders_matrix(store.con, engine.account)
        broker_eq = np.array(
            [
                r[0]
                for r in store.con.execute(
                    "SELECT equity FROM equity WHERE account = ? ORDER BY as_of", [engine.account]
                ).fetchall()
            ]
        )
        res = vector_backtest(
            decided, op, cl, cfg.portfolio.initial_cash, cfg.broker.slippage_bps, cfg.broker.commission_bps
        )
        # Sessions from the first fill that differs from its decision (partial, cancelled,
        # rejected at the fill) on cannot match a backtest that assumes every order fills.
        first_off = store.con.execute(
            "SELECT min(updated_session), count(*) FROM orders WHERE account = ? "
            "AND (status IN ('partially_filled', 'cancelled') OR (status = 'rejected' AND updated_session > as_of))",
            [engine.account],
        ).fetchall()[0]
        risk_cols = store.con.execute(
            "SELECT var_mc_95 FROM risk WHERE account = ? ORDER BY as_of DESC LIMIT 1", [engine.account]
        ).fetchall()
        store.close()
    diff = float(np.max(np.abs(res.equity - broker_eq))) if len(broker_eq) else float("nan")
    upto = sessions.index(first_off[0]) if first_off[0] in sessions else len(sessions)
    diff_clean = float(np.max(np.abs(res.equity[:upto] - broker_eq[:upto]))) if upto else float("nan")
    return {
        "config": args.one,
        "tickers": n_tickers,
        "models": list(cfg.forecast.models),
        "mc_paths": cfg.risk.mc_paths,
        "stages": {k: v / max(n, 1) for k, v in timings.items()},
        "warmup_s": warm,
        "sessions": n,
        "first": str(sessions[1]) if len(sessions) > 1 else "-",
        "last": str(sessions[-1]) if sessions else "-",
        "replay_s": elapsed,
        "per_s": n / elapsed,
        "cpu_s": cpu,
        "refits": int(refits or 0),
        # steady sessions: no scheduled refit and no background swap (refit index + swap_after)
        "steady_s": _steady(per_session, cfg),
        "drained_fits": len(pending),
        "total_s": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "final_equity": summary["final_equity"],
        "sharpe": summary["sharpe"],
        "fills": summary["trade_count"],
        "last_var_mc_95": risk_cols[0][0] if risk_cols else None,
        "backtest_diff": diff,
        "backtest_upto": upto,
        "backtest_sessions": len(sessions),
        "backtest_diff_clean": diff_clean,
        "not_as_decided": int(first_off[1]),
        "first_off": str(first_off[0]),
    }


def report(r: dict[str, Any]) -> None:
    print(f"== {r['config']}: {r['tickers']} tickers, models {','.join(r['models'])}, mc_paths {r['mc_paths']}")
    print(f"warm-up cycle      {r['warmup_s']:.2f} s")
    print(
        f"sessions           {r['sessions']} ({r['first']} .. {r['last']}), {r['refits']} scheduled refits among them; "
        f"{r.get('drained_fits', 0)} background fit(s) still running at the end, waited for in the timing"
    )
    st = r.get("steady_s") or {}
    if st.get("n"):
        print(
            f"steady sessions    {st['n']} (no refit, no background swap): median {st['median']:.3f} s, "
            f"max {st['max']:.3f} s per session"
        )
    print(
        f"replay             {r['replay_s']:.2f} s -> {r['per_s']:.2f} sessions/s, "
        f"{r['replay_s'] / max(int(r['sessions']), 1):.3f} s/session (refits included)"
    )
    cpu_ms = r["cpu_s"] / max(int(r["sessions"]), 1) * 1e3
    print(
        f"cpu                {r['cpu_s']:.2f} CPU-s over the replay -> {cpu_ms:.0f} "
        f"CPU-ms/session, {r['cpu_s'] / max(r['replay_s'], 1e-9):.2f} cores busy"
    )
    for name, secs in r["stages"].items():
        print(f"  {name:<16} {secs * 1e3:8.1f} ms/session")
    print(f"process            {r['total_s']:.1f} s from the imports on; peak RSS {r['peak_rss_mb']:.0f} MB")
    print(
        f"final equity       {r['final_equity']:,.2f}  sharpe {r['sharpe']}  fills {r['fills']}  "
        f"last var_mc_95 {r['last_var_mc_95']}"
    )
    clean = float(r["backtest_diff_clean"])
    print(
        f"vector backtest    max |equity diff| vs broker = {r['backtest_diff']:.4f} over {r['backtest_sessions']} "
        f"sessions; {r['not_as_decided']} orders not filled as decided; before that {r['backtest_upto']} sessions, "
        f"max |diff| = {clean:.6f} ({'match to the cent' if clean < 0.005 else 'MISMATCH'})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="", help="bars file (default: the bundled 20-ticker sample)")
    ap.add_argument("--start", default="2017-01-03", help="first replayed session")
    ap.add_argument("--sessions", type=int, default=60, help="sessions to replay (after the warm-up one)")
    ap.add_argument("--configs", default="default,floor", help="comma list of: " + ", ".join(CONFIGS))
    ap.add_argument("--no-forecast", action="store_true", help="trading stages only (no forecast stage)")
    ap.add_argument("--models", default="", help="comma list overriding forecast.models (every config)")
    ap.add_argument("--mc-paths", type=int, default=None, help="override risk.mc_paths (every config)")
    ap.add_argument("--big", default="", help="also run the default config on this (e.g. 505-ticker) bars file")
    ap.add_argument("--big-sessions", type=int, default=4, help="steady sessions replayed on --big")
    ap.add_argument("--json", default="", help="also write the results to this JSON file")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)  # internal: run one config in-process
    args = ap.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_one(args), default=str))
        return
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = [c for c in names if c not in CONFIGS]
    if bad:
        print(f"bench_loop: unknown config {', '.join(bad)}; use {', '.join(CONFIGS)}", file=sys.stderr)
        raise SystemExit(2)
    argv = sys.argv[1:]
    drop = {i for i, a in enumerate(argv) if a.startswith("--configs")}
    drop |= {i + 1 for i in drop if argv[i] == "--configs"}  # "--configs a,b" as two words
    passthrough = [a for i, a in enumerate(argv) if i not in drop]
    runs = [(name, [*passthrough, "--one", name]) for name in names]
    if args.big:  # the same default config on the big file (later options override earlier ones)
        runs.append(
            ("default", [*passthrough, "--data", args.big, "--sessions", str(args.big_sessions), "--one", "default"])
        )
    results = []
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, argv in runs:
        out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=False)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if out.returncode or line is None:
            print(out.stdout[-2000:] + out.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"bench_loop: the {name} run failed")
        results.append(json.loads(line[len("RESULT ") :]))
        report(results[-1])
    print(f"load average at end:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
