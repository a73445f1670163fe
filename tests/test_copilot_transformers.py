"""The real transformers path, end to end, on a tiny random Llama built here with a
tokenizer trained here (ChatML template); nothing is downloaded (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from copilot.backends import make_backend
from copilot.backends.base import ModelNotFoundError
from copilot.backends.transformers_backend import TransformersBackend
from copilot.session import CopilotSession
from copilot.settings import CopilotSettings
from copilot.testing import build_chat_model, seed_store
from engine.store import Store

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_chat_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", max_positions=4096)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "t.duckdb")
    with s.transaction() as con:
        seed_store(con, dt.date(2018, 2, 7))
    yield s
    s.close()


def settings(model: Path, **kw) -> CopilotSettings:
    base: dict[str, Any] = dict(
        backend="transformers", model=str(model), device="cpu", max_new_tokens=24, context_tokens=4096
    )
    base.update(kw)
    return CopilotSettings(**base)


def test_streams_tokens_equal_to_greedy_generate(model_dir: Path, store: Store) -> None:
    import torch

    sess = CopilotSession(store.cursor, settings(model_dir))
    chunks = list(sess.stream("What is the latest signal for AAPL, and why?"))
    answer = sess.last_answer
    assert answer is not None
    backend = sess.backend
    assert isinstance(backend, TransformersBackend) and answer.backend == "transformers"
    assert backend.dtype == "bfloat16" and backend.device == "cpu"
    assert answer.timings["tokens"] > 0 and answer.timings["tokens_per_s"] > 0
    assert answer.timings["prompt_tokens"] > 100  # the routed rows reached the model
    assert [c.table for c in answer.sources][:2] == ["signals", "forecasts"]
    generated = "".join(chunks).split("\n\n**Sources**")[0].split("\n\n**From the store**")[0]
    generated = generated.split("\n\n_Number check")[0]
    n_new = int(backend.stats["tokens"])  # may be cut early when the output loops
    # Oracle: the session's prompt through model.generate, without a streamer.
    from copilot.prompt import build_prompt
    from copilot.router import route
    from copilot.tools import known_tickers, run_tool

    con = store.cursor()
    r = route("What is the latest signal for AAPL, and why?", known_tickers(con))
    results = [run_tool(con, "paper", n, a) for n, a in r.call_list()]
    prompt = build_prompt(
        "What is the latest signal for AAPL, and why?",
        results,
        [],
        count_tokens=backend.count_tokens,
        context_tokens=backend.context_tokens,
        max_new_tokens=24,
        max_rows=20,
    )
    inputs = backend._inputs(prompt.messages)
    with torch.inference_mode():
        out = backend.model.generate(
            **inputs,
            max_new_tokens=n_new,
            do_sample=False,
            repetition_penalty=backend.settings.repetition_penalty,
            pad_token_id=backend.tokenizer.pad_token_id,
        )
    expected = backend.tokenizer.decode(out[0, inputs["input_ids"].shape[-1] :], skip_special_tokens=True)
    from copilot.checks import NumberGuard

    guard = NumberGuard(results, "What is the latest signal for AAPL, and why?")
    shown = guard.feed(expected) + guard.finish()  # what the number check lets through
    assert generated.rstrip("\n") == shown.rstrip("\n")
    assert len(chunks) >= 3  # streamed in pieces, then the sources


def test_cancel_stops_generation_early(model_dir: Path, store: Store) -> None:
    sess = CopilotSession(store.cursor, settings(model_dir, max_new_tokens=400))
    cancel = threading.Event()
    stream = sess.stream("what is our risk?", cancel=cancel)
    first = next(stream)
    assert first
    cancel.set()
    rest = "".join(stream)
    assert "_(stopped)_" in rest
    assert sess.last_answer is not None and sess.last_answer.timings["cancelled"] == 1.0
    assert sess.backend.stats["tokens"] < 400


def test_context_budget_keeps_prompt_within_the_window(model_dir: Path, store: Store) -> None:
    sess = CopilotSession(store.cursor, settings(model_dir, context_tokens=600, max_new_tokens=16))
    answer = sess.ask("What is the latest signal for AAPL and MSFT, and why?")
    assert answer.timings["prompt_tokens"] + 16 <= 600
    full = CopilotSession(store.cursor, settings(model_dir, context_tokens=4096, max_new_tokens=16))
    assert full.ask("What is the latest signal for AAPL and MSFT, and why?").timings["prompt_tokens"] > 600


def test_auto_uses_a_local_model_directory(model_dir: Path) -> None:
    backend = make_backend(CopilotSettings(backend="auto", model=str(model_dir), device="cpu"))
    assert backend.name == "transformers"
    assert backend.status()["available"] is True


def test_missing_model_fails_fast_with_where_to_put_weights(tmp_path: Path, store: Store) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as exc:
        CopilotSession(store.cursor, settings(tmp_path / "absent")).ask("hi there")
    assert "no model found" in exc.value.message and "save_pretrained" in (exc.value.hint or "")
    with pytest.raises(ModelNotFoundError) as exc:
        make_backend(settings(Path("nobody-org/no-such-model-4b")).with_(model="nobody-org/no-such-model-4b"))
    assert "not in the Hugging Face cache" in exc.value.message
    assert "allow_download" in (exc.value.hint or "") and "hf download" in (exc.value.hint or "")
    assert time.perf_counter() - t0 < 5.0
    assert exc.value.exit_code == 2
