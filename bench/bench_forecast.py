"""Forecast benchmarks: per-model refit/update time, the stage per session, ARIMA vs SARIMAX, OOS accuracy.

Usage:
    .venv/bin/python bench/bench_forecast.py [--data PATH] [--tickers N] [--sessions S]
        [--sarimax-n K] [--skip-stage] [--skip-accuracy] [--out bench/results/forecast.md]

The 505-ticker file (../shared/data/us_equities_daily.parquet) drives the speed
figures; the bundled 20-ticker sample drives the out-of-sample accuracy table.

Threads: every BLAS/OpenMP pool is limited to one thread through the environment
BEFORE numpy, SciPy or statsmodels load (a `threadpool_limits` context does not
reach a BLAS that a library loads lazily inside it — SciPy's did, which made the
SARIMAX side run with oversubscribed threads and inflated the old "790×"). The
ARIMA comparison times both sides in the same process, one after the other.
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from threadpoolctl import threadpool_limits  # noqa: E402

from engine.forecast.registry import create  # noqa: E402
from engine.panel import Panel  # noqa: E402

MODELS = ["naive", "drift", "arima", "garch", "ssa", "lightgbm"]


def load(path: Path, n: int | None) -> pd.DataFrame:
    df = pd.read_parquet(path)
    if n:
        keep = sorted(df["ticker"].unique())[:n]
        df = df[df["ticker"].isin(keep)]
    return df


def model_times(panel: Panel, fit_rows: int, out: list[str]) -> None:
    """Refit on `fit_rows` sessions, then one daily update+predict, per model."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    T = panel.n_sessions
    fit_panel = panel.rows(T - 1, T - 1 - fit_rows)
    day = panel.rows(T, T - 320)
    out += [
        "",
        f"### Per-model time, {panel.n_tickers} tickers (refit on {fit_rows} sessions; "
        "daily = update + predict h=1,5,21)",
        "",
        "| model | refit (s) | daily update+predict (s) |",
        "|---|---:|---:|",
    ]
    pool = ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"))
    list(pool.map(abs, [1, 2]))  # start the workers outside the timing
    for name in MODELS:
        m = create(name, seed=7)
        with threadpool_limits(1):
            t0 = time.perf_counter()
            m.fit(fit_panel, [1, 5, 21], executor=pool if name == "garch" else None)
            t1 = time.perf_counter()
            day._cache.clear()
            m.update(day)
            m.predict(day, [1, 5, 21], 0.9)
            t2 = time.perf_counter()
        out.append(f"| {name} | {t1 - t0:.2f} | {t2 - t1:.3f} |")
        print(out[-1], flush=True)
    pool.shutdown()


def arima_throughput(panel: Panel, sarimax_n: int, out: list[str]) -> None:
    from engine.forecast.models import arma_kernel as K
    from engine.forecast.models.arima import prepare, sarimax_fit_one

    r = panel.log_returns()[-504:]
    x, w, _, usable = prepare(r, 120)
    x, w = x[:, usable], w[:, usable]
    n = x.shape[1]
    import scipy.linalg  # noqa: F401 - load every BLAS before reporting the thread pools
    import statsmodels.tsa.statespace.sarimax  # noqa: F401
    from threadpoolctl import threadpool_info

    pools = sorted({f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()})
    with threadpool_limits(1):
        t0 = time.perf_counter()
        K.fit_css(x, w, 1, 1)
        batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p, q in K.ORDER_GRID:
            K.fit_css(x, w, p, q)
        grid = time.perf_counter() - t0
        cols = np.nonzero(usable)[0][:sarimax_n]
        t0 = time.perf_counter()
        for j in cols:
            sarimax_fit_one(r[:, j], (1, 1))
        per = (time.perf_counter() - t0) / len(cols)
    loop = per * n
    out += [
        "",
        f"### ARIMA fit throughput, ARMA(1,1) on 504 daily returns, {n} tickers",
        "",
        "| method | time (s) | fits/s |",
        "|---|---:|---:|",
        f"| plain statsmodels SARIMAX(1,0,1) loop (timed on {len(cols)} tickers, scaled to {n}) "
        f"| {loop:.1f} | {n / loop:.1f} |",
        f"| pmax batched CSS (Hannan–Rissanen + Gauss–Newton, all tickers at once) "
        f"| {batched:.2f} | {n / batched:.0f} |",
        f"| pmax batched CSS, full AIC grid of 9 orders | {grid:.2f} | {9 * n / grid:.0f} |",
        "",
        f"Speed-up at the same order: **{loop / batched:.0f}×** (both sides in this run; "
        f"thread pools: {', '.join(pools)}).",
    ]
    print("\n".join(out[-8:]), flush=True)


def stage_per_session(path: Path, n: int | None, sessions: int, out: list[str]) -> None:
    from engine.config import load_config
    from engine.feeds import ReplayFeed
    from engine.loop import Engine
    from engine.stages import load_stage
    from engine.store import Store

    df = load(path, n)
    last = sorted(df["date"].unique())
    start = last[-sessions - 5]
    tmp = ROOT / "bench" / "_stage.parquet"
    df.to_parquet(tmp, index=False)
    cfg = load_config(env={}, overrides={"replay.start": start})
    store = Store.open(":memory:")
    stage = load_stage("engine.stages.forecast:ForecastStage")
    times: list[tuple[int, float]] = []
    orig = stage.run

    def timed(ctx):
        t0 = time.perf_counter()
        orig(ctx)
        times.append((ctx.session_index, time.perf_counter() - t0))

    stage.run = timed  # type: ignore[method-assign]  # timed in place
    feed = ReplayFeed(tmp, start=start)
    engine = Engine(store, cfg, feed, stages=[load_stage("engine.stages.ingest:IngestStage"), stage])
    asyncio.run(engine.run(cycles=sessions))
    tmp.unlink(missing_ok=True)
    every = cfg.forecast.refit_every
    first = times[0][1]
    rest = times[1:]
    refits = [t for i, t in rest if i % every == 0]
    daily = [t for i, t in rest if i % every != 0]
    amort = (np.mean(daily) * (every - 1) + (np.mean(refits) if refits else first)) / every
    nt = df["ticker"].nunique()
    out += [
        "",
        f"### Forecast stage per session, {nt} tickers, {sessions} sessions replayed (all 6 models + ensemble)",
        "",
        "| what | seconds |",
        "|---|---:|",
        f"| first session (imports, cold fit of every model) | {first:.1f} |",
        f"| scheduled refit sessions (mean of {len(refits)}) | {np.mean(refits) if refits else float('nan'):.1f} |",
        f"| daily sessions (mean of {len(daily)}) | {np.mean(daily):.3f} |",
        f"| amortised over refit_every={every} | **{amort:.2f}** |",
    ]
    print("\n".join(out[-8:]), flush=True)


def accuracy(sample: Path, out: list[str], n_windows: int, step: int) -> None:
    from engine.forecast.report import report_from_scores, walk_forward_scores

    panel = Panel.from_long(pd.read_parquet(sample))
    t0 = time.perf_counter()
    scores = walk_forward_scores(
        panel,
        MODELS[1:],
        [1, 5, 21],
        n_windows=n_windows,
        step_size=step,
        refit=max(1, 21 // step),
        window="expanding",
        params={},
        seed=7,
        level=0.9,
    )
    rep = report_from_scores(scores, step=step)
    el = time.perf_counter() - t0
    out += [
        "",
        f"### Out-of-sample accuracy, 20-ticker sample, walk-forward ({n_windows} cutoffs every {step} sessions, "
        f"refit every {max(1, 21 // step)} cutoffs, expanding window; {el:.0f} s)",
        "",
        "| model | h | n | RMSE | naive RMSE | skill vs naive | DM p (model better) | dir. acc. "
        "| 90% coverage | log loss |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rep.itertuples():
        out.append(
            f"| {r.model} | {r.horizon} | {r.n} | {r.rmse:.4f} | {r.naive_rmse:.4f} | {r.skill:+.2%} | "
            f"{r.dm_pvalue:.2f} | {r.directional_accuracy:.3f} | {r.coverage:.3f} | {r.log_loss:.4f} |"
        )
    print("\n".join(out[-len(rep) - 4 :]), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "us_equities_daily.parquet")
    ap.add_argument("--tickers", type=int, default=0, help="first N tickers of --data (0: all)")
    ap.add_argument("--sessions", type=int, default=22)
    ap.add_argument("--sarimax-n", type=int, default=10)
    ap.add_argument("--windows", type=int, default=60)
    ap.add_argument("--step", type=int, default=5)
    ap.add_argument("--skip-models", action="store_true")
    ap.add_argument("--arima-only", action="store_true", help="of the model benchmarks, only ARIMA vs SARIMAX")
    ap.add_argument("--skip-stage", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out: list[str] = [f"## Forecast benchmarks ({dt.date.today()}, `{' '.join(sys.argv)}`)"]
    if not args.skip_models:
        panel = Panel.from_long(load(args.data, args.tickers or None))
        arima_throughput(panel, args.sarimax_n, out)
        if not args.arima_only:
            model_times(panel, 1000, out)
    if not args.skip_stage:
        stage_per_session(args.data, args.tickers or None, args.sessions, out)
    if not args.skip_accuracy:
        accuracy(ROOT / "data" / "watchlist_sample.parquet", out, args.windows, args.step)
    text = "\n".join(out) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as fh:
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
