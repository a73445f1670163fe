"""Sweep benchmark: the same grid of trials on the local process pool and on Ray.

Writes a grid of `--trials` configurations (commission × cash buffer, two cheap
models, no Monte-Carlo or stress), runs it with `engine.sweep` on `--engine local` and on
a local Ray cluster with the same number of workers, each into its own fresh
DuckDB ledger, and prints wall time per engine, mean trial time, and whether the
two engines gave identical per-trial metrics.

    .venv/bin/python bench/bench_sweep.py                     # 8 trials, 2 workers, 22 sessions each
    .venv/bin/python bench/bench_sweep.py --trials 16 --until 2016-02-15
"""

from __future__ import annotations

import os

# Threads are fixed before numpy/SciPy load: trials run side by side.
for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIELDS = ("sharpe", "total_return", "psr", "turnover", "costs", "max_drawdown", "sessions")


def _grid_text(trials: int) -> str:
    buffers = [0.02, 0.1]
    commissions = [round(5.0 + 5.0 * i, 1) for i in range(-(-trials // len(buffers)))]
    return (
        f'[grid]\n"broker.commission_bps" = {commissions}\n"portfolio.cash_buffer" = {buffers}\n'
        '[fixed]\n"forecast.models" = ["naive", "drift"]\n"risk.mc_paths" = 0\n"risk.stress" = false\n'
    )


def _run(engine: str, grid_path: Path, workers: int, until: dt.date, db: Path) -> tuple[float, dict, dict]:
    from engine.store import Store
    from engine.sweep.driver import build_report, new_sweep_id, plan_trials, run_sweep, sweep_settings
    from engine.sweep.grid import load_grid
    from engine.sweep.runners import LocalRunner, RayRunner
    from tui.commands.common import load_cli_config

    base = load_cli_config(None)
    settings = sweep_settings(base, engine, workers, None, until)
    grid = load_grid(grid_path, base)
    sweep_id = new_sweep_id()
    specs = plan_trials(grid, sweep_id, until)
    runner = RayRunner(workers, None) if engine == "ray" else LocalRunner(workers)
    store = Store.open(db)
    started = time.perf_counter()
    outcome = run_sweep(store, grid, specs, settings, runner, sweep_id)
    wall = time.perf_counter() - started
    report = build_report(store, specs, outcome, settings)
    store.close()
    metrics = {tuple(sorted(t["params"].items())): {k: t.get(k) for k in FIELDS} for t in report["trials"]}
    return wall, report, metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8, help="grid size (rounded up to an even number)")
    ap.add_argument("--workers", type=int, default=2, help="trials side by side, on both engines")
    ap.add_argument(
        "--until",
        default="2016-02-03",
        help="last session of every trial (22 sessions: the summary's Sharpe needs 20 returns)",
    )
    args = ap.parse_args()
    until = dt.date.fromisoformat(args.until)
    with tempfile.TemporaryDirectory() as tmp:
        grid_path = Path(tmp) / "grid.toml"
        grid_path.write_text(_grid_text(args.trials))
        results = {
            engine: _run(engine, grid_path, args.workers, until, Path(tmp) / f"{engine}.duckdb")
            for engine in ("local", "ray")
        }
    from engine.sweep.runners import RayRunner

    t0 = time.perf_counter()
    with RayRunner(args.workers, None):
        pass
    ray_start = time.perf_counter() - t0
    print(f"cpus {os.cpu_count()}  workers {args.workers}  until {until}  load avg {os.getloadavg()[0]:.1f}")
    for engine, (wall, report, _m) in results.items():
        times = [t["wall_s"] for t in report["trials"] if t.get("wall_s") is not None]
        print(
            f"{engine:<6} {len(report['trials'])} trials  wall {wall:6.1f} s  "
            f"mean trial {statistics.fmean(times):5.1f} s  sum of trials {sum(times):6.1f} s  "
            f"failed {report['failed']}"
        )
    print(f"ray    local cluster start + stop alone: {ray_start:.1f} s (the ray wall time above includes one)")
    same = results["local"][2] == results["ray"][2]
    print(f"per-trial metrics identical on both engines: {same}")
    best = results["local"][1]
    print(
        f"best {best['best']['params']}  DSR {best['best']['deflated_sharpe']}  "
        f"n_trials {best['best']['n_trials']}  PBO {best['pbo']}"
    )
    print(best["verdict"])


if __name__ == "__main__":
    main()
