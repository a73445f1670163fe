"""`pmax ask "…"` (one question to the copilot) and `pmax copilot status`.

`ask` never takes the write lock, so it can never keep a scheduled `pmax --run`
out: it reads the file directly while it is free (letting go between statements)
or attaches to the pmax that owns it (`attached to pmax --run (pid N)` on stderr).
The turn is therefore not saved in copilot_messages; a note says so (the app's
Copilot pane saves its conversations). Imports no Textual.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import click

from engine.errors import UsageError

_BACKENDS = click.Choice(["auto", "offline", "transformers", "openai"])


def _inherit(ctx: click.Context, name: str, value: Any) -> Any:
    """`pmax --db X ask …` works like `pmax ask --db X …`."""
    if value is not None or ctx.parent is None:
        return value
    return ctx.parent.params.get(name)


@click.command("ask")
@click.argument("question", nargs=-1, required=True)
@click.option("--db", type=click.Path(dir_okay=False), help="Database file (default: user data directory).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: answer, sources, backend, timings.")
@click.option("--backend", type=_BACKENDS, help="Override [copilot] backend for this question.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: tuple[str, ...],
    db: str | None,
    config_path: str | None,
    as_json: bool,
    backend: str | None,
) -> None:
    """Ask the copilot one QUESTION about the portfolio; it answers from the store."""
    from copilot.session import CopilotSession
    from tui.commands.common import load_cli_config, note, open_reader

    db = _inherit(ctx, "db", db)
    config_path = _inherit(ctx, "config_path", config_path)
    text = " ".join(question).strip()
    if not text:
        raise UsageError("the question is empty", 'e.g. pmax ask "What is our risk?"')
    config = load_cli_config(config_path, {"copilot.backend": backend} if backend else None)
    store = open_reader(db, config)
    try:
        session = CopilotSession(store.cursor, config)
        if as_json:
            answer = session.ask(text)
            owner = store.attached
            payload = answer.to_dict()
            payload.update(
                question=text, read_only=True, history_saved=False, attached_to=owner.label if owner else None
            )
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
        if config.get("copilot.persist", True):
            note("this answer is not saved in the chat history (`pmax ask` only reads the database)")
    finally:
        store.close()


def _render_live(stream: Any) -> None:
    """Markdown rendered by Rich as it streams (a terminal only; pipes get plain text)."""
    from rich.console import Console
    from rich.live import Live
    from rich.markdown import Markdown

    console = Console()
    text = ""
    with Live(Markdown(""), console=console, refresh_per_second=8, vertical_overflow="visible") as live:
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
    if path.exists():  # read like every reader: the file, or the pmax that owns it
        from tui.commands.common import open_reader

        store = open_reader(db, config)
        try:
            add_check_rate(info, store.con)
        finally:
            store.close()
    if as_json:
        print(json.dumps(info, default=str))
    else:
        for key in (
            "configured_backend",
            "backend",
            "model",
            "available",
            "device",
            "dtype",
            "load_format",
            "model_path",
            "context_tokens",
            "reachable",
            "tool_calling",
            "note",
            "error",
            "hint",
        ):
            if info.get(key) is not None:
                print(f"{key:>18}: {info[key]}")
        for line in info.get("auto_tried", []):
            print(f"{'auto tried':>18}: {line}")
        for key, value in (info.get("memory") or {}).items():
            print(f"{key:>18}: {value}")
        for backend, rate in (info.get("number_checks") or {}).items():
            if isinstance(rate, dict):
                print(
                    f"{'checks ' + backend:>18}: {rate['answers']} answers, "
                    f"{rate['answers_with_unverified']} with unverified numbers "
                    f"({rate['numbers']} numbers, {rate['unverified']} unverified, "
                    f"{rate['fallbacks']} fell back to the store)"
                )
            else:
                print(f"{'number checks':>18}: {rate}")
    if info.get("error"):
        raise SystemExit(1)
