"""Taking a database file read-write, politely.

`open_owned(path, kind, config)` is how writers open the store (`pmax --run`, the
app, `data import`/`fetch`). Before DuckDB is asked:

- a live owner that is `pmax --run` (or an app that will not yield) means refusal:
  `DatabaseLockedError` naming it, and saying that readers attach by themselves;
- an app owner that allows it (`[serve] yield_to_run`) is asked to hand over when the
  writer is a `pmax --run`: it finishes the session in flight, lets go, and follows
  the run as an attached viewer. A scheduled run therefore never fails because
  somebody left the app open;
- a file held by a short reader (`pmax validate` reading it directly) is waited for,
  up to `[serve] lock_wait_s`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import DatabaseLockedError
from engine.serve.client import request_handover
from engine.serve.rendezvous import KIND_LABEL, OwnerInfo, find_owner
from engine.store import Store

__all__ = ["open_owned", "held_error"]


def held_error(path: Path | str, owner: OwnerInfo, reason: str | None = None) -> DatabaseLockedError:
    """The refusal a writer gets while `owner` holds the file."""
    if owner.kind == "run":
        hint = (
            f"readers (pmax, ask, validate, data check) attach to it by themselves; to write, wait "
            f"for it to finish or stop it (kill {owner.pid})"
        )
    else:
        hint = "quit that app (q) to write here; `pmax --run` may take over when [serve] yield_to_run = true"
    if reason:
        hint = f"{reason}; {hint}"
    return DatabaseLockedError(f"database {path} is in use by {owner.label}", hint)


def open_owned(path: str | Path, kind: str, config: Any, announce: Callable[[str], None] | None = None) -> Store:
    """Open `path` read-write for a writer of `kind` ("run", "tui" or "import")."""
    if str(path) == ":memory:":
        return Store.open(path)
    say = announce or (lambda _msg: None)
    serve = config.section("serve")
    runtime = serve.runtime_dir
    file = Path(path).expanduser()
    deadline = time.monotonic() + serve.lock_wait_s
    asked: int | None = None
    while True:
        owner = find_owner(file, runtime)
        if owner is not None and owner.pid != os.getpid():
            if kind == "run" and owner.kind == "tui" and owner.pid != asked:
                reply = request_handover(owner, f"{KIND_LABEL['run']} (pid {os.getpid()})")
                if not reply.get("ok"):
                    raise held_error(file, owner, reply.get("reason"))
                say(f"{owner.label} handed the database over; it now follows this run")
                asked = owner.pid
                deadline = time.monotonic() + serve.lock_wait_s
            elif owner.pid != asked:
                raise held_error(file, owner)
        try:
            return Store.open(file)
        except DatabaseLockedError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
