"""The OpenAI-compatible backend: llama.cpp server, Ollama or vLLM on localhost.

Streams ``/chat/completions`` as server-sent events through httpx. With function
calling on, the copilot's read-only tools are offered to the model; a tool call is
answered through ``call_tool`` (never anything else) and the conversation goes on,
at most ``MAX_TOOL_ROUNDS`` times. A server that rejects ``tools`` is retried once
without them (``tool_calling = "auto"``), and the routed rows already in the prompt
still ground the answer.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Iterator

from copilot.backends.base import BackendUnavailableError, LLMBackend, ToolCaller, process_memory
from copilot.prompt import Prompt

MAX_TOOL_ROUNDS = 3


class OpenAIBackend(LLMBackend):
    """Chat completions over HTTP; ``tools`` is the OpenAI tool schema list to offer."""

    name = "openai"
    supports_tools = True

    def __init__(self, settings: Any, tools: list[dict[str, Any]] | None = None) -> None:
        super().__init__(settings)
        self.tools = tools or []
        self.base_url = settings.openai_base_url.rstrip("/")
        self.model_name = settings.openai_model or "local"
        self._tools_refused = settings.tool_calling == "off"
        self._stats: dict[str, float] = {}

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.settings.openai_api_key:
            headers["Authorization"] = f"Bearer {self.settings.openai_api_key}"
        return headers

    def _load(self) -> None:
        """Nothing to load; ``ping`` is the cheap reachability check."""

    def ping(self, timeout: float = 0.5) -> bool:
        """True when the server answers ``GET /models`` quickly."""
        import httpx

        try:
            r = httpx.get(f"{self.base_url}/models", headers=self._headers(), timeout=timeout)
        except httpx.HTTPError:
            return False
        return r.status_code < 500

    def generate(self, prompt: Prompt, cancel: threading.Event | None = None,
                 call_tool: ToolCaller | None = None) -> Iterator[str]:
        import httpx

        messages = [dict(m) for m in prompt.messages]
        use_tools = bool(self.tools) and call_tool is not None and not self._tools_refused
        t0 = time.perf_counter()
        first: float | None = None
        chunks = 0
        timeout = httpx.Timeout(self.settings.timeout_s, connect=5.0)
        try:
            with httpx.Client(timeout=timeout, headers=self._headers()) as client:
                for _round in range(MAX_TOOL_ROUNDS + 1):
                    payload: dict[str, Any] = {
                        "model": self.model_name, "messages": messages, "stream": True,
                        "temperature": self.settings.temperature,
                        "max_tokens": prompt.max_new_tokens or self.settings.max_new_tokens}
                    offer = use_tools and _round < MAX_TOOL_ROUNDS
                    if offer:
                        payload["tools"] = self.tools
                        payload["tool_choice"] = "auto"
                    calls: dict[int, dict[str, Any]] = {}
                    with client.stream("POST", f"{self.base_url}/chat/completions",
                                       json=payload) as resp:
                        if resp.status_code >= 400:
                            resp.read()
                            if offer and resp.status_code in (400, 404, 422, 500, 501) \
                                    and self.settings.tool_calling == "auto":
                                self._tools_refused, use_tools = True, False
                                continue  # retry this round without tools
                            raise BackendUnavailableError(
                                f"the model server at {self.base_url} answered HTTP "
                                f"{resp.status_code}: {resp.text[:200]}",
                                hint="check [copilot] openai_base_url and openai_model")
                        for event in _sse_events(resp):
                            if cancel is not None and cancel.is_set():
                                return
                            choice = (event.get("choices") or [{}])[0]
                            delta = choice.get("delta") or {}
                            text = delta.get("content")
                            if text:
                                if first is None:
                                    first = time.perf_counter() - t0
                                chunks += 1
                                yield text
                            for tc in delta.get("tool_calls") or []:
                                slot = calls.setdefault(int(tc.get("index", 0)),
                                                        {"id": "", "name": "", "arguments": ""})
                                slot["id"] = tc.get("id") or slot["id"]
                                fn = tc.get("function") or {}
                                slot["name"] += fn.get("name") or ""
                                slot["arguments"] += fn.get("arguments") or ""
                    if not calls or call_tool is None:
                        break
                    messages.append({"role": "assistant", "content": None, "tool_calls": [
                        {"id": c["id"] or f"call_{i}", "type": "function",
                         "function": {"name": c["name"], "arguments": c["arguments"] or "{}"}}
                        for i, c in sorted(calls.items())]})
                    for i, c in sorted(calls.items()):
                        messages.append({"role": "tool", "tool_call_id": c["id"] or f"call_{i}",
                                         "content": _run_call(call_tool, c["name"], c["arguments"])})
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(
                f"cannot reach the model server at {self.base_url}: {exc}",
                hint="start llama.cpp server / Ollama / vLLM there, fix [copilot] "
                     "openai_base_url, or set backend = \"offline\"") from None
        total = time.perf_counter() - t0
        self._stats = {"tokens": float(chunks), "first_token_s": first or total,
                       "generate_s": total, "tokens_per_s": chunks / total if total > 0 else 0.0}

    def status(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name, "device": f"server {self.base_url}",
                "memory": process_memory(), "loaded": True, "reachable": self.ping(),
                "tool_calling": "off" if self._tools_refused else self.settings.tool_calling}


def _run_call(call_tool: ToolCaller, name: str, arguments: str) -> str:
    """Run one requested tool; bad arguments or unknown tools become an error text."""
    from engine.errors import PmaxError

    try:
        args = json.loads(arguments) if arguments.strip() else {}
        if not isinstance(args, dict):
            raise ValueError("arguments must be a JSON object")
    except ValueError as exc:
        return json.dumps({"error": f"bad arguments for {name}: {exc}"})
    try:
        return call_tool(name, args)
    except PmaxError as exc:
        return json.dumps({"error": exc.message, "hint": exc.hint})


def _sse_events(resp: Any) -> Iterator[dict[str, Any]]:
    """Parse ``data: {...}`` lines of an event stream until ``[DONE]``."""
    for line in resp.iter_lines():
        if not line or not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if isinstance(event, dict):
            if "error" in event:
                raise BackendUnavailableError(f"the model server reported: {event['error']}")
            yield event
