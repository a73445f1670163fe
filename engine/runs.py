"""What a run used, and whether a database can continue with a new setup.

Every run row records its config hash, universe and data source (`RunSetup`). Before
a run starts, `check_resume` compares the new setup with the one that committed the
account's last session:

- a mode switch (replay <-> live) on the same account is refused: the live calendar
  would continue a replay's book across years, and a replay would rewind a live one;
- names that left the universe while the account still holds them are refused too:
  their positions would stay frozen at their last price and keep the book's gross
  exposure, so no new buy could fit (decision: stop with exit 2 and a hint rather
  than sell them blind, since a name missing from the feed has no next open to fill at);
- any other change (names added, names left but not held, a different data file or
  config) goes ahead and is reported.

`mark_crashed` closes the rows of runs left `running` by a process that is gone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from engine.errors import SetupChangedError, name_some

if TYPE_CHECKING:
    from engine.config import Config
    from engine.feeds import Feed

log = logging.getLogger("pmax.runs")


@dataclass(frozen=True)
class RunSetup:
    """The setup a run records in its `runs` row."""

    feed_kind: str  # "replay" or "live"
    config_hash: str
    universe: tuple[str, ...]
    data_source: str

    @property
    def universe_text(self) -> str:
        return ",".join(self.universe)


def config_hash(config: Config) -> str:
    """SHA-256 (16 hex) of the settings with every secret blanked."""
    text = json.dumps(config.public_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def setup_for(config: Config, feed: Feed, live: bool) -> RunSetup:
    universe = tuple(sorted(feed.universe() or ()))
    if live:
        source = "live:" + ",".join(config.data.sources)
    else:
        from engine.feeds import ReplayFeed

        path = feed.path if isinstance(feed, ReplayFeed) else None
        source = f"replay:{path.name} sha256:{file_fingerprint(path)}" if path is not None else "replay"
    return RunSetup("live" if live else "replay", config_hash(config), universe, source)


def _previous(con: duckdb.DuckDBPyConnection, account: str) -> tuple | None:
    """(data_source, universe, last session, config_hash) of the run that committed the last session."""
    rows = con.execute(
        "SELECT r.data_source, r.universe, c.session, r.config_hash, r.mode FROM cycles c "
        "JOIN runs r USING (run_id) WHERE c.account = ? ORDER BY c.session DESC LIMIT 1",
        [account],
    ).fetchall()
    return rows[0] if rows else None


def _held(con: duckdb.DuckDBPyConnection, account: str, names: list[str]) -> list[str]:
    if not names:
        return []
    rows = con.execute(
        "SELECT ticker FROM positions WHERE account = ? AND qty <> 0 AND as_of = "
        "(SELECT max(as_of) FROM positions WHERE account = ?) ORDER BY ticker",
        [account, account],
    ).fetchall()
    wanted = set(names)
    return [r[0] for r in rows if r[0] in wanted]


def check_resume(con: duckdb.DuckDBPyConnection, db: str, account: str, setup: RunSetup) -> list[str]:
    """Raise SetupChangedError if the account cannot continue with `setup`; else return notes."""
    prev = _previous(con, account)
    if prev is None:
        return []
    source, universe, last, prev_hash, prev_mode = prev
    prev_kind = (source or "").split(":", 1)[0] or ("live" if prev_mode == "live" else "replay")
    if prev_kind != setup.feed_kind:
        raise SetupChangedError(
            f"database {db} holds a {prev_kind} account {account!r} (last session {last}); "
            f"a {setup.feed_kind} run cannot continue it",
            f"use another --db (or another [app] account) for {setup.feed_kind} runs",
        )
    notes: list[str] = []
    if universe is not None:
        before = set(filter(None, universe.split(",")))
        now = set(setup.universe)
        left, joined = sorted(before - now), sorted(now - before)
        held = _held(con, account, left)
        if held:
            shown = name_some(held, 8)
            raise SetupChangedError(
                f"{len(held)} held name(s) left the universe since the last session ({last}): {shown}",
                "resume with the previous watchlist/data file, or start this universe on another --db "
                "(their positions would stay frozen and block new buys)",
            )
        if left or joined:
            notes.append(f"universe changed since {last}: {len(joined)} joined, {len(left)} left (none held)")
    if source and source != setup.data_source and setup.feed_kind == "replay":
        notes.append(f"data source changed since {last}: {source} -> {setup.data_source}")
    if prev_hash and prev_hash != setup.config_hash:
        notes.append(f"settings changed since {last} (config hash {prev_hash} -> {setup.config_hash})")
    return notes


def mark_crashed(con: duckdb.DuckDBPyConnection, own_pid: int) -> list[str]:
    """Close runs left `running` by another process (we hold the write lock, so it is gone)."""
    rows = con.execute(
        "SELECT run_id, started_at, pid FROM runs WHERE status = 'running' AND (pid IS NULL OR pid <> ?)", [own_pid]
    ).fetchall()
    for run_id, started, pid in rows:
        con.execute(
            "UPDATE runs SET status = 'crashed', finished_at = ?, first_session = c.lo, last_session = c.hi, "
            "sessions = c.n FROM (SELECT min(session) AS lo, max(session) AS hi, count(*) AS n FROM cycles "
            "WHERE run_id = ?) c WHERE runs.run_id = ?",
            [dt.datetime.now(), run_id, run_id],
        )
        log.warning(
            "run %s (started %s by process %s) ended without a word; marked crashed",
            run_id,
            f"{started:%Y-%m-%d %H:%M}" if started else "?",
            pid,
        )
    return [r[0] for r in rows]
