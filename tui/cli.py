"""The `pmax` command line: the TUI by default, `--run` headless, and subcommands.

Subcommands live in `tui/commands/` and are imported only when invoked, and the
headless path never imports Textual, so `pmax --help` and `pmax --run` start fast.
Every `PmaxError` becomes one line on stderr and its exit code; click's usage
errors exit 2.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import signal
import sys
import threading
from typing import Any

import click

from engine.errors import PmaxError, UsageError

LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("tui.commands.data:data", "Import, fetch and check market data."),
    "validate": ("tui.commands.validate:validate", "Walk-forward report: every model against naive."),
    "ask": ("tui.commands.copilot:ask", "Ask the copilot one question."),
    "copilot": ("tui.commands.copilot:copilot", "Copilot status and set-up."),
    "sweep": ("tui.commands.sweep:sweep", "Replay a grid of configurations; deflate the winner."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module_name, _, attr = LAZY_COMMANDS[name][0].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("tui.commands"):
                    return None
                raise
            return getattr(module, attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(LAZY_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--run", "headless", is_flag=True, help="Run headless (no TUI): replay to the end of the data.")
@click.option("--live", is_flag=True, help="Follow the NYSE calendar with live data instead of replaying.")
@click.option("--cycles", type=click.IntRange(min=1), help="Run N more sessions, then stop.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Stop after this session (YYYY-MM-DD).")
@click.option("--db", type=click.Path(dir_okay=False), help="Database file (default: user data directory).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Config file (default: ~/.config/pmax/config.toml).",
)
@click.option("--data", type=click.Path(dir_okay=False), help="History file to replay (Parquet or CSV).")
@click.option("--json", "as_json", is_flag=True, help="With --run: print one JSON summary as the last line.")
@click.version_option("0.1.0", prog_name="pmax")
@click.pass_context
def cli(
    ctx: click.Context,
    headless: bool,
    live: bool,
    cycles: int | None,
    until: dt.datetime | None,
    db: str | None,
    config_path: str | None,
    data: str | None,
    as_json: bool,
) -> None:
    """pmax — forecast, validate and paper-trade US equities in your terminal.

    With no command, opens the terminal app on the bundled sample data.
    """
    if ctx.invoked_subcommand is not None:
        return
    run_only = [flag for flag, given in (("--until", until), ("--cycles", cycles), ("--json", as_json)) if given]
    if run_only and not headless:
        raise UsageError(
            f"{', '.join(run_only)} only {'work' if len(run_only) > 1 else 'works'} with --run"
            " (the terminal app has no end date)",
            "add --run for a headless run, e.g. `pmax --run --until 2016-06-03`",
        )
    if not headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the terminal app needs a terminal on stdin and stdout (one is a pipe or file)",
            "use `pmax --run` for a headless run (add --json for a summary line)",
        )
    overrides: dict[str, Any] = {}
    if data:
        overrides["replay.data"] = data
    from tui.commands.common import load_cli_config

    config = load_cli_config(config_path, overrides, log_to_stderr=headless)
    until_date = until.date() if until else None
    if headless:
        from engine.config import check_until

        if not live:
            check_until(config, until_date)  # before tui.headless loads pandas and the engine
        from tui.headless import run_headless

        run_headless(config, db=db, live=live, cycles=cycles, until=until_date, as_json=as_json)
    else:
        from tui.launch import launch_app

        launch_app(config, db=db, live=live)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: turn every expected failure into one line and an exit code."""
    # One BLAS thread: the loop's numeric work is many small problems, and a fixed
    # thread count keeps results bit-identical between runs and resumed runs.
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    # SIGTERM outside the run loop (which handles it itself) still ends with a word.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        code = cli.main(args=argv, prog_name="pmax", standalone_mode=False)
    except _Terminated:
        print("pmax: stopped by SIGTERM; what was committed before it is kept — run again to finish", file=sys.stderr)
        raise SystemExit(128 + signal.SIGTERM) from None
    except PmaxError as error:
        from tui.commands.common import fail

        fail(error)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        print("pmax: interrupted; the last committed session is kept — run again to resume", file=sys.stderr)
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(UsageError.exit_code if exc.exit_code == 2 else exc.exit_code) from None
    except Exception as exc:  # the last line of defence before a traceback
        if os.environ.get("PMAX_DEBUG"):
            raise
        from engine.errors import from_os_error

        if (known := from_os_error(exc)) is not None:  # a path or a full disk, not a bug
            from tui.commands.common import fail

            fail(known)
        print(f"pmax: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("  hint: run again with PMAX_DEBUG=1 for a traceback, and report it", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    if isinstance(code, int) and code:
        raise SystemExit(code)


class _Terminated(BaseException):
    """SIGTERM arrived outside the run loop; unwinds (rolling back any open transaction)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


if __name__ == "__main__":
    main()
