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
from engine.runtime import build_engine, build_feed
from engine.serve.server import StoreEndpoint
from tui.commands.common import open_store, resolve_db_path


def run_headless(
    config: Config,
    db: str | None,
    live: bool,
    cycles: int | None,
    until: dt.date | None,
    as_json: bool,
) -> None:
    # A bad --data file must fail before the database is touched.
    feed = None if live else build_feed(config, None)
    store = open_store(db, config, kind="run")
    _stop_on_sigterm()
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
        payload.update(_portfolio_summary(store, engine.account))
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
            print(f"pmax: nothing to do — the database is already at {engine.as_of}")
        else:
            equity = f"{summary.equity:,.2f}" if summary.equity is not None else "n/a"
            print(f"ran {summary.sessions_run} sessions {summary.first_session} … {summary.last_session}; equity {equity}")


def _stop_on_sigterm() -> None:
    """`kill PID` ends the run like Ctrl-C: the session in flight is dropped, the owner
    file is removed and readers see the endpoint close (kill -9 leaves a stale file that
    readers clean up)."""
    import signal
    import threading

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _portfolio_summary(store: Any, account: str) -> dict[str, Any]:
    from engine.portfolio.summary import run_summary

    return run_summary(store.con, account)


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
