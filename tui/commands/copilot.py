"""`pmax ask "…"` (one question to the copilot) and `pmax copilot status`.

`ask` opens the store read-write when it is free (so the turn is saved in
copilot_messages) and read-only when the store cannot be opened for writing; a
store held read-write by a running pmax refuses both, and the DatabaseLockedError
(exit 2) says so. Imports no Textual.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import click

from engine.errors import DatabaseLockedError, UsageError

_BACKENDS = click.Choice(["auto", "offline", "transformers", "openai"])


def _inherit(ctx: click.Context, name: str, value: Any) -> Any:
    """`pmax --db X ask …` works like `pmax ask --db X …`."""
    if value is not None or ctx.parent is None:
        return value
    return ctx.parent.params.get(name)


def open_for_ask(db: str | None, config: Any) -> Any:
    """The store for one question: read-write if free, else read-only, else a clear error."""
    from tui.commands.common import open_store, resolve_db_path

    path = resolve_db_path(db, config)
    if not path.exists():
        raise UsageError(f"database {path} does not exist",
                         "run `pmax --run` first to fill it, or pass --db PATH")
    try:
        return open_store(db, config, read_only=False)
    except DatabaseLockedError:
        pass
    try:
        return open_store(db, config, read_only=True)
    except DatabaseLockedError as exc:
        raise DatabaseLockedError(
            exc.message,
            "DuckDB lets one process hold a database file; ask in the running app's Copilot "
            "pane, or stop that pmax (or pass another file with --db)") from None


@click.command("ask")
@click.argument("question", nargs=-1, required=True)
@click.option("--db", type=click.Path(dir_okay=False), help="Database file (default: user data directory).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: answer, sources, backend, timings.")
@click.option("--backend", type=_BACKENDS, help="Override [copilot] backend for this question.")
@click.pass_context
def ask(ctx: click.Context, question: tuple[str, ...], db: str | None, config_path: str | None,
        as_json: bool, backend: str | None) -> None:
    """Ask the copilot one QUESTION about the portfolio; it answers from the store."""
    from copilot.session import CopilotSession
    from tui.commands.common import load_cli_config

    db = _inherit(ctx, "db", db)
    config_path = _inherit(ctx, "config_path", config_path)
    text = " ".join(question).strip()
    if not text:
        raise UsageError("the question is empty", 'e.g. pmax ask "What is our risk?"')
    config = load_cli_config(config_path, {"copilot.backend": backend} if backend else None)
    store = open_for_ask(db, config)
    try:
        session = CopilotSession(store.cursor, config)
        if as_json:
            answer = session.ask(text)
            payload = answer.to_dict()
            payload.update(question=text, read_only=bool(store.read_only))
            print(json.dumps(payload, default=str))
            return
        cancel = threading.Event()
        stream = session.stream(text, cancel=cancel)
        try:
            if sys.stdout.isatty():
                _render_live(stream)
            else:
                for chunk in stream:
                    sys.stdout.write(chunk)
                    sys.stdout.flush()
                sys.stdout.write("\n")
        except KeyboardInterrupt:
            cancel.set()
            stream.close()
            sys.stdout.write("\n_(stopped)_\n")
            raise SystemExit(130) from None
    finally:
        store.close()


def _render_live(stream: Any) -> None:
    """Markdown rendered by Rich as it streams (a terminal only; pipes get plain text)."""
    from rich.console import Console
    from rich.live import Live
    from rich.markdown import Markdown

    console = Console()
    text = ""
    with Live(Markdown(""), console=console, refresh_per_second=8,
              vertical_overflow="visible") as live:
        for chunk in stream:
            text += chunk
            live.update(Markdown(text))


@click.group("copilot")
def copilot() -> None:
    """Copilot status and set-up."""


@copilot.command("status")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--db", type=click.Path(dir_okay=False), help="Database file (for the number-check rate).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def status(ctx: click.Context, config_path: str | None, db: str | None, as_json: bool) -> None:
    """Show the copilot's backend, model, device, memory and number-check rate; exit 1
    when the configured backend cannot answer (loads no model)."""
    from copilot.diagnose import add_check_rate, status_report
    from copilot.settings import CopilotSettings
    from tui.commands.common import load_cli_config, resolve_db_path

    root = ctx.find_root()
    config_path = config_path or root.params.get("config_path")
    db = db or root.params.get("db")
    config = load_cli_config(config_path)
    settings = CopilotSettings.from_config(config)
    info = status_report(settings, config)
    path = resolve_db_path(db, config)
    if path.exists():
        from engine.store import Store

        try:
            store = Store.open(path, read_only=True)
        except DatabaseLockedError:
            info["number_checks"] = {"note": f"{path} is held by a running pmax"}
        else:
            try:
                add_check_rate(info, store.con)
            finally:
                store.close()
    if as_json:
        print(json.dumps(info, default=str))
    else:
        for key in ("configured_backend", "backend", "model", "available", "device", "dtype",
                    "load_format", "model_path", "context_tokens", "reachable", "tool_calling",
                    "note", "error", "hint"):
            if info.get(key) is not None:
                print(f"{key:>18}: {info[key]}")
        for line in info.get("auto_tried", []):
            print(f"{'auto tried':>18}: {line}")
        for key, value in (info.get("memory") or {}).items():
            print(f"{key:>18}: {value}")
        for backend, rate in (info.get("number_checks") or {}).items():
            if isinstance(rate, dict):
                print(f"{'checks ' + backend:>18}: {rate['answers']} answers, "
                      f"{rate['answers_with_unverified']} with unverified numbers "
                      f"({rate['numbers']} numbers, {rate['unverified']} unverified, "
                      f"{rate['fallbacks']} fell back to the store)")
            else:
                print(f"{'number checks':>18}: {rate}")
    if info.get("error"):
        raise SystemExit(1)
