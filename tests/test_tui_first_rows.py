"""The app's first rows (issue 16): read without the data stack, equal to the full read's.

The launcher reads the status and the watchlist before Textual has loaded, through a
file reader, as plain rows (`tui.reads.read_first_rows`); neither that read nor the
modules the app needs up to its first frame may load numpy, pandas or pyarrow. The
rows must be the ones the full refresh shows, whether the reader reads the file or an
owner serves it over Arrow Flight.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from engine.config import load_config
from engine.serve.server import StoreEndpoint
from engine.store import Store
from tui.panes.queries import load_snapshot
from tui.panes.views import WatchRow
from tui.reads import read_first_rows

ACCOUNT = "paper"
TUI = SimpleNamespace(sparkline_sessions=20)
DATA_STACK = ("numpy", "pandas", "pyarrow")

FIRST_READ_IN_A_FRESH_INTERPRETER = """
import dataclasses, json, sys
from types import SimpleNamespace
import tui.cli, tui.commands.common, tui.launch, tui.served, engine.serve.childproc
from engine.config import load_config
from engine.serve.reader import open_reader
from tui.reads import read_first_rows

path, runtime, watchlist, stack = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
reader = open_reader(path, load_config(overrides={"serve.runtime_dir": runtime}))
first = read_first_rows(reader.cursor, "paper", watchlist, SimpleNamespace(sparkline_sessions=20))
attached = reader.attached is not None
reader.close()
print(json.dumps({
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in stack),
    "attached": attached,
    "sessions": first.sessions,
    "as_of": str(first.as_of),
    "watch": [dataclasses.astuple(r) for r in first.watch],
}, default=str))
"""


def first_read_elsewhere(path: Path | str, runtime: str, watchlist: list[str]) -> dict[str, Any]:
    """`read_first_rows` through a file reader in a fresh interpreter, as the launcher does."""
    code, args = FIRST_READ_IN_A_FRESH_INTERPRETER, [str(path), runtime, json.dumps(watchlist), json.dumps(DATA_STACK)]
    argv = [sys.executable, "-c", code, *args]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def _plain(rows: object) -> list[list[object]]:
    return json.loads(json.dumps([list(r) for r in rows], default=str))  # type: ignore[attr-defined]


def test_the_first_read_loads_no_data_stack_and_shows_the_full_reads_rows(
    filled_template: tuple[Path, dt.date], runtime: str
) -> None:
    path, last = filled_template
    first = first_read_elsewhere(path, runtime, [])
    assert first["loaded"] == [] and not first["attached"]  # the file itself; no numpy, pandas, pyarrow
    store = Store.open(path, read_only=True)
    try:
        snap = load_snapshot(store.cursor(), ACCOUNT, [], 20)
    finally:
        store.close()
    assert snap.watch and first["as_of"] == str(last) == str(snap.as_of) and first["sessions"] == snap.sessions
    assert first["watch"] == _plain(dataclasses.astuple(r) for r in snap.watch)


def test_first_rows_from_an_owner_equal_the_files(filled: tuple[Store, dt.date], runtime: str) -> None:
    store, _ = filled
    from_file = read_first_rows(store.cursor, ACCOUNT, [], TUI)
    endpoint = StoreEndpoint.start(store, "run", load_config(overrides={"serve.runtime_dir": runtime}))
    assert endpoint is not None
    try:
        served = first_read_elsewhere(store.path, runtime, ["FFF", "NOPE", "AAA"])
    finally:
        endpoint.close()
    assert served["attached"]  # the rows came over Arrow Flight from the owner, not from the file
    by_ticker = {r.ticker: r for r in from_file.watch}
    assert served["watch"] == _plain(
        [
            dataclasses.astuple(by_ticker["FFF"]),
            dataclasses.astuple(WatchRow("NOPE")),
            dataclasses.astuple(by_ticker["AAA"]),
        ]
    )  # a ticker with no bars keeps its line, empty
