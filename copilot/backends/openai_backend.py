"""The OpenAI-compatible backend: llama.cpp server, Ollama or vLLM on localhost.

With function calling on, a *non-streamed* tool phase offers the copilot's
read-only tools (``stream: false``, so servers that refuse streaming automatic tool
choice still work); tool calls are answered through ``call_tool`` (never anything
else), at most ``MAX_TOOL_ROUNDS`` times. An answer given in that phase is used as
is; after tool calls the final answer is *streamed* without tools. A server that
rejects ``tools`` is asked again without them (``tool_calling = "auto"``), and the
routed rows already in the prompt still ground the answer. An HTTP error, an error
event, an unparseable body or an empty answer raise ``BackendUnavailableError``
naming the cause, never an empty answer. Token counts come from the server's
``usage`` when it sends one, else from a conservative estimate (marked).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from copilot.backends.base import BackendUnavailableError, LLMBackend, ToolCaller, process_memory
from copilot.backends.toolcalls import run_call, schema_tokens
from copilot.prompt import Prompt

MAX_TOOL_ROUNDS = 3
_REFUSED = (400, 404, 422, 500, 501)


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
        return self.unreachable(timeout) is None

    def unreachable(self, timeout: float = 0.5) -> str | None:
        """Why the server cannot be used (None when ``GET /models`` answers)."""
        import httpx

        try:
            r = httpx.get(f"{self.base_url}/models", headers=self._headers(), timeout=timeout)
        except httpx.HTTPError as exc:
            return f"cannot reach {self.base_url}/models: {type(exc).__name__}: {exc}"
        if r.status_code >= 500:
            return f"{self.base_url}/models answered HTTP {r.status_code}"
        return None

    def tool_schema_tokens(self) -> int:
        return schema_tokens(self.tools, self.count_tokens) if not self._tools_refused else 0

    def _fail(self, what: str, hint: str = "") -> BackendUnavailableError:
        return BackendUnavailableError(
            f"the model server at {self.base_url} {what}",
            hint=hint or 'check [copilot] openai_base_url and openai_model, or set backend = "offline"',
        )

    def generate(
        self, prompt: Prompt, cancel: threading.Event | None = None, call_tool: ToolCaller | None = None
    ) -> Iterator[str]:
        import httpx

        messages = [dict(m) for m in prompt.messages]
        t0 = time.perf_counter()
        max_tokens = prompt.max_new_tokens or self.settings.max_new_tokens
        timeout = httpx.Timeout(self.settings.timeout_s, connect=5.0)
        self._stats = {}
        try:
            with httpx.Client(timeout=timeout, headers=self._headers()) as client:
                rounds = 0
                while self.tools and call_tool is not None and not self._tools_refused and rounds < MAX_TOOL_ROUNDS:
                    if cancel is not None and cancel.is_set():
                        return
                    reply = self._tool_phase(client, messages, max_tokens)
                    if reply is None:  # tools refused: answer without them
                        break
                    calls = reply.get("tool_calls") or []
                    if not calls:
                        text = reply.get("content") or ""
                        if not text.strip():
                            break  # nothing said: ask again, streamed, without tools
                        total = time.perf_counter() - t0
                        usage = reply.get("_usage") or {}
                        n = usage.get("completion_tokens")
                        self._stats = {
                            "tokens": float(n or self.count_tokens(text)),
                            "tokens_estimated": 0.0 if n else 1.0,
                            "first_token_s": total,
                            "generate_s": total,
                            "decode_tokens_per_s": 0.0,
                            "tool_rounds": float(rounds),
                            "streamed": 0.0,
                        }
                        yield text
                        return
                    rounds += 1
                    messages.append({"role": "assistant", "content": reply.get("content"), "tool_calls": calls})
                    for i, c in enumerate(calls):
                        fn = c.get("function") or {}
                        messages.append(
                            {
                                "role": "tool",
                                "tool_call_id": c.get("id") or f"call_{i}",
                                "content": run_call(call_tool, str(fn.get("name", "")), fn.get("arguments") or "{}"),
                            }
                        )
                yield from self._stream_final(client, messages, max_tokens, cancel, t0, rounds)
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(
                f"cannot reach the model server at {self.base_url}: {exc}",
                hint="start llama.cpp server / Ollama / vLLM there, fix [copilot] "
                'openai_base_url, or set backend = "offline"',
            ) from None

    def _tool_phase(self, client: Any, messages: list[dict[str, Any]], max_tokens: int) -> dict[str, Any] | None:
        """One non-streamed request offering tools: the assistant message, or None when
        the server refuses tools (remembered)."""
        payload = {
            "model": self.model_name,
            "messages": messages,
            "stream": False,
            "temperature": self.settings.temperature,
            "max_tokens": max_tokens,
            "tools": self.tools,
            "tool_choice": "auto",
        }
        resp = client.post(f"{self.base_url}/chat/completions", json=payload)
        if resp.status_code >= 400:
            if resp.status_code in _REFUSED and self.settings.tool_calling == "auto":
                self._tools_refused = True
                return None
            raise self._fail(
                f"answered HTTP {resp.status_code} to a request with tools: {resp.text[:200]}",
                'set [copilot] tool_calling = "off" if this server cannot call tools',
            )
        try:
            data = resp.json()
            message = dict(data["choices"][0]["message"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise self._fail(
                f"sent an unusable reply (no choices[0].message): {resp.text[:200]}",
                "is openai_base_url an OpenAI-compatible /v1 endpoint?",
            ) from None
        if "error" in data:
            raise self._fail(f"reported an error: {data['error']}")
        message["_usage"] = data.get("usage") or {}
        return message

    def _stream_final(
        self,
        client: Any,
        messages: list[dict[str, Any]],
        max_tokens: int,
        cancel: threading.Event | None,
        t0: float,
        rounds: int,
    ) -> Iterator[str]:
        """The streamed answer (no tools offered); stats count tokens, not chunks."""
        payload = {
            "model": self.model_name,
            "messages": messages,
            "stream": True,
            "temperature": self.settings.temperature,
            "max_tokens": max_tokens,
            "stream_options": {"include_usage": True},
        }
        first: float | None = None
        last = 0.0
        parts: list[str] = []
        usage: dict[str, Any] = {}
        with client.stream("POST", f"{self.base_url}/chat/completions", json=payload) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise self._fail(f"answered HTTP {resp.status_code}: {resp.text[:200]}")
            for event in _sse_events(resp):
                if cancel is not None and cancel.is_set():
                    return
                usage = event.get("usage") or usage
                choice = (event.get("choices") or [{}])[0]
                text = (choice.get("delta") or {}).get("content")
                if text:
                    last = time.perf_counter() - t0
                    if first is None:
                        first = last
                    parts.append(text)
                    yield text
        answer = "".join(parts)
        if not answer.strip():
            raise self._fail(
                "returned an empty answer",
                "the server may not support this chat template or ran out of "
                'context; check its log, or set backend = "offline"',
            )
        n = usage.get("completion_tokens")
        tokens = float(n) if n else float(self.count_tokens(answer))
        total = time.perf_counter() - t0
        decode_s = last - (first or last)
        self._stats = {
            "tokens": tokens,
            "tokens_estimated": 0.0 if n else 1.0,
            "first_token_s": first or total,
            "generate_s": total,
            "decode_tokens_per_s": (tokens - 1) / decode_s if decode_s > 0 else 0.0,
            "tool_rounds": float(rounds),
            "streamed": 1.0,
        }
        if usage.get("prompt_tokens"):
            self._stats["prompt_tokens"] = float(usage["prompt_tokens"])

    def status(self) -> dict[str, Any]:
        why = self.unreachable(2.0)
        out = {
            "backend": self.name,
            "model": self.model_name,
            "device": f"server {self.base_url}",
            "memory": process_memory(),
            "loaded": True,
            "reachable": why is None,
            "tool_calling": "off" if self._tools_refused else self.settings.tool_calling,
        }
        if why:
            out["error"] = why
            out["hint"] = (
                "start the server (e.g. `llama-server -m model.gguf --port 8080 "
                "--jinja`), or fix [copilot] openai_base_url"
            )
        return out


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
                raise BackendUnavailableError(
                    f"the model server reported an error mid-stream: {event['error']}",
                    hint="some servers refuse streaming with tools or a chat format; check "
                    "the server's log and its chat template",
                )
            yield event
