"""Benchmark the GPU-capable parts: Monte-Carlo VaR/CVaR, the neural forecaster's epoch and
inference, and the neural architectures' out-of-sample skill against the naive forecast.

    .venv/bin/python bench/bench_gpu.py mc [--paths 1000000] [--devices cpu-numpy,cpu-torch,cuda]
    .venv/bin/python bench/bench_gpu.py neural [--device auto] [--arch auto|transformer|tcn] [--threads 1]
    .venv/bin/python bench/bench_gpu.py oos [--archs tcn,transformer]

`mc` and `neural` use the 505-ticker file (default /work/shared/data/us_equities_daily.parquet);
`oos` walks forward over the bundled 20-ticker sample. CUDA rows run only where torch sees
a GPU. Each command prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.device import select_device
from engine.features import features_of
from engine.panel import Panel

BIG = "/work/shared/data/us_equities_daily.parquet"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "watchlist_sample.parquet"
HORIZONS = (1, 5, 21)


def emit(**row: object) -> None:
    print(json.dumps(row, default=str), flush=True)


def _sync(name: str) -> None:
    if name.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# --- Monte-Carlo --------------------------------------------------------------------


def bench_mc(args: argparse.Namespace) -> None:
    from engine.gpu.montecarlo import mc_var_cvar

    bars = pd.read_parquet(args.data, columns=["date", "ticker", "close"])
    close = bars.pivot(index="date", columns="ticker", values="close").sort_index()
    rets = close.pct_change().iloc[-args.lookback :]
    r = np.nan_to_num(rets.to_numpy())
    n = r.shape[1]
    w = np.full(n, 1.0 / n)
    for target in args.devices.split(","):
        backend, device = {"cpu-numpy": ("numpy", "cpu"), "cpu-torch": ("torch", "cpu"), "cuda": ("torch", "cuda")}[
            target
        ]
        if device == "cuda":
            import torch

            if not torch.cuda.is_available():
                emit(bench="mc", target=target, skipped="torch sees no CUDA GPU")
                continue
        info = select_device(device)
        # joint=True: the full (paths x N) joint simulation is the workload measured here.
        mc_var_cvar(r, w, 10_000, device=info, backend=backend, joint=True)  # warm-up: imports, CUDA context
        times = []
        for rep in range(args.repeats):
            _sync(info.name)
            t0 = time.perf_counter()
            res = mc_var_cvar(r, w, args.paths, device=info, backend=backend, seed=rep, joint=True)
            _sync(info.name)
            times.append(time.perf_counter() - t0)
        emit(
            bench="mc",
            target=target,
            backend=backend,
            device=info.detail,
            paths=args.paths,
            assets=n,
            days=r.shape[0],
            seconds=round(min(times), 3),
            runs=[round(t, 3) for t in times],
            var95=round(res.var[0.95], 6),
            cvar99=round(res.cvar[0.99], 6),
            dof=round(res.dof or 0, 2),
        )


# --- neural: epoch and inference ----------------------------------------------------------


def bench_neural(args: argparse.Namespace) -> None:
    from engine.forecast.models.neural import NeuralForecaster
    from engine.gpu.neural_net import NeuralConfig, NeuralNet

    info = select_device(args.device)
    panel = Panel.from_long(pd.read_parquet(args.data))
    t0 = time.perf_counter()
    feats = features_of(panel).values
    emit(
        bench="features",
        tickers=panel.n_tickers,
        sessions=panel.n_sessions,
        features=feats.shape[-1],
        seconds=round(time.perf_counter() - t0, 2),
    )
    adapter = NeuralForecaster({"train_lookback": panel.n_sessions}, device=info.name)
    targets, rows, cols = adapter.training_windows(panel, HORIZONS)
    if args.epoch_windows:
        keep = np.random.default_rng(0).choice(rows.size, min(args.epoch_windows, rows.size), replace=False)
        rows, cols = rows[keep], cols[keep]
    batch = args.batch_size or (8192 if info.is_cuda else 2048)
    cfg = NeuralConfig(device=info.name, epochs=1, batch_size=batch, threads=args.threads, arch=args.arch)
    NeuralNet(cfg).fit_panel(feats, targets, rows[:4096], cols[:4096])  # warm-up
    _sync(info.name)
    t0 = time.perf_counter()
    net = NeuralNet(cfg).fit_panel(feats, targets, rows, cols)
    _sync(info.name)
    epoch = time.perf_counter() - t0
    last = np.full(panel.n_tickers, panel.n_sessions - 1)
    every = np.arange(panel.n_tickers)
    times = []
    for _ in range(7):
        _sync(info.name)
        t1 = time.perf_counter()
        net.predict_panel(feats, last, every)
        _sync(info.name)
        times.append(time.perf_counter() - t1)
    emit(
        bench="neural",
        device=info.detail,
        threads=args.threads,
        arch=net.arch_,
        windows=int(rows.size),
        batch=batch,
        epoch_s=round(epoch, 2),
        windows_per_s=round(rows.size / epoch),
        loss=round(net.history_[-1], 4),
        infer_tickers=int(every.size),
        infer_ms=round(1000 * statistics.median(times), 1),
    )


# --- neural: out-of-sample skill vs naive ---------------------------------------------------


def _pinball(q: np.ndarray, y: np.ndarray, taus: np.ndarray) -> float:
    d = y[:, None] - q
    return float(np.mean(np.maximum(taus * d, (taus - 1) * d)))


def bench_oos(args: argparse.Namespace) -> None:
    from statistics import NormalDist

    from engine.features import forward_returns
    from engine.forecast.models.neural import NeuralForecaster

    panel = Panel.from_long(pd.read_parquet(args.sample))
    feats = features_of(panel).values
    logret = pd.DataFrame(panel.log_returns())
    sd63 = logret.rolling(63, min_periods=21).std().to_numpy()  # the naive forecaster's interval
    drift252 = logret.rolling(252, min_periods=21).mean().to_numpy()  # the drift forecaster's mean
    start = int(np.searchsorted(panel.dates, np.datetime64(args.start)))
    cutoffs = list(range(start, panel.n_sessions - 1, args.refit))
    taus = np.array([0.05, 0.5, 0.95])
    z = np.array([NormalDist().inv_cdf(t) for t in taus])
    for arch in args.archs.split(","):
        params = {"arch": arch, "epochs": args.epochs, "cpu_max_windows": args.cpu_max_windows}
        preds: dict[int, list] = {h: [] for h in HORIZONS}
        t0 = time.perf_counter()
        for c in cutoffs:
            sub = panel.rows(c + 1)
            model = NeuralForecaster(params, seed=args.seed).fit(sub, HORIZONS)
            test_rows = np.arange(c, min(c + args.refit, panel.n_sessions - 1))
            usable = model.usable(feats, panel.close)  # features are causal: rows <= t only
            rr, cc = np.nonzero(usable[test_rows])
            rr = test_rows[rr]
            q, p = model.net_.predict_panel(feats, rr, cc)
            for k, h in enumerate(HORIZONS):
                y = forward_returns(panel, h)[rr, cc]
                preds[h].append((q[:, k], p[:, k], y, sd63[rr, cc] * np.sqrt(h), drift252[rr, cc] * h))
        elapsed = time.perf_counter() - t0
        for h in HORIZONS:
            q = np.concatenate([a[0] for a in preds[h]])
            p = np.concatenate([a[1] for a in preds[h]])
            y = np.concatenate([a[2] for a in preds[h]])
            s = np.concatenate([a[3] for a in preds[h]])
            d = np.concatenate([a[4] for a in preds[h]])
            ok = np.isfinite(y) & np.isfinite(s) & np.isfinite(d)
            q, p, y, s, d = q[ok], p[ok], y[ok], s[ok], d[ok]
            naive_q = s[:, None] * z[None, :]
            mse, mse0, mse_drift = np.mean((q[:, 1] - y) ** 2), np.mean(y**2), np.mean((d - y) ** 2)
            emit(
                bench="oos",
                arch=arch,
                seed=args.seed,
                cpu_max_windows=args.cpu_max_windows,
                horizon=h,
                n=int(y.size),
                refits=len(cutoffs),
                mse_skill=round(1 - mse / mse0, 4),
                drift_skill=round(1 - mse_drift / mse0, 4),
                pinball=round(_pinball(q, y, taus), 6),
                pinball_naive=round(_pinball(naive_q, y, taus), 6),
                brier=round(float(np.mean((p - (y > 0)) ** 2)), 4),
                brier_half=0.25,
                hit=round(float(np.mean((q[:, 1] > 0) == (y > 0))), 4),
                coverage90=round(float(np.mean((y >= q[:, 0]) & (y <= q[:, 2]))), 4),
                seconds=round(elapsed, 1),
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mc")
    m.add_argument("--data", default=BIG)
    m.add_argument("--paths", type=int, default=1_000_000)
    m.add_argument("--lookback", type=int, default=252)
    m.add_argument("--repeats", type=int, default=2)
    m.add_argument("--devices", default="cpu-numpy,cpu-torch,cuda")
    n = sub.add_parser("neural")
    n.add_argument("--data", default=BIG)
    n.add_argument("--device", default="auto")
    n.add_argument("--arch", default="auto", help="auto: transformer on CUDA, tcn on the CPU")
    n.add_argument("--batch-size", type=int, default=0, help="0: 8192 on CUDA, 2048 on the CPU")
    n.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    n.add_argument("--epoch-windows", type=int, default=0, help="time an epoch over this many windows (0: all)")
    o = sub.add_parser("oos")
    o.add_argument("--sample", default=str(SAMPLE))
    o.add_argument("--archs", default="tcn,transformer")
    o.add_argument("--start", default="2016-01-04")
    o.add_argument("--refit", type=int, default=63)
    o.add_argument("--epochs", type=int, default=4)
    o.add_argument("--seed", type=int, default=7)
    o.add_argument("--cpu-max-windows", type=int, default=12000)
    args = ap.parse_args()
    {"mc": bench_mc, "neural": bench_neural, "oos": bench_oos}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
