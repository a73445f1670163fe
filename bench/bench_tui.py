"""TUI responsiveness: first paint and key-press latency with a 500-ticker watchlist.

Builds a temporary store from the last sessions of the 505-ticker research file
(/work/shared/data/us_equities_daily.parquet, or --data), puts 500 tickers in the
watchlist, runs the app headless (Textual's run_test) at 120x40 and measures:

- first frame: PmaxApp() constructed → mounted and first frame composed;
- first data paint: → the watchlist shows all 500 rows (store read on a worker);
- key → frame: a key event sent as the terminal driver would, until the first frame
  Textual emits after it (the cursor moved) and until the last frame before 0.3 s of
  quiet (every pane followed), for j/k, the sort key and filter typing;
- refresh: one engine-event-driven re-read of every pane and its re-render.

With --loop it measures instead key → frame while the engine loop runs: the real
engine replays the bundled 20-ticker sample (data/watchlist_sample.parquet) into a
temporary database at the shipped interval, and j/k presses, alternating, at least 0.4 s apart, are timed
to the first frame emitted after the watchlist cursor moved (a frame before the move cannot show the
key) while cycles commit and every pane re-reads the store. A key that moves nothing within 3 s is
counted apart, never timed: before 2026-11-30 17:30 UTC the bench timed the next frame of any kind,
and with focus lost (the empty watchlist's hidden table) every key it timed had moved nothing.

With --loop the engine runs in its own process by default (as in the app); --engine
inline runs it in the app's process (the setting `[tui] engine_process = "inline"`).

With --startup N it starts the real `pmax` N times in a 120x40 pseudo-terminal over a
database holding 10 sessions and times process start → first frame → first data row
(bench/tui_startup.py), with the app process's CPU seconds by then.

Usage: .venv/bin/python bench/bench_tui.py [--data PATH] [--tickers 500] [--presses 40]
       .venv/bin/python bench/bench_tui.py --loop [--presses 40] [--warm-cycles 2] [--engine child|inline]
       .venv/bin/python bench/bench_tui.py --startup 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(_name, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build_store(data: Path, n_tickers: int, sessions: int, folder: Path):
    import duckdb

    from engine.store import Store

    store = Store.open(folder / "bench.duckdb")
    con = store.con
    con.execute(f"""
        CREATE TEMP TABLE src AS SELECT * FROM read_parquet('{data}');
        CREATE TEMP TABLE pick AS SELECT DISTINCT ticker FROM src ORDER BY ticker LIMIT {n_tickers};
        CREATE TEMP TABLE days AS SELECT DISTINCT date FROM src ORDER BY date DESC LIMIT {sessions};
        INSERT INTO bars (ticker, date, open, high, low, close, volume, source)
          SELECT s.ticker, s.date, s.open, s.high, s.low, s.close, s.volume, 'bench'
          FROM src s JOIN pick USING (ticker) JOIN days USING (date);
        INSERT INTO cycles SELECT 'paper', date, row_number() OVER (ORDER BY date), 'bench', 0, now() FROM days;
    """)
    tickers = [r[0] for r in con.execute("SELECT ticker FROM pick").fetchall()]
    del duckdb
    return store, tickers


async def measure(store, tickers: list[str], presses: int) -> dict[str, Any]:
    from textual import events

    from engine.config import load_config
    from tui.app import PmaxApp
    from tui.panes.watchlist import WatchlistPane

    config = load_config(
        overrides={"data.watchlist": tickers, "tui.start_paused": True, "tui.cursor_blink": False, "tui.batch_ms": 50}
    )
    t0 = time.perf_counter()
    app = PmaxApp(store=store, config=config)
    out: dict[str, Any] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        out["first_frame_s"] = time.perf_counter() - t0
        watch = app.query_one(WatchlistPane)
        while len(watch._shown) < len(tickers):
            await asyncio.sleep(0.005)
        await pilot.pause()
        app.screen._compositor.render_full_update()
        out["first_data_paint_s"] = time.perf_counter() - t0

        frames: list[float] = []
        original = app._display

        def display(screen, renderable):  # record when Textual emits a frame
            if renderable is not None:
                frames.append(time.perf_counter())
            return original(screen, renderable)

        app._display = display  # type: ignore[method-assign]

        async def timed(keys: list[str]) -> tuple[list[float], list[float]]:
            """Per key: (send → first frame after it, send → last frame before 0.3 s of quiet)."""
            first, last = [], []
            for key in keys:
                frames.clear()
                start = time.perf_counter()
                event = events.Key(key, key if len(key) == 1 else None)
                event.set_sender(app)
                assert app._driver is not None
                app._driver.send_message(event)
                quiet_since = time.perf_counter()
                while time.perf_counter() - quiet_since < 0.3:
                    n = len(frames)
                    await asyncio.sleep(0.002)
                    if len(frames) != n:
                        quiet_since = time.perf_counter()
                if frames:
                    first.append(frames[0] - start)
                    last.append(frames[-1] - start)
            return first, last

        out["j/k"] = await timed(["j"] * (presses // 2) + ["k"] * (presses // 2))
        out["sort (s, 500 rows in place)"] = await timed(["s"] * 6)
        await pilot.press("slash")
        out["filter typing"] = await timed(list("AB") + ["backspace"] * 2)
        await pilot.press("escape")
        app._display = original  # type: ignore[method-assign]
        start = time.perf_counter()
        app._dirty = True
        await asyncio.sleep(0)
        while app._dirty or app._refreshing:
            await asyncio.sleep(0.002)
        await pilot.pause()
        app.screen._compositor.render_full_update()
        out["refresh_all_panes_s"] = time.perf_counter() - start
    return out


def _loop_app(folder: Path, engine_kind: str) -> tuple[Any, Any, Any]:
    """(app, engine, store): the engine in its own process (the app's default) or in-process."""
    from engine.config import load_config
    from engine.runtime import build_engine, build_feed

    runtime = tempfile.mkdtemp(prefix="pmx")  # a short path: Unix socket paths stay under 108 bytes
    config = load_config(overrides={"tui.start_paused": False, "tui.cursor_blink": False, "serve.runtime_dir": runtime})
    db = folder / "loop.duckdb"
    if engine_kind == "child":
        from engine.serve.childproc import ChildEngine
        from engine.serve.reader import open_reader
        from tui.served import ServedApp

        child = ChildEngine(config, db, feed=build_feed(config, None))
        child.spawn()
        reader = open_reader(db, config, must_exist=False)
        return ServedApp(engine=child, store=reader, config=config, db_path=db, child=child), child, reader
    from tui.app import PmaxApp
    from tui.commands.common import open_store

    store = open_store(str(db), config)
    engine = build_engine(store, config, live=False, mode="tui", feed=build_feed(config, None))
    return PmaxApp(engine=engine, store=store, config=config), engine, store


async def measure_loop(folder: Path, presses: int, warm_cycles: int, engine_kind: str) -> dict[str, Any]:
    """key → first frame for j/k while the real engine replays the sample."""
    from textual import events

    app, engine, store = _loop_app(folder, engine_kind)
    out: dict[str, Any] = {}
    try:
        async with app.run_test(size=(120, 40)):
            start_sessions = engine.as_of
            t0 = time.perf_counter()
            done = 0
            last = engine.as_of
            while done < warm_cycles and time.perf_counter() - t0 < 600:
                await asyncio.sleep(0.05)
                if engine.as_of != last:
                    done, last = done + 1, engine.as_of
            out["warm_s"] = time.perf_counter() - t0
            frames: list[float] = []
            original = app._display

            def display(screen, renderable):
                if renderable is not None:
                    frames.append(time.perf_counter())
                return original(screen, renderable)

            app._display = display
            first: list[float] = []
            busy: list[bool] = []  # a cycle's worker thread was running when the key was sent
            missed = 0
            before = engine.as_of
            table = app.query_one("#watch-table")
            unmoved = 0  # keys after which the watchlist cursor did not move: they timed nothing
            for key in ["j", "k"] * (presses // 2):  # alternate, so that every key moves the cursor
                frames.clear()
                row_before = table.cursor_row
                sent = time.perf_counter()
                in_cycle = engine.busy
                event = events.Key(key, key)
                event.set_sender(app)
                assert app._driver is not None
                app._driver.send_message(event)
                moved_at = None  # the first frame that can show the key is one after the cursor moved
                shown = None
                while shown is None and time.perf_counter() - sent < 3.0:
                    if moved_at is None and table.cursor_row != row_before:
                        moved_at = time.perf_counter()
                        frames.clear()  # frames before the move cannot show it
                    if moved_at is not None and frames:
                        shown = frames[0]
                    await asyncio.sleep(0.002)
                if moved_at is None:
                    unmoved += 1  # the key moved nothing within 3 s (e.g. no focus): nothing to time
                elif shown is not None:
                    first.append(shown - sent)
                    busy.append(in_cycle)
                else:
                    missed += 1
                await asyncio.sleep(max(0.0, 0.4 - (time.perf_counter() - sent)))
            app._display = original
            out["first"] = first
            out["busy"] = busy
            out["missed"] = missed
            out["unmoved"] = unmoved
            calendar = getattr(engine.feed, "calendar", [])  # a replay feed's sessions
            out["cycles_during"] = (
                0
                if before is None or engine.as_of is None
                else len([d for d in calendar if before < d <= engine.as_of])
            )
            out["start"], out["end"] = start_sessions, engine.as_of
            app.exit()
    finally:
        if engine_kind == "child":
            app.stop_following()
            engine.close()  # the engine process commits its session in flight and exits
            store.close()
        else:
            busy = engine.busy
            engine.close("interrupted" if busy else "finished")
            if not busy:  # a cycle still in flight keeps the connection; the process exit closes it
                with contextlib.suppress(Exception):  # a feed read or refresh still on it: the exit closes it
                    store.close()
    return out


def measure_startup(runs: int) -> None:
    """Process start → first data row of the real `pmax` (in a pty), over a filled database."""
    import subprocess

    from tui_startup import first_row_times

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMAX_")}
        env.update(
            {
                "XDG_CONFIG_HOME": str(Path(tmp) / "config"),
                "XDG_DATA_HOME": str(Path(tmp) / "data"),
                "TERM": "xterm-256color",
                "PYTHONPATH": str(REPO),
                "PMAX_TUI__START_PAUSED": "true",
            }
        )
        db = Path(tmp) / "startup.duckdb"
        fill = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--run", "--until", "2016-01-15", "--db", str(db)],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if fill.returncode:
            raise SystemExit(f"filling the database failed: {fill.stderr[-500:]}")
        times = first_row_times(db, "AAPL", runs, env)
    first_frame = [t[0] for t in times]
    first_row = [t[1] for t in times]
    cpu = [t[2] for t in times]
    print(f"`pmax --db DB` in a 120x40 pty, {runs} starts, database of 10 sessions of the 20-ticker sample")
    print(
        f"process start → first frame     median {statistics.median(first_frame):.2f} s  min {min(first_frame):.2f} s"
    )
    print(
        f"process start → first data row  median {statistics.median(first_row):.2f} s  min {min(first_row):.2f} s "
        f" max {max(first_row):.2f} s"
    )
    print(f"app process CPU by the first row median {statistics.median(cpu):.2f} s  min {min(cpu):.2f} s")
    print(f"load average (1 min) {load_before:.1f} → {os.getloadavg()[0]:.1f}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/us_equities_daily.parquet"))
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--loop", action="store_true", help="key → frame while the engine replays the sample")
    parser.add_argument("--warm-cycles", type=int, default=2)
    parser.add_argument(
        "--engine",
        choices=("child", "inline"),
        default="child",
        help="with --loop: the engine in its own process (the app's default) or in the app's",
    )
    parser.add_argument(
        "--startup",
        type=int,
        metavar="N",
        default=0,
        help="time N starts of the real `pmax` in a pty: process start → first data row",
    )
    args = parser.parse_args()
    if args.startup:
        measure_startup(args.startup)
        return
    if args.loop:
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
            os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")
            res = asyncio.run(measure_loop(Path(tmp), args.presses, args.warm_cycles, args.engine))
        first = res["first"]
        print(f"engine: {'its own process' if args.engine == 'child' else 'in the app process'}")
        print(
            f"loop running: sample replay {res['start']} → {res['end']}, {res['cycles_during']} cycles committed "
            f"while {args.presses} j/k keys were sent (warm-up {res['warm_s']:.1f} s)"
        )
        if first:
            print(
                f"j/k key → first frame  median {statistics.median(first) * 1000:6.1f} ms  p95 "
                f"{pct(first, 0.95) * 1000:6.1f} ms  max {max(first) * 1000:6.1f} ms  "
                f"(moved but no frame within 3 s: {res['missed']}; keys that did not move the cursor "
                f"within 3 s, left out: {res['unmoved']})"
            )
        for label, flag in (("during a cycle", True), ("between cycles", False)):
            part = [v for v, b in zip(first, res["busy"], strict=True) if b is flag]
            if part:
                print(
                    f"  {label:<15} n={len(part):2d}  median {statistics.median(part) * 1000:6.1f} ms  "
                    f"p95 {pct(part, 0.95) * 1000:6.1f} ms"
                )
        print(f"load average (1 min) {load_before:.1f} → {os.getloadavg()[0]:.1f}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")  # never touch the real user config
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")
        store, tickers = build_store(args.data, args.tickers, args.sessions, Path(tmp))
        try:
            res = asyncio.run(measure(store, tickers, args.presses))
        finally:
            store.close()
    print(f"tickers in watchlist: {len(tickers)}  terminal 120x40 (headless)")
    print(f"first frame        {res['first_frame_s'] * 1000:7.1f} ms")
    print(f"first data paint   {res['first_data_paint_s'] * 1000:7.1f} ms")
    for name in ("j/k", "sort (s, 500 rows in place)", "filter typing"):
        idle, full = res[name]
        print(
            f"{name:<28} key→first frame median {statistics.median(idle) * 1000:6.1f} ms p95 "
            f"{pct(idle, 0.95) * 1000:6.1f} ms max {max(idle) * 1000:6.1f} ms | key→last frame (all panes "
            f"followed) median {statistics.median(full) * 1000:6.1f} ms p95 {pct(full, 0.95) * 1000:6.1f} ms"
        )
    print(f"refresh all panes  {res['refresh_all_panes_s'] * 1000:7.1f} ms (worker read + apply + render)")


if __name__ == "__main__":
    main()
