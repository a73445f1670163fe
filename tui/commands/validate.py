"""`pmax validate`: the walk-forward report — every model beside naive, with DM p-values.

Reads scored forecasts from the store (what `pmax --run` scored as forecasts
matured) or, when there are none yet, runs a walk-forward on the stored bars.
Never imports Textual.
"""

from __future__ import annotations

import json
import math

import click


def _fmt(x: object, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, float):
        return f"{x * 100:.2f}%" if pct else f"{x:.4f}"
    return str(x)


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), help="Database file (default: user data directory).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--tickers", help="Only these tickers (comma-separated).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--walk-forward", "force_wf", is_flag=True, help="Recompute from stored bars even if scores exist.")
def validate(db: str | None, config_path: str | None, tickers: str | None, as_json: bool, force_wf: bool) -> None:
    """Walk-forward report: per model and horizon, metrics beside naive, DM p-values, coverage, trust."""
    from engine.errors import PmaxError, UsageError
    from tui.commands.common import fail, load_cli_config, open_reader

    try:
        config = load_cli_config(config_path)
        wanted = [t.strip().upper() for t in tickers.split(",") if t.strip()] if tickers else None
        store = open_reader(db, config)
        try:
            payload = _build(store, config, wanted, force_wf)
        finally:
            store.close()
        if payload["rows"] == []:
            raise UsageError("nothing to validate: no scored forecasts and not enough stored bars",
                             hint="run `pmax --run` first (or import data with `pmax data import`)")
    except PmaxError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps(payload, default=_json_default))
        return
    _print(payload)


def _build(store, config, tickers, force_wf) -> dict:  # noqa: ANN001 - engine objects
    import numpy as np

    from engine.forecast.report import latest_weights, report_from_scores, stored_scores, walk_forward_scores

    account = config.app.account
    scores = stored_scores(store.con, account, tickers)
    weights = latest_weights(store.con, account)
    source = "model_scores"
    if scores.empty or force_wf:
        from engine.forecast.base import Panel
        from engine.stages.forecast import model_params

        sql = "SELECT date, ticker, open, high, low, close, volume FROM bars WHERE NOT quarantined"
        bars = store.con.execute(sql).df()
        if tickers:
            bars = bars[bars["ticker"].isin(tickers)]
        panel = Panel.from_long(bars)
        v, fc = config.validation, config.forecast
        if panel.n_sessions < 300:
            return {"source": "none", "rows": [], "trusted": [], "demoted": []}
        scores = walk_forward_scores(
            panel, list(v.models), [int(h) for h in fc.horizons], n_windows=int(v.n_windows),
            step_size=int(v.step_size), refit=max(1, int(v.refit_every) // max(1, int(v.step_size))),
            window=str(v.window), params={m: model_params(config, m) for m in v.models},
            seed=int(config.app.seed), level=float(fc.level))
        weights, source = None, "walk_forward"
    report = report_from_scores(scores, weights)
    rows = report.replace({np.nan: None}).to_dict(orient="records")
    trusted = sorted({r["model"] for r in rows if r.get("weight") and r["weight"] > 0 and r["model"] != "naive"})
    demoted = sorted({f"{r['model']}@h{r['horizon']}" for r in rows if r.get("demoted") is True})
    return {"source": source, "account": account, "rows": rows, "trusted": trusted, "demoted": demoted}


def _json_default(x: object) -> object:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _weight_status(row: dict) -> str:
    """'skilled' only where the ensemble's DM test was significant, else 'weighted'."""
    return "skilled" if str(row.get("reason") or "").startswith("skilled") else "weighted"


def _print(p: dict) -> None:
    click.echo(f"validation from {p['source']} (account {p.get('account', '?')}); out-of-sample only")
    head = f"{'model':<10}{'h':>3}{'n':>7}{'RMSE':>9}{'naive':>9}{'skill':>9}{'DM p':>7}{'dir.acc':>8}{'cover':>7}{'logloss':>8}  status"
    click.echo(head)
    for r in p["rows"]:
        status = "demoted" if r.get("demoted") else (_weight_status(r) if (r.get("weight") or 0) > 0 else "")
        click.echo(f"{r['model']:<10}{r['horizon']:>3}{r['n']:>7}{_fmt(r['rmse']):>9}{_fmt(r['naive_rmse']):>9}"
                   f"{_fmt(r['skill'], True):>9}{_fmt(r['dm_pvalue']):>7}{_fmt(r['directional_accuracy']):>8}"
                   f"{_fmt(r['coverage']):>7}{_fmt(r['log_loss']):>8}  {status}")
    click.echo(f"ensemble weights: {', '.join(p['trusted']) or 'naive only'}"
               " (skill counts only where the DM p-value is below 0.10)")
    if p["demoted"]:
        click.echo(f"demoted: {', '.join(p['demoted'])}")
