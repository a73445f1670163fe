"""`pmax validate`: the out-of-sample report — every model beside naive, calibration, VaR backtest.

The report is built by `engine.validation_report.build_report`; this module only
parses options, opens the store read-only and formats the result (text or JSON).
Never imports Textual.
"""

from __future__ import annotations

import json
import math

import click


def _fmt(x: object, pct: bool = False, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, float):
        return f"{x * 100:.1f}%" if pct else f"{x:.{digits}f}"
    return str(x)


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), help="Database file (default: user data directory).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--tickers", help="Only these tickers (comma-separated).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--walk-forward", "force_wf", is_flag=True, help="Recompute from stored bars even if scores exist.")
@click.option(
    "--cv",
    type=click.Choice(["walk-forward", "cpcv"]),
    default="walk-forward",
    show_default=True,
    help="cpcv: also run combinatorial purged CV (purge both sides, embargo) of the LightGBM model.",
)
def validate(
    db: str | None, config_path: str | None, tickers: str | None, as_json: bool, force_wf: bool, cv: str
) -> None:
    """Out-of-sample report: metrics beside naive, DM p-values, calibration, VaR backtest, trust."""
    from engine.errors import PmaxError, UsageError
    from engine.validation_report import build_report
    from tui.commands.common import fail, load_cli_config, open_reader

    try:
        config = load_cli_config(config_path)
        wanted = [t.strip().upper() for t in tickers.split(",") if t.strip()] if tickers else None
        store = open_reader(db, config)
        try:
            payload = build_report(store.con, config, wanted, force_walk_forward=force_wf, cv=cv)
        finally:
            store.close()
        if payload["rows"] == []:
            raise UsageError(
                "nothing to validate: no scored forecasts and not enough stored bars",
                hint="run `pmax --run` first (or import data with `pmax data import`)",
            )
    except PmaxError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps(payload, default=_json_default))
        return
    _print(payload)


def _json_default(x: object) -> object:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _print(p: dict) -> None:
    click.echo(
        f"validation from {p['source']} (account {p.get('account', '?')}); out-of-sample only; "
        f"n = sessions (forecast origins), DM one-sided vs naive (EWC long-run variance, t(B) reference)"
    )
    head = (
        f"{'model':<10}{'h':>3}{'n':>5}{'rows':>7}{'RMSE':>8}{'naive':>8}{'skill':>8}{'DM p':>6}"
        f"{'dir.acc':>8}{'0-fc':>7}{'LB p~':>6}{'LB rej':>7}  {'status':<17}{'weight (window skill, p)'}"
    )
    click.echo(head)
    for r in p["rows"]:
        w = r.get("weight")
        weight = (
            ""
            if w is None
            else (
                f"{w:.0%} ({_fmt(r.get('weight_skill'), True)}, "
                f"p {_fmt(r.get('weight_pvalue'), digits=2)})" + (" demoted" if r.get("demoted") is True else "")
            )
        )
        click.echo(
            f"{r['model']:<10}{r['horizon']:>3}{r['n']:>5}{r['n_rows']:>7}{_fmt(r['rmse']):>8}"
            f"{_fmt(r['naive_rmse']):>8}{_fmt(r['skill'], True):>8}{_fmt(r['dm_pvalue'], digits=2):>6}"
            f"{_fmt(r['directional_accuracy'], digits=3):>8}{_fmt(r['zero_share'], True):>7}"
            f"{_fmt(r['ljung_box_median_p'], digits=2):>6}{_fmt(r['ljung_box_reject_share'], True):>7}"
            f"  {r['status']:<17}{weight}"
        )
    click.echo(
        f"status: skilled = skill > 0 and DM p < {p.get('alpha', 0.1):g} on this row's own scores. "
        "LB: per-ticker Ljung–Box (median p, share rejecting at 5%). 0-fc: forecasts of exactly 0 "
        "(ties, left out of dir.acc)."
    )
    click.echo(p["weights_rule"])
    click.echo(f"ensemble weight now on: {', '.join(p['trusted']) or 'naive only'}")
    if p.get("demoted"):
        click.echo(f"demoted: {', '.join(p['demoted'])}")
    _print_coverage(p)
    _print_var(p)
    _print_cpcv(p)


def _print_coverage(p: dict) -> None:
    if not p.get("coverage"):
        return
    click.echo("\ninterval coverage (binomial test vs nominal; " + p["coverage_rule"] + ")")
    by: dict[tuple, dict] = {}
    for c in p["coverage"]:
        by.setdefault((c["model"], c["horizon"]), {})[round(c["level"] * 100)] = c
    click.echo(f"{'model':<10}{'h':>3}  " + "  ".join(f"{lv:>3}%: rate (p)      " for lv in (80, 90, 95)))
    for (model, h), cells in sorted(by.items()):
        parts = []
        for lv in (80, 90, 95):
            c = cells.get(lv)
            parts.append(
                f"{'':>5}{'—':<16}"
                if c is None
                else f"{'':>5}{_fmt(c['rate'], True):>6} ({_fmt(c['pvalue'], digits=3)}){'!' if c['flag'] else ' ':<3}"
            )
        click.echo(f"{model:<10}{h:>3}  " + "  ".join(parts))
    click.echo("90% is each model's stored interval; 80%/95% are mean ± z·vol. '!' = far from nominal.")
    flagged: dict[str, list[str]] = {}
    for c in p["coverage"]:
        if c["flag"]:
            flagged.setdefault(c["model"], []).append(f"h{c['horizon']} {c['level']:.0%}→{c['rate']:.0%}")
    for model, misses in sorted(flagged.items()):
        click.echo(f"far from nominal: {model}: {', '.join(misses)}")


def _print_var(p: dict) -> None:
    if not p.get("var_backtest"):
        return
    click.echo("\nVaR backtest (stored VaR at close t vs realised return on t+1)")
    click.echo(f"{'measure':<14}{'n':>5}{'exc':>5}{'rate':>7}{'exp.':>7}{'Kupiec p':>10}{'indep. p':>10}  verdict")
    for v in p["var_backtest"]:
        click.echo(
            f"{v['measure']:<14}{v['n']:>5}{v['exceptions']:>5}{_fmt(v['rate'], True):>7}"
            f"{_fmt(v['expected'], True):>7}{_fmt(v['kupiec_p'], digits=3):>10}"
            f"{_fmt(v['independence_p'], digits=3):>10}  {v['verdict']}"
        )


def _print_cpcv(p: dict) -> None:
    if p.get("cv") != "cpcv":
        return
    click.echo("\ncombinatorial purged CV of lightgbm (label overlap purged both sides, embargo after)")
    if not p["cpcv"]:
        click.echo("  not enough stored bars for CPCV")
    for c in p["cpcv"]:
        click.echo(
            f"  h={c['horizon']:<3} {c['splits']} splits: pooled skill vs naive {_fmt(c['pooled_skill'], True)},"
            f" vs drift {_fmt(c['pooled_skill_vs_drift'], True)}; splits beating naive "
            f"{_fmt(c['share_of_splits_beating_naive'], True)}, drift {_fmt(c['share_of_splits_beating_drift'], True)}"
        )
