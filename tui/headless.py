"""`pmax --run`: the loop without the TUI, with a progress bar or plain log lines.

Never imports Textual. Progress and logs go to stderr so that stdout carries only
the final summary (one JSON object with --json).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from typing import Any

from engine.config import Config
from engine.events import CycleCompleted
from engine.portfolio.report import ATTRIBUTION_LABELS
from engine.runtime import build_engine, build_feed
from engine.serve.server import StoreEndpoint
from tui.commands.common import open_store, resolve_db_path


def run_headless(
    config: Config, db: str | None, live: bool, cycles: int | None, until: dt.date | None, as_json: bool
) -> None:
    # A bad --data file must fail before the database is touched.
    feed = None if live else build_feed(config, None)
    store = open_store(db, config, kind="run")
    engine = None
    endpoint = None
    try:
        # Other pmax processes (the app, ask, validate, data check) attach here while we write.
        endpoint = StoreEndpoint.start(store, "run", config)
        engine = build_engine(store, config, live=live, feed=feed)
        if endpoint is not None:
            engine.subscribe(endpoint.publish)
        total = _expected_cycles(engine, cycles, until)
        summary = asyncio.run(_run_with_progress(engine, cycles, until, total))
        payload: dict[str, Any] = {
            "sessions_run": summary.sessions_run,
            "first_session": summary.first_session,
            "last_session": summary.last_session,
            "as_of": engine.as_of,
            "equity": round(summary.equity, 2) if summary.equity is not None else None,
            "finished": summary.exhausted,
            "run_id": summary.run_id,
            "db": str(resolve_db_path(db, config)),
            "device": engine.device,
            "mode": engine.mode,
        }
        payload.update(_portfolio_summary(store, engine.account, summary))
        from engine.sweep.run_ledger import record_run  # every run is a trial in the ledger

        payload["trial_id"] = record_run(engine, config, summary.sessions_run)
    finally:
        close_feed = getattr(engine.feed if engine else feed, "close", None)
        if close_feed:  # the live feed may be sleeping until the next close
            close_feed()
        if endpoint is not None:
            endpoint.close()
        store.close()
    if as_json:
        print(json.dumps(payload, default=str))
    else:
        if summary.sessions_run == 0:
            where = f"the database is already at {engine.as_of}" if engine.as_of else "no session to run"
            print(f"pmax: nothing to do — {where}")
        else:
            equity = f"{summary.equity:,.2f}" if summary.equity is not None else "n/a"
            print(
                f"ran {summary.sessions_run} sessions {summary.first_session} … {summary.last_session}; equity {equity}"
            )
            for line in benchmark_lines(payload.get("benchmark") or {}):
                print(line)


def _portfolio_summary(store: Any, account: str, summary: Any) -> dict[str, Any]:
    """This run's sessions only (a resumed account's earlier sessions are not this run's)."""
    from engine.portfolio.summary import run_summary

    if not summary.sessions_run:
        return {"sessions": 0, "metrics_withheld": "no session ran"}
    return run_summary(store.con, account, first=summary.first_session, last=summary.last_session)


def _pct(x: float | None, yearly: bool = False) -> str:
    return "n/a" if x is None else f"{x:+.2%}{'/yr' if yearly else ''}"


def benchmark_lines(rep: dict[str, Any]) -> list[str]:
    """The human run summary's benchmark-relative block (`benchmark_report`'s figures)."""
    if not rep:
        return []
    lines = [
        f"strategy {_pct(rep.get('strategy_total_return'))} vs {rep.get('benchmark')} "
        f"{_pct(rep.get('benchmark_total_return'))} over the same {rep.get('sessions')} sessions"
    ]
    on = rep.get("overlays_on") or []
    lines.append(f"overlays on: {', '.join(on) if on else 'none (HRP and regime scaling are off)'}")
    if rep.get("withheld"):
        lines.append(f"ratios withheld: {rep['withheld']}")
    else:
        att = rep.get("attribution") or {}
        lines += [
            f"active {_pct(rep.get('active_return'), True)} · tracking error {rep.get('tracking_error'):.2%}/yr"
            f" · IR {rep.get('information_ratio'):+.2f} (t = {rep.get('ir_tstat'):+.2f})"
            f" · PSR vs the benchmark's Sharpe {rep.get('psr_vs_benchmark'):.2f}",
            "active return by source: "
            + " · ".join(f"{ATTRIBUTION_LABELS.get(k, k)} {_pct(v, True)}" for k, v in att.items()),
            f"turnover {rep.get('turnover'):.2f}x/yr one-way ({rep.get('turnover_ex_funding'):.2f}x after "
            f"funding) · costs paid ${rep.get('costs_paid'):,.2f} (drag {rep.get('cost_drag'):.2%}/yr)",
            rep.get("verdict", ""),
        ]
    if rep.get("data_note"):
        lines.append(rep["data_note"])
    return [line for line in lines if line]


def _expected_cycles(engine: Any, cycles: int | None, until: dt.date | None) -> int | None:
    upcoming = engine.feed.upcoming(engine.as_of)
    if upcoming is None:
        return cycles
    left = [d for d in upcoming if until is None or d <= until]
    return min(len(left), cycles) if cycles else len(left)


async def _run_with_progress(engine: Any, cycles: int | None, until: dt.date | None, total: int | None) -> Any:
    if not sys.stderr.isatty():
        return await engine.run(cycles=cycles, until=until, on_cycle=_log_cycle)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("[bold]pmax[/] {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("starting", total=total)

        def advance(event: CycleCompleted) -> None:
            equity = f"  equity {event.equity:,.0f}" if event.equity is not None else ""
            progress.update(task, advance=1, description=f"{event.session}{equity}")

        return await engine.run(cycles=cycles, until=until, on_cycle=advance)


def _log_cycle(event: CycleCompleted) -> None:
    equity = f" equity={event.equity:.2f}" if event.equity is not None else ""
    print(f"session {event.session} done in {event.elapsed_s:.2f}s{equity}", file=sys.stderr, flush=True)
