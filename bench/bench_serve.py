"""Does an attached reader slow the owner down? `pmax --run` alone vs. with a poller.

Builds one warmed-up database (a short `pmax --run`), copies it, then replays the
same `--sessions` on each copy with `pmax --run`, alternating: alone, and with a
reader process attached that every `--poll-s` seconds reads what the app's panes
read (`tui.panes.queries.load_snapshot` plus the forecast view, through
`engine.serve.open_reader`) and follows the event stream. The figure is the sum of
the run's per-session times (its "session … done in X s" lines), so start-up is
left out, and the run process's own CPU seconds (steadier than wall time on a shared
machine); medians over `--repeats` pairs are compared.

    .venv/bin/python bench/bench_serve.py                    # 20 tickers, 25 sessions, 3 pairs
    .venv/bin/python bench/bench_serve.py --sessions 40 --poll-s 0.2
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PMAX = [sys.executable, "-m", "tui.cli"]

POLLER = r"""
import sys, threading, time
from engine.config import load_config
from engine.serve.client import follow_events
from engine.serve.reader import open_reader
from tui.panes.queries import load_forecast, load_snapshot

db, poll_s = sys.argv[1], float(sys.argv[2])
config = load_config()
while True:  # wait for the run to publish its endpoint
    reader = open_reader(db, config)
    if reader.attached is not None:
        break
    reader.close()
    time.sleep(0.05)
events = [0]
def follow():
    try:
        for _ in follow_events(reader.attached):
            events[0] += 1
    except Exception:
        pass
threading.Thread(target=follow, daemon=True).start()
polls = 0
try:
    while True:
        cur = reader.cursor()
        try:
            snap = load_snapshot(cur, "paper", [], 20)
            if snap.watch:
                load_forecast(cur, "paper", snap.watch[0].ticker, 60)
        except Exception:
            break
        finally:
            cur.close()
        if reader.attached is None:  # the run has finished: the reader went to the file
            break
        polls += 1
        time.sleep(poll_s)
finally:
    print(f"{polls} {events[0]}", flush=True)
"""


def run(db: Path, sessions: int, env: dict[str, str], poll_s: float | None) -> dict[str, float]:
    poller = None
    if poll_s is not None:
        poller = subprocess.Popen(
            [sys.executable, "-c", POLLER, str(db), str(poll_s)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
        )
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*PMAX, "--run", "--cycles", str(sessions), "--db", str(db)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the run's own CPU time: steadier than wall time on a shared box
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(stderr)
    cycle_s = sum(
        float(line.split(" done in ")[1].split("s")[0]) for line in stderr.splitlines() if " done in " in line
    )
    out = {
        "cycle_s": round(cycle_s, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "wall_s": round(wall, 2),
        "polls": 0.0,
        "events": 0.0,
    }
    if poller is not None:
        try:
            text = poller.communicate(timeout=30)[0].split()
        except subprocess.TimeoutExpired:
            poller.kill()
            text = poller.communicate()[0].split()
        if len(text) == 2:
            out["polls"], out["events"] = float(text[0]), float(text[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=25, help="sessions each run replays")
    ap.add_argument("--repeats", type=int, default=3, help="alone/attached pairs")
    ap.add_argument("--poll-s", type=float, default=0.5, help="seconds between the reader's refreshes")
    ap.add_argument("--warm-until", default="2016-01-06", help="the base database's last session")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pmxb"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PMAX_SERVE__RUNTIME_DIR": str(work / "rt")}
    base = work / "base.duckdb"
    warm = subprocess.run(
        [*PMAX, "--run", "--until", args.warm_until, "--db", str(base)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if warm.returncode != 0:
        raise SystemExit(warm.stderr)
    rows: list[dict[str, object]] = []
    for i in range(args.repeats):
        for attached in (False, True) if i % 2 == 0 else (True, False):
            db = work / f"r{i}{int(attached)}.duckdb"
            shutil.copy(base, db)
            got = run(db, args.sessions, env, args.poll_s if attached else None)
            rows.append({"repeat": i, "attached": attached, **got})
            print(json.dumps(rows[-1]), flush=True)
    summary: dict[str, object] = {"sessions": args.sessions, "poll_s": args.poll_s, "repeats": args.repeats}
    for key in ("cycle_s", "cpu_s"):
        alone = statistics.median(float(r[key]) for r in rows if not r["attached"])  # type: ignore[arg-type]
        with_reader = statistics.median(float(r[key]) for r in rows if r["attached"])  # type: ignore[arg-type]
        summary[f"{key}_alone"] = round(alone, 2)
        summary[f"{key}_attached"] = round(with_reader, 2)
        summary[f"{key}_slowdown_pct"] = round(100 * (with_reader / alone - 1), 1)
    print(json.dumps(summary))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
