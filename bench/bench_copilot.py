"""Copilot speed: time to first token and tokens/s for the backends runnable here.

Backends: offline (rows rendered, no model), transformers on CPU with random-weight
Llama models built on the spot (speed does not depend on weight values; a fixed
number of new tokens is forced with min_new_tokens = max_new_tokens), and the openai
client against a fake local streaming server (client overhead only). The prompt is
the real one the session builds for "What is the latest signal for AAPL, and why?"
over a seeded temporary store.

    .venv/bin/python bench/bench_copilot.py [--tokens 64] [--repeats 3]
        [--sizes tiny,small] [--dtypes bf16,fp32] [--device cpu] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from copilot.prompt import Prompt, build_prompt  # noqa: E402
from copilot.router import route  # noqa: E402
from copilot.session import CopilotSession  # noqa: E402
from copilot.settings import CopilotSettings  # noqa: E402
from copilot.testing import FakeOpenAIServer, build_chat_model, content_chunks, seed_store  # noqa: E402
from copilot.tools import known_tickers, run_tool  # noqa: E402
from engine.store import Store  # noqa: E402

QUESTION = "What is the latest signal for AAPL, and why?"
# name: (hidden, layers, heads, intermediate, vocab)
SIZES = {"tiny": (64, 2, 4, 128, 512), "small": (512, 8, 8, 1408, 4096),
         "medium": (1024, 16, 16, 2816, 8192)}


def _params(path: Path) -> int:
    cfg = json.loads((path / "config.json").read_text())
    h, n, i, v = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"], cfg["vocab_size"]
    kv = h * cfg["num_key_value_heads"] // cfg["num_attention_heads"]
    return n * (2 * h * h + 2 * h * kv + 3 * h * i) + v * h


def _prompt(store: Store, backend, tokens: int) -> Prompt:
    con = store.cursor()
    results = [run_tool(con, "paper", n, a) for n, a in route(QUESTION, known_tickers(con)).call_list()]
    prompt = build_prompt(QUESTION, results, [], count_tokens=backend.count_tokens,
                          context_tokens=backend.context_tokens, max_new_tokens=tokens, max_rows=20)
    prompt.max_new_tokens = tokens
    prompt.min_new_tokens = tokens
    return prompt


def bench_transformers(store: Store, root: Path, size: str, dtype: str, device: str,
                       tokens: int, repeats: int) -> dict:
    from copilot.backends.transformers_backend import TransformersBackend

    hidden, layers, heads, inter, vocab = SIZES[size]
    path = root / size
    if not (path / "config.json").exists():
        build_chat_model(path, hidden=hidden, layers=layers, heads=heads, intermediate=inter,
                         vocab=vocab, max_positions=8192)
    settings = CopilotSettings(backend="transformers", model=str(path), device=device,
                               quantization=dtype, max_new_tokens=tokens, context_tokens=8192)
    backend = TransformersBackend(settings, device=device)
    t0 = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - t0
    prompt = _prompt(store, backend, tokens)
    list(backend.generate(prompt))  # warm-up
    ttft, tps, n_tok = [], [], []
    for _ in range(repeats):
        list(backend.generate(prompt))
        st = backend.stats
        ttft.append(st["first_token_s"])
        n_tok.append(st["tokens"])
        tps.append(st["decode_tokens_per_s"])  # tokens after the first / time after it
    return {"backend": "transformers", "model": f"random Llama '{size}' ({_params(path) / 1e6:.1f}M params)",
            "device": backend.device, "dtype": backend.dtype, "prompt_tokens": int(backend.stats["prompt_tokens"]),
            "new_tokens": int(statistics.median(n_tok)), "load_s": round(load_s, 2),
            "ttft_ms": round(1000 * statistics.median(ttft), 1),
            "tokens_per_s": round(statistics.median(tps), 1)}


def bench_offline(store: Store, repeats: int) -> dict:
    first, total = [], []
    for _ in range(repeats):
        sess = CopilotSession(store.cursor, CopilotSettings(backend="offline", persist=False))
        sess.ask(QUESTION)
        first.append(sess.last_answer.timings["first_token_s"])
        total.append(sess.last_answer.timings["total_s"])
    return {"backend": "offline", "model": "none (rows rendered)", "device": "cpu",
            "ttft_ms": round(1000 * statistics.median(first), 1),
            "total_ms": round(1000 * statistics.median(total), 1)}


def bench_openai(store: Store, tokens: int, repeats: int) -> dict:
    text = "".join(f"tok{i} " for i in range(tokens))
    with FakeOpenAIServer(lambda req: content_chunks(text, size=len(text) // tokens)) as srv:
        settings = CopilotSettings(backend="openai", openai_base_url=srv.url, openai_model="fake",
                                   tool_calling="off", persist=False, cache_size=0)
        sess = CopilotSession(store.cursor, settings)
        sess.ask(QUESTION)  # warm-up
        ttft, tps = [], []
        for _ in range(repeats):
            sess.ask(QUESTION)
            st = sess.backend.stats
            ttft.append(st["first_token_s"])
            tps.append(st["tokens"] / st["generate_s"])
    return {"backend": "openai", "model": "fake local SSE server (client overhead only)",
            "device": "127.0.0.1", "new_tokens": tokens,
            "ttft_ms": round(1000 * statistics.median(ttft), 1),
            "tokens_per_s": round(statistics.median(tps), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="tiny,small")
    ap.add_argument("--dtypes", default="bf16,fp32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Store.open(root / "bench.duckdb")
        with store.transaction() as con:
            seed_store(con)
        rows.append(bench_offline(store, args.repeats))
        rows.append(bench_openai(store, args.tokens, args.repeats))
        for size in [s for s in args.sizes.split(",") if s]:
            for dtype in [d for d in args.dtypes.split(",") if d]:
                rows.append(bench_transformers(store, root, size, dtype, args.device,
                                               args.tokens, args.repeats))
        store.close()
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "tokens": args.tokens, "repeats": args.repeats,
            "threads": args.threads or "default", "load_avg_1m": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}))
        return
    print(f"# copilot bench  {meta}")
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
