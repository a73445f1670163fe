"""Function calling and decoding hygiene: text tool calls parsed, templates that render
tools detected (and their schemas counted in the budget), loops spotted, the
calculator, unusable server replies as errors, and answers that must not be fed back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.backends.base import BackendUnavailableError
from copilot.backends.toolcalls import parse_tool_calls, repeats, template_supports_tools
from copilot.openai_testserver import FakeOpenAIServer, content_chunks
from copilot.session import CopilotSession
from copilot.settings import CopilotSettings
from copilot.testing import CHATML, build_chat_model, seed_store
from copilot.tools.calc import evaluate
from engine.errors import InputError
from engine.store import Store

TOOLS_TEMPLATE = "{% if tools %}<|im_start|>system\nTools: {{ tools | tojson }}<|im_end|>\n{% endif %}" + CHATML


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "t.duckdb")
    with s.transaction() as con:
        seed_store(con, dt.date(2018, 2, 7))
    yield s
    s.close()


def openai(store: Store, url: str, **kw) -> CopilotSession:
    return CopilotSession(
        store.cursor, CopilotSettings(backend="openai", openai_base_url=url, openai_model="m", timeout_s=10.0, **kw)
    )


def test_parses_hermes_and_bare_tool_calls() -> None:
    text = 'ok <tool_call>{"name": "risk_snapshot", "arguments": {}}</tool_call>'
    assert parse_tool_calls(text) == [{"name": "risk_snapshot", "arguments": {}}]
    bare = '{"name": "forecasts", "arguments": "{\\"ticker\\": \\"AAPL\\"}"}'
    assert parse_tool_calls(bare) == [{"name": "forecasts", "arguments": {"ticker": "AAPL"}}]
    assert parse_tool_calls("The VaR is 1.8%.") == []
    assert template_supports_tools(TOOLS_TEMPLATE) and not template_supports_tools(CHATML)


def test_spots_a_repeated_block_of_tokens() -> None:
    assert repeats([1, 2, 3] + [7, 8, 9] * 4) and not repeats(list(range(40)))
    assert not repeats([5, 5, 5])  # too short to call a loop


def test_calculator_does_arithmetic_only() -> None:
    assert evaluate("(967431.72 - 977478.13) / 977478.13") == pytest.approx(-0.010278, abs=1e-6)
    assert evaluate("2 ** 10 + 3%") == pytest.approx(1024.03)
    for bad in ("__import__('os')", "x + 1", "1 / 0", "9 ** 999"):
        with pytest.raises(InputError):
            evaluate(bad)


def test_a_tool_rendering_template_gets_tools_and_its_schemas_are_budgeted(tmp_path: Path, store: Store) -> None:
    from copilot.backends.transformers_backend import TransformersBackend
    from copilot.tools import TOOLS

    path = build_chat_model(tmp_path / "tools-llama", max_positions=16384)
    cfg = json.loads((path / "tokenizer_config.json").read_text())
    cfg["chat_template"] = TOOLS_TEMPLATE
    (path / "tokenizer_config.json").write_text(json.dumps(cfg))
    (path / "chat_template.jinja").unlink(missing_ok=True)
    settings = CopilotSettings(
        backend="transformers", model=str(path), device="cpu", max_new_tokens=8, context_tokens=16384
    )
    backend = TransformersBackend(settings, device="cpu", tools=[s.schema() for s in TOOLS.values()])
    backend.load()
    assert backend.supports_tools and backend.tool_schema_tokens() > 500
    enc = backend._inputs([{"role": "user", "content": "hi"}], backend.tools)
    assert "pnl_period" in backend.tokenizer.decode(enc["input_ids"][0])
    answer = CopilotSession(store.cursor, settings, backend=backend).ask("what is our risk?")
    # The prompt the model saw (schemas included) fits the window with room for the answer.
    assert answer.timings["prompt_tokens"] > backend.tool_schema_tokens()
    assert answer.timings["prompt_tokens"] + 8 <= 16384
    small = TransformersBackend(settings.with_(context_tokens=4096), device="cpu", tools=backend.tools)
    small.load()  # this tokenizer needs ~5k tokens for the schemas: not offered in 4k
    assert not small.supports_tools and "more than half" in small.status()["tool_calling"]


def test_server_errors_are_errors_that_name_the_cause(store: Store) -> None:
    mid = [
        {"choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {"error": {"message": "Cannot use tools with stream"}},
    ]
    with (
        FakeOpenAIServer(lambda req: mid) as srv,
        pytest.raises(BackendUnavailableError, match=r"mid-stream.*Cannot use tools"),
    ):
        openai(store, srv.url, tool_calling="off").ask("what is our risk?")
    with (
        FakeOpenAIServer(lambda req: content_chunks("")) as srv,
        pytest.raises(BackendUnavailableError, match="empty answer"),
    ):
        openai(store, srv.url).ask("what is our risk?")
    with (
        FakeOpenAIServer(lambda req: (200, "<html>not json</html>")) as srv,
        pytest.raises(BackendUnavailableError, match="unusable reply"),
    ):
        openai(store, srv.url, tool_calling="on").ask("what is our risk?")


def test_invented_numbers_are_replaced_fall_back_and_are_not_fed_back(store: Store) -> None:
    with FakeOpenAIServer(lambda req: content_chunks("Accuracy is 99.99% since 2022-03-04.")) as srv:
        sess = openai(store, srv.url, tool_calling="off")
        answer = sess.ask("what is our risk?")
        sess.ask("show positions")
    assert "99.99%" not in answer.text and "2022-03-04" not in answer.text
    assert answer.text.startswith("Accuracy is [?] since [?].")
    assert answer.checks["action"] == "fallback" and "**From the store**" in answer.text
    assert "+1.83%" in answer.text  # the grounded answer's VaR
    second = srv.requests[1]["messages"]
    assert not any("Accuracy is" in (m.get("content") or "") for m in second)
    row = store.con.execute(
        "SELECT numbers, unverified, action, fed_back FROM copilot_checks ORDER BY seq LIMIT 1"
    ).fetchall()[0]
    assert row == (2, 2, "fallback", False)
