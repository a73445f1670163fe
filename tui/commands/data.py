"""`pmax data import|fetch|check`: load files through the quality gate, fetch bars
with provider failover, and print the data-quality report. Never imports Textual."""

from __future__ import annotations

import datetime as dt
import json

import click

from engine.errors import DataUnavailableError, UsageError

_db = click.option("--db", type=click.Path(dir_okay=False), help="Database file (default: user data directory).")
_config = click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")


@click.group()
def data() -> None:
    """Import, fetch and check market data."""


@data.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@_db
@_config
@click.option("--tickers", help="Only these tickers (comma-separated).")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only bars up to this date (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary.")
def import_cmd(
    path: str, db: str | None, config_path: str | None, tickers: str | None, until: dt.datetime | None, as_json: bool
) -> None:
    """Load a Parquet/CSV file (date, ticker, open, high, low, close, volume) through the quality gate."""
    from engine.data.cache import import_file
    from engine.data.providers.local import LocalFileProvider
    from engine.data.quality import QualityGate
    from tui.commands.common import load_cli_config, open_store

    config = load_cli_config(config_path)
    gate = QualityGate(config)
    provider = LocalFileProvider(path)
    provider.frame()  # a bad file fails before the database is touched
    store = open_store(db, config)
    try:
        summary = import_file(
            store, provider, gate, _split(tickers) if tickers else None, until.date() if until else None
        )
        db_path = store.path
    finally:
        store.close()
    payload = {
        "path": summary.path,
        "db": db_path,
        "rows": summary.rows,
        "tickers": summary.tickers,
        "first": str(summary.first),
        "last": str(summary.last),
        "quarantined": summary.quarantined,
        "issues": summary.issues,
        "seconds": round(summary.total_s, 2),
        "read_s": round(summary.read_s, 2),
        "gate_s": round(summary.gate_s, 2),
        "write_s": round(summary.write_s, 2),
    }
    if as_json:
        click.echo(json.dumps(payload))
        return
    n_issues = sum(sum(v.values()) for v in summary.issues.values())
    click.echo(
        f"imported {summary.rows:,} bars for {summary.tickers} tickers ({summary.first} .. {summary.last}) "
        f"into {db_path} in {summary.total_s:.1f}s; {n_issues} issues, {summary.quarantined} quarantined"
    )
    for rule, acts in summary.issues.items():
        click.echo(f"  {rule}: " + ", ".join(f"{a} {n}" for a, n in acts.items()))


@data.command("fetch")
@click.argument("tickers", nargs=-1, required=True)
@click.option("--source", help="Only this source (local, yfinance, finnhub); default: [data] sources in order.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First date (default: [data] fetch_days ago).")
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last date (default: today).")
@_db
@_config
def fetch_cmd(
    tickers: tuple[str, ...],
    source: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    db: str | None,
    config_path: str | None,
) -> None:
    """Fetch daily bars for TICKERS (space- or comma-separated) into the store, through the gate."""
    from engine.data.cache import cached_bars, check_replay_import, fetch_with_failover, gate_history, write_gated
    from engine.data.deadline import Deadline
    from engine.data.providers.registry import build_providers
    from engine.data.quality import QualityGate
    from tui.commands.common import load_cli_config, open_store

    names = _split(",".join(tickers))
    config = load_cli_config(config_path)
    last = end.date() if end else dt.date.today()
    first = start.date() if start else last - dt.timedelta(days=config.data.fetch_days)
    if first > last:
        raise UsageError(f"--start {first} is after --end {last}")
    providers = build_providers(config, [source] if source else None)
    store = open_store(db, config)
    try:
        fetched = fetch_with_failover(providers, names, first, last, Deadline.from_config(config))
        if fetched.bars.empty:
            cached = cached_bars(store.con, names)
            failed = "; ".join(fetched.errors) or "no source answered"
            if cached.empty:
                raise DataUnavailableError(
                    f"fetch failed: {failed}; no cached bars for {', '.join(names)}",
                    "check the network or your Finnhub key, or use `pmax data import FILE`",
                )
            raise DataUnavailableError(
                f"fetch failed: {failed}; the store still holds bars up to {max(cached['date'])} (stale)",
                "check the network or your Finnhub key and fetch again",
            )
        gate = QualityGate(config)
        bars = fetched.bars
        check_replay_import(store.con, store.path, bars)
        history = gate_history(store.con, sorted(bars["ticker"].unique()), min(bars["date"]), gate.history_sessions)
        result = gate.check(bars.drop(columns=["source"]), history)
        source_col = bars.set_index(["ticker", "date"])["source"]
        keys = list(zip(result.bars["ticker"], result.bars["date"]))
        with store.transaction() as con:
            write_gated(con, result, source_col.reindex(keys).reset_index(drop=True))
    finally:
        store.close()
    for line in fetched.errors:
        click.echo(f"pmax: {line}", err=True)
    by_source = bars.groupby("source")["ticker"].nunique().to_dict()
    click.echo(
        f"fetched {len(result.bars):,} bars {first} .. {last} for "
        f"{result.bars['ticker'].nunique()} tickers from "
        + ", ".join(f"{s} ({n})" for s, n in by_source.items())
        + f"; {len(result.issues)} issues, {result.n_quarantined} quarantined"
    )
    if fetched.missing:
        click.echo(f"pmax: no source had {', '.join(fetched.missing)}", err=True)


@data.command("check")
@_db
@_config
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--worst", default=10, show_default=True, help="How many worst tickers to list.")
def check_cmd(db: str | None, config_path: str | None, as_json: bool, worst: int) -> None:
    """The data-quality report: counts by rule and action, worst tickers, quarantined bars."""
    from engine.data.report import format_report, quality_report
    from tui.commands.common import load_cli_config, open_reader

    config = load_cli_config(config_path)
    store = open_reader(db, config)
    try:
        report = quality_report(store.con, worst=worst)
    finally:
        store.close()
    click.echo(json.dumps(report) if as_json else format_report(report))


def _split(text: str) -> list[str]:
    from engine.config_rules import TICKER_PATTERN

    out = [t.strip().upper() for t in text.replace(" ", ",").split(",") if t.strip()]
    if not out:
        raise UsageError("no tickers given", "e.g. pmax data fetch AAPL,MSFT")
    bad = [t for t in out if not TICKER_PATTERN.match(t)]
    if bad:
        raise UsageError(
            f"{bad[0][:24]!r} is not a ticker", "tickers are 1-10 letters, digits, '.' or '-' (BRK.B, BF-B)"
        )
    return list(dict.fromkeys(out))
