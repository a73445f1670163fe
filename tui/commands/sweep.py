"""`pmax sweep GRID.toml`: run a grid of configurations and judge the winner honestly.

Only the command line lives here (flags, progress, the printed report); the sweep
itself is `engine.sweep`. Progress goes to stderr; stdout carries the report, or
with --json one object as its last line.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any

import click

from engine.sweep.trial import TrialResult


@click.command("sweep")
@click.argument("grid_path", metavar="GRID.toml", type=click.Path(dir_okay=False))
@click.option("--engine", type=click.Choice(["local", "ray"]), help="Where trials run (default: [sweep] engine).")
@click.option("--address", help="Ray cluster address (default: start a local cluster).")
@click.option("--workers", type=click.IntRange(min=1), help="Trials side by side (default: one per CPU).")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Each trial stops after this session.")
@click.option("--data", type=click.Path(dir_okay=False), help="History file every trial replays.")
@click.option("--db", type=click.Path(dir_okay=False), help="Database holding the trial ledger.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Base config file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report as the last line.")
def sweep(
    grid_path: str,
    engine: str | None,
    address: str | None,
    workers: int | None,
    until: dt.datetime | None,
    data: str | None,
    db: str | None,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Replay every configuration of GRID.toml, record each in the trial ledger, and report
    the best one deflated by every trial tried on the same data and period."""
    from engine.sweep.driver import build_report, new_sweep_id, plan_trials, run_sweep, sweep_settings
    from engine.sweep.grid import load_grid
    from engine.sweep.runners import LocalRunner, RayRunner, Runner
    from tui.commands.common import load_cli_config, open_store

    base = load_cli_config(config_path)
    settings = sweep_settings(base, engine, workers, address, until.date() if until else None)
    if settings.engine == "ray":
        RayRunner.check_installed()
    grid = load_grid(grid_path, base, {"replay.data": data} if data else None)
    sweep_id = new_sweep_id()
    specs = plan_trials(grid, sweep_id, settings.until)  # bad data fails here, before the database
    workers_used = min(settings.workers, len(specs))
    if settings.engine == "ray":
        ray_runner = RayRunner(workers_used, settings.address)
        ray_runner.start()  # an unreachable cluster fails here, before the database is opened
        runner: Runner = ray_runner
    else:
        runner = LocalRunner(workers_used)
    store = open_store(db, base)
    try:
        with _Progress(len(specs)) as progress:
            outcome = run_sweep(store, grid, specs, settings, runner, sweep_id, progress.advance)
        report = build_report(store, specs, outcome, settings)
    finally:
        store.close()
    if as_json:
        print(json.dumps(report, default=str))
    else:
        _print_report(report)
    if outcome.interrupted:
        print("pmax: sweep interrupted; finished trials are kept in the ledger", file=sys.stderr)
        raise SystemExit(130)
    if report["trials"] and all(t["status"] == "failed" for t in report["trials"]):
        print("pmax: every trial failed; their errors are in the report and the ledger", file=sys.stderr)
        raise SystemExit(1)


class _Progress:
    """A rich progress bar with ETA on a terminal, one log line per trial otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]sweep[/] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("running", total=self.total)
        return self

    def advance(self, result: TrialResult, params: dict[str, Any], done: int, total: int) -> None:
        text = _trial_line(result, params)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=text)
        else:
            elapsed = time.monotonic() - self._started
            eta = elapsed / done * (total - done)
            print(f"trial {done}/{total} {text} ({result.wall_s:.1f}s; ETA {eta:.0f}s)", file=sys.stderr, flush=True)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _trial_line(result: TrialResult, params: dict[str, Any]) -> str:
    point = " ".join(f"{k}={v}" for k, v in params.items())
    if result.status != "finished":
        return f"{point} FAILED: {result.error}"
    sharpe = result.metrics.get("sharpe")
    return f"{point} sharpe {sharpe:.2f}" if sharpe is not None else f"{point} sharpe n/a"


def _fmt(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _print_report(report: dict[str, Any]) -> None:
    keys = list(report["trials"][0]["params"]) if report["trials"] else []
    workers = report["workers"]
    print(
        f"sweep {report['sweep_id']} on {report['engine']} ({workers} worker{'s' if workers != 1 else ''}, "
        f"{report['wall_s']:.0f}s)"
    )
    rows = [[*keys, "status", "sharpe", "return", "psr", "max dd", "turnover", "costs"]]
    errors = [""]
    for t in report["trials"]:
        cells = [str(t["params"][k]) for k in keys] + [t["status"]]
        if t["status"] == "finished":
            cells += [
                _fmt(t["sharpe"], ".2f"),
                _fmt(t["total_return"], ".2%"),
                _fmt(t["psr"], ".2f"),
                _fmt(t["max_drawdown"], ".2%"),
                _fmt(t["turnover"], ".2f"),
                _fmt(t["costs"], ",.0f"),
            ]
        rows.append(cells + [""] * (len(rows[0]) - len(cells)))
        errors.append(t.get("error") or "")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for cells, error in zip(rows, errors, strict=True):
        line = "  ".join(c.ljust(w) if i <= len(keys) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        print(f"{line}  {error}".rstrip())
    best = report["best"]
    if best:
        point = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        print(
            f"best: {point}: Sharpe {_fmt(best['sharpe'], '.2f')} (buy-and-hold "
            f"{_fmt(best['baseline'].get('sharpe'), '.2f')}), "
            f"deflated Sharpe {_fmt(best['deflated_sharpe'], '.2f')} "
            f"over {best['n_trials']} trial{'s' if best['n_trials'] != 1 else ''} in the ledger, "
            f"PBO {_fmt(report['pbo'], '.2f')}"
        )
    print(report["verdict"])
