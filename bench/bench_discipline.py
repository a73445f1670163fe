"""Discipline benchmark: does the default strategy earn its deviations from the benchmark?

Replays the default configuration with the real `pmax --run` command (a subprocess,
fresh temporary database) and reports the run's benchmark-relative figures
(`engine.portfolio.report`): annualised active return against equal-weight
buy-and-hold of the same tickers, tracking error, IR (t), PSR against the
benchmark's Sharpe, attribution, one-way turnover and costs.

Markets:
* `sample`: the bundled 20-ticker sample (S&P 500 survivors as of February 2018);
* `random`: the same tickers and calendar, prices replaced by correlated random
  walks (`engine.portfolio.synthetic.random_walk_market`: zero-mean i.i.d. log
  returns, each ticker's realised vol, pairwise correlation 0.35), where nothing
  is predictable, so any active return is noise plus costs.

Goals (issue 11): sample, 2016-01-04 … 2016-12-30: active >= -2 %/yr and turnover
<= 1.5x/yr; random walks: |active| <= 2 %/yr and turnover <= 1.5x/yr.

    .venv/bin/python bench/bench_discipline.py                         # both, 2016
    .venv/bin/python bench/bench_discipline.py --market sample --until 2018-02-07
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy/SciPy load (in this process and the child)

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {
    "sample": ("active >= -2%/yr", lambda a: a >= -0.02),
    "random": ("|active| <= 2%/yr", lambda a: abs(a) <= 0.02),
}
MAX_TURNOVER = 1.5


def replay(data: Path | None, until: str, workdir: Path, extra_env: dict[str, str]) -> dict:
    """One `pmax --run --json` replay on a fresh database; the parsed summary."""
    cmd = [sys.executable, "-m", "tui.cli", "--run", "--until", until, "--db", str(workdir / "run.duckdb"), "--json"]
    if data is not None:
        cmd += ["--data", str(data)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra_env}
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"pmax failed ({out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def random_market_file(seed: int, workdir: Path) -> Path:
    import pandas as pd

    from engine.portfolio.synthetic import random_walk_market

    template = pd.read_parquet(ROOT / "data" / "watchlist_sample.parquet")
    path = workdir / f"random_walk_{seed}.parquet"
    random_walk_market(template, seed=seed).to_parquet(path)
    return path


def describe(market: str, label: str, summary: dict, seconds: float) -> list[str]:
    rep = summary.get("benchmark") or {}
    att = rep.get("attribution") or {}
    active, turnover = rep.get("active_return"), rep.get("turnover")
    lines = [
        f"### {label}: {rep.get('first_session')} … {rep.get('last_session')} ({rep.get('sessions')} sessions, "
        f"{seconds:.0f} s)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| strategy total return | {_p(rep.get('strategy_total_return'))} |",
        f"| {rep.get('benchmark')} total return | {_p(rep.get('benchmark_total_return'))} |",
        f"| active return (annualised, mean daily x 252) | {_p(active)}/yr |",
        f"| tracking error | {_u(rep.get('tracking_error'))}/yr |",
        f"| information ratio (t) | {_n(rep.get('information_ratio'))} ({_n(rep.get('ir_tstat'))}) |",
        f"| PSR vs the benchmark's Sharpe ({_n(rep.get('benchmark_sharpe'))}) | {_n(rep.get('psr_vs_benchmark'))} |",
        f"| strategy Sharpe | {_n(rep.get('strategy_sharpe'))} |",
        *(f"| attribution: {k} | {_p(v)}/yr |" for k, v in att.items()),
        f"| one-way turnover (all fills / after funding) | {_n(turnover, False)}x / "
        f"{_n(rep.get('turnover_ex_funding'), False)}x per yr |",
        f"| costs paid / cost drag | ${rep.get('costs_paid', 0):,.0f} / {_u(rep.get('cost_drag'))}/yr |",
        f"| sessions with a validated tilt | {rep.get('tilted_sessions')} |",
        f"| fills / orders / rejected | {summary.get('trade_count')} / {summary.get('orders')} / "
        f"{summary.get('rejected')} |",
        f"| overlays on | {', '.join(rep.get('overlays_on') or []) or 'none'} |",
        "",
        f"Verdict: {rep.get('verdict')}",
        "",
    ]
    if market in GOALS and active is not None and turnover is not None:
        name, ok = GOALS[market]
        lines.append(
            f"Goals: {name}: **{'met' if ok(active) else 'NOT met'}**; turnover <= {MAX_TURNOVER}x/yr: "
            f"**{'met' if turnover <= MAX_TURNOVER else 'NOT met'}**."
        )
        lines.append("")
    return lines


def _p(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2%}"


def _u(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2%}"


def _n(x: float | None, signed: bool = True) -> str:
    return "n/a" if x is None else (f"{x:+.2f}" if signed else f"{x:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--market", choices=("sample", "random", "both"), default="both")
    ap.add_argument("--until", default="2016-12-30", help="last replayed session (from [replay] start)")
    ap.add_argument("--seed", type=int, default=11, help="seed of the random-walk market")
    ap.add_argument("--out", default="", help="append the Markdown figures to this file")
    ap.add_argument("--keep", default="", help="keep each run's database under this folder")
    args = ap.parse_args()
    markets = ("sample", "random") if args.market == "both" else (args.market,)
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pmax-discipline-") as tmp:
        for market in markets:
            work = Path(tmp) / market
            work.mkdir()
            data = random_market_file(args.seed, work) if market == "random" else None
            t0 = time.perf_counter()
            summary = replay(data, args.until, work, {})
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                (work / "run.duckdb").replace(Path(args.keep) / f"{market}.duckdb")
            label = "bundled sample" if market == "sample" else f"random walks (seed {args.seed})"
            lines = describe(market, label, summary, time.perf_counter() - t0)
            print("\n".join(lines), flush=True)
            report += lines
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
